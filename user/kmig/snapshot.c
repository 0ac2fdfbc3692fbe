// SPDX-License-Identifier: GPL-2.0
/*
 * What kmig save and kmig restore share (snapshot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "snap.h"
#include "snapshot.h"

int snap_parse(struct snap_opts *so, bool save, const char *usage, int argc,
	       char *argv[])
{
	static const struct option save_opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "resume", no_argument, NULL, 'r' },
		{ "durable", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "direct-io", no_argument, NULL, 'o' },
		{ "live", no_argument, NULL, 'l' },
		{ "live-rounds", required_argument, NULL, 'R' },
		{ "live-dirty", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	}, restore_opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "paused", no_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "direct-io", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool tuned = false;
	uint64_t v;
	int c, ret;

	memset(so, 0, sizeof(*so));
	so->o.cmd = save ? "save" : "restore";
	so->resume = !save;
	so->threads = cpus > 0 && cpus < SNAP_DEFAULT_THREADS ? cpus :
		      SNAP_DEFAULT_THREADS;
	so->live_rounds = SNAP_LIVE_ROUNDS;
	so->live_dirty = SNAP_LIVE_DIRTY;
	opterr = 0;
	optind = 0;		/* from the start, as a fresh process */
	while ((c = getopt_long(argc, argv, "+:", save ? save_opts :
				restore_opts, NULL)) != -1) {
		if (c == 'r' || c == 'p' || c == 'd') {
			so->resume = c == 'r' ? true : c == 'p' ? false :
				     so->resume;
			so->durable |= c == 'd';
			continue;
		}
		if (c == 't') {
			if (mig_parse_u64(so->o.cmd, "--threads", optarg, 1,
					  KMIG_SNAP_MAX_THREADS, &v))
				return -EINVAL;
			so->threads = v;
			continue;
		}
		if (c == 'o' || c == 'l') {
			so->direct |= c == 'o';
			so->live |= c == 'l';
			continue;
		}
		if (c == 'R' || c == 'L') {
			if (mig_parse_u64(so->o.cmd, c == 'R' ? "--live-rounds" :
					  "--live-dirty", optarg, c == 'R',
					  c == 'R' ? 1000 : 1ull << 40, &v))
				return -EINVAL;
			tuned = true;
			if (c == 'R')
				so->live_rounds = v;
			else
				so->live_dirty = v;
			continue;
		}
		ret = mig_parse_common(&so->o, c, usage, argv);
		if (ret)
			return ret;
	}
	if (optind == argc)
		return mig_usage_error(so->o.cmd, "which FILE?");
	so->file = argv[optind++];
	if (tuned && !so->live)
		return mig_usage_error(so->o.cmd, "--live-rounds and --live-dirty tune --live, which is not given");
	return mig_parse_end(&so->o, argc, argv, false);
}

int snap_attach(struct mig_vm *vm, const struct snap_opts *so, int prot,
		char *state, size_t n, char *err, size_t errlen)
{
	struct vmm_status st;
	int ret;

	ret = mig_vm_attach(vm, so->o.vmm, prot, err, errlen);
	if (ret)
		return ret;
	ret = vmm_client_status(&vm->vmm, &st);
	if (ret) {
		snprintf(err, errlen, "VMM status: %s", strerror(-ret));
		return ret;
	}
	snprintf(state, n, "%s", st.state);
	return 0;
}

int snap_open_direct(const struct snap_opts *so, int flags, char *err,
		     size_t n)
{
	int fd = open(so->file, flags | O_DIRECT | O_CLOEXEC), e = errno;

	if (fd >= 0)
		return fd;
	if (e == EINVAL)
		snprintf(err, n, "--direct-io: the filesystem of %s refuses O_DIRECT (tmpfs does before Linux 6.6); leave the option out there",
			 so->file);
	else
		snprintf(err, n, "--direct-io: %s: %s", so->file,
			 strerror(e));
	return -e;
}
