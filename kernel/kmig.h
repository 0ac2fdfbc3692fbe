/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig internals shared by the module's subsystems.
 */
#ifndef _KMIG_H
#define _KMIG_H

#include <linux/atomic.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <net/netlink.h>

/* The UAPI's u64 bitmap words are read and written as unsigned longs. */
static_assert(BITS_PER_LONG == 64);

#define KMIG_VERSION "0.1.0"

/*
 * Internal consistency checks. They compile away unless the module is built
 * with `make module-debug`, which defines CONFIG_KMIG_DEBUG.
 */
#ifdef CONFIG_KMIG_DEBUG
#define KMIG_DEBUG_ON(cond)	WARN_ON(cond)
#else
#define KMIG_DEBUG_ON(cond)	BUILD_BUG_ON_INVALID(cond)
#endif

/*
 * Live objects, for KMIG_CMD_GET_INFO. Every allocation of a tracked object
 * increments its counter and every free decrements it, so tests can prove
 * nothing leaked.
 */
struct kmig_objects {
	atomic_long_t files;
	atomic_long_t devices;		/* struct kmig_device */
	atomic_long_t device_files;	/* open device fds */
	atomic_long_t contexts;
	atomic_long_t slots;
	atomic_long_t pages;
	atomic_long_t fault_files;
};

extern struct kmig_objects kmig_objects;

int kmig_dev_init(void);
void kmig_dev_uninit(void);

struct file;
long kmig_region_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

int kmig_netlink_init(void);
void kmig_netlink_uninit(void);

/* netlink.c */
struct kmig_ctx;
void kmig_nl_ctx_event(struct kmig_ctx *ctx, u8 cmd);

#endif /* _KMIG_H */
