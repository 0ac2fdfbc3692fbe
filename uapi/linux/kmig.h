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
#define KMIG_FEATURE_NETLINK	_BITULL(0)

#define KMIG_FEATURES_ALL	(KMIG_FEATURE_NETLINK)

/* Generic netlink family. */
#define KMIG_GENL_NAME		"kmig"
#define KMIG_GENL_VERSION	1

enum kmig_cmd {
	KMIG_CMD_UNSPEC,
	KMIG_CMD_GET_INFO,

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

	__KMIG_A_MAX,
	KMIG_A_MAX = __KMIG_A_MAX - 1
};

enum kmig_obj_attr {
	KMIG_A_OBJ_UNSPEC,
	KMIG_A_OBJ_PAD,
	KMIG_A_OBJ_FILES,

	__KMIG_A_OBJ_MAX,
	KMIG_A_OBJ_MAX = __KMIG_A_OBJ_MAX - 1
};

#endif /* _UAPI_LINUX_KMIG_H */
