/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The postcopy source's state (postcopy.h), shared by its two halves:
 * postcopy_src.c, the switch (the package, the push, the waits for
 * RESUMED and COMPLETE), and postcopy_urgent.c, the urgent path (the
 * destination's page requests answered on the main channel).
 */
#ifndef KMIG_POSTCOPY_SRC_H
#define KMIG_POSTCOPY_SRC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "postcopy.h"
#include "precopy.h"

/*
 * Requests answered at once, at most: those queued while the urgent thread
 * answered the last ones go out in one record and one write.
 */
#define URGENT_BATCH	32
/* Pages of one answer: the requests' and the prefetched ones. */
#define ANSWER_MAX	(URGENT_BATCH + POSTCOPY_PREFETCH_MAX)

/* A REQUEST's value and when the return path's reader took it. */
struct pc_req {
	uint64_t value, at_ns;
};

/* The requests not answered yet, in order; the urgent thread's state. */
struct pc_src {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pc_req *q;		/* ring of REQUESTs */
	size_t cap, head, n;
	bool busy;			/* an answer is being written */
	bool stop;
	bool resumed;			/* RESUMED came: it ran there */
	/*
	 * The source gave up waiting for RESUMED (mig_reply_overdue()): a
	 * FAILED after that is the destination hearing it, not its word
	 * that the guest will not run there (its runner may still resume
	 * it).
	 */
	bool gave_up;
	pthread_t thread;
	bool started;
	uint64_t requests, answered;	/* requests, faults: atomic */
	uint64_t faults;		/* requests since RESUMED */
	uint64_t pushed_before;		/* page channels' pages at RUN */
	uint64_t bytes_before;		/* and their bytes */
	uint64_t urgent_before;		/* main channel's bytes at RUN */
	uint64_t prefetched;		/* pages prefetched (atomic) */
	/* under ->lock: requests' times from the reader's, µs histograms */
	__u64 wait_us[MIG_LAT_BUCKETS];		/* to the urgent thread's */
	__u64 answer_us[MIG_LAT_BUCKETS];		/* to their answer sent */
	uint64_t *sent[MIG_MAX_SLOTS];	/* pages sent on the urgent path */
	uint8_t page[ANSWER_MAX][MIG_PAGE];
	uint8_t *block;			/* a huge slot's answer: a block */
};

/*
 * The urgent thread started, and the return path's requests sent to the
 * urgent path: 0, or the link's failure.
 */
int pc_urgent_start(struct precopy_src *s);

#endif /* KMIG_POSTCOPY_SRC_H */
