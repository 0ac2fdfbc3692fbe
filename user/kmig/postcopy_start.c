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

/* Send @req to @path, its reply line into @reply: 0 or -errno. */
static int request(const char *path, const char *req, char *reply, size_t n)
{
	struct pollfd p = { .events = POLLIN };
	struct sockaddr_un sa;
	size_t len = 0;
	socklen_t alen;
	ssize_t r;
	int fd, ret = 0;

	if (mig_jobctl_addr(path, &sa, &alen))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	p.fd = fd;
	if (connect(fd, (struct sockaddr *)&sa, alen) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		ret = -errno;
	while (!ret && len + 1 < n) {
		if (poll(&p, 1, 5000) <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		r = read(fd, reply + len, n - 1 - len);
		if (r <= 0)
			break;
		len += r;
	}
	close(fd);
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return ret ? ret : len ? 0 : -ECONNRESET;
}

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
	ret = request(ctl, "postcopy-start\n", reply, sizeof(reply));
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
