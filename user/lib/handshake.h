/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The return path and the switchover handshake, both sides.
 *
 * After OPEN_RETURN_PATH the main connection carries, from the destination
 * to the source, messages of MIG_HS_HDR bytes, then up to MIG_HS_MAX_TEXT
 * bytes of text, then a CRC32C of everything before it:
 *
 *   le32 magic "KRMP", le16 type, le16 text length, le64 value,
 *   16-byte migration id (the hello's uuid), text, le32 crc32c
 *
 * and after the stream, from the source, GO in the same form.
 *
 *   destination -> source  FAILED   any time: it failed; value: the errno,
 *                                   text: why. The guest does not run
 *                                   there and will not.
 *   destination -> source  LOADED   all arrived and loaded, not running
 *   destination -> source  PING     any time: the link is alive
 *   source -> destination  GO       run it there; the source never will;
 *                                   value: µs since the source paused
 *   destination -> source  RESUMED  it runs; value: µs of downtime,
 *                                   from the source's pause
 *   destination -> source  UNSURE   the VMM may have resumed it, but did
 *                                   not say so; text: why
 *   destination -> source  REQUEST  postcopy: send this page now; value:
 *                                   slot << 32 | page
 *   destination -> source  COMPLETE postcopy: every page arrived
 *
 * The source resumes the guest itself only before it sent GO, or after a
 * FAILED. After GO, a broken connection or UNSURE leaves the guest paused
 * on the source: it may run on the destination, and a guest running on
 * both hosts is worse than one running on neither until someone looks.
 */
#ifndef KMIG_HANDSHAKE_H
#define KMIG_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

#define MIG_HS_MAGIC		0x504d524bu	/* "KRMP" */
#define MIG_HS_HDR		32
#define MIG_HS_MAX_TEXT		480
enum mig_hs_type {
	MIG_HS_RESUMED = 1,
	MIG_HS_FAILED = 2,
	MIG_HS_LOADED = 3,
	MIG_HS_GO = 4,
	MIG_HS_PING = 5,
	MIG_HS_UNSURE = 6,
	MIG_HS_REQUEST = 7,
	MIG_HS_COMPLETE = 8,
	MIG_HS_TYPE_MAX = MIG_HS_COMPLETE,
};
/* REQUEST's value: slot << 32 | page (postcopy). */
#define MIG_HS_REQUEST_VALUE(slot, page)	((uint64_t)(slot) << 32 | (page))

struct mig_hs_msg {
	uint16_t type;
	uint64_t value;
	char text[MIG_HS_MAX_TEXT + 1];
};

/* The end of a connection that sends messages: one writer at a time. */
struct mig_hs_out {
	pthread_mutex_t lock;
	int sock;
	uint8_t uuid[16];
	uint64_t last_ns;		/* last message sent */
};

/* The largest message on the wire. */
#define MIG_HS_MAX_MSG		(MIG_HS_HDR + MIG_HS_MAX_TEXT + 4)

/*
 * The wire form of one message of migration @uuid into @b (@text may be
 * NULL, and is cut at MIG_HS_MAX_TEXT): its length.
 */
size_t mig_hs_encode(uint8_t b[MIG_HS_MAX_MSG], const uint8_t uuid[16],
		     uint16_t type, uint64_t value, const char *text);
/*
 * A message's first MIG_HS_HDR bytes: how many more to read (text and
 * CRC), or -EPROTO with the fault in @err.
 */
int mig_hs_decode_head(const uint8_t b[MIG_HS_HDR], char *err, size_t n);
/*
 * One whole message of @len bytes, of migration @uuid: 0, or -EPROTO
 * (-EBADMSG for a CRC mismatch) with the fault in @err.
 */
int mig_hs_decode(const uint8_t *b, size_t len, const uint8_t uuid[16],
		  struct mig_hs_msg *m, char *err, size_t n);

void mig_hs_out_init(struct mig_hs_out *o, int sock, const uint8_t uuid[16]);
/* One message (@text may be NULL): 0 or -errno. */
int mig_hs_send(struct mig_hs_out *o, uint16_t type, uint64_t value,
		const char *text);
/* @n messages of @type without text, one per value, in one write. */
int mig_hs_send_values(struct mig_hs_out *o, uint16_t type,
		       const uint64_t *values, unsigned int n);
/*
 * One message of migration @uuid: 0, -errno of the socket, or -EPROTO
 * (-EBADMSG for a CRC mismatch) with the fault in @err.
 */
int mig_hs_recv(int sock, const uint8_t uuid[16], struct mig_hs_msg *m,
		char *err, size_t n);
const char *mig_hs_name(uint16_t type);

/*
 * The source's reader of the return path: posts LOADED, RESUMED and
 * UNSURE to @l's mailbox, fails @l with the destination's FAILED text,
 * and when the connection breaks or falls silent for @io_timeout_s (the
 * destination PINGs it every second) fails @l, or once the handshake has
 * begun (mig_hs_reader_waiting()) posts its error.
 */
struct mig_hs_reader {
	struct mig_link *link;
	int sock;
	uint8_t uuid[16];
	unsigned int io_timeout_s;
	pthread_t thread;
	bool started;
	bool waiting;			/* the handshake has begun */
	bool go_sent;
	char text[MIG_HS_MAX_TEXT + 1];	/* of RESUMED or UNSURE */
	bool resumed;			/* atomic: RESUMED came; later
					 * REQUESTs are the guest's faults */
	/*
	 * Postcopy: each REQUEST goes here (0, or -errno after failing the
	 * link), RESUMED does not end the reader, and COMPLETE is posted.
	 * NULL: a REQUEST is a protocol error.
	 */
	int (*on_request)(void *opaque, uint64_t value);
	void *opaque;
};

int mig_hs_reader_start(struct mig_hs_reader *r);
/* The handshake begins: from now on silence is a failure. */
void mig_hs_reader_waiting(struct mig_hs_reader *r);
/* GO went out: a FAILED now means the resume failed. */
void mig_hs_reader_go_sent(struct mig_hs_reader *r);
/* Wait at most @ms for the reader to end, then stop it. */
void mig_hs_reader_stop(struct mig_hs_reader *r, unsigned int ms);

/*
 * The source's side, once the stream is sent: wait for LOADED (0, or
 * -errno with the link failed and the cause in it); then, once the
 * guest is marked as gone from here, send GO (@paused_ns: since the
 * pause) and wait for RESUMED: 0 once it runs there, else the same.
 * *@handed_over: the guest may run there (GO went out, and no FAILED
 * came back).
 */
int mig_hs_loaded(struct mig_hs_reader *r);
int mig_hs_go(struct mig_hs_reader *r, struct mig_hs_out *o,
	      uint64_t paused_ns, bool *handed_over);
/* The destination said FAILED: its guest does not run there, and will not. */
bool mig_hs_peer_failed(struct mig_link *l);

/*
 * The destination's side, once the guest is loaded: LOADED, then wait for
 * GO; *@paused_us: how long ago the source paused. 0, or -errno with the
 * link failed.
 */
int mig_hs_destination(struct mig_hs_out *o, struct mig_link *l,
		       uint64_t *paused_us);

/*
 * The destination's keepalive: a PING every MIG_PING_NS of silence on the
 * return path, from start to stop; and @tick(@tick_arg), when set, every
 * MIG_PING_NS / 4 (no lock held).
 */
struct mig_hs_pinger {
	struct mig_hs_out *out;
	struct mig_link *link;
	void (*tick)(void *arg);
	void *tick_arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	pthread_t thread;
	bool started;
};

int mig_hs_pinger_start(struct mig_hs_pinger *p, struct mig_hs_out *out,
			struct mig_link *link, void (*tick)(void *arg),
			void *tick_arg);
void mig_hs_pinger_stop(struct mig_hs_pinger *p);

#endif /* KMIG_HANDSHAKE_H */
