// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink client for the kmig family, on libmnl.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* NLMSG_ERROR: 0 is the ACK; anything else fails the request. */
static int parse_err(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct kmig_nl *nl = ((struct call *)data)->nl;
	const struct nlattr *attr;
	unsigned int off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;

	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += mnl_nlmsg_get_payload_len(&err->msg);
		mnl_attr_for_each(attr, nlh, off) {
			if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG ||
			    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
				continue;
			strncpy(nl->err_msg, mnl_attr_get_str(attr),
				sizeof(nl->err_msg) - 1);
		}
	}
	errno = -err->error;
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

int kmig_nl_call(struct kmig_nl *nl, struct nlmsghdr *nlh, kmig_nl_cb cb,
		 void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = parse_err };
	struct call call = { .nl = nl, .cb = cb, .data = data };
	uint32_t seq = nlh->nlmsg_seq;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t len;
	int ret;

	nl->err_msg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	do {
		len = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		ret = mnl_cb_run2(buf, len, seq, nl->portid, parse_reply, &call, ctl,
				  NLMSG_MIN_TYPE);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
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
