/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kmig: live migration of KVM guests - the one contract between the
 * kmig kernel module and userspace.
 *
 * Two channels reach the module:
 *
 * /dev/kmig (misc device, root only by default)
 *   Bulk data: guest memory, faults, pages, bitmaps and device data move
 *   through file descriptors derived from it, with the ioctls below.
 *
 * Generic netlink family "kmig", version 1
 *   Control and statistics. Every request is validated strictly: an
 *   attribute the command does not know is an error, reported with an
 *   extended ACK message. Commands that change state need CAP_NET_ADMIN.
 *
 *   KMIG_CMD_GET_INFO (doit, unprivileged)
 *     request:  no attributes
 *     reply:    KMIG_A_INFO_VERSION        string, module version
 *               KMIG_A_INFO_API_VERSION    u32, KMIG_API_VERSION
 *               KMIG_A_INFO_FEATURES       u64, KMIG_FEATURE_* bits
 *               KMIG_A_INFO_OBJECTS        nest, live object counters:
 *                 KMIG_A_OBJ_FILES         u64, open /dev/kmig files
 *
 *                 KMIG_A_OBJ_DEVICES       u64, live struct kmig_device
 *                 KMIG_A_OBJ_DEVICE_FILES  u64, open device fds
 *
 *   KMIG_CMD_DEV_GET (dump or doit, unprivileged)
 *     Migratable devices registered by drivers (see the device region
 *     below). One message per device:
 *               KMIG_A_DEV                 nest:
 *                 KMIG_A_DEV_NAME          string, driver-chosen name
 *                 KMIG_A_DEV_INSTANCE      u32, instance id
 *                 KMIG_A_DEV_VERSION       u32, version of its state format
 *                 KMIG_A_DEV_STATE         u32, KMIG_DEVICE_STATE_* bits
 *                 KMIG_A_DEV_PENDING_BYTES u64, save data pending (0 unless
 *                                          saving)
 *                 KMIG_A_DEV_OPEN          u8, 1 while a device fd is open
 *     doit request: KMIG_A_DEV nest with KMIG_A_DEV_NAME and
 *     KMIG_A_DEV_INSTANCE selects one device (-ENOENT if none).
 *
 *   Object counters let tests prove that every object a test created is
 *   gone once it is closed; they are cheap and always on.
 */
#ifndef _UAPI_LINUX_KMIG_H
#define _UAPI_LINUX_KMIG_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#define KMIG_DEVICE_NAME	"kmig"
#define KMIG_API_VERSION	1

/* Feature bits reported by KMIG_CMD_GET_INFO. */
#define KMIG_FEATURE_NETLINK		_BITULL(0)
#define KMIG_FEATURE_DEVICE_REGION	_BITULL(1)

#define KMIG_FEATURES_ALL	(KMIG_FEATURE_NETLINK | \
				 KMIG_FEATURE_DEVICE_REGION)

/* Generic netlink family. */
#define KMIG_GENL_NAME		"kmig"
#define KMIG_GENL_VERSION	1

enum kmig_cmd {
	KMIG_CMD_UNSPEC,
	KMIG_CMD_GET_INFO,
	KMIG_CMD_DEV_GET,

	__KMIG_CMD_MAX,
	KMIG_CMD_MAX = __KMIG_CMD_MAX - 1
};

enum kmig_attr {
	KMIG_A_UNSPEC,
	KMIG_A_PAD,
	KMIG_A_INFO_VERSION,
	KMIG_A_INFO_API_VERSION,
	KMIG_A_INFO_FEATURES,
	KMIG_A_INFO_OBJECTS,
	KMIG_A_DEV,

	__KMIG_A_MAX,
	KMIG_A_MAX = __KMIG_A_MAX - 1
};

enum kmig_obj_attr {
	KMIG_A_OBJ_UNSPEC,
	KMIG_A_OBJ_PAD,
	KMIG_A_OBJ_FILES,
	KMIG_A_OBJ_DEVICES,
	KMIG_A_OBJ_DEVICE_FILES,

	__KMIG_A_OBJ_MAX,
	KMIG_A_OBJ_MAX = __KMIG_A_OBJ_MAX - 1
};

enum kmig_dev_attr {
	KMIG_A_DEV_UNSPEC,
	KMIG_A_DEV_PAD,
	KMIG_A_DEV_NAME,
	KMIG_A_DEV_INSTANCE,
	KMIG_A_DEV_VERSION,
	KMIG_A_DEV_STATE,
	KMIG_A_DEV_PENDING_BYTES,
	KMIG_A_DEV_OPEN,

	__KMIG_A_DEV_MAX,
	KMIG_A_DEV_MAX = __KMIG_A_DEV_MAX - 1
};

/*
 * Device migration region (Documentation/device-region.rst).
 *
 * KMIG_DEVICE_OPEN on /dev/kmig opens a registered device by name and
 * instance and returns a new file descriptor for it (O_RDWR | O_CLOEXEC).
 * A device has at most one such fd at a time: a second open gets -EBUSY.
 * Once its driver unregisters the device, every access gets -ENODEV.
 *
 * At offset 0 of the device fd lies struct kmig_device_region, the layout
 * of VFIO's v1 migration region. Each field is read or written on its own
 * with pread/pwrite of exactly its size at exactly its offset; anything
 * else is -EINVAL. The data area lies at data_offset in the same fd: pread
 * and pwrite always work there, and it can be mmapped (shared, offset
 * data_offset, at most data_max bytes).
 *
 * The device fd also takes the ioctls KMIG_DEVICE_RESET (leave the error
 * state: the device runs again), KMIG_DEVICE_GET_CONFIG (device stopped:
 * STOP or SAVING) and KMIG_DEVICE_SET_CONFIG (RESUMING) for the device's
 * config state, which travels apart from its data (DEV_CONFIG_STATE).
 */
#define KMIG_DEVICE_NAME_MAX	32	/* with the terminating NUL */
#define KMIG_DEVICE_CONFIG_MAX	65536

#define KMIG_DEVICE_STATE_STOP		0
#define KMIG_DEVICE_STATE_RUNNING	_BITUL(0)
#define KMIG_DEVICE_STATE_SAVING	_BITUL(1)
#define KMIG_DEVICE_STATE_RESUMING	_BITUL(2)
#define KMIG_DEVICE_STATE_MASK		(KMIG_DEVICE_STATE_RUNNING | \
					 KMIG_DEVICE_STATE_SAVING | \
					 KMIG_DEVICE_STATE_RESUMING)
#define KMIG_DEVICE_STATE_ERROR		(KMIG_DEVICE_STATE_SAVING | \
					 KMIG_DEVICE_STATE_RESUMING)

struct kmig_device_region {
	__u32 device_state;	/* rw: KMIG_DEVICE_STATE_* */
	__u32 reserved;		/* reads 0, writes ignored */
	__u64 pending_bytes;	/* ro, SAVING: save data not yet staged */
	__u64 data_offset;	/* ro: SAVING stages the next chunk */
	__u64 data_size;	/* SAVING: ro, staged length; RESUMING: wo */
};

/* Stream markers of a device's state (be64 on the wire). */
#define KMIG_DEV_END_OF_STATE		0xffffffffef100001ULL
#define KMIG_DEV_CONFIG_STATE		0xffffffffef100002ULL
#define KMIG_DEV_SETUP_STATE		0xffffffffef100003ULL
#define KMIG_DEV_DATA_STATE		0xffffffffef100004ULL

struct kmig_device_open {
	char name[KMIG_DEVICE_NAME_MAX];	/* in, NUL-terminated */
	__u32 instance;				/* in */
	__u32 flags;				/* in, must be 0 */
	__u64 data_max;				/* out: data area size */
};

struct kmig_device_config {
	__u64 data;	/* user pointer to the config bytes */
	__u32 size;	/* GET: buffer size; SET: bytes to load */
	__u32 len;	/* GET, out: config length (also on -ENOSPC) */
};

/*
 * Device region ioctls: type 0xB9 (kmig's), numbers 0x40 to 0x5f.
 * KMIG_DEVICE_OPEN goes to /dev/kmig, the others to a device fd.
 */
#define KMIG_DEVICE_IOC		0xB9
#define KMIG_DEVICE_IOC_FIRST	0x40
#define KMIG_DEVICE_IOC_LAST	0x5f
#define KMIG_DEVICE_OPEN	_IOWR(KMIG_DEVICE_IOC, 0x40, \
				      struct kmig_device_open)
#define KMIG_DEVICE_RESET	_IO(KMIG_DEVICE_IOC, 0x41)
#define KMIG_DEVICE_GET_CONFIG	_IOWR(KMIG_DEVICE_IOC, 0x42, \
				      struct kmig_device_config)
#define KMIG_DEVICE_SET_CONFIG	_IOW(KMIG_DEVICE_IOC, 0x43, \
				     struct kmig_device_config)

#endif /* _UAPI_LINUX_KMIG_H */
