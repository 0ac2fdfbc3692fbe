// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo primary`'s options: the usage text, and their parsing into
 * struct colo_pri (colo_primary.h) with their defaults and the checks
 * between them. The heartbeat's options, which the secondary shares, are
 * colo.h's; the migration's (--vmm, --to, --timeout, --device) mig.h's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>

#include "colo_primary.h"

static const char usage_text[] =
	"Usage: kmig colo primary --vmm SOCK --to ADDR:PORT [options]\n"
	"\n"
	"Checkpoint the running guest of the VMM at SOCK into a `kmig colo\n"
	"secondary` listening at ADDR:PORT, until stopped or failed.\n"
	"\n"
	"  --vmm SOCK            the VMM's control socket (\"@name\": abstract)\n"
	"  --to ADDR:PORT        the secondary\n"
	"  --checkpoint-ms N     period between checkpoints (default 200)\n"
	"  --live-rounds N       before checkpoint 0, send the memory in N rounds\n"
	"                        while the guest runs (default 1; 0: all of it\n"
	"                        in checkpoint 0's pause)\n"
	"  --checkpoints N       stop after checkpoint N (0..N), leaving the guest\n"
	"                        paused at it here and committed there\n"
	"  --stream MS           between checkpoints, send what the guest dirtied\n"
	"                        every MS ms (shorter than --checkpoint-ms), so\n"
	"                        that a pause carries what it dirtied since\n"
	"                        (default a fifth of --checkpoint-ms; 0: off)\n"
	"  --verify              compare a CRC of all guest memory at each pause\n"
	"                        with the secondary's after it applied it\n"
	"  --timeout S           a secondary silent this long is lost (default 5)\n"
	"  --heartbeat MS        beat to the secondary every MS ms, on UDP (default\n"
	"                        100; 0: none)\n"
	"  --heartbeat-timeout MS\n"
	"                        a secondary whose beats stop this long is lost\n"
	"                        (default 2000)\n"
	"  --output IFACE        hold the guest's output on IFACE (a plug qdisc\n"
	"                        as its root) until the checkpoint that produced\n"
	"                        it is committed\n"
	"  --output-wait-ms N    with --output, take a checkpoint early once\n"
	"                        output has waited N ms (default a quarter of\n"
	"                        --checkpoint-ms)\n"
	"  --control SOCK        take `kmig colo checkpoint` requests on this unix\n"
	"                        socket (\"@name\": abstract)\n"
	"  --stay                with --control: when the secondary is lost or\n"
	"                        refuses, stay with the guest running unprotected\n"
	"                        until `kmig colo protect` names a new secondary\n"
	"  --device NAME:INSTANCE\n"
	"                        put this device's whole state in every checkpoint\n"
	"                        (repeatable; the secondary's list in the same order)\n"
	"  --fence CMD           when the secondary is lost, the guest paused, run\n"
	"                        CMD (/bin/sh -c): it exits 0 only if the secondary\n"
	"                        cannot take over; else the guest stays paused here\n"
	"                        and its output since the last commit is dropped\n"
	"\n"
	"SIGINT or SIGTERM stops it after the checkpoint under way: the secondary\n"
	"is told (no takeover), the output released, the guest runs on here.\n"
	"  --help                this text\n";

/* The primary's own options (mig_own_opt). */
static int primary_opt(struct mig_opts *o, int c, void *opaque)
{
	struct colo_pri *p = opaque;

	switch (c) {
	case 'c':
		return mig_parse_u64(o->cmd, "--checkpoint-ms", optarg, 1,
				     60000, &p->period_ms);
	case 'n':
		if (mig_parse_u64(o->cmd, "--checkpoints", optarg, 0,
				  UINT32_MAX, &p->checkpoints))
			return -EINVAL;
		p->checkpoints++;	/* 0..N */
		return 0;
	case 'V':
		p->verify = true;
		return 0;
	case 'L':
		return mig_parse_u64(o->cmd, "--live-rounds", optarg, 0, 100,
				     &p->live_rounds);
	case 'o':
		p->output = optarg;
		return 0;
	case 'w':
		p->output_wait_set = true;
		return mig_parse_u64(o->cmd, "--output-wait-ms", optarg, 0,
				     60000, &p->output_wait_ms);
	case 'C':
		p->control = optarg;
		return 0;
	case 'F':
		p->fence = optarg;
		return 0;
	case 'S':
		p->stay = true;
		return 0;
	case 's':
		p->stream_set = true;
		return mig_parse_u64(o->cmd, "--stream", optarg, 0, 60000,
				     &p->stream_ms);
	}
	return colo_parse_shared(o, c, &p->hb);
}

int colo_pri_parse(struct colo_pri *p, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_TO,
		{ "checkpoint-ms", required_argument, NULL, 'c' },
		{ "checkpoints", required_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'V' },
		{ "live-rounds", required_argument, NULL, 'L' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-wait-ms", required_argument, NULL, 'w' },
		{ "control", required_argument, NULL, 'C' },
		{ "fence", required_argument, NULL, 'F' },
		{ "stay", no_argument, NULL, 'S' },
		MIG_LONGOPT_DEVICE,
		{ "stream", required_argument, NULL, 's' },
		MIG_LONGOPT_TIMEOUT,
		COLO_LONGOPTS_HEARTBEAT,
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	p->o.cmd = "colo primary";
	p->o.io_timeout_s = COLO_TIMEOUT_S;
	p->period_ms = COLO_CHECKPOINT_MS;
	p->live_rounds = COLO_LIVE_ROUNDS;
	ret = mig_parse_opts(&p->o, argc, argv, opts, usage_text, primary_opt,
			     p);
	if (!ret)
		ret = mig_parse_end(&p->o, argc, argv, MIG_PEER_TO);
	if (!ret && p->output_wait_set && !p->output)
		ret = mig_usage_error(p->o.cmd, "--output-wait-ms needs --output");
	if (!ret && p->stay && !p->control)
		ret = mig_usage_error(p->o.cmd, "--stay needs --control SOCK, where `kmig colo protect` comes");
	if (!ret && p->stream_ms && p->stream_ms >= p->period_ms)
		ret = mig_usage_error(p->o.cmd, "--stream %llu ms must be shorter than --checkpoint-ms %llu",
				      (unsigned long long)p->stream_ms,
				      (unsigned long long)p->period_ms);
	if (!p->stream_set)
		p->stream_ms = p->period_ms / COLO_STREAM_PARTS;
	if (!p->output_wait_set)
		p->output_wait_ms = p->period_ms / 4;
	return ret ? ret : colo_check_heartbeat(&p->o, &p->hb);
}
