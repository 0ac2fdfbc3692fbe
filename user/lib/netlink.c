// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink client for the kmig family, on libmnl.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/kmig.h>
#include <linux/netlink.h>

#include "netlink.h"

/* One request in flight: the socket and the caller's reply callback. */
struct call {
	struct kmig_nl *nl;
	kmig_nl_cb cb;
	void *data;
};

static int parse_reply(const struct nlmsghdr *nlh, void *data)
{
	struct call *call = data;

	return call->cb ? call->cb(nlh, call->data) : MNL_CB_OK;
}

/*
 * The extended ACK message of an error or a failed dump, from @off on
 * (beyond the payload: none).
 */
static void parse_ext_ack(const struct nlmsghdr *nlh, size_t off,
			  struct kmig_nl *nl)
{
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    off > mnl_nlmsg_get_payload_len(nlh))
		return;
	mnl_attr_for_each(attr, nlh, off) {
		if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG ||
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			continue;
		strncpy(nl->err_msg, mnl_attr_get_str(attr),
			sizeof(nl->err_msg) - 1);
	}
}

/* The errno of a kernel's -errno @err; EPROTO for anything else. */
static int kernel_errno(int err)
{
	return err < 0 && err >= -4095 ? -err : EPROTO;
}

/* NLMSG_ERROR: 0 is the ACK; anything else fails the request. */
static int parse_err(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct kmig_nl *nl = ((struct call *)data)->nl;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;

	/* After the request it echoes, whose length is the sender's word. */
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off = err->msg.nlmsg_len < sizeof(err->msg) ? SIZE_MAX :
		      off + err->msg.nlmsg_len - sizeof(err->msg);
	parse_ext_ack(nlh, off, nl);
	errno = kernel_errno(err->error);
	return MNL_CB_ERROR;
}

struct nlmsghdr *kmig_nl_msg(struct kmig_nl *nl, void *buf, uint8_t cmd,
			     uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = KMIG_GENL_VERSION;
	return nlh;
}

/* NLMSG_DONE ends a dump; it carries the dump's error, if any. */
static int parse_done(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		parse_ext_ack(nlh, sizeof(err), ((struct call *)data)->nl);
		errno = kernel_errno(err);
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/*
 * Receives the next datagram into *@buf, grown to fit: a reply about a
 * context with many slots is larger than a page.
 */
static ssize_t recv_next(struct kmig_nl *nl, void **buf, size_t *size)
{
	int fd = mnl_socket_get_fd(nl->sock);
	ssize_t len;
	void *nbuf;

	len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (len < 0)
		return -errno;
	if ((size_t)len > *size || !*buf) {
		*size = len > MNL_SOCKET_BUFFER_SIZE ? len : MNL_SOCKET_BUFFER_SIZE;
		nbuf = realloc(*buf, *size);
		if (!nbuf)
			return -ENOMEM;
		*buf = nbuf;
	}
	len = mnl_socket_recvfrom(nl->sock, *buf, *size);
	return len < 0 ? -errno : len;
}

/*
 * Whether every message of a datagram lies within it. libmnl's
 * mnl_nlmsg_ok() takes an nlmsg_len over 2 GiB (negative as an int) for
 * one that fits, and then walks off the buffer.
 */
static bool datagram_ok(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t off;

	for (off = 0; off + sizeof(*nlh) <= len;
	     off += MNL_ALIGN(nlh->nlmsg_len)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return false;
	}
	return true;
}

/*
 * One datagram of the replies to request @seq, each message to @cb: 1
 * when more are to come, 0 at the end, -errno on failure (the kernel's,
 * with its message in nl->err_msg, or the parser's).
 */
static int parse_datagram(struct kmig_nl *nl, const void *buf, size_t len,
			  uint32_t seq, kmig_nl_cb cb, void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = parse_err,
		[NLMSG_DONE] = parse_done,
	};
	struct call call = { .nl = nl, .cb = cb, .data = data };
	int ret;

	if (!datagram_ok(buf, len))
		return -EBADMSG;
	errno = 0;
	ret = mnl_cb_run2(buf, len, seq, nl->portid, parse_reply, &call, ctl,
			  NLMSG_MIN_TYPE);
	if (ret < 0)
		return errno ? -errno : -EPROTO;
	return ret > 0;
}

int kmig_nl_call(struct kmig_nl *nl, struct nlmsghdr *nlh, kmig_nl_cb cb,
		 void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	size_t size = 0;
	void *buf = NULL;
	ssize_t len;
	int ret;

	nl->err_msg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	do {
		len = recv_next(nl, &buf, &size);
		if (len < 0) {
			free(buf);
			return len;
		}
		ret = parse_datagram(nl, buf, len, seq, cb, data);
	} while (ret > 0);
	free(buf);
	return ret;
}

/* CTRL_ATTR_MCAST_GROUPS: remember the id of the "events" group. */
static void parse_mcgrps(const struct nlattr *nest, struct kmig_nl *nl)
{
	const struct nlattr *grp, *attr;
	const char *name;
	uint32_t id;

	mnl_attr_for_each_nested(grp, nest) {
		name = NULL;
		id = 0;
		mnl_attr_for_each_nested(attr, grp) {
			if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_NAME &&
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
				name = mnl_attr_get_str(attr);
			if (mnl_attr_get_type(attr) == CTRL_ATTR_MCAST_GRP_ID &&
			    mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				id = mnl_attr_get_u32(attr);
		}
		if (name && !strcmp(name, KMIG_MCGRP_EVENTS))
			nl->mcgrp_events = id;
	}
}

static int parse_family(const struct nlmsghdr *nlh, void *data)
{
	struct kmig_nl *nl = data;
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
				nl->family = mnl_attr_get_u16(attr);
			break;
		case CTRL_ATTR_VERSION:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				nl->family_version = mnl_attr_get_u32(attr);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			if (mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
				parse_mcgrps(attr, nl);
			break;
		}
	}
	return MNL_CB_OK;
}

int kmig_nl_open(struct kmig_nl *nl)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;
	int one = 1;
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->seq = time(NULL);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_socket;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one,
				  sizeof(one)) < 0)
		goto err_socket;
	nl->portid = mnl_socket_get_portid(nl->sock);

	nl->family = GENL_ID_CTRL;
	nlh = kmig_nl_msg(nl, buf, CTRL_CMD_GETFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, KMIG_GENL_NAME);
	nl->family = 0;
	ret = kmig_nl_call(nl, nlh, parse_family, nl);
	if (ret)
		goto err_family;
	if (!nl->family) {
		ret = -EPROTO;
		goto err_family;
	}
	return 0;

err_socket:
	ret = -errno;
err_family:
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
	return ret;
}

void kmig_nl_close(struct kmig_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

static int parse_objects(const struct nlattr *nest, struct kmig_info *info)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest) {
		if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
			continue;
		switch (mnl_attr_get_type(attr)) {
		case KMIG_A_OBJ_FILES:
			info->obj_files = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_CONTEXTS:
			info->obj_contexts = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_SLOTS:
			info->obj_slots = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_PAGES:
			info->obj_pages = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_FAULT_FILES:
			info->obj_fault_files = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_DEVICES:
			info->obj_devices = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_OBJ_DEVICE_FILES:
			info->obj_device_files = mnl_attr_get_u64(attr);
			break;
		}
	}
	return MNL_CB_OK;
}

static int parse_info(const struct nlmsghdr *nlh, void *data)
{
	struct kmig_info *info = data;
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case KMIG_A_INFO_VERSION:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
				strncpy(info->version, mnl_attr_get_str(attr),
					sizeof(info->version) - 1);
			break;
		case KMIG_A_INFO_API_VERSION:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				info->api_version = mnl_attr_get_u32(attr);
			break;
		case KMIG_A_INFO_FEATURES:
			if (mnl_attr_validate(attr, MNL_TYPE_U64) >= 0)
				info->features = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_INFO_OBJECTS:
			if (mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
				parse_objects(attr, info);
			break;
		}
	}
	return MNL_CB_OK;
}

int kmig_nl_get_info(struct kmig_nl *nl, struct kmig_info *info)
{
	char buf[KMIG_NL_BUFSIZE];

	memset(info, 0, sizeof(*info));
	return kmig_nl_call(nl, kmig_nl_msg(nl, buf, KMIG_CMD_GET_INFO, 0),
			    parse_info, info);
}

static uint64_t attr_u64(const struct nlattr *attr)
{
	return mnl_attr_validate(attr, MNL_TYPE_U64) >= 0 ?
	       mnl_attr_get_u64(attr) : 0;
}

static uint32_t attr_u32(const struct nlattr *attr)
{
	return mnl_attr_validate(attr, MNL_TYPE_U32) >= 0 ?
	       mnl_attr_get_u32(attr) : 0;
}

static void parse_slot(const struct nlattr *nest, struct kmig_nl_slot *s)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest) {
		switch (mnl_attr_get_type(attr)) {
		case KMIG_A_SLOT_ID:
			s->id = attr_u32(attr);
			break;
		case KMIG_A_SLOT_FLAGS:
			s->flags = attr_u32(attr);
			break;
		case KMIG_A_SLOT_GPA:
			s->gpa = attr_u64(attr);
			break;
		case KMIG_A_SLOT_SIZE:
			s->size = attr_u64(attr);
			break;
		case KMIG_A_SLOT_PAGES:
			s->pages = attr_u64(attr);
			break;
		case KMIG_A_SLOT_DIRTY:
			s->dirty = attr_u64(attr);
			break;
		case KMIG_A_SLOT_MISSING:
			s->missing = attr_u64(attr);
			break;
		}
	}
}

/* Counts every slot of the nest, keeps the first KMIG_NL_MAX_SLOTS. */
static void parse_slots(const struct nlattr *nest, struct kmig_nl_ctx *c)
{
	const struct nlattr *slot;

	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return;
	mnl_attr_for_each_nested(slot, nest) {
		if (c->nslots < KMIG_NL_MAX_SLOTS)
			parse_slot(slot, &c->slots[c->nslots]);
		c->nslots++;
	}
}

static void parse_ctx(const struct nlmsghdr *nlh, struct kmig_nl_ctx *c)
{
	const struct nlattr *attr;

	memset(c, 0, sizeof(*c));
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(attr)) {
		case KMIG_A_CTX_ID:
			c->id = attr_u32(attr);
			break;
		case KMIG_A_CTX_OWNER:
			c->owner = attr_u32(attr);
			break;
		case KMIG_A_CTX_MODE:
			c->mode = attr_u32(attr);
			break;
		case KMIG_A_CTX_PAGES:
			c->pages = attr_u64(attr);
			break;
		case KMIG_A_CTX_DIRTY:
			c->dirty = attr_u64(attr);
			break;
		case KMIG_A_CTX_MISSING:
			c->missing = attr_u64(attr);
			break;
		case KMIG_A_CTX_PAGE_LIMIT:
			c->page_limit = attr_u64(attr);
			break;
		case KMIG_A_CTX_SLOTS:
			parse_slots(attr, c);
			break;
		}
	}
}

/* The context a CTX_GET message is about, 0 if it names none. */
static uint32_t msg_ctx_id(const struct nlmsghdr *nlh)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == KMIG_A_CTX_ID)
			return attr_u32(attr);
	return 0;
}

/* A later message of the same context: more of its slots. */
static void parse_more_slots(const struct nlmsghdr *nlh,
			     struct kmig_nl_ctx *c)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == KMIG_A_CTX_SLOTS)
			parse_slots(attr, c);
}

struct ctx_list {
	struct kmig_nl_ctx *ctxs;
	int max, n;
	uint32_t last_id;
};

/* A context with many slots spans consecutive messages: fold them. */
static int parse_ctx_list(const struct nlmsghdr *nlh, void *data)
{
	struct ctx_list *l = data;
	uint32_t id = msg_ctx_id(nlh);

	if (l->n && id == l->last_id) {
		if (l->n <= l->max)
			parse_more_slots(nlh, &l->ctxs[l->n - 1]);
		return MNL_CB_OK;
	}
	if (l->n < l->max)
		parse_ctx(nlh, &l->ctxs[l->n]);
	l->n++;
	l->last_id = id;
	return MNL_CB_OK;
}

int kmig_nl_ctx_list(struct kmig_nl *nl, struct kmig_nl_ctx *ctxs, int max,
		     int *n)
{
	struct ctx_list l = { .ctxs = ctxs, .max = max };
	char buf[KMIG_NL_BUFSIZE];
	int ret;

	ret = kmig_nl_call(nl, kmig_nl_msg(nl, buf, KMIG_CMD_CTX_GET,
					   NLM_F_DUMP),
			   parse_ctx_list, &l);
	*n = l.n;
	return ret;
}

static int parse_one_ctx(const struct nlmsghdr *nlh, void *data)
{
	parse_ctx(nlh, data);
	return MNL_CB_OK;
}

int kmig_nl_ctx_get(struct kmig_nl *nl, uint32_t id, struct kmig_nl_ctx *ctx)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;

	memset(ctx, 0, sizeof(*ctx));
	nlh = kmig_nl_msg(nl, buf, KMIG_CMD_CTX_GET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, id);
	return kmig_nl_call(nl, nlh, parse_one_ctx, ctx);
}

static int parse_stats(const struct nlmsghdr *nlh, void *data)
{
	struct kmig_nl_stats *st = data;
	const struct nlattr *attr, *a, *b;
	unsigned int i;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != KMIG_A_CTX_STATS ||
		    mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
			continue;
		mnl_attr_for_each_nested(a, attr) {
			switch (mnl_attr_get_type(a)) {
			case KMIG_A_STATS_FAULTS:
				st->faults = attr_u64(a);
				break;
			case KMIG_A_STATS_INSTALLED_COPY:
				st->installed_copy = attr_u64(a);
				break;
			case KMIG_A_STATS_INSTALLED_ZERO:
				st->installed_zero = attr_u64(a);
				break;
			case KMIG_A_STATS_INSTALLED_BACKGROUND:
				st->installed_background = attr_u64(a);
				break;
			case KMIG_A_STATS_WAITERS:
				st->waiters = attr_u64(a);
				break;
			case KMIG_A_STATS_LATENCY_US:
				mnl_attr_for_each_nested(b, a) {
					i = mnl_attr_get_type(b);
					if (i >= 1 && i <= 32)
						st->latency_us[i - 1] =
							attr_u64(b);
				}
				break;
			}
		}
	}
	return MNL_CB_OK;
}

int kmig_nl_ctx_stats(struct kmig_nl *nl, uint32_t id,
		      struct kmig_nl_stats *st)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;

	memset(st, 0, sizeof(*st));
	nlh = kmig_nl_msg(nl, buf, KMIG_CMD_CTX_STATS, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, id);
	return kmig_nl_call(nl, nlh, parse_stats, st);
}

int kmig_nl_ctx_set_page_limit(struct kmig_nl *nl, uint32_t id,
			       uint64_t limit)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;

	nlh = kmig_nl_msg(nl, buf, KMIG_CMD_CTX_SET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, id);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_PAGE_LIMIT, limit);
	return kmig_nl_call(nl, nlh, NULL, NULL);
}

int kmig_nl_events_join(struct kmig_nl *nl)
{
	int grp = nl->mcgrp_events;

	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return -errno;
	return 0;
}

/* One datagram of the events group: 0, or -EAGAIN if it is none of ours. */
static int parse_event(const struct kmig_nl *nl, const void *buf, size_t len,
		       struct kmig_nl_event *ev)
{
	const struct nlmsghdr *nlh = buf;
	const struct genlmsghdr *genl;
	const struct nlattr *attr;

	if (!datagram_ok(buf, len) || !mnl_nlmsg_ok(nlh, len) ||
	    nlh->nlmsg_type != nl->family ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		return -EAGAIN;
	genl = mnl_nlmsg_get_payload(nlh);
	memset(ev, 0, sizeof(*ev));
	ev->cmd = genl->cmd;
	mnl_attr_for_each(attr, nlh, sizeof(*genl)) {
		if (mnl_attr_get_type(attr) == KMIG_A_CTX_ID)
			ev->id = attr_u32(attr);
		if (mnl_attr_get_type(attr) == KMIG_A_CTX_OWNER)
			ev->owner = attr_u32(attr);
	}
	return 0;
}

int kmig_nl_fd(const struct kmig_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

int kmig_nl_event_recv(struct kmig_nl *nl, struct kmig_nl_event *ev,
		       int timeout_ms)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sock),
			      .events = POLLIN };
	ssize_t len;

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		len = recv(pfd.fd, buf, sizeof(buf), 0);
		if (len < 0)
			return -errno;
		if (!parse_event(nl, buf, len, ev))
			return 0;
	}
}

static void parse_dev_attrs(const struct nlattr *nest, struct kmig_dev_info *dev)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, nest) {
		switch (mnl_attr_get_type(attr)) {
		case KMIG_A_DEV_NAME:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
				strncpy(dev->name, mnl_attr_get_str(attr),
					sizeof(dev->name) - 1);
			break;
		case KMIG_A_DEV_INSTANCE:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				dev->instance = mnl_attr_get_u32(attr);
			break;
		case KMIG_A_DEV_VERSION:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				dev->version = mnl_attr_get_u32(attr);
			break;
		case KMIG_A_DEV_STATE:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
				dev->state = mnl_attr_get_u32(attr);
			break;
		case KMIG_A_DEV_PENDING_BYTES:
			if (mnl_attr_validate(attr, MNL_TYPE_U64) >= 0)
				dev->pending_bytes = mnl_attr_get_u64(attr);
			break;
		case KMIG_A_DEV_OPEN:
			if (mnl_attr_validate(attr, MNL_TYPE_U8) >= 0)
				dev->open = mnl_attr_get_u8(attr);
			break;
		}
	}
}

/* Fills @dev from a DEV_GET message; -EPROTO if it names no device. */
static int parse_dev(const struct nlmsghdr *nlh, struct kmig_dev_info *dev)
{
	struct nlattr *attr;

	memset(dev, 0, sizeof(*dev));
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) == KMIG_A_DEV &&
		    mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
			parse_dev_attrs(attr, dev);
	}
	return dev->name[0] ? 0 : -EPROTO;
}

struct dev_list {
	struct kmig_dev_info *devs;
	size_t max;
	size_t count;
	int err;
};

static int parse_dev_list(const struct nlmsghdr *nlh, void *data)
{
	struct dev_list *list = data;
	struct kmig_dev_info dev;
	int ret;

	ret = parse_dev(nlh, &dev);
	if (ret) {
		list->err = ret;
		return MNL_CB_OK;
	}
	if (list->count < list->max)
		list->devs[list->count] = dev;
	list->count++;
	return MNL_CB_OK;
}

int kmig_nl_dev_list(struct kmig_nl *nl, struct kmig_dev_info *devs,
		     size_t max, size_t *count)
{
	struct dev_list list = { .devs = devs, .max = max };
	char buf[KMIG_NL_BUFSIZE];
	int ret;

	ret = kmig_nl_call(nl, kmig_nl_msg(nl, buf, KMIG_CMD_DEV_GET,
					   NLM_F_DUMP),
			   parse_dev_list, &list);
	*count = list.count;
	return ret ? ret : list.err;
}

static int parse_dev_one(const struct nlmsghdr *nlh, void *data)
{
	if (parse_dev(nlh, data)) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int kmig_nl_dev_get(struct kmig_nl *nl, const char *name, uint32_t instance,
		    struct kmig_dev_info *dev)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = kmig_nl_msg(nl, buf, KMIG_CMD_DEV_GET, 0);
	nest = mnl_attr_nest_start(nlh, KMIG_A_DEV);
	mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME, name);
	mnl_attr_put_u32(nlh, KMIG_A_DEV_INSTANCE, instance);
	mnl_attr_nest_end(nlh, nest);
	memset(dev, 0, sizeof(*dev));
	return kmig_nl_call(nl, nlh, parse_dev_one, dev);
}
