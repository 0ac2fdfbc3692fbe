// SPDX-License-Identifier: GPL-2.0
/*
 * The "kmig" generic netlink family: module information, guest memory
 * contexts, their statistics and events, and migratable devices.
 *
 * Ops are written out as struct genl_ops, each with its own policy, so the
 * same code builds on 6.1 (which has no split ops) and later kernels. Every
 * policy is validated strictly: an attribute an op does not take is refused
 * with an extended ACK message naming it.
 *
 * Access (Documentation/design.rst, "Access"): the family works in every
 * network namespace, but a context exists only in its opener's, and only
 * for a requester with CAP_NET_ADMIN over the opener's user namespace.
 * Devices are host objects: shown in the initial network namespace to
 * CAP_NET_ADMIN there. Netlink reads objects through snapshots
 * (kmig_ctx_snapshot(), kmig_device_snapshot_*()) and never calls into a
 * device driver.
 */
#include <linux/capability.h>
#include <linux/kmig.h>
#include <linux/module.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "compat.h"
#include "context.h"
#include "device.h"
#include "kmig.h"

#define KMIG_MCGRP_EVENTS_ID	0

static struct genl_family kmig_genl_family;

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
			      KMIG_A_PAD))
		goto err_put;
	/* Counters sum every tenant's objects: for the host's admin only. */
	if (netlink_capable(skb, CAP_NET_ADMIN) && kmig_put_objects(msg))
		goto err_put;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_put:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Devices: shown in the initial network namespace, to its admin. */
static int kmig_nl_dev_access(const struct sk_buff *skb, struct net *net,
			      struct netlink_ext_ack *extack)
{
	if (!net_eq(net, &init_net)) {
		NL_SET_ERR_MSG(extack,
			       "devices are shown in the initial network namespace only");
		return -ENOENT;
	}
	if (!netlink_capable(skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG(extack, "listing devices needs CAP_NET_ADMIN");
		return -EPERM;
	}
	return 0;
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

/*
 * cb->args[0]: registration sequence number of the last device dumped.
 * Sequence numbers only grow, so devices that come and go between parts
 * of the dump neither shift nor repeat the others.
 */
static int kmig_nl_dev_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct kmig_device_snapshot snap;
	int ret;

	ret = kmig_nl_dev_access(cb->skb, sock_net(skb->sk), cb->extack);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	for (;;) {
		ret = kmig_device_snapshot_next(cb->args[0], &snap);
		if (ret == -ENOENT)
			break;
		if (ret)
			return skb->len ? skb->len : ret;
		if (kmig_nl_put_dev(skb, NETLINK_CB(cb->skb).portid,
				    cb->nlh->nlmsg_seq, NLM_F_MULTI, &snap))
			break;
		cb->args[0] = snap.seq;
	}
	return skb->len;
}

static int kmig_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *sel[KMIG_A_DEV_MAX + 1];
	struct kmig_device_snapshot snap;
	struct sk_buff *msg;
	int ret;

	ret = kmig_nl_dev_access(skb, genl_info_net(info), info->extack);
	if (ret)
		return ret;
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

/*
 * Contexts. A requester needs CAP_NET_ADMIN over its network namespace
 * (-EPERM otherwise); a context exists for it only in the opener's
 * network namespace and with CAP_NET_ADMIN over the opener's user
 * namespace (-ENOENT otherwise, as if there were no such context).
 */
static const struct nla_policy kmig_ctx_get_policy[KMIG_A_MAX + 1] = {
	[KMIG_A_CTX_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy kmig_ctx_set_policy[KMIG_A_MAX + 1] = {
	[KMIG_A_CTX_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[KMIG_A_CTX_PAGE_LIMIT]	= { .type = NLA_U64 },
};

static int kmig_nl_ctx_admin(const struct sk_buff *skb, struct net *net,
			     struct netlink_ext_ack *extack)
{
	if (netlink_ns_capable(skb, net->user_ns, CAP_NET_ADMIN))
		return 0;
	NL_SET_ERR_MSG(extack, "contexts are shown and changed only with CAP_NET_ADMIN");
	return -EPERM;
}

/* The opener's namespaces are fixed at open and read without a lock. */
static bool kmig_nl_ctx_visible(const struct sk_buff *skb, struct net *net,
				const struct kmig_ctx *ctx)
{
	return net_eq(ctx->net, net) &&
	       netlink_ns_capable(skb, ctx->user_ns, CAP_NET_ADMIN);
}

/* The context @info names, referenced, if the requester may see it. */
static struct kmig_ctx *kmig_nl_ctx_find(struct sk_buff *skb,
					 struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct kmig_ctx *ctx;
	u32 id;
	int ret;

	ret = kmig_nl_ctx_admin(skb, net, info->extack);
	if (ret)
		return ERR_PTR(ret);
	if (GENL_REQ_ATTR_CHECK(info, KMIG_A_CTX_ID)) {
		NL_SET_ERR_MSG(info->extack, "context id missing");
		return ERR_PTR(-EINVAL);
	}
	id = nla_get_u32(info->attrs[KMIG_A_CTX_ID]);
	ctx = kmig_ctx_get_from(id);
	if (ctx && (ctx->id != id || !kmig_nl_ctx_visible(skb, net, ctx))) {
		kmig_ctx_put(ctx);
		ctx = NULL;
	}
	if (!ctx) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KMIG_A_CTX_ID],
				    "no context with this id");
		return ERR_PTR(-ENOENT);
	}
	return ctx;
}

static size_t kmig_nl_slot_size(void)
{
	return nla_total_size(0) +			/* KMIG_A_SLOT */
	       2 * nla_total_size(sizeof(u32)) +	/* id, flags */
	       5 * nla_total_size_64bit(sizeof(u64));	/* gpa ... missing */
}

/* One CTX_GET message of @nslots slots, without the netlink headers. */
static size_t kmig_nl_ctx_size(u32 nslots)
{
	return 3 * nla_total_size(sizeof(u32)) +	/* id, owner, mode */
	       4 * nla_total_size_64bit(sizeof(u64)) +	/* limit, sums */
	       nla_total_size(0) +			/* KMIG_A_CTX_SLOTS */
	       nslots * kmig_nl_slot_size();
}

static int kmig_nl_put_slot(struct sk_buff *skb,
			    const struct kmig_slot_snapshot *s)
{
	struct nlattr *nest = nla_nest_start(skb, KMIG_A_SLOT);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KMIG_A_SLOT_ID, s->id) ||
	    nla_put_u32(skb, KMIG_A_SLOT_FLAGS, s->flags) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_GPA, s->gpa, KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_SIZE, s->size,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_PAGES, s->pages,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_DIRTY, s->dirty,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_MISSING, s->missing,
			      KMIG_A_SLOT_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int kmig_nl_put_ctx_attrs(struct sk_buff *skb,
				 const struct kmig_ctx_snapshot *snap)
{
	if (nla_put_u32(skb, KMIG_A_CTX_ID, snap->id) ||
	    nla_put_u32(skb, KMIG_A_CTX_OWNER, snap->owner) ||
	    nla_put_u32(skb, KMIG_A_CTX_MODE, snap->mode) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_PAGE_LIMIT, snap->page_limit,
			      KMIG_A_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_PAGES, snap->pages, KMIG_A_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_DIRTY, snap->dirty, KMIG_A_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_MISSING, snap->missing,
			      KMIG_A_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * One CTX_GET message: the context and as many of its slots from id
 * *@slot_id on as fit. Sets *@slot_id to the first slot left out and
 * returns 1 if some were, 0 if all fit, -EMSGSIZE if none did.
 */
static int kmig_nl_put_ctx(struct sk_buff *skb, u32 portid, u32 seq,
			   int flags, const struct kmig_ctx_snapshot *snap,
			   u32 *slot_id)
{
	struct nlattr *slots;
	bool any = false;
	void *hdr;
	u32 i;

	hdr = genlmsg_put(skb, portid, seq, &kmig_genl_family, flags,
			  KMIG_CMD_CTX_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (kmig_nl_put_ctx_attrs(skb, snap))
		goto err_cancel;
	slots = nla_nest_start(skb, KMIG_A_CTX_SLOTS);
	if (!slots)
		goto err_cancel;
	for (i = 0; i < snap->nslots; i++) {
		if (snap->slots[i].id < *slot_id)
			continue;
		if (kmig_nl_put_slot(skb, &snap->slots[i])) {
			if (!any)
				goto err_cancel;
			*slot_id = snap->slots[i].id;
			nla_nest_end(skb, slots);
			genlmsg_end(skb, hdr);
			return 1;
		}
		any = true;
	}
	nla_nest_end(skb, slots);
	genlmsg_end(skb, hdr);
	return 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int kmig_nl_ctx_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct kmig_ctx_snapshot snap;
	struct kmig_ctx *ctx;
	struct sk_buff *msg;
	u32 from = 0;
	int ret;

	ctx = kmig_nl_ctx_find(skb, info);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	ret = kmig_ctx_snapshot(ctx, &snap);
	kmig_ctx_put(ctx);
	if (ret)
		return ret;
	msg = genlmsg_new(kmig_nl_ctx_size(snap.nslots), GFP_KERNEL);
	ret = -ENOMEM;
	if (msg) {
		ret = kmig_nl_put_ctx(msg, info->snd_portid, info->snd_seq, 0,
				      &snap, &from);
		if (ret) {
			/* Sized above: a bug, not the requester's fault. */
			WARN_ON_ONCE(1);
			nlmsg_free(msg);
			ret = -EMSGSIZE;
		}
	}
	kmig_ctx_snapshot_free(&snap);
	return ret ? ret : genlmsg_reply(msg, info);
}

/*
 * One context into the dump, from slot id cb->args[1] on. Returns 0 when
 * it is complete, 1 when the skb filled first, or an error.
 */
static int kmig_nl_ctx_dump_one(struct sk_buff *skb,
				struct netlink_callback *cb,
				struct kmig_ctx *ctx)
{
	struct kmig_ctx_snapshot snap;
	u32 slot_id = cb->args[1];
	int ret;

	ret = kmig_ctx_snapshot(ctx, &snap);
	if (ret)
		return ret;
	ret = kmig_nl_put_ctx(skb, NETLINK_CB(cb->skb).portid,
			      cb->nlh->nlmsg_seq, NLM_F_MULTI, &snap,
			      &slot_id);
	kmig_ctx_snapshot_free(&snap);
	if (ret == -EMSGSIZE && skb->len)
		return 1;
	if (ret == 1)
		cb->args[1] = slot_id;
	return ret;
}

/*
 * cb->args[0]: the lowest context id not yet dumped in full; cb->args[1]:
 * the first slot id of that context still to go. A context with more
 * slots than fit in one skb goes out in several messages, each with the
 * context's attributes and the next of its slots.
 */
static int kmig_nl_ctx_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct kmig_ctx *ctx;
	int ret;

	ret = kmig_nl_ctx_admin(cb->skb, net, cb->extack);
	if (ret)
		return ret;
	while (cb->args[0] <= U32_MAX) {
		ctx = kmig_ctx_get_from(cb->args[0]);
		if (!ctx)
			break;
		if (ctx->id != cb->args[0])
			cb->args[1] = 0;
		cb->args[0] = ctx->id;
		ret = 0;
		if (kmig_nl_ctx_visible(cb->skb, net, ctx))
			ret = kmig_nl_ctx_dump_one(skb, cb, ctx);
		kmig_ctx_put(ctx);
		if (ret)
			return ret < 0 ? ret : skb->len;
		cb->args[0]++;
		cb->args[1] = 0;
	}
	return skb->len;
}

static int kmig_nl_put_stats(struct sk_buff *skb, struct kmig_ctx *ctx)
{
	struct kmig_ctx_stats st = {};
	struct nlattr *nest, *lat;
	int i;

	kmig_fault_stats(ctx, &st);
	nest = nla_nest_start(skb, KMIG_A_CTX_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, KMIG_A_STATS_FAULTS, st.faults,
			      KMIG_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_STATS_INSTALLED_COPY,
			      st.installed_copy, KMIG_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_STATS_INSTALLED_ZERO,
			      st.installed_zero, KMIG_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_STATS_INSTALLED_BACKGROUND,
			      st.installed_background, KMIG_A_STATS_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_STATS_WAITERS, st.waiters,
			      KMIG_A_STATS_PAD))
		return -EMSGSIZE;
	lat = nla_nest_start(skb, KMIG_A_STATS_LATENCY_US);
	if (!lat)
		return -EMSGSIZE;
	/* Bucket i is attribute i + 1; the pad attribute follows them. */
	BUILD_BUG_ON(KMIG_LAT_BUCKETS >= KMIG_A_LAT_PAD);
	for (i = 0; i < KMIG_LAT_BUCKETS; i++)
		if (nla_put_u64_64bit(skb, i + 1, st.lat_us[i],
				      KMIG_A_LAT_PAD))
			return -EMSGSIZE;
	nla_nest_end(skb, lat);
	nla_nest_end(skb, nest);
	return 0;
}

static int kmig_nl_ctx_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct kmig_ctx *ctx;
	struct sk_buff *msg;
	void *hdr;
	int ret = -ENOMEM;

	ctx = kmig_nl_ctx_find(skb, info);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &kmig_genl_family, 0,
				KMIG_CMD_CTX_STATS);
	if (!hdr || nla_put_u32(msg, KMIG_A_CTX_ID, ctx->id) ||
	    kmig_nl_put_stats(msg, ctx)) {
		nlmsg_free(msg);
		ret = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
out:
	kmig_ctx_put(ctx);
	return ret;
}

static int kmig_nl_ctx_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct kmig_ctx *ctx;
	u64 limit;

	if (GENL_REQ_ATTR_CHECK(info, KMIG_A_CTX_PAGE_LIMIT)) {
		NL_SET_ERR_MSG(info->extack, "page limit missing");
		return -EINVAL;
	}
	limit = nla_get_u64(info->attrs[KMIG_A_CTX_PAGE_LIMIT]);
	if (limit > LONG_MAX) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[KMIG_A_CTX_PAGE_LIMIT],
				    "page limit out of range");
		return -ERANGE;
	}
	ctx = kmig_nl_ctx_find(skb, info);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	kmig_ctx_set_page_limit(ctx, limit);
	kmig_ctx_put(ctx);
	return 0;
}

/*
 * Tell the "events" group of @ctx's network namespace about it; the owner
 * is the pid its opener had in its own pid namespace. May sleep.
 */
void kmig_nl_ctx_event(struct kmig_ctx *ctx, u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&kmig_genl_family, ctx->net,
				KMIG_MCGRP_EVENTS_ID))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kmig_genl_family, 0, cmd);
	if (!hdr || nla_put_u32(msg, KMIG_A_CTX_ID, ctx->id) ||
	    nla_put_u32(msg, KMIG_A_CTX_OWNER,
			pid_nr_ns(ctx->owner, ns_of_pid(ctx->owner)))) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&kmig_genl_family, ctx->net, msg, 0,
				KMIG_MCGRP_EVENTS_ID, GFP_KERNEL);
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
	},
};

static const struct genl_multicast_group kmig_genl_mcgrps[] = {
	[KMIG_MCGRP_EVENTS_ID] = { .name = KMIG_MCGRP_EVENTS,
				   .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family kmig_genl_family __ro_after_init = {
	.name		= KMIG_GENL_NAME,
	.version	= KMIG_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= kmig_genl_ops,
	.n_ops		= ARRAY_SIZE(kmig_genl_ops),
	.mcgrps		= kmig_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(kmig_genl_mcgrps),
	.netnsok	= true,
	/* Every op works on snapshots and its own locks: no genl_mutex. */
	.parallel_ops	= true,
};

int __init kmig_netlink_init(void)
{
	return genl_register_family(&kmig_genl_family);
}

void kmig_netlink_uninit(void)
{
	genl_unregister_family(&kmig_genl_family);
}
