// SPDX-License-Identifier: GPL-2.0
/*
 * kmig stats: the module's per-context statistics, over netlink: pages,
 * dirty and missing pages, faults, installs and the fault-to-install
 * latency histogram.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"
#include "subcommands.h"

#define MAX_CTXS 64

/* One context as a JSON object (@first: no comma before it). */
static void show_json(const struct kmig_nl_ctx *c,
		      const struct kmig_nl_stats *st, bool first)
{
	int i;

	printf("%s\n  { \"id\": %u, \"pid\": %u, \"pages\": %llu, \"dirty\": %llu, \"missing\": %llu,\n",
	       first ? "" : ",", c->id, c->owner,
	       (unsigned long long)c->pages, (unsigned long long)c->dirty,
	       (unsigned long long)c->missing);
	printf("    \"faults\": %llu, \"installed_copy\": %llu, \"installed_zero\": %llu, \"installed_background\": %llu, \"waiters\": %llu,\n",
	       (unsigned long long)st->faults,
	       (unsigned long long)st->installed_copy,
	       (unsigned long long)st->installed_zero,
	       (unsigned long long)st->installed_background,
	       (unsigned long long)st->waiters);
	printf("    \"latency_us_log2\": [");
	for (i = 0; i < 32; i++)
		printf("%s%llu", i ? ", " : "",
		       (unsigned long long)st->latency_us[i]);
	printf("],\n    \"slots\": [");
	for (i = 0; i < c->nslots && i < KMIG_NL_MAX_SLOTS; i++)
		printf("%s\n      { \"id\": %u, \"gpa\": %llu, \"size\": %llu, \"pages\": %llu, \"dirty\": %llu, \"missing\": %llu }",
		       i ? "," : "", c->slots[i].id,
		       (unsigned long long)c->slots[i].gpa,
		       (unsigned long long)c->slots[i].size,
		       (unsigned long long)c->slots[i].pages,
		       (unsigned long long)c->slots[i].dirty,
		       (unsigned long long)c->slots[i].missing);
	printf(" ] }");
}

static int show(struct kmig_nl *nl, const struct kmig_nl_ctx *c, bool json,
		bool first)
{
	struct kmig_nl_stats st;
	unsigned int i, last = 0;
	int ret;

	ret = kmig_nl_ctx_stats(nl, c->id, &st);
	if (ret) {
		fprintf(stderr, "kmig stats: context %u: %s%s%s\n", c->id,
			strerror(-ret), nl->err_msg[0] ? ": " : "",
			nl->err_msg);
		return ret;
	}
	if (json) {
		show_json(c, &st, first);
		return 0;
	}
	printf("context %u (pid %u): %llu pages, %llu dirty, %llu missing, %d slot%s\n",
	       c->id, c->owner, (unsigned long long)c->pages,
	       (unsigned long long)c->dirty, (unsigned long long)c->missing,
	       c->nslots, c->nslots == 1 ? "" : "s");
	for (i = 0; i < (unsigned int)c->nslots && i < KMIG_NL_MAX_SLOTS; i++)
		printf("  slot %u: gpa 0x%llx size %llu MiB, %llu pages, %llu dirty, %llu missing\n",
		       c->slots[i].id, (unsigned long long)c->slots[i].gpa,
		       (unsigned long long)c->slots[i].size >> 20,
		       (unsigned long long)c->slots[i].pages,
		       (unsigned long long)c->slots[i].dirty,
		       (unsigned long long)c->slots[i].missing);
	printf("  faults %llu, installed: copy %llu, zero %llu, background %llu; waiters %llu\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.installed_copy,
	       (unsigned long long)st.installed_zero,
	       (unsigned long long)st.installed_background,
	       (unsigned long long)st.waiters);
	for (i = 0; i < 32; i++)
		if (st.latency_us[i])
			last = i + 1;
	if (!last)
		return 0;
	printf("  fault-to-install latency:\n");
	for (i = 0; i < last; i++)
		printf("    %10llu .. %10llu us  %llu\n", i ? 1ull << i : 0ull,
		       (2ull << i) - 1, (unsigned long long)st.latency_us[i]);
	return 0;
}

int stats_parse(int argc, char *argv[], bool *json, uint32_t *id)
{
	unsigned long v;
	char *end;

	*json = argc > 1 && !strcmp(argv[1], "--json");
	if (*json) {
		argc--;
		argv++;
	}
	*id = 0;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: kmig stats [--json] [CTX_ID]\n\n"
		       "Per-context statistics of the kmig module (all contexts without CTX_ID),\n"
		       "with --json as a JSON array of objects.\n");
		return 1;
	}
	if (argc > 1 && argv[1][0] == '-' && argv[1][1]) {
		fprintf(stderr, "kmig stats: unknown option '%s'\n(see 'kmig stats --help')\n",
			argv[1]);
		return -EINVAL;
	}
	if (argc > 2) {
		fprintf(stderr, "kmig stats: unexpected argument '%s'\n", argv[2]);
		return -EINVAL;
	}
	if (argc < 2)
		return 0;
	errno = 0;
	v = strtoul(argv[1], &end, 10);
	if (!argv[1][0] || *end || errno || !v || v > UINT32_MAX ||
	    argv[1][0] == '-') {
		fprintf(stderr, "kmig stats: '%s' is not a context id (1..%u)\n",
			argv[1], UINT32_MAX);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

int stats_main(int argc, char *argv[])
{
	static struct kmig_nl_ctx ctxs[MAX_CTXS];
	struct kmig_nl nl;
	uint32_t id;
	bool json;
	int n = 0, i, ret, rc = 0;

	ret = stats_parse(argc, argv, &json, &id);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = kmig_nl_open(&nl);
	if (ret) {
		fprintf(stderr, "kmig stats: %s\n", ret == -ENOENT ?
			"the kmig module is not loaded" : strerror(-ret));
		return 1;
	}
	if (id) {
		ret = kmig_nl_ctx_get(&nl, id, &ctxs[0]);
		n = 1;
	} else {
		ret = kmig_nl_ctx_list(&nl, ctxs, MAX_CTXS, &n);
	}
	if (ret) {
		fprintf(stderr, "kmig stats: %s%.0u: %s%s%s\n",
			id ? "context " : "cannot list contexts",
			id, ret == -ENOENT ? "no such context" :
			strerror(-ret), nl.err_msg[0] ? ": " : "", nl.err_msg);
		kmig_nl_close(&nl);
		return 1;
	}
	if (!n && !json)
		printf("no contexts\n");
	if (json)
		printf("[");
	for (i = 0; i < n && i < MAX_CTXS; i++)
		if (show(&nl, &ctxs[i], json, !i))
			rc = 1;
	if (json)
		printf("\n]\n");
	kmig_nl_close(&nl);
	return rc;
}
