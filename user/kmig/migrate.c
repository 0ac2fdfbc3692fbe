// SPDX-License-Identifier: GPL-2.0
/*
 * kmig migrate: parse, run the source side of a precopy live migration
 * (precopy.h), report.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig.h"
#include "postcopy.h"
#include "precopy.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig migrate --vmm SOCK --to ADDR:PORT [options]\n"
"\n"
"Live-migrate the VM of the VMM behind control socket SOCK (a path, or\n"
"@name in the abstract namespace) to `kmig incoming` at ADDR:PORT.\n"
"\n"
"  --vmm SOCK                 the VMM's control socket (required)\n"
"  --to ADDR:PORT             the destination agent (required):\n"
"                             a.b.c.d:PORT, [IPv6]:PORT or HOST:PORT\n"
"  --channels N               connections: 1 (default) is the main channel\n"
"                             only; N > 1 adds N page channels (max 16)\n"
"  --max-downtime MS          downtime target, 1..60000 (default 300)\n"
"  --bandwidth MIB_PER_S      cap the transfer rate, 1..1048576\n"
"  --max-throttle PCT         throttle the guest at most this much,\n"
"                             0..99 (default 99; 0: never)\n"
"  --timeout S                abort if not switched over after S seconds;\n"
"                             the guest keeps running here (with --resume:\n"
"                             give up if the recovery has not completed\n"
"                             after S seconds; the guest stays paused here)\n"
"  --io-timeout S             give up on a connection silent for S seconds,\n"
"                             2..3600 (default 30)\n"
"  --zerocopy                 send with MSG_ZEROCOPY (see kmig(8))\n"
"  --postcopy                 switch to postcopy after the first round:\n"
"                             the guest runs there while its last pages\n"
"                             follow (Documentation/postcopy.rst); at\n"
"                             least one page channel\n"
"  --postcopy-after N|Ns|start\n"
"                             ... after N rounds, or at the end of the\n"
"                             first round that ends N seconds in, or of\n"
"                             the round `kmig postcopy-start` comes in\n"
"  --ctl SOCK                 the job's control socket (a path, or @name):\n"
"                             `kmig postcopy-start --ctl SOCK`, kmigd's cancel\n"
"  --postcopy-bandwidth MIB_PER_S\n"
"                             cap the background push after the switch\n"
"                             (requested pages are never capped)\n"
"  --postcopy-prefetch W      send up to W pages after a faulting one with\n"
"                             its answer, 0..96 (default 0)\n"
"  --resume                   postcopy recovery: send `kmig postcopy-recover`\n"
"                             at ADDR:PORT every page its guest still\n"
"                             lacks (the VMM's guest migrated away in\n"
"                             postcopy and the link or an agent was lost),\n"
"                             pushed over --channels N page channels\n"
"                             (default 1), requests answered on the main\n"
"                             one. Of the other options it takes the\n"
"                             migration's TLS option, --channels, --json,\n"
"                             --timeout and --io-timeout, no other\n"
"  --json                     print the job info as JSON\n"
"  --device NAME:INSTANCE     migrate this device's state too (repeatable)\n"
"  --save-at-switchover DIR   write each slot's memory at the pause as\n"
"                             DIR/slot-ID.bin and the vCPU state as\n"
"                             DIR/vcpus.bin\n"
"  --tls-creds DIR            TLS 1.3 on every channel, both sides with a\n"
"                             certificate: DIR has ca-cert.pem,\n"
"                             client-cert.pem, client-key.pem (QEMU's\n"
"                             layout); the destination's certificate must\n"
"                             name the host of --to\n"
"  --tls-psk FILE             TLS 1.3 with a pre-shared key: the first\n"
"                             identity:hexkey line of FILE\n"
"  --help                     this text\n";

/* --postcopy-after N (rounds) or Ns (seconds). */
static int postcopy_after(struct mig_opts *o, const char *arg)
{
	size_t len = strlen(arg);
	char num[24];
	uint64_t v;

	o->postcopy = true;
	if (!strcmp(arg, "start")) {
		o->postcopy_on_start = true;
		return 0;
	}
	if (len && arg[len - 1] == 's') {
		snprintf(num, sizeof(num), "%.*s", (int)(len - 1), arg);
		if (mig_parse_u64(o->cmd, "--postcopy-after", num, 1, 86400,
				  &v))
			return -EINVAL;
		o->postcopy_ms = v * 1000;
		return 0;
	}
	return mig_parse_u64(o->cmd, "--postcopy-after", arg, 1, 1000000,
			     &o->postcopy_rounds);
}

/* migrate's own options (mig_own_opt). */
static int migrate_opt(struct mig_opts *o, int c, void *opaque)
{
	uint64_t v;

	(void)opaque;
	switch (c) {
	case 'c':
		if (mig_parse_u64(o->cmd, "--channels", optarg, 1,
				  MIG_MAX_CHANNELS, &v))
			return -EINVAL;
		o->channels = v == 1 ? 1 : v + 1;
		return 0;
	case 'd':
		if (mig_parse_u64(o->cmd, "--max-downtime", optarg, 1,
				  60000, &o->max_downtime_ms))
			return -EINVAL;
		return 0;
	case 'b':
		if (mig_parse_u64(o->cmd, "--bandwidth", optarg, 1,
				  1048576, &v))
			return -EINVAL;
		o->bandwidth = v << 20;
		return 0;
	case 'B':
		if (mig_parse_u64(o->cmd, "--postcopy-bandwidth", optarg,
				  1, 1048576, &v))
			return -EINVAL;
		o->postcopy_bandwidth = v << 20;
		return 0;
	case 'W':
		if (mig_parse_u64(o->cmd, "--postcopy-prefetch", optarg, 0,
				  POSTCOPY_PREFETCH_MAX, &o->postcopy_prefetch))
			return -EINVAL;
		o->postcopy_prefetch_set = true;
		return 0;
	case 'm':
		if (mig_parse_u64(o->cmd, "--max-throttle", optarg, 0,
				  99, &v))
			return -EINVAL;
		o->max_throttle = v;
		return 0;
	case 'z':
		o->zerocopy = true;
		return 0;
	case 'P':
		o->postcopy = true;
		return 0;
	case 'R':
		o->resume = true;
		return 0;
	case 'C':
		o->ctl = optarg;
		return 0;
	case 'A':
		if (postcopy_after(o, optarg))
			return -EINVAL;
		return 0;
	default:
		return MIG_OPT_SHARED;
	}
}

int migrate_parse(struct mig_opts *o, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_TO,
		{ "channels", required_argument, NULL, 'c' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "max-throttle", required_argument, NULL, 'm' },
		MIG_LONGOPTS_MIGRATION,
		{ "zerocopy", no_argument, NULL, 'z' },
		{ "postcopy", no_argument, NULL, 'P' },
		{ "postcopy-after", required_argument, NULL, 'A' },
		{ "postcopy-bandwidth", required_argument, NULL, 'B' },
		{ "postcopy-prefetch", required_argument, NULL, 'W' },
		{ "resume", no_argument, NULL, 'R' },
		{ "ctl", required_argument, NULL, 'C' },
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	o->cmd = "migrate";
	o->io_timeout_s = MIG_IO_TIMEOUT_S;
	o->channels = 1;
	o->max_downtime_ms = 300;
	o->max_throttle = 99;
	o->postcopy_prefetch = POSTCOPY_PREFETCH_DEFAULT;
	ret = mig_parse_opts(o, argc, argv, opts, usage, migrate_opt, NULL);
	if (!ret)
		ret = mig_parse_end(o, argc, argv, MIG_PEER_TO);
	if (ret)
		return ret;
	if (o->resume && (o->postcopy || o->ndevs || o->save_dir ||
			  o->bandwidth || o->zerocopy || o->ctl))
		return mig_usage_error(o->cmd, "--resume takes only --vmm, --to, --channels, --timeout, --io-timeout, --tls-creds or --tls-psk, and --json");
	if (o->postcopy_on_start && !o->ctl)
		return mig_usage_error(o->cmd, "--postcopy-after start needs --ctl SOCK");
	if (o->postcopy_prefetch_set && !o->postcopy)
		return mig_usage_error(o->cmd, "--postcopy-prefetch needs --postcopy");
	/* a recovery pushes on page channels too: at least one */
	if (o->resume && o->channels == 1)
		o->channels = 2;
	if (!o->postcopy)
		return 0;
	if (!o->postcopy_rounds && !o->postcopy_ms && !o->postcopy_on_start)
		o->postcopy_rounds = 1;
	/* background pages never share the urgent path */
	if (o->channels == 1)
		o->channels = 2;
	return 0;
}

int migrate_main(int argc, char *argv[])
{
	struct precopy_src *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	ret = migrate_parse(&s->o, argc, argv);
	if (ret) {
		free(s);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (s->o.resume) {
		ret = postcopy_resume(&s->o);
		free(s);
		return ret;
	}
	precopy_init(s);
	s->ctl.on_cancel = precopy_cancel;
	s->ctl.arg = s;
	ret = s->o.ctl ? mig_jobctl_start(&s->ctl, s->o.ctl,
					  s->o.postcopy_on_start, s->err,
					  sizeof(s->err)) : 0;
	if (ret) {
		fprintf(stderr, "kmig migrate: %s\n", s->err);
		free(s);
		return 1;
	}
	ret = precopy_start(s);
	if (!ret)
		ret = precopy_run(s);
	ret = precopy_end(s, ret);
	if (s->o.ctl)
		mig_jobctl_stop(&s->ctl);
	mig_report(&s->o, &s->job, true);
	if (ret)
		fprintf(stderr, "kmig migrate: %s\n", s->err[0] ? s->err :
			strerror(-ret));
	precopy_free(s);
	ret = !ret ? 0 : s->handed_over ? 3 : 1;
	free(s);
	return ret;
}
