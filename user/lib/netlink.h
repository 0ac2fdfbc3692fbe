/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's link to the kmig module's generic netlink family. netlink.c is
 * the only file in user/ that speaks netlink; everything else calls the
 * functions below. All of them return 0 or -errno; after a failed request
 * nl->err_msg holds the kernel's extended ACK message, if it sent one.
 */
#ifndef KMIG_NETLINK_H
#define KMIG_NETLINK_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;
struct mnl_socket;

struct kmig_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	uint32_t family_version;
	uint32_t mcgrp_events;		/* 0: not resolved */
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
	uint64_t obj_devices;
	uint64_t obj_device_files;
};

/* A registered migratable device, from KMIG_CMD_DEV_GET. */
struct kmig_dev_info {
	char name[32];
	uint32_t instance;
	uint32_t version;
	uint32_t state;
	uint64_t pending_bytes;
	int open;
};

/* -ENOENT: the kmig family is not registered (module not loaded). */
int kmig_nl_open(struct kmig_nl *nl);
void kmig_nl_close(struct kmig_nl *nl);

int kmig_nl_get_info(struct kmig_nl *nl, struct kmig_info *info);

/* Guest memory contexts (KMIG_CMD_CTX_*). */
#define KMIG_NL_MAX_SLOTS 8

struct kmig_nl_slot {
	uint32_t id, flags;
	uint64_t gpa, size, pages, dirty, missing;
};

struct kmig_nl_ctx {
	uint32_t id, owner, mode;
	uint64_t pages, dirty, missing, page_limit;
	int nslots;			/* every slot reported */
	struct kmig_nl_slot slots[KMIG_NL_MAX_SLOTS];	/* the first ones */
};

struct kmig_nl_stats {
	uint64_t faults, installed_copy, installed_zero, installed_background;
	uint64_t waiters;
	uint64_t latency_us[32];
};

/*
 * Dump: fills up to @max contexts, sets *@n to the number seen. The kernel
 * splits a context with many slots across messages; they count as one.
 */
int kmig_nl_ctx_list(struct kmig_nl *nl, struct kmig_nl_ctx *ctxs, int max,
		     int *n);
int kmig_nl_ctx_get(struct kmig_nl *nl, uint32_t id, struct kmig_nl_ctx *ctx);
int kmig_nl_ctx_stats(struct kmig_nl *nl, uint32_t id,
		      struct kmig_nl_stats *st);
int kmig_nl_ctx_set_page_limit(struct kmig_nl *nl, uint32_t id,
			       uint64_t limit);

/* Events: join the "events" group on @nl, a socket used for nothing else. */
struct kmig_nl_event {
	uint8_t cmd;			/* KMIG_CMD_CTX_NEW, ... */
	uint32_t id, owner;
};

int kmig_nl_events_join(struct kmig_nl *nl);
/* Its socket, to poll for events. */
int kmig_nl_fd(const struct kmig_nl *nl);
/* -ETIMEDOUT when nothing came within @timeout_ms. */
int kmig_nl_event_recv(struct kmig_nl *nl, struct kmig_nl_event *ev,
		       int timeout_ms);

/*
 * Lists registered devices: fills up to @max entries of @devs and sets
 * *@count to the number registered (which may exceed @max).
 */
int kmig_nl_dev_list(struct kmig_nl *nl, struct kmig_dev_info *devs,
		     size_t max, size_t *count);
/* One device by name and instance; -ENOENT if none is registered. */
int kmig_nl_dev_get(struct kmig_nl *nl, const char *name, uint32_t instance,
		    struct kmig_dev_info *dev);

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
