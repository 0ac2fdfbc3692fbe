/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmig colo secondary`'s own state, shared by its files:
 * colo_secondary.c (options, the checkpoint loop, the running VM, the
 * takeover, setup and cleanup) and colo_sec_cache.c (a checkpoint read
 * into staging, the RAM cache, and the write-back from it into the VM).
 */
#ifndef KMIG_COLO_SECONDARY_H
#define KMIG_COLO_SECONDARY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "colo.h"
#include "jobctl.h"
#include "mig.h"

/*
 * Pages streamed (STRM) for the checkpoint to come, kept apart from the
 * RAM cache until it commits (colo_sec_stream.c): one copy of each page,
 * the latest, so at most the guest's size.
 */
struct colo_stream {
	uint32_t *at[MIG_MAX_SLOTS];	/* per page: its copy + 1, 0: none */
	uint8_t *data;			/* the copies, 4096 bytes each */
	struct colo_stream_page {
		uint32_t slot;		/* index in vm.slots */
		uint64_t page;
	} *pages;
	uint64_t n, cap;		/* copies held, room for */
	uint64_t msgs, received;	/* this epoch's messages, pages */
};

struct colo_sec {
	struct mig_opts o;		/* --vmm, --listen, --timeout */
	const char *fence, *control;
	unsigned int threads;		/* --threads: of the flush */
	bool takeover;			/* on losing the primary */
	bool run;			/* --run: the VM runs between commits */
	bool running;			/* ... and runs now */
	struct mig_vm vm;
	/*
	 * The sockets the main thread blocks on, and a failover asked by
	 * hand: under wake_lock, so that the control thread shuts down the
	 * one the main thread is on, or the main thread finds the request
	 * before it blocks on the next.
	 */
	pthread_mutex_t wake_lock;
	int lsock, sock;
	bool forced;			/* `kmig colo failover` asked */
	struct colo_hb hb;		/* --heartbeat */
	uint8_t *cache[MIG_MAX_SLOTS];	/* the RAM cache, per slot */
	uint64_t *tmp;			/* harvest buffer */
	uint8_t *stage;			/* this checkpoint's records */
	size_t stage_cap;
	uint8_t *vcpu;			/* ... and its vCPU state */
	uint8_t *vcpu_last;		/* --run: the committed vCPU state */
	uint32_t vcpu_last_len;
	struct colo_devbuf dev;		/* --device: the checkpoint's DEVS */
	struct colo_devbuf dev_last;	/* ... the committed one's */
	struct colo_devbuf dev_check;	/* ... ours saved again, for VERIFY */
	bool committed;			/* at least one checkpoint */
	bool took_over;			/* the guest runs here now */
	struct mig_jobctl ctl;		/* --control */
	uint64_t last;			/* the last committed */
	uint64_t lives;			/* LIVE messages applied */
	struct colo_stream strm;	/* STRM pages staged */
	uint32_t last_crc;		/* its memory CRC, when asked */
	bool verify;			/* ... which it was (VERIFY flag) */
	char err[512];
};

/* The first failure is the cause (mig.h). */
#define fail(x, ret, ...) mig_fail((x)->err, sizeof((x)->err), ret, __VA_ARGS__)

/* What a write-back did: pages the VM wrote, pages written, flush time. */
struct write_back {
	uint64_t own, written, flush_ns;
};

int colo_sec_cache_init(struct colo_sec *s);
void colo_sec_cache_free(struct colo_sec *s);
int colo_sec_receive(struct colo_sec *s, const struct colo_hdr *h,
		     const uint8_t hb[COLO_HDR_SIZE]);
int colo_sec_write_back(struct colo_sec *s, const struct colo_hdr *h,
			bool own_too, struct write_back *wb);

/*
 * STRM messages (colo_sec_stream.c). receive: one, read whole and
 * CRC-checked into s->stage, then its pages staged for the checkpoint
 * to come (0, -EBADMSG corrupt, -EPROTO out of place, -ENOMEM, or what
 * cut it); to_cache: at that checkpoint's commit, before its own pages,
 * the staged ones into the RAM cache, each marked to flush; end: the
 * staged pages of a checkpoint that never committed dropped (said when
 * there are), and the staging freed.
 */
int colo_sec_stream_receive(struct colo_sec *s, const struct colo_hdr *h,
			    const uint8_t hb[COLO_HDR_SIZE]);
void colo_sec_stream_to_cache(struct colo_sec *s);
void colo_sec_stream_end(struct colo_sec *s);

#endif /* KMIG_COLO_SECONDARY_H */
