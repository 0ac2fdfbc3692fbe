// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo failover --control SOCK`: make the `kmig colo secondary`
 * listening on SOCK take over now, as when the primary is lost
 * (Documentation/colo.rst). The fence, when the secondary has one, still
 * decides.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo.h"
#include "mig.h"
#include "util.h"

static const char usage_text[] =
	"Usage: kmig colo failover --control SOCK\n"
	"\n"
	"Make the secondary whose --control socket is SOCK (\"@name\": abstract)\n"
	"take over from its last committed checkpoint now. Make sure the\n"
	"primary's guest is stopped first, or two guests run.\n";

/* --control, failover's one option (mig_own_opt). */
static int failover_opt(struct mig_opts *o, int c, void *ctl)
{
	(void)o;
	if (c != 'c')
		return MIG_OPT_SHARED;
	*(const char **)ctl = optarg;
	return 0;
}

static int parse(const char **ctl, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mig_opts o = { .cmd = "colo failover" };
	int ret;

	ret = mig_parse_opts(&o, argc, argv, opts, usage_text, failover_opt,
			     ctl);
	if (!ret)
		ret = mig_parse_no_args(&o, argc, argv);
	if (!ret && !*ctl)
		ret = mig_usage_error(o.cmd, "--control SOCK is required");
	return ret;
}

int colo_failover_main(int argc, char *argv[])
{
	const char *ctl = NULL;
	struct sockaddr_un a;
	char reply[256] = "";
	unsigned int len;
	ssize_t n;
	int fd, ret;

	ret = parse(&ctl, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (colo_unix_addr(ctl, &a, &len)) {
		fprintf(stderr, "kmig colo failover: --control %s: not a socket path\n",
			ctl);
		return 2;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, len)) {
		fprintf(stderr, "kmig colo failover: cannot reach the secondary at %s: %s\n",
			ctl, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	ret = kmig_io_all(fd, COLO_CTL_FAILOVER "\n",
			  sizeof(COLO_CTL_FAILOVER), true);
	n = ret ? -1 : read(fd, reply, sizeof(reply) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "kmig colo failover: the secondary at %s did not answer\n",
			ctl);
		return 1;
	}
	reply[n] = 0;
	printf("%s", reply);
	return strncmp(reply, "ok", 2) ? 1 : 0;
}
