/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig device API: how a mediated-device driver makes a device migratable.
 * Documentation/driver-api.rst describes the contract; the region userspace
 * sees is in Documentation/device-region.rst.
 *
 * A driver registers a device with a name, an instance id, the version of
 * its state format and struct kmig_device_ops. kmig owns struct
 * kmig_device; it calls the ops one at a time (never concurrently for one
 * device) and never after kmig_device_unregister() has returned, even when
 * userspace still holds the device's fd open: those accesses get -ENODEV.
 */
#ifndef _KMIG_DEVICE_H
#define _KMIG_DEVICE_H

#include <linux/types.h>

#include <linux/kmig.h>

struct kmig_device;

/**
 * struct kmig_device_ops - what kmig asks of a migratable device
 *
 * Every callback runs in process context, may sleep, and is serialised
 * with every other callback of the same device. A negative return is a
 * device failure: kmig moves the device to the error state
 * (KMIG_DEVICE_STATE_ERROR) and passes the error to userspace.
 *
 * @set_state: move from @old to @new. kmig has already checked that the
 *	transition is valid. @old is KMIG_DEVICE_STATE_ERROR only on a reset,
 *	which always targets KMIG_DEVICE_STATE_RUNNING: the driver drops any
 *	save or resume in progress and runs the device again.
 * @pending_bytes: while saving, how many bytes of save data are not yet
 *	staged. Must not change the device's state.
 * @save_chunk: while saving, write the next chunk of save data into @buf
 *	(@size bytes available) and return its length; 0 means nothing is
 *	pending.
 * @load_chunk: while resuming, consume @len bytes at @buf. Before it
 *	returns, the data must be taken in (copied or refused). @buf is the
 *	data area, which userspace may have mapped and may change during the
 *	call: read each value once and check the value used.
 * @save_config: with the device stopped, write its config state into @buf
 *	(@size bytes available) and return its length.
 * @load_config: while resuming, consume @len bytes of config state.
 */
struct kmig_device_ops {
	int (*set_state)(struct kmig_device *dev, u32 old, u32 new);
	int (*pending_bytes)(struct kmig_device *dev, u64 *pending);
	ssize_t (*save_chunk)(struct kmig_device *dev, void *buf, size_t size);
	int (*load_chunk)(struct kmig_device *dev, const void *buf, size_t len);
	ssize_t (*save_config)(struct kmig_device *dev, void *buf, size_t size);
	int (*load_config)(struct kmig_device *dev, const void *buf,
			   size_t len);
};

/**
 * struct kmig_device_desc - a device to register
 * @name: up to KMIG_DEVICE_NAME_MAX - 1 printable characters, no spaces
 * @instance: tells devices of one name apart; (name, instance) is unique
 * @version: version of the device's state format, shown to userspace
 * @ops: all callbacks are required
 * @priv: the driver's pointer, returned by kmig_device_priv()
 */
struct kmig_device_desc {
	const char *name;
	u32 instance;
	u32 version;
	const struct kmig_device_ops *ops;
	void *priv;
};

/*
 * Returns the new device, in state RUNNING, or ERR_PTR(-EINVAL) for a bad
 * descriptor, ERR_PTR(-EEXIST) if (name, instance) is taken,
 * ERR_PTR(-ENOMEM).
 */
struct kmig_device *kmig_device_register(const struct kmig_device_desc *desc);

/*
 * Waits for a callback in progress to return; afterwards kmig never calls
 * the ops again nor touches @priv. Must not be called from a callback nor
 * with a lock held that a callback takes.
 */
void kmig_device_unregister(struct kmig_device *dev);

void *kmig_device_priv(struct kmig_device *dev);

#endif /* _KMIG_DEVICE_H */
