// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink for guest memory contexts: dump and get, statistics, the page
 * limit, and the "events" multicast group. The ops and their policies are
 * registered with the family in netlink.c.
 */
#include <linux/kmig.h>
#include <net/genetlink.h>

#include "context.h"
#include "kmig.h"

const struct nla_policy kmig_ctx_get_policy[KMIG_A_MAX + 1] = {
	[KMIG_A_CTX_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

const struct nla_policy kmig_ctx_set_policy[KMIG_A_MAX + 1] = {
	[KMIG_A_CTX_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[KMIG_A_CTX_PAGE_LIMIT]	= { .type = NLA_U64 },
};

struct slot_counts {
	u64 pages, dirty, missing;
};

static void count_slot(struct kmig_slot *slot, struct slot_counts *c)
{
	unsigned long i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < slot->npages; i++) {
		if (READ_ONCE(slot->pages[i]))
			c->pages++;
		else if (test_bit(i, slot->missing))
			c->missing++;
	}
	if (slot->dirty)
		c->dirty = bitmap_weight(slot->dirty, slot->npages);
}

static int put_slot(struct sk_buff *skb, struct kmig_slot *slot,
		    const struct slot_counts *c)
{
	struct nlattr *nest = nla_nest_start(skb, KMIG_A_SLOT);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KMIG_A_SLOT_ID, slot->id) ||
	    nla_put_u32(skb, KMIG_A_SLOT_FLAGS, slot->flags) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_GPA, slot->gpa,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_SIZE,
			      (u64)slot->npages << PAGE_SHIFT,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_PAGES, c->pages,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_DIRTY, c->dirty,
			      KMIG_A_SLOT_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SLOT_MISSING, c->missing,
			      KMIG_A_SLOT_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static u32 ctx_mode(struct kmig_ctx *ctx)
{
	u32 mode = 0;

	if (READ_ONCE(ctx->server))
		mode |= KMIG_CTX_MODE_SERVED;
	if (READ_ONCE(ctx->server_lost))
		mode |= KMIG_CTX_MODE_SERVER_LOST;
	return mode;
}

/* Fill one context's attributes; the caller keeps @ctx alive. */
static int put_ctx(struct sk_buff *skb, struct kmig_ctx *ctx)
{
	struct slot_counts c, sum = {};
	struct kmig_slot *slot;
	struct nlattr *slots;
	u32 mode = ctx_mode(ctx);
	unsigned long id;
	int ret = -EMSGSIZE;

	if (nla_put_u32(skb, KMIG_A_CTX_ID, ctx->id) ||
	    nla_put_u32(skb, KMIG_A_CTX_OWNER, ctx->owner) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_PAGE_LIMIT,
			      atomic_long_read(&ctx->page_limit), KMIG_A_PAD))
		return -EMSGSIZE;

	down_read(&ctx->lock);
	slots = nla_nest_start(skb, KMIG_A_CTX_SLOTS);
	if (!slots)
		goto out;
	xa_for_each(&ctx->slots, id, slot) {
		count_slot(slot, &c);
		if (put_slot(skb, slot, &c))
			goto out;
		sum.pages += c.pages;
		sum.dirty += c.dirty;
		sum.missing += c.missing;
		if (!bitmap_empty(slot->missing, slot->npages))
			mode |= KMIG_CTX_MODE_POSTCOPY;
		if (slot->dirty && READ_ONCE(slot->logging))
			mode |= KMIG_CTX_MODE_DIRTY_LOG;
	}
	nla_nest_end(skb, slots);
	if (nla_put_u32(skb, KMIG_A_CTX_MODE, mode) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_PAGES, sum.pages, KMIG_A_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_DIRTY, sum.dirty, KMIG_A_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_CTX_MISSING, sum.missing,
			      KMIG_A_PAD))
		goto out;
	ret = 0;
out:
	up_read(&ctx->lock);
	return ret;
}

/* The context with @id, referenced, or NULL. */
static struct kmig_ctx *ctx_find(u32 id)
{
	struct kmig_ctx *ctx;

	mutex_lock(&kmig_ctx_list_lock);
	list_for_each_entry(ctx, &kmig_ctx_list, node) {
		if (ctx->id == id) {
			kref_get(&ctx->ref);
			mutex_unlock(&kmig_ctx_list_lock);
			return ctx;
		}
	}
	mutex_unlock(&kmig_ctx_list_lock);
	return NULL;
}

static struct kmig_ctx *ctx_from_info(struct genl_info *info)
{
	struct kmig_ctx *ctx;

	if (GENL_REQ_ATTR_CHECK(info, KMIG_A_CTX_ID)) {
		NL_SET_ERR_MSG(info->extack, "context id missing");
		return ERR_PTR(-EINVAL);
	}
	ctx = ctx_find(nla_get_u32(info->attrs[KMIG_A_CTX_ID]));
	if (!ctx) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KMIG_A_CTX_ID],
				    "no context with this id");
		return ERR_PTR(-ENOENT);
	}
	return ctx;
}

/* Answer @info with one @cmd message about its context, filled by @fill. */
static int ctx_reply(struct genl_info *info, u8 cmd,
		     int (*fill)(struct sk_buff *skb, struct kmig_ctx *ctx))
{
	struct kmig_ctx *ctx;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	ctx = ctx_from_info(info);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto err_msg;
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &kmig_genl_family, 0, cmd);
	if (!hdr || fill(msg, ctx)) {
		NL_SET_ERR_MSG(info->extack, "context too large for a reply");
		goto err_put;
	}
	genlmsg_end(msg, hdr);
	kmig_ctx_put(ctx);
	return genlmsg_reply(msg, info);

err_put:
	nlmsg_free(msg);
err_msg:
	kmig_ctx_put(ctx);
	return ret;
}

int kmig_nl_ctx_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	return ctx_reply(info, KMIG_CMD_CTX_GET, put_ctx);
}

/* cb->args[0]: the id of the last context dumped. */
int kmig_nl_ctx_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct kmig_ctx *ctx;
	int ret = 0;
	void *hdr;

	mutex_lock(&kmig_ctx_list_lock);
	list_for_each_entry(ctx, &kmig_ctx_list, node) {
		if (ctx->id <= cb->args[0])
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &kmig_genl_family,
				  NLM_F_MULTI, KMIG_CMD_CTX_GET);
		if (!hdr) {
			ret = -EMSGSIZE;
			break;
		}
		if (put_ctx(skb, ctx)) {
			genlmsg_cancel(skb, hdr);
			ret = -EMSGSIZE;
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = ctx->id;
	}
	mutex_unlock(&kmig_ctx_list_lock);
	/* A full skb ends this part of the dump; the next one goes on. */
	return ret == -EMSGSIZE && skb->len ? skb->len : ret ? ret : skb->len;
}

static int put_stats(struct sk_buff *skb, struct kmig_ctx *ctx)
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
	for (i = 0; i < KMIG_LAT_BUCKETS; i++)
		if (nla_put_u64_64bit(skb, i + 1, st.lat_us[i], 0))
			return -EMSGSIZE;
	nla_nest_end(skb, lat);
	nla_nest_end(skb, nest);
	return 0;
}

static int put_id_stats(struct sk_buff *skb, struct kmig_ctx *ctx)
{
	if (nla_put_u32(skb, KMIG_A_CTX_ID, ctx->id))
		return -EMSGSIZE;
	return put_stats(skb, ctx);
}

int kmig_nl_ctx_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	return ctx_reply(info, KMIG_CMD_CTX_STATS, put_id_stats);
}

int kmig_nl_ctx_set_doit(struct sk_buff *skb, struct genl_info *info)
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
	ctx = ctx_from_info(info);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	atomic_long_set(&ctx->page_limit, limit);
	kmig_ctx_put(ctx);
	return 0;
}

/* Tell the "events" group about @ctx. May sleep. */
void kmig_nl_ctx_event(struct kmig_ctx *ctx, u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&kmig_genl_family, &init_net,
				KMIG_MCGRP_EVENTS_ID))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kmig_genl_family, 0, cmd);
	if (!hdr || nla_put_u32(msg, KMIG_A_CTX_ID, ctx->id) ||
	    nla_put_u32(msg, KMIG_A_CTX_OWNER, ctx->owner)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&kmig_genl_family, msg, 0, KMIG_MCGRP_EVENTS_ID,
			  GFP_KERNEL);
}
