/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kmig save and kmig restore share: their command line and how they
 * find the guest at its VMM.
 */
#ifndef KMIG_SNAPSHOT_H
#define KMIG_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mig.h"

struct snap_opts {
	struct mig_opts o;		/* --vmm, --json, --help */
	const char *file;
	bool resume;			/* save: --resume; restore: not --paused */
	bool durable;			/* save: --durable */
	unsigned int threads;		/* --threads: page movers, or
					 * with --lazy background fillers */
	bool direct;			/* --direct-io */
	bool live;			/* save: --live */
	bool incremental;		/* save: --incremental */
	unsigned int live_rounds;	/* save: --live-rounds */
	uint64_t live_dirty;		/* save: --live-dirty, pages */
	/* restore --lazy (restore_lazy.c) */
	bool lazy, resume_fill;		/* --lazy, --resume-fill */
	unsigned int record_ws;		/* --record-ws[=M]: M pages, 0: off */
	uint64_t fill_rate;		/* --fill-rate MIB: bytes/s, 0: any */
};

/* --threads when not given: this many, or the online CPUs if fewer. */
#define SNAP_DEFAULT_THREADS	4
/* --live: at most this many dirty rounds, or until this few pages are dirty. */
#define SNAP_LIVE_ROUNDS	10
#define SNAP_LIVE_DIRTY		256

/*
 * FILE again, for the pages, opened O_DIRECT with @flags: the fd, or
 * -errno with a message naming --direct-io when the filesystem refuses.
 */
int snap_open_direct(const struct snap_opts *so, int flags, char *err,
		     size_t n);

/*
 * kmig save (@save) or kmig restore's command line, @usage for --help: 0,
 * 1 after printing the help, or -EINVAL after a usage error.
 */
int snap_parse(struct snap_opts *so, bool save, const char *usage, int argc,
	       char *argv[]);
/*
 * Attach to the VMM at --vmm (mig_vm_attach() with @prot) and put its
 * state ("running", "paused", "incoming", ...) in @state.
 */
int snap_attach(struct mig_vm *vm, const struct snap_opts *so, int prot,
		char *state, size_t n, char *err, size_t errlen);
/*
 * The advisory lock on FILE's @fd that a merge (kmig save --incremental,
 * @excl) and restores (shared) take, not waiting: 0, or -EBUSY when the
 * other holds it (@err says which), or -errno.
 */
int snap_lock(int fd, const struct snap_opts *so, bool excl, char *err,
	      size_t n);
struct kmig_snap;
/* The file's slots are the VMM's, one for one: 0, or -EINVAL and @err. */
int snap_same_slots(const struct kmig_snap *s, const struct mig_vm *vm,
		    char *err, size_t n);
/* Load @s's vCPU and device state into the VMM: 0, or -errno and @err. */
int snap_load(struct mig_vm *vm, const struct kmig_snap *s, char *err,
	      size_t n);
/* kmig restore --lazy (restore_lazy.c): 0, or -errno with @err. */
int restore_lazy(const struct snap_opts *so, char *err, size_t n);

#endif /* KMIG_SNAPSHOT_H */
