/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source side of a precopy live migration, for `kmig migrate`:
 *
 *	precopy_init(s);		(s zeroed, s->o parsed)
 *	ret = precopy_start(s);		module, VMM, devices, channels
 *	if (!ret)
 *		ret = precopy_run(s);	rounds, then the switchover
 *	ret = precopy_end(s, ret);	the guest here or there, job ended
 *	... report s->job, s->err ...
 *	precopy_free(s);
 *
 * Each returns 0 or -errno, the cause then in s->err.
 */
#ifndef KMIG_PRECOPY_H
#define KMIG_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "handshake.h"
#include "jobctl.h"
#include "link.h"
#include "mig.h"
#include "sender.h"

struct precopy_src {
	struct mig_opts o;
	struct mig_vm vm;
	struct mig_job job;
	unsigned int nsock;
	int sock[1 + MIG_MAX_CHANNELS];
	struct mig_chan ch[1 + MIG_MAX_CHANNELS];
	struct mig_senders senders;
	struct mig_link link;		/* first failure, all sockets */
	struct mig_hs_out out;		/* GO */
	struct mig_hs_reader rp;	/* the return path */
	uint8_t uuid[16];
	uint64_t round;
	uint64_t pause_ns;
	bool paused;
	bool marked_gone;		/* the VMM was told "migrated" */
	bool handed_over;		/* GO sent, no FAILED since */
	unsigned int throttle;
	uint64_t *tmp;			/* harvest buffer */
	struct pc_src *pc;		/* postcopy, once switched (postcopy.h) */
	struct mig_jobctl ctl;		/* --ctl */
	char err[512];			/* the cause, at the end */
};

void precopy_init(struct precopy_src *s);
/* From the control thread once cancel came: the round under way stops. */
void precopy_cancel(void *arg);
int precopy_start(struct precopy_src *s);
int precopy_run(struct precopy_src *s);
/* Stop every thread, then leave the guest where @ret says it is. */
int precopy_end(struct precopy_src *s, int ret);
void precopy_free(struct precopy_src *s);

/* The source's steps that postcopy (postcopy_src.c) shares. */
void precopy_main_begin(struct precopy_src *s);
int precopy_main_end(struct precopy_src *s, int ret);
int precopy_send_cmd(struct precopy_src *s, const struct kmig_scmd *cmd);
int precopy_send_vcpus(struct precopy_src *s, const uint8_t *buf, size_t len);
/* Every --device's state of a round (section @type), all of it @final. */
int precopy_send_devices(struct precopy_src *s, uint8_t type, bool final);
int precopy_main_round_sync(struct precopy_src *s, bool final);
int precopy_mark_gone(struct precopy_src *s);
int precopy_pause(struct precopy_src *s, uint64_t *dirty, uint8_t **vbuf,
		  size_t *vlen);

/* The VMM request @req ("cannot @what: why" on failure): 0 or -errno. */
int precopy_vmm_req(struct precopy_src *s, const char *what, const char *req);

/*
 * converge.c: what precopy_run()'s round loop decides by, named as the
 * loop reads them.
 */

/* What the rounds so far tell: bytes per second while sending. */
struct estimate {
	uint64_t send_ns;		/* time spent sending, all rounds */
	uint64_t bw;			/* bytes/s over that time */
	uint64_t last_ns;		/* the previous harvest */
	unsigned int bad, steps;	/* auto-converge's state */
	uint64_t prev_dirty;
};

/* Bytes sent so far: RAM records, and device data with @dev. */
uint64_t sent_bytes(struct precopy_src *s, bool dev);
/* Device state still pending, in bytes. */
uint64_t devices_pending(struct precopy_src *s);
/* A round took @round_ns: the bandwidth over all rounds, into the job. */
void bandwidth_estimate(struct precopy_src *s, struct estimate *e,
			uint64_t round_ns);
/*
 * Returns true if what is left (@left bytes, the final harvest taking
 * @harvest_ms again) fits --max-downtime at the measured bandwidth; the
 * expected downtime goes into the job.
 */
bool converged(struct precopy_src *s, const struct estimate *e,
	       uint64_t left, uint64_t harvest_ms);
/*
 * After a round that sent @round_bytes and left @dirty pages: throttle a
 * guest that outruns the link (converge.c says how). 0 or -errno.
 */
int auto_converge(struct precopy_src *s, struct estimate *e, uint64_t dirty,
		  uint64_t round_bytes);

#endif /* KMIG_PRECOPY_H */
