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

#include "kmig.h"

struct genl_family kmig_genl_family;

/* GET_INFO takes no attributes: every entry is NLA_UNSPEC, which strict
 * validation refuses.
 */
static const struct nla_policy kmig_get_info_policy[KMIG_A_MAX + 1] = {
};

static int kmig_put_objects(struct sk_buff *skb)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, KMIG_A_INFO_OBJECTS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, KMIG_A_OBJ_FILES,
			      atomic_long_read(&kmig_objects.files),
			      KMIG_A_OBJ_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_OBJ_CONTEXTS,
			      atomic_long_read(&kmig_objects.contexts),
			      KMIG_A_OBJ_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_OBJ_SLOTS,
			      atomic_long_read(&kmig_objects.slots),
			      KMIG_A_OBJ_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_OBJ_PAGES,
			      atomic_long_read(&kmig_objects.pages),
			      KMIG_A_OBJ_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_OBJ_FAULT_FILES,
			      atomic_long_read(&kmig_objects.fault_files),
			      KMIG_A_OBJ_PAD))
		goto err_put;
	nla_nest_end(skb, nest);
	return 0;

err_put:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
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

static const struct genl_ops kmig_genl_ops[] = {
	{
		.cmd	= KMIG_CMD_GET_INFO,
		.doit	= kmig_nl_get_info_doit,
		.policy	= kmig_get_info_policy,
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
