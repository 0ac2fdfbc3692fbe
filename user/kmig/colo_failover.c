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

static int parse(const char **ctl, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "colo failover";
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 1;
		}
		if (c != 'c')
			return mig_usage_error(cmd, "unknown option or missing value: %s",
					       argv[optind - 1]);
		*ctl = optarg;
	}
	if (optind < argc)
		return mig_usage_error(cmd, "unexpected argument '%s'",
				       argv[optind]);
	if (!*ctl)
		return mig_usage_error(cmd, "--control is required");
	return 0;
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
