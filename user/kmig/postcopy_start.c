// SPDX-License-Identifier: GPL-2.0
/*
 * kmig postcopy-start: ask a running `kmig migrate --postcopy-after start
 * --ctl SOCK` to switch to postcopy at the end of its current round
 * (jobctl.h), as QEMU's migrate-start-postcopy does.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig postcopy-start --ctl SOCK\n"
"\n"
"Switch the migration behind control socket SOCK (kmig migrate\n"
"--postcopy-after start --ctl SOCK) to postcopy at the end of its\n"
"current round.\n"
"\n"
"  --ctl SOCK   the migration's control socket (a path, or @name)\n"
"  --help       this text\n";

int postcopy_start_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	char reply[MIG_JOBCTL_LINE];
	const char *ctl = NULL;
	int c, ret;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctl = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "kmig postcopy-start: bad option %s\n\n%s",
				argv[optind - 1], usage);
			return 2;
		}
	}
	if (!ctl || optind < argc) {
		fprintf(stderr, "kmig postcopy-start: %s\n\n%s",
			ctl ? "stray arguments" : "--ctl SOCK is required",
			usage);
		return 2;
	}
	ret = mig_jobctl_call(ctl, "postcopy-start\n", reply, sizeof(reply));
	if (ret) {
		fprintf(stderr, "kmig postcopy-start: %s: %s\n", ctl,
			strerror(-ret));
		return 1;
	}
	if (strcmp(reply, "ok")) {
		fprintf(stderr, "kmig postcopy-start: %s\n", reply);
		return 1;
	}
	return 0;
}
