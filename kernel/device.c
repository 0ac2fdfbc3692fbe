// SPDX-License-Identifier: GPL-2.0
/*
 * Registry of migratable devices: the exported driver API
 * (kernel/kmig_device.h) and lookups for the region and netlink.
 *
 * Lifetime: kmig owns struct kmig_device, refcounted. The registry holds
 * one reference while the device is registered, each open device fd holds
 * one. Unregistering clears dev->ops under dev->lock; every path that calls
 * an op holds dev->lock and checks dev->ops first, so no op runs after
 * kmig_device_unregister() returns, while the struct stays valid for the
 * fds that still point at it.
 *
 * Lock order: kmig_devices_lock, then dev->lock (all of kmig's locks:
 * context.h, above struct kmig_ctx). Netlink reads devices
 * through snapshots that never call into the driver.
 */
#include <linux/ctype.h>
#include <linux/err.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "device.h"
#include "kmig.h"

/* In registration order, so the list is sorted by seq. */
static LIST_HEAD(kmig_devices);
static DEFINE_MUTEX(kmig_devices_lock);
static u64 kmig_devices_seq;		/* under kmig_devices_lock */

static bool kmig_device_name_valid(const char *name)
{
	size_t len, i;

	if (!name)
		return false;
	len = strnlen(name, KMIG_DEVICE_NAME_MAX);
	if (!len || len == KMIG_DEVICE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (!isgraph(name[i]))
			return false;
	}
	return true;
}

static struct kmig_device *kmig_device_lookup(const char *name, u32 instance)
{
	struct kmig_device *dev;

	lockdep_assert_held(&kmig_devices_lock);
	list_for_each_entry(dev, &kmig_devices, node) {
		if (dev->instance == instance && !strcmp(dev->name, name))
			return dev;
	}
	return NULL;
}

struct kmig_device *kmig_device_register(const struct kmig_device_desc *desc)
{
	const struct kmig_device_ops *ops = desc->ops;
	struct kmig_device *dev;
	int ret;

	if (!kmig_device_name_valid(desc->name) || !ops || !ops->set_state ||
	    !ops->pending_bytes || !ops->save_chunk || !ops->load_chunk ||
	    !ops->save_config || !ops->load_config)
		return ERR_PTR(-EINVAL);

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	kref_init(&dev->ref);
	mutex_init(&dev->lock);
	dev->ops = ops;
	dev->priv = desc->priv;
	dev->state = KMIG_DEVICE_STATE_RUNNING;
	dev->instance = desc->instance;
	dev->version = desc->version;
	strscpy(dev->name, desc->name, sizeof(dev->name));
	atomic_long_inc(&kmig_objects.devices);

	mutex_lock(&kmig_devices_lock);
	if (kmig_device_lookup(dev->name, dev->instance)) {
		ret = -EEXIST;
		goto err_exists;
	}
	dev->seq = ++kmig_devices_seq;
	list_add_tail(&dev->node, &kmig_devices);
	mutex_unlock(&kmig_devices_lock);
	return dev;

err_exists:
	mutex_unlock(&kmig_devices_lock);
	kmig_device_put(dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(kmig_device_register);

void kmig_device_unregister(struct kmig_device *dev)
{
	mutex_lock(&kmig_devices_lock);
	list_del_init(&dev->node);
	mutex_unlock(&kmig_devices_lock);

	/* Waits for a callback in progress; none starts afterwards. */
	mutex_lock(&dev->lock);
	WRITE_ONCE(dev->ops, NULL);
	dev->priv = NULL;
	mutex_unlock(&dev->lock);
	kmig_device_put(dev);
}
EXPORT_SYMBOL_GPL(kmig_device_unregister);

void *kmig_device_priv(struct kmig_device *dev)
{
	return dev->priv;
}
EXPORT_SYMBOL_GPL(kmig_device_priv);

static void kmig_device_free(struct kref *ref)
{
	struct kmig_device *dev = container_of(ref, struct kmig_device, ref);

	mutex_destroy(&dev->lock);
	kfree(dev);
	atomic_long_dec(&kmig_objects.devices);
}

void kmig_device_put(struct kmig_device *dev)
{
	kref_put(&dev->ref, kmig_device_free);
}

/* Returns the registered device with a reference held, or NULL. */
struct kmig_device *kmig_device_find(const char *name, u32 instance)
{
	struct kmig_device *dev;

	mutex_lock(&kmig_devices_lock);
	dev = kmig_device_lookup(name, instance);
	if (dev)
		kref_get(&dev->ref);
	mutex_unlock(&kmig_devices_lock);
	return dev;
}

bool kmig_device_saving(u32 state)
{
	return state == KMIG_DEVICE_STATE_SAVING ||
	       state == (KMIG_DEVICE_STATE_SAVING | KMIG_DEVICE_STATE_RUNNING);
}

/* A callback failed: the device enters the error state. Returns @err. */
int kmig_device_fail(struct kmig_device *dev, int err)
{
	lockdep_assert_held(&dev->lock);
	pr_warn_ratelimited("device %s/%u: driver error %d, device in error state\n",
			    dev->name, dev->instance, err);
	dev->state = KMIG_DEVICE_STATE_ERROR;
	return err;
}

/*
 * Copies @dev's state under dev->lock but not kmig_devices_lock, so a slow
 * driver callback holds up only this reader. Drops the caller's reference.
 */
static int kmig_device_snapshot(struct kmig_device *dev,
				struct kmig_device_snapshot *snap)
{
	int ret;

	ret = mutex_lock_killable(&dev->lock);
	if (!ret) {
		strscpy(snap->name, dev->name, sizeof(snap->name));
		snap->seq = dev->seq;
		snap->instance = dev->instance;
		snap->version = dev->version;
		snap->state = dev->state;
		snap->pending_bytes = dev->pending_bytes;
		snap->open = dev->open;
		mutex_unlock(&dev->lock);
	}
	kmig_device_put(dev);
	return ret;
}

/* The first device registered after sequence number @after, or -ENOENT. */
int kmig_device_snapshot_next(u64 after, struct kmig_device_snapshot *snap)
{
	struct kmig_device *dev, *found = NULL;

	mutex_lock(&kmig_devices_lock);
	list_for_each_entry(dev, &kmig_devices, node) {
		if (dev->seq > after) {
			found = dev;
			kref_get(&found->ref);
			break;
		}
	}
	mutex_unlock(&kmig_devices_lock);
	return found ? kmig_device_snapshot(found, snap) : -ENOENT;
}

int kmig_device_snapshot_one(const char *name, u32 instance,
			     struct kmig_device_snapshot *snap)
{
	struct kmig_device *dev = kmig_device_find(name, instance);

	return dev ? kmig_device_snapshot(dev, snap) : -ENOENT;
}
