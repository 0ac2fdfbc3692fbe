/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination of a live migration, `kmig incoming` (incoming.c), and
 * what its postcopy half (postcopy_dst.c) shares with it.
 */
#ifndef KMIG_INCOMING_H
#define KMIG_INCOMING_H

#include <stdbool.h>
#include <stdint.h>

#include "enc.h"
#include "handshake.h"
#include "link.h"
#include "mig.h"
#include "receiver.h"

struct pc_dst;

struct dst {
	struct mig_opts o;
	struct mig_vm vm;
	struct mig_job job;
	struct mig_recv recv;		/* the channels */
	uint8_t uuid[16];
	struct kmig_enc vcpus;		/* rebuilt vCPU state stream */
	struct kmig_enc vmm_devs;	/* the VMM's own devices' sections */
	bool have_vmm_devs;		/* @vmm_devs has a header: one came */
	bool in_vmm_dev;		/* in such a section */
	bool in_vcpu;
	struct mig_device *dev;		/* of the open device section */
	bool switchover, channels_cmd;
	uint64_t switchover_ns;
	struct mig_link link;		/* first failure, all sockets */
	struct mig_hs_out out;		/* the return path */
	struct mig_hs_pinger pinger;	/* its keepalive */
	/*
	 * The main connection is up: the source reads the return path from
	 * then on (a failure on a page channel may come before the main
	 * decoder has reached OPEN_RETURN_PATH).
	 */
	bool rp_open;
	bool rp_quiet;			/* no FAILED on it any more */
	struct pc_dst *pc;		/* postcopy, once POSTCOPY came */
	char err[512];			/* the cause, at the end */
};

/* The vCPU state (and the devices') into the VMM: 0 or -errno. */
int incoming_load(struct dst *d);
/* Start the devices and the guest: 0, -errno, or -EINPROGRESS. */
int incoming_resume(struct dst *d);
/*
 * The guest runs here: its VMM announces its MAC (as QEMU does after
 * every migration), said on stderr; a failure only warns, no network
 * device says nothing.
 */
void incoming_announce(struct dst *d);

/*
 * Postcopy (postcopy_dst.c, Documentation/postcopy.rst), from the main
 * channel's decoder: POSTCOPY, each RAM_DISCARD, POSTCOPY_RUN (which
 * starts the thread that listens, fetches stale pages, loads and runs
 * the guest); then, once every channel ended, postcopy_dst_finish()
 * (every page arrived: COMPLETE). postcopy_dst_stop() and
 * postcopy_dst_free() on every path.
 */
int postcopy_dst_start(struct dst *d, struct mig_recv_chan *c);
int postcopy_dst_discard(void *opaque, uint32_t slot, uint64_t page,
			 uint32_t count);
int postcopy_dst_run(struct dst *d, struct mig_recv_chan *c);
/* A --device's packet after POSTCOPY: kept, and loaded once faults are
 * served. */
int postcopy_dst_device(struct dst *d, struct mig_recv_chan *c,
			struct mig_device *dev, uint32_t marker,
			const void *data, uint32_t size);
int postcopy_dst_finish(struct dst *d);
/* From the listen on: postcopy's progress and blocktime into @j. */
void postcopy_dst_progress(struct dst *d, struct mig_job *j);
/* The guest ran here: it must not be called "not resumed". */
bool postcopy_dst_resumed(struct dst *d);
/* The VMM went away after RUN (the guest is lost here). */
bool postcopy_dst_vmm_lost(struct dst *d);
void postcopy_dst_stop(struct dst *d);
void postcopy_dst_free(struct dst *d);

#endif /* KMIG_INCOMING_H */
