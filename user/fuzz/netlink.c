// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the agent's netlink reply parsers (user/lib/
 * netlink.c, included here for its static parsers): what the kernel
 * sends is input like any other.
 *
 * Input: a byte choosing the request whose replies follow (modulo 8:
 * family, info, context dump, one context, stats, device dump, one
 * device, an event), then datagrams, each a le16 length and that many
 * bytes (the last one cut at the input's end). Each datagram lands in a
 * buffer of exactly its size, as recv() leaves it. The replies are to
 * request FUZZ_SEQ of port FUZZ_PORTID; the family's id is FUZZ_FAMILY.
 *
 * The invariants: nothing is read or written outside the datagram or the
 * caller's arrays (ASan), a failure is a negative errno, and every string
 * handed back (the kernel's message, names, version) is terminated.
 */
#include "../lib/netlink.c"

#include <stdio.h>

#include "le.h"

#define FUZZ_SEQ	7
#define FUZZ_PORTID	0x4b4d
#define FUZZ_FAMILY	0x20
#define MAX		2	/* entries: a dump of 3 overflows */

enum request {
	R_FAMILY, R_INFO, R_CTX_LIST, R_CTX_GET, R_STATS, R_DEV_LIST,
	R_DEV_GET, R_EVENT, R_COUNT
};

/* Whatever any parser may write, in arrays sized as the agent's callers. */
struct out {
	struct kmig_info info;
	struct kmig_nl_ctx *ctxs;
	struct ctx_list ctx_list;
	struct kmig_nl_stats stats;
	struct kmig_dev_info *devs;
	struct dev_list dev_list;
	struct kmig_nl_event ev;
};

static void terminated(const char *s, size_t size)
{
	if (strnlen(s, size) == size)
		abort();
}

static void check(const struct kmig_nl *nl, const struct out *o, int ret)
{
	int i;

	if (ret > 0)
		abort();
	terminated(nl->err_msg, sizeof(nl->err_msg));
	terminated(o->info.version, sizeof(o->info.version));
	for (i = 0; i < o->ctx_list.n && i < MAX; i++)
		if (o->ctxs[i].nslots < 0)
			abort();
	for (i = 0; i < (int)o->dev_list.count && i < MAX; i++)
		terminated(o->devs[i].name, sizeof(o->devs[i].name));
	if (o->dev_list.err && o->dev_list.err != -EPROTO)
		abort();
}

/* Datagram @p of @len bytes to the parser of request @r: as kmig_nl_call(). */
static int feed(struct kmig_nl *nl, enum request r, struct out *o,
		const void *p, size_t len)
{
	switch (r) {
	case R_FAMILY:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_family, nl);
	case R_INFO:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_info,
				      &o->info);
	case R_CTX_LIST:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_ctx_list,
				      &o->ctx_list);
	case R_CTX_GET:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_one_ctx,
				      o->ctxs);
	case R_STATS:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_stats,
				      &o->stats);
	case R_DEV_LIST:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_dev_list,
				      &o->dev_list);
	case R_DEV_GET:
		return parse_datagram(nl, p, len, FUZZ_SEQ, parse_dev_one,
				      o->devs);
	default:
		return parse_event(nl, p, len, &o->ev) == -EAGAIN ? 1 : 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmig_nl nl = { .portid = FUZZ_PORTID, .family = FUZZ_FAMILY };
	struct out o = { 0 };
	size_t off = 1, len;
	enum request r;
	int ret = 1;
	void *p;

	if (!size)
		return 0;
	r = data[0] % R_COUNT;
	o.ctxs = calloc(MAX, sizeof(*o.ctxs));
	o.devs = calloc(MAX, sizeof(*o.devs));
	if (!o.ctxs || !o.devs)
		abort();
	o.ctx_list = (struct ctx_list){ .ctxs = o.ctxs, .max = MAX };
	o.dev_list = (struct dev_list){ .devs = o.devs, .max = MAX };
	while (ret > 0 && off + 2 <= size) {
		len = get_le16(data + off);
		off += 2;
		if (len > size - off)
			len = size - off;
		p = malloc(len ? len : 1);
		if (!p)
			abort();
		memcpy(p, data + off, len);
		off += len;
		ret = feed(&nl, r, &o, p, len);
		free(p);
		if (ret > 1 || ret < -4095)
			abort();	/* not "more", "done" or an errno */
	}
	check(&nl, &o, ret > 0 ? 0 : ret);
	free(o.ctxs);
	free(o.devs);
	return 0;
}
