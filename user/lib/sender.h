/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source's sending engine: its channels, the page senders and the
 * keepalive.
 *
 * Every channel's stream has one writer at a time, who holds its lock
 * (mig_chan_begin()/mig_chan_end()). A page channel's sender thread lives
 * for the whole migration: each round it takes chunks of the dirty pages
 * from a cursor all senders share (a faster channel takes more), then
 * says ROUND_SYNC and waits for the next round. The keepalive thread says
 * PING on any channel nobody has written for MIG_PING_NS, so that the
 * destination can tell a long round, a device round or a switchover from
 * a dead source.
 *
 * Every wait here ends within the I/O timeout of a stalled peer: a sender
 * waits only on its socket, whose send timeout (mig_sock_setup()) fails a
 * write that makes no progress, and the round waits only on the senders.
 */
#ifndef KMIG_SENDER_H
#define KMIG_SENDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "enc.h"
#include "engine.h"
#include "link.h"

struct mig_vm;
struct mig_senders;

struct mig_chan {
	struct kmig_enc enc;
	int sock;
	unsigned int index;		/* 0: main */
	pthread_mutex_t lock;		/* held by the stream's writer */
	uint64_t last_ns;		/* when the last writer let go */
	bool ended;			/* END_OF_STREAM written */
	uint32_t pings;
	uint64_t ping_bytes;		/* theirs in enc.bytes (atomic) */
	struct mig_senders *pool;
	bool inited;
	/* The batch being built: pages of a slot, not encoded yet. */
	uint32_t bslot;
	unsigned int nb;
	uint64_t bpages[KMIG_STREAM_MAX_BATCH];
	const void *bdata[KMIG_STREAM_MAX_BATCH];
	uint32_t bcrc[KMIG_STREAM_MAX_BATCH];
	uint64_t rate;			/* bytes per second, 0: no cap */
	uint64_t cap_start_ns, cap_bytes;
	uint64_t pages, zero, bytes;	/* sent so far (atomic) */
	char errmsg[256];
	pthread_t thread;
	bool started;
};

struct mig_senders {
	pthread_mutex_t lock;
	pthread_cond_t start, done;	/* CLOCK_MONOTONIC */
	const struct mig_vm *vm;
	struct mig_link *link;
	struct mig_chan *chans;		/* [0] main, [1..n] page channels */
	unsigned int n;			/* page channels */
	uint64_t gen;			/* rounds posted */
	uint64_t round;
	uint8_t type;			/* RAM section record of the round */
	bool final;
	unsigned int busy;		/* senders still in the round */
	bool stop;
	uint64_t next;			/* chunk cursor */
	uint64_t nchunks;
	uint64_t first_chunk[17];	/* of each slot, and the end */
	uint64_t *taken;		/* seekable: chunks taken this round */
	pthread_t pinger;
	bool pinger_started;
	/* Set by the caller: called on the thread that runs a round (the
	 * one in mig_senders_wait(), or the main channel's own) about every
	 * MIG_TICK_MS while the round is sent: for job progress, which
	 * reads the channels' counters (atomic) meanwhile. */
	void (*tick)(void *arg);
	void *tick_arg;
	uint64_t tick_ns;
};

#define MIG_TICK_MS	250

/*
 * The capability a channel's CAPS require for the page sums this host
 * computes fastest (kmig_psum_pick()): KMIG_SCAP_PAGE_XXH64, or 0 for
 * CRC32C. The channel's encoder then sums its pages that way.
 */
uint64_t mig_psum_cap(void);

void mig_chan_init(struct mig_chan *ch, int sock, unsigned int index,
		   uint64_t rate);
void mig_chan_free(struct mig_chan *ch);
void mig_chan_begin(struct mig_chan *ch);
void mig_chan_end(struct mig_chan *ch);
/* ROUND_SYNC @round, END_OF_STREAM with @final, and a flush. */
int mig_chan_round_sync(struct mig_chan *ch, uint64_t round, bool final);
/* A RAM section part of pages from the cursor until none is left. */
int mig_chan_ram_part(struct mig_chan *ch, uint32_t sec_id, uint8_t type);

/* Start one sender per page channel (chans[1..n]) and the keepalive. */
int mig_senders_start(struct mig_senders *p, const struct mig_vm *vm,
		      struct mig_link *link, struct mig_chan *chans,
		      unsigned int n);
/* Rewind the cursor over the slots' bitmaps for a new round. */
void mig_senders_rewind(struct mig_senders *p);
/*
 * Round @round on the page channels: every sender until the cursor is
 * exhausted, then its ROUND_SYNC (and END_OF_STREAM with @final). Returns
 * once all are done: 0, or -ECANCELED when the link failed.
 */
int mig_senders_round(struct mig_senders *p, uint64_t round, uint8_t type,
		      bool final);
/* The two halves of mig_senders_round(): start the round, wait for it. */
void mig_senders_post(struct mig_senders *p, uint64_t round, uint8_t type,
		      bool final);
int mig_senders_wait(struct mig_senders *p);
/*
 * Postcopy: from now on rounds can be seeked: each chunk is taken once,
 * wherever the cursor is, and mig_senders_seek() moves the cursor to the
 * chunk of page @page of the @slot-th slot (the background push goes on
 * where the guest faulted). 0 or -ENOMEM.
 */
int mig_senders_seekable(struct mig_senders *p);
void mig_senders_seek(struct mig_senders *p, unsigned int slot, uint64_t page);
/*
 * A seekable round's chunk of page @page of the @slot-th slot, taken
 * from the senders: true if none had taken it, and then none sends it.
 */
bool mig_senders_claim(struct mig_senders *p, unsigned int slot,
		       uint64_t page);
/* Stop and join every thread (after a failure their sockets are shut). */
void mig_senders_stop(struct mig_senders *p);

#endif /* KMIG_SENDER_H */
