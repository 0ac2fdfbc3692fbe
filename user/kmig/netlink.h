/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's link to the kmig module's generic netlink family. netlink.c is
 * the only file in user/ that speaks netlink; everything else calls the
 * functions below. All of them return 0 or -errno; after a failed request
 * nl->err_msg holds the kernel's extended ACK message, if it sent one.
 */
#ifndef KMIG_NETLINK_H
#define KMIG_NETLINK_H

#include <stdint.h>

struct nlmsghdr;
struct mnl_socket;

struct kmig_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	uint32_t family_version;
	char err_msg[256];
};

struct kmig_info {
	char version[32];
	uint32_t api_version;
	uint64_t features;
	uint64_t obj_files;
	uint64_t obj_contexts;
	uint64_t obj_slots;
	uint64_t obj_pages;
	uint64_t obj_fault_files;
};

/* -ENOENT: the kmig family is not registered (module not loaded). */
int kmig_nl_open(struct kmig_nl *nl);
void kmig_nl_close(struct kmig_nl *nl);

int kmig_nl_get_info(struct kmig_nl *nl, struct kmig_info *info);

/*
 * Raw requests, for callers that build their own messages (the selftests
 * use them to send malformed ones). kmig_nl_msg() starts a request for @cmd
 * in @buf (at least KMIG_NL_BUFSIZE bytes); kmig_nl_call() sends it and
 * feeds every reply message to @cb.
 */
#define KMIG_NL_BUFSIZE 8192

typedef int (*kmig_nl_cb)(const struct nlmsghdr *nlh, void *data);

struct nlmsghdr *kmig_nl_msg(struct kmig_nl *nl, void *buf, uint8_t cmd,
			     uint16_t flags);
int kmig_nl_call(struct kmig_nl *nl, struct nlmsghdr *nlh, kmig_nl_cb cb,
		 void *data);

#endif /* KMIG_NETLINK_H */
