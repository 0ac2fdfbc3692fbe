/* SPDX-License-Identifier: GPL-2.0 */
/*
 * COLO in its periodic-checkpoint mode (Documentation/colo.rst):
 * `kmig colo primary` (colo_primary.c) checkpoints a running guest into
 * `kmig colo secondary` (colo_secondary.c), which keeps a RAM cache and
 * applies a checkpoint to its paused VM only once all of it arrived and
 * its CRC checked. colo.c holds the dispatch, the wire format's helpers
 * and the guest memory checksum both sides compute.
 *
 * Wire format, one TCP connection, little endian (colo.rst's table):
 *
 *   primary -> secondary
 *     HELLO   magic "KMIGCOLO", version, nslots, then per slot
 *             id, 0, gpa, size                         (16 + 24 * nslots)
 *             ndevs, 0, then per --device name[32], instance, 0
 *                                                      (8 + 40 * ndevs)
 *     LIVE    a CKPT's layout without vCPU state, before checkpoint 0,
 *             seq 0, 1, ..., at most COLO_LIVE_PAGES pages: pages sent
 *             while the guest runs, applied at once (nothing is
 *             protected yet), not acknowledged
 *     STRM    a LIVE's layout between checkpoints (--stream), seq the
 *             checkpoint it belongs to: pages dirtied while the guest
 *             runs, staged apart from the RAM cache, applied by that
 *             checkpoint's commit before its own pages, dropped if it
 *             never commits; not acknowledged, a NACK refuses it
 *     CKPT    header: magic, flags, seq, npages, vcpu_len, dev_len
 *                                                      (32 bytes)
 *             npages records: slot, 0, page, 4096 bytes of data
 *             vcpu_len bytes of vCPU state (the VMM's `save` stream)
 *             dev_len bytes of DEVS: per --device, in order, len,
 *             index, then len bytes of packets: marker, 0, size u64,
 *             size bytes (DATA_STATE..., CONFIG_STATE, END_OF_STATE)
 *             trailer: magic, CRC32C of header, records, vCPU and
 *             device state
 *     BYE     a header with the BYE magic, the rest 0: the primary
 *             stops protecting on purpose; no takeover follows
 *   secondary -> primary
 *     ACK     magic, status (0 or -errno), seq, memory CRC, device CRC,
 *             what: 0 the checkpoint, 1 the STRM messages for it, 0
 *                                                      (32 bytes)
 *
 * and the heartbeat, UDP both ways between the same two addresses
 * (colo_heartbeat.c):
 *     BEAT    magic, version, beat number, checkpoint seq  (24 bytes)
 */
#ifndef KMIG_COLO_H
#define KMIG_COLO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine.h"
#include "jobctl.h"

#define COLO_MAGIC		"KMIGCOLO"
/* 2: LIVE messages before checkpoint 0; 3: device state (DEVS) and STRM
 * between checkpoints; 4: the ACK carries both the device CRC and what a
 * refusal refuses */
#define COLO_VERSION		4u
#define COLO_HELLO_SIZE		16u
#define COLO_HELLO_SLOT_SIZE	24u

#define COLO_CKPT_MAGIC		0x54504b43u	/* "CKPT" */
#define COLO_LIVE_MAGIC		0x4556494cu	/* "LIVE" */
#define COLO_STRM_MAGIC		0x4d525453u	/* "STRM" */
#define COLO_BYE_MAGIC		0x20455942u	/* "BYE " */
#define COLO_END_MAGIC		0x444e4543u	/* "CEND" */
#define COLO_ACK_MAGIC		0x4b434143u	/* "CACK" */

#define COLO_HB_MAGIC		0x54424843u	/* "CHBT" */

#define COLO_HDR_SIZE		32u
#define COLO_REC_HDR_SIZE	16u
#define COLO_TRAILER_SIZE	8u
#define COLO_ACK_SIZE		32u
#define COLO_HB_SIZE		24u
/* The hello's device part, a device in it; a DEVS block's and a
 * packet's header; the most device state a checkpoint carries. */
#define COLO_HELLO_DEVS_SIZE	8u
#define COLO_HELLO_DEV_SIZE	40u
#define COLO_DEV_HDR_SIZE	8u
#define COLO_DEV_PKT_SIZE	16u
#define COLO_DEV_MAX		(256u << 20)

/* Checkpoint flags. */
#define COLO_CKPT_VERIFY	0x1u	/* ACK carries the memory's CRC */
#define COLO_CKPT_ALL		COLO_CKPT_VERIFY

/*
 * Default period between checkpoints, and silence before a peer is lost:
 * on the checkpoint connection, and of the heartbeat (its beats every
 * COLO_HEARTBEAT_MS).
 */
#define COLO_CHECKPOINT_MS	200u
#define COLO_LIVE_ROUNDS	1u
/* --stream's default: so many times a period (colo.rst, "Streaming"). */
#define COLO_STREAM_PARTS	5u
/* Pages of one LIVE message, at most: the secondary stages it whole. */
#define COLO_LIVE_PAGES		4096u
/* Pages of one STRM message, at most, for the same reason. */
#define COLO_STRM_PAGES		4096u
#define COLO_TIMEOUT_S		5u
#define COLO_HEARTBEAT_MS	100u
/* The secondary's flush threads, at most. */
#define COLO_MAX_THREADS	16u
#define COLO_HEARTBEAT_TIMEOUT_MS 2000u

struct colo_hdr {
	uint32_t magic, flags;
	uint64_t seq, npages;
	uint32_t vcpu_len, dev_len;
};

struct colo_ack {
	int32_t status;
	uint64_t seq;
	uint32_t memcrc;
	uint32_t devcrc;		/* with VERIFY and devices, else 0 */
	bool streamed;		/* a refusal of STRM messages for @seq */
};

void colo_hdr_encode(const struct colo_hdr *h, uint8_t b[COLO_HDR_SIZE]);
void colo_hdr_decode(struct colo_hdr *h, const uint8_t b[COLO_HDR_SIZE]);
void colo_ack_encode(const struct colo_ack *a, uint8_t b[COLO_ACK_SIZE]);
/* 0, or -EPROTO when @b is not an ACK. */
int colo_ack_decode(struct colo_ack *a, const uint8_t b[COLO_ACK_SIZE]);

/* HELLO for @vm: its length in *@len, malloc'd; NULL when out of memory. */
uint8_t *colo_hello_encode(const struct mig_vm *vm, size_t *len);
/* HELLO's fixed part: 0 and the slot count, or -EPROTO with why in @err. */
int colo_hello_check(const uint8_t b[COLO_HELLO_SIZE], uint32_t *nslots,
		     char *err, size_t n);

/*
 * CRC32C of every slot of @vm in slot order, each page read from the
 * context (a page without memory reads as zeros): what both sides
 * compare after a commit. 0 with it in *@crc, or -errno.
 */
int colo_mem_crc(const struct mig_vm *vm, uint32_t *crc);

struct mig_opts;

/*
 * The devices' state (colo_dev.c): the --device list of o->devs, in
 * order. A DEVS section in a growing buffer.
 */
struct colo_devbuf {
	uint8_t *buf;
	size_t len, cap;
};

void colo_devbuf_free(struct colo_devbuf *b);
/* The hello's device part: malloc'd, its length in *@len; NULL: no memory. */
uint8_t *colo_dev_hello_encode(const struct mig_opts *o, size_t *len);
/*
 * The primary's device part of the hello from @sock: 0 when its devices
 * are, one for one and in order, of the kinds (names) of ours, else
 * -ENODEV naming both lists (or -EPROTO, the error that cut it) in @err.
 */
int colo_dev_hello_read(int sock, const struct mig_opts *o, char *err,
			size_t n);
/* Open every --device and put it in @state; set all of them to @state. */
int colo_dev_open_all(struct mig_opts *o, uint32_t state, char *err,
		      size_t n);
int colo_dev_set_all(struct mig_opts *o, uint32_t state, char *err,
		     size_t n);
/* Each open device to @state (errors ignored: the end), and closed. */
void colo_dev_close_all(struct mig_opts *o, uint32_t state);
/*
 * Every device's whole state into @b (stop-and-copy: each is left
 * SAVING, stopped, until colo_dev_set_all() sets it going again).
 */
int colo_dev_save(struct mig_opts *o, struct colo_devbuf *b, char *err,
		  size_t n);
/* Whether @b is a DEVS section for our devices: 0, or -EBADMSG. */
int colo_dev_check(const struct mig_opts *o, const uint8_t *b, size_t len,
		   char *err, size_t n);
/* @len bytes of a DEVS section from @sock into @b: 0 or -errno. */
int colo_devbuf_read(int sock, struct colo_devbuf *b, size_t len);
/*
 * The secondary's devices, stopped, saved as the primary saves them
 * (into @scratch) and left stopped: the CRC32C of that section, which
 * equals the primary's when the devices' states are equal.
 */
int colo_dev_crc(struct mig_opts *o, struct colo_devbuf *scratch,
		 uint32_t *crc, char *err, size_t n);
/*
 * The checked section @b into the devices, all or none, each left
 * stopped: a device that refuses its part leaves every device with its
 * previous state (those that took theirs are loaded again from @last,
 * the committed section; with none, an error says so). 0 or -errno.
 */
int colo_dev_load(struct mig_opts *o, const struct colo_devbuf *b,
		  const struct colo_devbuf *last, char *err, size_t n);

/*
 * The heartbeat: --heartbeat MS (0: none) and --heartbeat-timeout MS are
 * set before colo_hb_start(), which with @peer NULL (the primary) sends
 * to @addr, else (the secondary) binds @addr and takes beats from
 * @peer's host only. The first beat heard is logged as "kmig @cmd: ...";
 * from then on, a silence of the timeout calls @on_lost, once, from the
 * heartbeat's thread.
 */
struct colo_hb {
	uint32_t interval_ms, timeout_ms;
	int fd, efd;
	pthread_t thread;
	bool started, peer_known, lost;
	struct sockaddr_storage peer;
	uint64_t seq;			/* what the beats carry */
	uint64_t heard_ns;		/* the last beat heard, 0: none yet */
	uint64_t peer_seq;		/* what its beat carried */
	const char *cmd;		/* for its one line: "colo primary" */
	void (*on_lost)(void *arg);
	void *arg;
};

#define COLO_HB_INIT { .interval_ms = COLO_HEARTBEAT_MS,		\
		       .timeout_ms = COLO_HEARTBEAT_TIMEOUT_MS,		\
		       .fd = -1, .efd = -1 }

int colo_hb_start(struct colo_hb *hb, const char *cmd,
		  const struct sockaddr_storage *addr,
		  const struct sockaddr_storage *peer,
		  void (*on_lost)(void *arg), void *arg, char *err, size_t n);
/* The checkpoint the next beats name. */
void colo_hb_set_seq(struct colo_hb *hb, uint64_t seq);
/* Whether on_lost was called. */
bool colo_hb_lost(const struct colo_hb *hb);
void colo_hb_stop(struct colo_hb *hb);
void colo_hb_encode(uint64_t beat, uint64_t seq, uint8_t b[COLO_HB_SIZE]);
/* 0, or -EPROTO when @b (@len bytes) is not a beat. */
int colo_hb_decode(const uint8_t *b, size_t len, uint64_t *beat,
		   uint64_t *seq);

/* The options both roles share, after their own (mig_own_opt). */
enum {
	COLO_OPT_HEARTBEAT = 512,	/* --heartbeat MS */
	COLO_OPT_HEARTBEAT_TIMEOUT,	/* --heartbeat-timeout MS */
};

#define COLO_LONGOPTS_HEARTBEAT						\
	{ "heartbeat", required_argument, NULL, COLO_OPT_HEARTBEAT },	\
	{ "heartbeat-timeout", required_argument, NULL,			\
	  COLO_OPT_HEARTBEAT_TIMEOUT }

/*
 * The options both roles take, the tail of each one's mig_own_opt:
 * --timeout S (a peer silent this long on the checkpoint connection is
 * lost, 1..3600, not the migrations' 1..86400 s, into o->io_timeout_s),
 * --heartbeat and --heartbeat-timeout (into @hb).
 */
int colo_parse_shared(struct mig_opts *o, int c, struct colo_hb *hb);
/* --heartbeat and --heartbeat-timeout: 0, -EINVAL, or MIG_OPT_SHARED. */
int colo_parse_heartbeat(struct mig_opts *o, int c, struct colo_hb *hb);
/* Usage error (-EINVAL) when the timeout is under two beats. */
int colo_check_heartbeat(const struct mig_opts *o, const struct colo_hb *hb);

/*
 * The --control sockets: one line, one answer (jobctl.h). The
 * secondary's takes "failover" ("ok takeover requested"); the primary's
 * "checkpoint", answered once the next checkpoint to start is committed
 * ("ok checkpoint N committed"), or with "err ..." when the primary
 * stops protecting first or is unprotected; and "protect ADDR:PORT" to
 * a primary left unprotected (--stay), answered once the secondary
 * there committed checkpoint 0 ("ok protected by ADDR:PORT, checkpoint
 * 0 committed"), or with "err ..." when that fails.
 */
#define COLO_CTL_FAILOVER	"failover"
#define COLO_CTL_CHECKPOINT	"checkpoint"
#define COLO_CTL_PROTECT	"protect"
#define COLO_CTL_CHECKPOINT_WAIT_MS 60000
/* The entry of a new secondary: every page, and checkpoint 0. */
#define COLO_CTL_PROTECT_WAIT_MS 600000

/*
 * The primary's checkpoints asked by hand on its --control socket
 * (colo_ctl.c): the socket's thread counts them and makes @wake
 * readable; each checkpoint serves those asked before it began, and
 * once it is committed they are answered. colo_requests_stop() answers
 * whoever still waits with an error, and closes everything.
 */
struct colo_requests {
	struct mig_jobctl ctl;
	int wake;			/* eventfd, for poll() */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t asked, taking, served, served_seq;
	bool ended;			/* no checkpoint comes any more */
	/* --stay: protection ends and begins again */
	bool unprotected;		/* no secondary: `protect` awaited */
	bool protect_asked;		/* a `protect` waits to be taken */
	bool protect_taken;		/* ... and is under way */
	bool protect_answered;		/* ... and protect_reply is its end */
	char peer[64];			/* the secondary protecting it */
	char protect_reply[MIG_JOBCTL_LINE];
};

#define COLO_REQUESTS_INIT { .ctl = { .lfd = -1, .stop = { -1, -1 } }, \
			     .wake = -1, .lock = PTHREAD_MUTEX_INITIALIZER, \
			     .cond = PTHREAD_COND_INITIALIZER }

int colo_requests_start(struct colo_requests *r, const char *path,
			char *err, size_t n);
/* Whether one came since the last call (@wake emptied). */
bool colo_requests_asked(struct colo_requests *r);
/* A checkpoint begins; it serves what was asked until now. */
void colo_requests_take(struct colo_requests *r);
/* ... and it is committed, as checkpoint @seq. */
void colo_requests_served(struct colo_requests *r, uint64_t seq);
void colo_requests_stop(struct colo_requests *r);
/*
 * --stay. protecting: a protection with the secondary at @peer begins
 * (checkpoints are taken again); unprotected: it ended, by @ret (-errno,
 * why in @why): a `protect` under way is answered with it, checkpoints
 * asked are refused until the next one. protect_take: the address of a
 * `protect` waiting into @to (@n bytes): true, or false when none.
 */
void colo_requests_protecting(struct colo_requests *r, const char *peer);
void colo_requests_unprotected(struct colo_requests *r, int ret,
			       const char *why);
bool colo_requests_protect_take(struct colo_requests *r, char *to, size_t n);

/* `kmig colo primary`, `secondary`, `failover`, `checkpoint`, `protect`. */
int colo_primary_main(int argc, char *argv[]);
int colo_secondary_main(int argc, char *argv[]);
int colo_failover_main(int argc, char *argv[]);
int colo_checkpoint_main(int argc, char *argv[]);
int colo_protect_main(int argc, char *argv[]);

#endif /* KMIG_COLO_H */
