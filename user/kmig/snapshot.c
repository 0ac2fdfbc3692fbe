// SPDX-License-Identifier: GPL-2.0
/*
 * What kmig save and kmig restore share (snapshot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "snap.h"
#include "snapshot.h"

/* kmig restore --lazy's options: 0 taken, -EINVAL, or MIG_OPT_SHARED. */
static int lazy_opt(struct snap_opts *so, int c)
{
	uint64_t v;
	int ret;

	switch (c) {
	case 'z':
		so->lazy = true;
		return 0;
	case 'F':
		so->resume_fill = so->lazy = true;
		return 0;
	case 'w':
		v = 4096;
		ret = optarg ? mig_parse_u64("restore", "--record-ws", optarg,
					     1, KMIG_SNAP_WS_MAX, &v) : 0;
		so->record_ws = v;
		return ret;
	case 'f':
		ret = mig_parse_u64("restore", "--fill-rate", optarg, 1,
				    1 << 20, &v);
		so->fill_rate = v << 20;
		return ret;
	}
	return MIG_OPT_SHARED;
}

/* What snap_opt() parses into. */
struct snap_parse {
	struct snap_opts *so;
	bool tuned;		/* --live-rounds or --live-dirty given */
};

/* save's and restore's own options (mig_own_opt). */
static int snap_opt(struct mig_opts *o, int c, void *opaque)
{
	struct snap_parse *sp = opaque;
	struct snap_opts *so = sp->so;
	uint64_t v;

	switch (c) {
	case 'r':
	case 'p':
	case 'd':
		so->resume = c == 'r' ? true : c == 'p' ? false : so->resume;
		so->durable |= c == 'd';
		return 0;
	case 't':
		if (mig_parse_u64(o->cmd, "--threads", optarg, 1,
				  KMIG_SNAP_MAX_THREADS, &v))
			return -EINVAL;
		so->threads = v;
		return 0;
	case 'o':
	case 'l':
	case 'i':
		so->direct |= c == 'o';
		so->live |= c == 'l';
		so->incremental |= c == 'i';
		return 0;
	case 'R':
	case 'L':
		if (mig_parse_u64(o->cmd, c == 'R' ? "--live-rounds" :
				  "--live-dirty", optarg, c == 'R',
				  c == 'R' ? 1000 : 1ull << 40, &v))
			return -EINVAL;
		sp->tuned = true;
		if (c == 'R')
			so->live_rounds = v;
		else
			so->live_dirty = v;
		return 0;
	}
	return lazy_opt(so, c);
}

int snap_parse(struct snap_opts *so, bool save, const char *usage, int argc,
	       char *argv[])
{
	static const struct option save_opts[] = {
		MIG_LONGOPT_VMM,
		{ "resume", no_argument, NULL, 'r' },
		{ "durable", no_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "direct-io", no_argument, NULL, 'o' },
		{ "live", no_argument, NULL, 'l' },
		{ "incremental", no_argument, NULL, 'i' },
		{ "live-rounds", required_argument, NULL, 'R' },
		{ "live-dirty", required_argument, NULL, 'L' },
		MIG_LONGOPT_HELP,
		{ }
	}, restore_opts[] = {
		MIG_LONGOPT_VMM,
		{ "paused", no_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "direct-io", no_argument, NULL, 'o' },
		{ "lazy", no_argument, NULL, 'z' },
		{ "resume-fill", no_argument, NULL, 'F' },
		{ "record-ws", optional_argument, NULL, 'w' },
		{ "fill-rate", required_argument, NULL, 'f' },
		MIG_LONGOPT_HELP,
		{ }
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct snap_parse sp = { .so = so };
	int ret;

	memset(so, 0, sizeof(*so));
	so->o.cmd = save ? "save" : "restore";
	so->resume = !save;
	so->threads = cpus > 0 && cpus < SNAP_DEFAULT_THREADS ? cpus :
		      SNAP_DEFAULT_THREADS;
	so->live_rounds = SNAP_LIVE_ROUNDS;
	so->live_dirty = SNAP_LIVE_DIRTY;
	ret = mig_parse_opts(&so->o, argc, argv, save ? save_opts :
			     restore_opts, usage, snap_opt, &sp);
	if (ret)
		return ret;
	if (optind == argc)
		return mig_usage_error(so->o.cmd, "which FILE?");
	so->file = argv[optind++];
	if (sp.tuned && !so->live)
		return mig_usage_error(so->o.cmd, "--live-rounds and --live-dirty tune --live, which is not given");
	if ((so->resume_fill || so->record_ws || so->fill_rate) && !so->lazy)
		return mig_usage_error(so->o.cmd,
				       "--resume-fill, --record-ws and --fill-rate go with --lazy");
	if (so->lazy && so->direct)
		return mig_usage_error(so->o.cmd,
				       "--direct-io does not go with --lazy (a fault reads one range)");
	return mig_parse_end(&so->o, argc, argv, MIG_PEER_NONE);
}

int snap_attach(struct mig_vm *vm, const struct snap_opts *so, int prot,
		char *state, size_t n, char *err, size_t errlen)
{
	struct vmm_status st;
	int ret;

	ret = mig_vm_attach_status(vm, so->o.vmm, prot, &st, err, errlen);
	if (ret)
		return ret;
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

int snap_lock(int fd, const struct snap_opts *so, bool excl, char *err,
	      size_t n)
{
	int e;

	if (!flock(fd, (excl ? LOCK_EX : LOCK_SH) | LOCK_NB))
		return 0;
	e = errno;
	if (e != EWOULDBLOCK)
		return snprintf(err, n, "%s: cannot lock it: %s", so->file,
				strerror(e)), -e;
	if (excl)
		snprintf(err, n, "%s is busy: a restore is reading it (it holds the file's lock), and an incremental save would change it underneath; try again once the restore ends",
			 so->file);
	else
		snprintf(err, n, "%s is busy: an incremental save is merging into it (it holds the file's lock); restore it once the save ends",
			 so->file);
	return -EBUSY;
}

int snap_same_slots(const struct kmig_snap *s, const struct mig_vm *vm,
		    char *err, size_t n)
{
	const struct kmig_snap_slot *f;
	const struct mig_slot *v;
	unsigned int i;

	if (s->nslots != vm->nslots)
		return snprintf(err, n, "the file has %u slots, the VMM %u",
				s->nslots, vm->nslots), -EINVAL;
	for (i = 0; i < vm->nslots; i++) {
		f = &s->slot[i];
		v = &vm->slots[i];
		if (f->id != v->id || f->gpa != v->gpa || f->size != v->size)
			return snprintf(err, n,
					"slot %u of the file is %llu MiB at 0x%llx; the VMM's slot %u is %llu MiB at 0x%llx",
					f->id, (unsigned long long)f->size >> 20,
					(unsigned long long)f->gpa, v->id,
					(unsigned long long)v->size >> 20,
					(unsigned long long)v->gpa), -EINVAL;
	}
	return 0;
}

int snap_load(struct mig_vm *vm, const struct kmig_snap *s, char *err,
	      size_t n)
{
	int ret = vmm_client_load(&vm->vmm, s->state, s->state_len);

	if (ret)
		snprintf(err, n, "the VMM %s the vCPU state: %s",
			 strncmp(vm->vmm.reply, "err ", 4) ? "did not take" :
			 "refused", vmm_client_why(&vm->vmm, ret));
	return ret;
}
