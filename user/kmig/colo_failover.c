// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo failover --control SOCK`: make the `kmig colo secondary`
 * listening on SOCK take over now, as when the primary is lost
 * (Documentation/colo.rst). The fence, when the secondary has one, still
 * decides.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "colo.h"
#include "jobctl.h"
#include "mig.h"

static const char usage_text[] =
	"Usage: kmig colo failover --control SOCK\n"
	"\n"
	"Make the secondary whose --control socket is SOCK (\"@name\": abstract)\n"
	"take over from its last committed checkpoint now. Make sure the\n"
	"primary's guest is stopped first, or two guests run.\n";

int colo_failover_main(int argc, char *argv[])
{
	const char *ctl;
	char reply[MIG_JOBCTL_LINE];
	int ret;

	ret = mig_parse_sock_only("colo failover", "control", usage_text, argc,
				  argv, &ctl);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = mig_jobctl_request(ctl, COLO_CTL_FAILOVER "\n", reply,
				 sizeof(reply));
	if (ret == -EINVAL) {
		fprintf(stderr, "kmig colo failover: --control %s: not a socket path\n",
			ctl);
		return 2;
	}
	if (ret == -ECONNRESET || ret == -ETIMEDOUT) {
		fprintf(stderr, "kmig colo failover: the secondary at %s did not answer\n",
			ctl);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "kmig colo failover: cannot reach the secondary at %s: %s\n",
			ctl, strerror(-ret));
		return 1;
	}
	printf("%s\n", reply);
	return strncmp(reply, "ok", 2) ? 1 : 0;
}
