// SPDX-License-Identifier: GPL-2.0
/*
 * The plug qdisc through libnl-route (plug.h). The qdisc is created as
 * the interface's root with kmig's handle, and every later operation is
 * a change of that same qdisc (RTM_NEWQDISC without NLM_F_CREATE),
 * carrying sch_plug's action.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/plug.h>
#include <netlink/route/tc.h>

#include "kmod.h"
#include "plug.h"

/* "km": the handle of kmig's plug qdisc. */
#define PLUG_HANDLE	TC_HANDLE(0x6b6d, 0)
/* Bytes the plug holds before it drops: 4 MiB, some 2700 full frames. */
#define PLUG_LIMIT	(4 << 20)
#define DRAIN_WAIT_MS	1000

struct kmig_plug {
	struct nl_sock *sk;
	struct rtnl_qdisc *q;
	int ifindex;
	char ifname[IF_NAMESIZE];
};

/* libnl's error codes as errno values, for the callers' -errno. */
static int nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_PERM: return -EPERM;
	case NLE_EXIST: return -EEXIST;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_INVAL: return -EINVAL;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_BUSY: return -EBUSY;
	default: return -EIO;
	}
}

static int refuse(struct kmig_plug *p, const char *what, int nlerr,
		  char *err, size_t n)
{
	snprintf(err, n, "%s: %s the plug qdisc: %s", p->ifname, what,
		 nl_geterror(nlerr));
	return nl_errno(nlerr);
}

/* Change the qdisc with the action @set put in it. */
static int act(struct kmig_plug *p, int (*set)(struct rtnl_qdisc *),
	       const char *what, char *err, size_t n)
{
	int ret = set(p->q);

	if (!ret)
		ret = rtnl_qdisc_add(p->sk, p->q, 0);
	return ret < 0 ? refuse(p, what, ret, err, n) : 0;
}

static void plug_free(struct kmig_plug *p)
{
	rtnl_qdisc_put(p->q);
	nl_socket_free(p->sk);
	free(p);
}

int kmig_plug_install(const char *ifname, struct kmig_plug **plug,
		      char *err, size_t n)
{
	struct kmig_plug *p;
	int ret;

	*plug = NULL;
	if (strlen(ifname) >= IF_NAMESIZE || !if_nametoindex(ifname)) {
		snprintf(err, n, "%s: no such interface in this network namespace",
			 ifname);
		return -ENODEV;
	}
	ret = kmig_module_probe("sch_plug", err, n);
	if (ret)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	p->ifindex = if_nametoindex(ifname);
	p->sk = nl_socket_alloc();
	p->q = rtnl_qdisc_alloc();
	if (!p->sk || !p->q) {
		plug_free(p);
		return -ENOMEM;
	}
	ret = nl_connect(p->sk, NETLINK_ROUTE);
	if (ret < 0) {
		ret = refuse(p, "no rtnetlink socket for", ret, err, n);
		plug_free(p);
		return ret;
	}
	rtnl_tc_set_ifindex(TC_CAST(p->q), p->ifindex);
	rtnl_tc_set_parent(TC_CAST(p->q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(p->q), PLUG_HANDLE);
	ret = rtnl_tc_set_kind(TC_CAST(p->q), "plug");
	if (!ret)
		ret = rtnl_qdisc_plug_set_limit(p->q, PLUG_LIMIT);
	/* Not NLM_F_REPLACE: a root qdisc set up by someone else stays. */
	if (!ret)
		ret = rtnl_qdisc_add(p->sk, p->q, NLM_F_CREATE | NLM_F_EXCL);
	if (ret < 0) {
		ret = refuse(p, "cannot install", ret, err, n);
		if (ret == -EEXIST)
			snprintf(err, n, "%s: has a root qdisc of its own already (see tc qdisc show dev %s): kmig would not give it back",
				 p->ifname, p->ifname);
		plug_free(p);
		return ret;
	}
	*plug = p;
	return 0;
}

int kmig_plug_buffer(struct kmig_plug *p, char *err, size_t n)
{
	return act(p, rtnl_qdisc_plug_buffer, "cannot close an epoch of", err,
		   n);
}

int kmig_plug_release_one(struct kmig_plug *p, char *err, size_t n)
{
	return act(p, rtnl_qdisc_plug_release_one, "cannot release an epoch of",
		   err, n);
}

int kmig_plug_release_all(struct kmig_plug *p, char *err, size_t n)
{
	return act(p, rtnl_qdisc_plug_release_indefinite, "cannot open", err,
		   n);
}

int kmig_plug_queued(struct kmig_plug *p)
{
	struct nl_cache *cache;
	struct rtnl_qdisc *q;
	int ret;

	ret = rtnl_qdisc_alloc_cache(p->sk, &cache);
	if (ret < 0)
		return nl_errno(ret);
	q = rtnl_qdisc_get(cache, p->ifindex, PLUG_HANDLE);
	ret = q ? (int)rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_QLEN) : -ENOENT;
	rtnl_qdisc_put(q);
	nl_cache_free(cache);
	return ret;
}

int kmig_plug_remove(struct kmig_plug *p, char *err, size_t n)
{
	int ret, i;

	ret = kmig_plug_release_all(p, err, n);
	for (i = 0; !ret && i < DRAIN_WAIT_MS / 10 && kmig_plug_queued(p) > 0; i++)
		usleep(10000);
	if (!ret) {
		ret = rtnl_qdisc_delete(p->sk, p->q);
		if (ret < 0)
			ret = refuse(p, "cannot delete", ret, err, n);
	}
	plug_free(p);
	return ret;
}

int kmig_plug_drop(struct kmig_plug *p, char *err, size_t n)
{
	int ret = rtnl_qdisc_delete(p->sk, p->q);

	if (ret < 0)
		ret = refuse(p, "cannot delete", ret, err, n);
	plug_free(p);
	return ret;
}

const char *kmig_plug_ifname(const struct kmig_plug *p)
{
	return p->ifname;
}
