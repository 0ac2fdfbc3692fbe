/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registered migratable devices, as the rest of kmig sees them.
 */
#ifndef _KMIG_DEVICE_INTERNAL_H
#define _KMIG_DEVICE_INTERNAL_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>

#include "kmig_device.h"

struct kmig_device {
	struct kref ref;
	struct list_head node;		/* on kmig_devices while registered */
	u64 seq;			/* registration order, never reused */
	/* Serialises every access to the device and guards the fields below. */
	struct mutex lock;
	const struct kmig_device_ops *ops;	/* NULL once unregistered */
	void *priv;
	u32 state;			/* KMIG_DEVICE_STATE_* */
	bool open;			/* a device fd holds it */
	u64 pending_bytes;		/* last read through the device fd */
	u32 instance;
	u32 version;
	char name[KMIG_DEVICE_NAME_MAX];
};

/* What the netlink dump reports of one device; no driver call fills it. */
struct kmig_device_snapshot {
	u64 seq;
	char name[KMIG_DEVICE_NAME_MAX];
	u32 instance;
	u32 version;
	u32 state;
	u64 pending_bytes;
	bool open;
};

struct kmig_device *kmig_device_find(const char *name, u32 instance);
void kmig_device_put(struct kmig_device *dev);
int kmig_device_fail(struct kmig_device *dev, int err);
bool kmig_device_saving(u32 state);

int kmig_device_snapshot_next(u64 after, struct kmig_device_snapshot *snap);
int kmig_device_snapshot_one(const char *name, u32 instance,
			     struct kmig_device_snapshot *snap);

#endif /* _KMIG_DEVICE_INTERNAL_H */
