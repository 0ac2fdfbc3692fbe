// SPDX-License-Identifier: GPL-2.0
/*
 * The "kmig" generic netlink family: control and statistics.
 *
 * Ops are written out as struct genl_ops, each with its own policy, so the
 * same code builds on 6.1 (which has no split ops) and later kernels. Every
 * policy is validated strictly: an attribute an op does not take is refused
 * with an extended ACK message naming it.
 */
#include <linux/kmig.h>
#include <linux/module.h>
#include <net/genetlink.h>

#include "device.h"
#include "kmig.h"

struct genl_family kmig_genl_family;

/* GET_INFO takes no attributes: every entry is NLA_UNSPEC, which strict
 * validation refuses.
 */
static const struct nla_policy kmig_get_info_policy[KMIG_A_MAX + 1] = {
};

static int kmig_put_objects(struct sk_buff *skb)
{
	static const struct {
		int attr;
		atomic_long_t *count;
	} objs[] = {
		{ KMIG_A_OBJ_FILES,		&kmig_objects.files },
		{ KMIG_A_OBJ_CONTEXTS,		&kmig_objects.contexts },
		{ KMIG_A_OBJ_SLOTS,		&kmig_objects.slots },
		{ KMIG_A_OBJ_PAGES,		&kmig_objects.pages },
		{ KMIG_A_OBJ_FAULT_FILES,	&kmig_objects.fault_files },
		{ KMIG_A_OBJ_DEVICES,		&kmig_objects.devices },
		{ KMIG_A_OBJ_DEVICE_FILES,	&kmig_objects.device_files },
	};
	struct nlattr *nest;
	size_t i;

	nest = nla_nest_start(skb, KMIG_A_INFO_OBJECTS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		if (nla_put_u64_64bit(skb, objs[i].attr,
				      atomic_long_read(objs[i].count),
				      KMIG_A_OBJ_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int kmig_nl_get_info_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &kmig_genl_family, 0,
				KMIG_CMD_GET_INFO);
	if (!hdr)
		goto err_put;

	if (nla_put_string(msg, KMIG_A_INFO_VERSION, KMIG_VERSION) ||
	    nla_put_u32(msg, KMIG_A_INFO_API_VERSION, KMIG_API_VERSION) ||
	    nla_put_u64_64bit(msg, KMIG_A_INFO_FEATURES, KMIG_FEATURES_ALL,
			      KMIG_A_PAD) ||
	    kmig_put_objects(msg))
		goto err_put;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_put:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* DEV_GET: a dump takes no attributes; a doit names one device. */
static const struct nla_policy kmig_dev_sel_policy[KMIG_A_DEV_MAX + 1] = {
	[KMIG_A_DEV_NAME]	= { .type = NLA_NUL_STRING,
				    .len = KMIG_DEVICE_NAME_MAX - 1 },
	[KMIG_A_DEV_INSTANCE]	= { .type = NLA_U32 },
};

static const struct nla_policy kmig_dev_get_policy[KMIG_A_MAX + 1] = {
	[KMIG_A_DEV] = NLA_POLICY_NESTED(kmig_dev_sel_policy),
};

static int kmig_nl_put_dev(struct sk_buff *skb, u32 portid, u32 seq,
			   int flags, const struct kmig_device_snapshot *snap)
{
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &kmig_genl_family, flags,
			  KMIG_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, KMIG_A_DEV);
	if (!nest)
		goto err_put;
	if (nla_put_string(skb, KMIG_A_DEV_NAME, snap->name) ||
	    nla_put_u32(skb, KMIG_A_DEV_INSTANCE, snap->instance) ||
	    nla_put_u32(skb, KMIG_A_DEV_VERSION, snap->version) ||
	    nla_put_u32(skb, KMIG_A_DEV_STATE, snap->state) ||
	    nla_put_u64_64bit(skb, KMIG_A_DEV_PENDING_BYTES,
			      snap->pending_bytes, KMIG_A_DEV_PAD) ||
	    nla_put_u8(skb, KMIG_A_DEV_OPEN, snap->open))
		goto err_put;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;

err_put:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int kmig_nl_dev_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct kmig_device_snapshot snap;
	unsigned long n = cb->args[0];
	int ret;

	for (;; n++) {
		ret = kmig_device_snapshot_nth(n, &snap);
		if (ret == -ENOENT)
			break;
		if (ret)
			return ret;
		if (kmig_nl_put_dev(skb, NETLINK_CB(cb->skb).portid,
				    cb->nlh->nlmsg_seq, NLM_F_MULTI, &snap))
			break;
	}
	cb->args[0] = n;
	return skb->len;
}

static int kmig_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *sel[KMIG_A_DEV_MAX + 1];
	struct kmig_device_snapshot snap;
	struct sk_buff *msg;
	int ret;

	if (!info->attrs[KMIG_A_DEV]) {
		NL_SET_ERR_MSG(info->extack, "KMIG_A_DEV names the device");
		return -EINVAL;
	}
	ret = nla_parse_nested(sel, KMIG_A_DEV_MAX, info->attrs[KMIG_A_DEV],
			       kmig_dev_sel_policy, info->extack);
	if (ret)
		return ret;
	if (!sel[KMIG_A_DEV_NAME] || !sel[KMIG_A_DEV_INSTANCE]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KMIG_A_DEV],
				    "device name and instance are required");
		return -EINVAL;
	}
	ret = kmig_device_snapshot_one(nla_data(sel[KMIG_A_DEV_NAME]),
				       nla_get_u32(sel[KMIG_A_DEV_INSTANCE]),
				       &snap);
	if (ret == -ENOENT) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KMIG_A_DEV],
				    "no such device registered");
		return ret;
	}
	if (ret)
		return ret;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = kmig_nl_put_dev(msg, info->snd_portid, info->snd_seq, 0, &snap);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

static const struct genl_ops kmig_genl_ops[] = {
	{
		.cmd	= KMIG_CMD_GET_INFO,
		.doit	= kmig_nl_get_info_doit,
		.policy	= kmig_get_info_policy,
		.maxattr = KMIG_A_MAX,
	},
	{
		.cmd	= KMIG_CMD_DEV_GET,
		.doit	= kmig_nl_dev_get_doit,
		.dumpit	= kmig_nl_dev_get_dumpit,
		.policy	= kmig_dev_get_policy,
		.maxattr = KMIG_A_MAX,
	},
	{
		.cmd	= KMIG_CMD_CTX_GET,
		.doit	= kmig_nl_ctx_get_doit,
		.dumpit	= kmig_nl_ctx_get_dumpit,
		.policy	= kmig_ctx_get_policy,
		.maxattr = KMIG_A_MAX,
	},
	{
		.cmd	= KMIG_CMD_CTX_STATS,
		.doit	= kmig_nl_ctx_stats_doit,
		.policy	= kmig_ctx_get_policy,
		.maxattr = KMIG_A_MAX,
	},
	{
		.cmd	= KMIG_CMD_CTX_SET,
		.doit	= kmig_nl_ctx_set_doit,
		.policy	= kmig_ctx_set_policy,
		.maxattr = KMIG_A_MAX,
		.flags	= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group kmig_genl_mcgrps[] = {
	[KMIG_MCGRP_EVENTS_ID] = { .name = KMIG_MCGRP_EVENTS },
};

struct genl_family kmig_genl_family __ro_after_init = {
	.name		= KMIG_GENL_NAME,
	.version	= KMIG_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= kmig_genl_ops,
	.n_ops		= ARRAY_SIZE(kmig_genl_ops),
	.mcgrps		= kmig_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(kmig_genl_mcgrps),
	.netnsok	= true,
};

int __init kmig_netlink_init(void)
{
	return genl_register_family(&kmig_genl_family);
}

void kmig_netlink_uninit(void)
{
	genl_unregister_family(&kmig_genl_family);
}
