/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmig colo primary`'s own state, shared by its files: colo_primary.c
 * (the checkpoints, setup and cleanup), colo_pri_opts.c (its options),
 * colo_pri_send.c (what goes on the wire, the devices' state),
 * colo_pri_output.c (the --output plug, and the guest's progress it
 * reports at the end) and colo_pri_stream.c (--stream).
 */
#ifndef KMIG_COLO_PRIMARY_H
#define KMIG_COLO_PRIMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "colo.h"
#include "mig.h"

struct kmig_plug;

/* Records sent per write. */
#define COLO_PRI_BATCH	64u

struct colo_pri {
	struct mig_opts o;		/* --vmm, --to, --timeout */
	uint64_t period_ms, checkpoints;
	uint64_t live_rounds;		/* --live-rounds */
	bool live;			/* in one of them */
	bool first_sent;		/* the secondary has every page once */
	bool verify;
	/* --stream: the pages dirtied between checkpoints sent early */
	uint64_t stream_ms;		/* every MS ms (0: not at all) */
	bool stream_set;		/* ... given, not the default */
	bool streaming;			/* a STRM message is under way */
	uint64_t stream_msgs;		/* STRM messages of this epoch */
	uint64_t streamed;		/* ... their pages */
	uint64_t streamed_sum;		/* ... of every epoch */
	const char *output;		/* --output IFACE */
	uint64_t output_wait_ms;	/* --output-wait-ms */
	bool output_wait_set;
	struct kmig_plug *plug;		/* with --output, once installed */
	struct colo_hb hb;		/* --heartbeat */
	struct mig_vm vm;
	int sock;
	bool logging, paused;
	bool guest_lost;		/* its VMM is gone: no output leaves */
	const char *fence;		/* --fence CMD */
	bool refused;			/* the secondary refused: it gives up */
	bool sent_whole;		/* a checkpoint was: it may take over */
	bool yielded;			/* the fence said: the secondary's turn */
	uint64_t *tmp;			/* harvest buffer */
	uint8_t *buf;			/* COLO_PRI_BATCH records */
	uint64_t seq;
	uint64_t pause_ns_sum, pause_ns_max, pages_sum;
	struct colo_devbuf dev;		/* --device: this checkpoint's DEVS */
	uint32_t devcrc;		/* ... its CRC, with --verify */
	uint64_t dev_save_ns;		/* ... the time its saving took */
	uint64_t send_ns;		/* the checkpoint's sending, all of it */
	uint64_t dev_bytes_sum;
	const char *why;		/* why this checkpoint came early */
	/* the guest's counter after checkpoint 1, and at the end */
	uint64_t counter1, t1_ns, counter_end, t_end_ns;
	const char *control;		/* --control SOCK */
	bool stay;			/* --stay: unprotected, wait for protect */
	struct colo_requests req;	/* checkpoints asked there */
	char err[512];
};

/* The first failure is the cause (mig.h). */
#define fail(x, ret, ...) mig_fail((x)->err, sizeof((x)->err), ret, __VA_ARGS__)

/*
 * The command line into @p, with the defaults of what it does not give
 * (colo_pri_opts.c): 0, 1 after printing the usage for --help, or
 * -EINVAL after saying what is wrong.
 */
int colo_pri_parse(struct colo_pri *p, int argc, char *argv[]);

/*
 * Each slot's pages to send into its bitmap, the dirty log emptied, and
 * their count (colo_primary.c): 0, or -errno (p->err).
 */
int colo_pri_collect(struct colo_pri *p, uint64_t *n);
/*
 * One message of the first @npages pages in the bitmaps: a LIVE message
 * (p->live), a STRM message (p->streaming) or a checkpoint, numbered
 * @seq, with @vlen bytes of vCPU state: 0, or -errno (p->err).
 */
int colo_pri_send_msg(struct colo_pri *p, uint64_t seq, uint64_t npages,
		      const uint8_t *vcpu, size_t vlen);
/*
 * The guest paused: every --device's whole state into p->dev, each
 * device stopped (stop-and-copy), with --verify its CRC: 0 or -errno
 * (p->err). devices_str: ", devices N bytes ..." for the checkpoint's
 * line, "" without devices (static).
 */
int colo_pri_save_devices(struct colo_pri *p);
const char *colo_pri_devices_str(struct colo_pri *p);

/*
 * --stream (colo_pri_stream.c). stream: between checkpoints, harvest
 * the dirty log and send its pages in STRM messages for the next
 * checkpoint: 0 or -errno (p->err). answer: the secondary spoke before
 * checkpoint @seq's ACK (it only does to refuse the STRM messages for
 * @seq, then closes): why, as -errno (p->err). why: a send failed with
 * @ret; a secondary that closed after refusing STRM messages says so
 * first, and that is the cause (answer), else @ret. note: what this
 * epoch streamed, for the checkpoint's log line ("" without --stream);
 * next: the checkpoint paused, a new epoch.
 */
int colo_pri_stream(struct colo_pri *p);
int colo_pri_stream_answer(struct colo_pri *p, uint64_t seq);
int colo_pri_stream_why(struct colo_pri *p, int ret);
const char *colo_pri_stream_note(const struct colo_pri *p, char *buf,
				 size_t n);
void colo_pri_stream_next(struct colo_pri *p);

/* Request @req ("pause", "resume") of the VMM: 0, or -errno (p->err). */
int colo_pri_vmm_req(struct colo_pri *p, const char *req);
/* Point @what of the checkpoint under way, for the tests (colo_primary.c). */
void colo_pri_stop_point(const struct colo_pri *p, const char *what);

/*
 * The --output plug (colo_pri_output.c); without --output each one does
 * nothing. install: the plug in as the root qdisc of p->output, the
 * guest paused meanwhile (left paused on failure, for cleanup() to
 * resume); hold: at a pause, close the output epoch; release: the ACK
 * came, let the oldest epoch go; remove: the end (@ret 0) or no
 * secondary any more (everything released first), the default root
 * qdisc back. Each but remove returns 0 or -errno (p->err).
 */
int colo_pri_output_install(struct colo_pri *p);
int colo_pri_output_hold(struct colo_pri *p);
int colo_pri_output_release(struct colo_pri *p);
void colo_pri_output_remove(struct colo_pri *p, int ret);

/*
 * The guest's progress while protected: its counter after checkpoint 1
 * (mark; checkpoint 0's long first copy left out), at the end (end), and
 * the rate between the two (print, on stdout).
 */
void colo_pri_progress_mark(struct colo_pri *p);
void colo_pri_progress_end(struct colo_pri *p);
void colo_pri_progress_print(const struct colo_pri *p);

#endif /* KMIG_COLO_PRIMARY_H */
