/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig restore --lazy (Documentation/file-format.rst, "Lazy restore"):
 * what its course (restore_lazy.c: the setup, the wait for the fill, the
 * end) and its servers (restore_lazy_serve.c: the fault thread and the
 * fillers, which read, check and install the ranges) share.
 *
 * Locking: l->lock guards pending, quit, error and the counters; it is
 * never held over I/O or an ioctl.
 */
#ifndef KMIG_RESTORE_LAZY_H
#define KMIG_RESTORE_LAZY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "snap_lazy.h"
#include "snapshot.h"

/*
 * A range's state: TODO; CLAIMED by a filler, which will read it; BUSY:
 * one thread reads and installs it (restore_lazy_serve.c, take()); DONE.
 */
enum { TODO, CLAIMED, BUSY, DONE };

/* Bitmap words of a range of pages. */
#define WORDS	(KMIG_SNAP_RANGE_PAGES / 64)

struct lazy {
	const struct snap_opts *so;
	struct mig_vm vm;
	struct kmig_snap snap;
	struct kmig_snap_stamp stamp;
	bool opened;
	int fd;				/* the file */
	uint64_t base[KMIG_SNAP_MAX_SLOTS + 1];	/* slot i: ranges base[i].. */
	uint8_t *state;			/* per range: TODO .. DONE */
	uint64_t next;			/* the fillers' next range in order */
	uint64_t *prefetch;		/* the working set's ranges, in order */
	uint64_t nprefetch, pnext;
	uint8_t *in_ws;			/* per range: in prefetch[] */
	struct kmig_ws_entry *ws;	/* --record-ws: the faults, in order */
	unsigned int nws;
	/* each slot's staging view (stage.h), NULL: its pages are copied */
	uint8_t *stage[MIG_MAX_SLOTS];
	uint64_t pages_staged, pages_copied;	/* atomic: given memory so */
	int ffd, stop[2];
	pthread_t faulter, filler[KMIG_SNAP_MAX_THREADS];
	bool faulter_started;
	unsigned int nfillers;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int pending;		/* the fault thread serves faults */
	bool quit;
	int error;			/* the first, its message in err */
	uint64_t done, by_fault, prefetched;	/* ranges */
	uint64_t ws_left;		/* of prefetch[], not done yet */
	uint64_t next_ns;		/* --fill-rate: the next range's turn */
	char err[512];
};

/* Record the first error and wake everyone: the restore ends. */
int lazy_fail(struct lazy *l, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Ranges of pages in the file, all slots. */
static inline uint64_t lazy_total(const struct lazy *l)
{
	return l->base[l->snap.nslots];
}

/*
 * The fault fd (keeping faults waiting), the fault thread and the
 * fillers started: 0, or -errno (lazy_fail() said why).
 */
int lazy_start_threads(struct lazy *l);
/* Every thread lazy_start_threads() started, stopped and joined. */
void lazy_stop_threads(struct lazy *l);

#endif /* KMIG_RESTORE_LAZY_H */
