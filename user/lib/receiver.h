/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination's receiving engine: a decoder per channel, the page
 * channels on threads of their own, pages installed into the memory
 * context as they arrive.
 *
 * Page channels meet at every ROUND_SYNC, so that a page sent in a later
 * round always lands after the same page from an earlier one. A channel
 * that ends leaves that barrier: whoever then waits for a round fails.
 * Every failure goes to the link (link.h): the first is the cause and
 * shuts every socket, so every thread ends. After the main stream ended,
 * each page channel has the I/O timeout to end its own.
 *
 * The main channel's decoder ops belong to the subcommand; they hand
 * pages to mig_recv_page()/mig_recv_zero()/mig_recv_torn() and set
 * mig_recv_release() as their release.
 *
 * A page that arrives torn (the source read it while its guest wrote it)
 * is kept aside until it arrives again, which the source's dirty log
 * guarantees; one that never does fails the migration at its end.
 */
#ifndef KMIG_RECEIVER_H
#define KMIG_RECEIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dec.h"
#include "engine.h"
#include "link.h"
#include "torn.h"

/* Pages one write installs: consecutive pages of one slot. */
#define MIG_RECV_BATCH	256

/*
 * Page channels meet here at every ROUND_SYNC. A channel that ends leaves
 * it: whoever waits for a round then, waits for a channel that will never
 * come, and fails. So does whoever waits while none of the channels still
 * missing brings a page for the I/O timeout (a source that stopped
 * sending, its keepalive still running): the wait names them.
 */
struct rbarrier {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC */
	unsigned int n, waiting;
	uint32_t arrived;		/* bit i: page channel i synced */
	uint64_t gen;
	bool aborted;
	bool left;			/* a channel ended: */
	unsigned int left_chan;		/* which */
	uint64_t left_rounds;		/* after how many rounds */
};

struct mig_recv;
struct mig_blocktime;

struct mig_recv_chan {
	struct mig_recv *r;
	void *opaque;			/* main channel: the subcommand's */
	unsigned int index;
	int sock;
	struct kmig_dec dec;
	struct iovec batch[MIG_RECV_BATCH];	/* data in dec's input */
	unsigned int nbatch;
	struct mig_slot *batch_slot;
	uint64_t batch_first;
	int batch_err;
	pthread_t thread;
	bool started;
	uint64_t round;			/* next ROUND_SYNC expected */
	/* The torn pages of the batch about to be handed over. */
	uint64_t torn[KMIG_STREAM_MAX_BATCH];
	unsigned int ntorn;
	bool postcopy;			/* POSTCOPY came: install, never overwrite */
	bool gathers;			/* postcopy: gathers blocks (below); the
					 * main channel when its owner says */
	uint8_t *bounce;		/* postcopy: a batch lands here */
	uint64_t ipages[KMIG_STREAM_MAX_BATCH];	/* to install */
	/*
	 * Postcopy, the batch being read: where each page went (enum
	 * kmig_stage_how, stage.h), @bstage the staging view of its
	 * slot, or NULL when it all went to @bounce.
	 */
	uint8_t how[KMIG_STREAM_MAX_BATCH];
	uint8_t *bstage;
	uint8_t status[KMIG_STREAM_MAX_BATCH];
	/*
	 * Postcopy, a page channel: the first @ngather pages of an aligned
	 * 2 MiB block of @gslot from @gfirst, gathered in @bounce to be
	 * installed at once; @gpend of the batch being read continue them.
	 */
	struct mig_slot *gslot;
	uint64_t gfirst;
	unsigned int ngather, gpend;
	uint64_t gpages[MIG_BLOCK_PAGES];
	uint64_t pages, zero;		/* atomic: the barrier reads them */
	int ret;
	char err[384];
};

struct mig_recv {
	struct mig_link *link;
	struct mig_vm *vm;
	struct kmig_slot dslots[MIG_MAX_SLOTS];
	unsigned int io_timeout_s;
	unsigned int nchan;		/* main included */
	struct mig_recv_chan ch[1 + MIG_MAX_CHANNELS];
	struct rbarrier bar;
	struct mig_torn torn;
	uint8_t zero[MIG_PAGE];
	/*
	 * Postcopy, under bar.lock: page channels that said POSTCOPY (each
	 * then waits for @pc_ready: the discard list is in missing mode).
	 */
	unsigned int pc_switched;
	bool pc_ready;
	uint64_t pc_blocks;		/* atomic: blocks installed whole */
	/*
	 * Postcopy, zero-copy installs (receiver_pc.c), set up once by
	 * mig_recv_pc_ready(): slot i's staging view mapping (atomic; NULL:
	 * the slot's pages are copied) and the pages of it a channel took
	 * to install (atomic bits): the one that takes a page stages it,
	 * a copy that comes meanwhile on another channel is dropped.
	 */
	uint8_t *stage[MIG_MAX_SLOTS];
	uint64_t *claimed[MIG_MAX_SLOTS];
	uint64_t pc_staged, pc_copied;	/* atomic: pages installed so */
	/* Postcopy blocktime, set (atomic) before faults are read: every
	 * install after RUN is told to it (blocktime.h). */
	struct mig_blocktime *bt;
};

/* Channel sockets are set in ch[i].sock before mig_recv_run(). */
void mig_recv_init(struct mig_recv *r, struct mig_link *link,
		   struct mig_vm *vm, unsigned int io_timeout_s);
void mig_recv_free(struct mig_recv *r);
/*
 * Decode every channel: the page channels on their threads with the
 * engine's ops, the main one here with @main_ops (opaque: ch[0]) until
 * END_OF_STREAM; then wait (bounded) for the page channels. 0 once the
 * rounds of every channel agree and every page is installed, or -errno
 * with the link failed.
 */
int mig_recv_run(struct mig_recv *r, const struct kmig_dec_ops *main_ops);
/*
 * Main-channel ops for a stream of pages only (benches, tests): any CAPS,
 * RAM sections, ROUND_SYNCs counted, every other command ignored.
 */
extern const struct kmig_dec_ops mig_recv_pages_only_ops;
/* Page channels stop waiting for each other (a failure elsewhere). */
void mig_recv_abort(struct mig_recv *r);

/* For the main channel's ops (opaque: its mig_recv_chan). */
int mig_recv_page(void *opaque, uint32_t slot, uint64_t page,
		  const void *data);
int mig_recv_zero(void *opaque, uint32_t slot, uint64_t page,
		  uint32_t count);
/* A RAM_PAGES batch, read from the socket in place into guest memory. */
int mig_recv_pages_dest(void *opaque, uint32_t slot, const uint64_t *pages,
			unsigned int n, void **dst);
int mig_recv_pages(void *opaque, uint32_t slot, const uint64_t *pages,
		   unsigned int n, const void *const *data);
int mig_recv_torn(void *opaque, uint32_t slot, uint64_t page);
/*
 * The main channel's ROUND_SYNC @round (after mig_recv_flush()): without
 * page channels, the round's pages are all in. 0 or -errno (c->err set).
 */
int mig_recv_main_sync(struct mig_recv_chan *c, uint64_t round);
void mig_recv_release(void *opaque);
/* The slot of id @id, or NULL. */
struct mig_slot *mig_recv_slot(struct mig_recv *r, uint32_t id);
/* Install what is collected: before anything that must come after it. */
int mig_recv_flush(struct mig_recv_chan *c);

/*
 * Postcopy (receiver_pc.c). The channel said POSTCOPY: what it collected
 * is installed, and from now on every page is installed with
 * KMIG_INSTALL, which leaves a present page as it is. A page channel
 * (@wait) then waits for mig_recv_pc_ready(): 0, or -ECANCELED.
 */
int mig_recv_pc_switch(struct mig_recv_chan *c, bool wait);
/* Every page channel said POSTCOPY (within the I/O timeout): 0, else
 * -ETIMEDOUT or -ECANCELED. */
int mig_recv_pc_wait_switched(struct mig_recv *r);
/*
 * Every page owed is in missing mode (stale ones discarded): go on. The
 * staging view is mapped here, once (no mapping may exist before missing
 * mode is set), where the module has it and $KMIG_STAGED_INSTALL is not
 * 0; without it pages are copied, and the log says so once.
 */
void mig_recv_pc_ready(struct mig_recv *r);
/* Unmap what mig_recv_pc_ready() mapped (mig_recv_free() does it too). */
void mig_recv_pc_free(struct mig_recv *r);
/*
 * Where each page of a batch of @n pages of @slot lands, in @dst[i],
 * before mig_recv_pc_pages() installs it, once its CRC passed there. On a
 * slot with a staging view a page lands in its staged page, the guest's
 * to be, and is handed over (KMIG_INSTALL_STAGED); else (a huge slot, a
 * module without staged installs) in the bounce buffer, and is copied
 * (KMIG_INSTALL). There a page channel gathers an aligned block that
 * arrives in order and installs it in one call, which maps it 2 MiB on a
 * huge slot. mig_recv_pc_flush() installs a partial block: the owner of a
 * main channel that gathers calls it at each section record and command.
 */
int mig_recv_pc_dest(struct mig_recv_chan *c, uint32_t slot,
		     const uint64_t *pages, unsigned int n, void **dst);
int mig_recv_pc_flush(struct mig_recv_chan *c);
int mig_recv_pc_pages(struct mig_recv_chan *c, uint32_t slot,
		      const uint64_t *pages, unsigned int n);
int mig_recv_pc_zero(struct mig_recv_chan *c, uint32_t slot, uint64_t page,
		     uint32_t count);

#endif /* KMIG_RECEIVER_H */
