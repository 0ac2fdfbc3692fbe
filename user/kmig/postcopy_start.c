// SPDX-License-Identifier: GPL-2.0
/*
 * kmig postcopy-start: ask a running `kmig migrate --postcopy-after start
 * --ctl SOCK` to switch to postcopy at the end of its current round
 * (jobctl.h), as QEMU's migrate-start-postcopy does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"
#include "mig.h"
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
	char reply[MIG_JOBCTL_LINE];
	const char *ctl = NULL;
	int ret;

	ret = mig_parse_sock_only("postcopy-start", "ctl", usage, argc, argv,
				  &ctl);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = mig_jobctl_request(ctl, "postcopy-start\n", reply, sizeof(reply));
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
