/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Streaming decoder: reads a kmig stream from a file descriptor or a
 * buffer, one record at a time, checks everything (framing, CRC32C, lengths,
 * record order, section lifecycle, capabilities, slot bounds) and hands
 * each valid record to a typed callback.
 *
 * A refusal returns -errno and leaves a message naming the record in
 * kmig_dec_error(): "record #12 RAM_PAGE at offset 49320: page 300 beyond
 * slot 1 (256 pages)". Errors:
 *   -EPROTO           bad magic, unknown record type or flags, order
 *   -EPROTONOSUPPORT  unknown version, required capability not supported
 *   -EBADMSG          CRC mismatch (of a page of a batch: see @torn)
 *   -EMSGSIZE         length over a limit or not the record's size
 *   -ENODATA          truncated stream (or no END_OF_STREAM)
 *   -ERANGE           page beyond its slot, unknown slot, bad vCPU index
 * A callback's own negative return stops decoding and is returned as is.
 * No callback sees a record before its CRC and bounds have been checked.
 */
#ifndef KMIG_STREAM_DEC_H
#define KMIG_STREAM_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* A guest memory slot the stream may write: pages 0 .. npages-1. */
struct kmig_slot {
	uint32_t id;
	uint64_t npages;
};

/*
 * Any callback may be NULL. Return 0 to go on, -errno to stop.
 *
 * The data a callback gets points into the decoder's input. Without
 * @release it is valid during the call only. With @release it stays valid
 * until the decoder calls @release: before it overwrites input handed out
 * (an fd source refilling its buffer), and when kmig_dec_run() returns.
 * A consumer can so collect pages and write many at once.
 *
 * A RAM_PAGES record (a batch) goes to @pages, or without it to @page one
 * page at a time. With @pages_dest the pages are read straight to where
 * the consumer wants them (from the socket, or copied from a buffer
 * source), and the CRC is computed there: @pages_dest is called once the
 * record's header and page list have passed their own CRC and every
 * check (slot, bounds, ascending page numbers), and sets @dst[i] to the
 * KMIG_STREAM_PAGE_SIZE writable bytes page i goes to (the decoder writes
 * them with readv and with memcpy: they must not SIGBUS). Those bytes hold
 * unverified data until @pages (or @page) is called for them with @data
 * equal to @dst; if decoding stops before that, they are garbage.
 *
 * Each page of a batch has its own CRC. A page that fails it is torn: the
 * sender read it while the guest wrote it (or it was damaged on the way).
 * Without @torn the record is refused (-EBADMSG). With @torn, @torn is
 * called for each torn page first (an error from it refuses the record,
 * nothing handed over), then the batch is handed over whole, torn pages
 * included: their bytes are garbage until a later record of the same
 * page replaces them, and the consumer must see that one arrives before
 * anything uses the page (stream-format.rst, "Torn pages").
 */
struct kmig_dec_ops {
	int (*caps)(void *opaque, uint64_t agreed);
	int (*section)(void *opaque, const struct kmig_section *s);
	int (*cmd)(void *opaque, const struct kmig_scmd *c);
	int (*page)(void *opaque, uint32_t slot, uint64_t page,
		    const void *data);
	int (*pages_dest)(void *opaque, uint32_t slot, const uint64_t *pages,
			  unsigned int n, void **dst);
	int (*pages)(void *opaque, uint32_t slot, const uint64_t *pages,
		     unsigned int n, const void *const *data);
	int (*zero)(void *opaque, uint32_t slot, uint64_t page,
		    uint32_t count);
	int (*torn)(void *opaque, uint32_t slot, uint64_t page);
	/* RAM_DISCARD (capability POSTCOPY). */
	int (*discard)(void *opaque, uint32_t slot, uint64_t page,
		       uint32_t count);
	int (*vcpu)(void *opaque, uint32_t vcpu, uint16_t part,
		    const void *data, uint32_t len);
	/* @instance is the device section's instance. */
	int (*device)(void *opaque, uint16_t instance, uint32_t marker,
		      const void *data, uint32_t size);
	int (*eos)(void *opaque);
	void (*release)(void *opaque);
};

struct kmig_dec_cfg {
	const struct kmig_slot *slots;
	unsigned int nslots;
	uint64_t caps_supported;	/* usually KMIG_SCAP_ALL */
	const struct kmig_dec_ops *ops;
	void *opaque;
};

enum kmig_dec_state {
	KMIG_DEC_HEADER,
	KMIG_DEC_CAPS,
	KMIG_DEC_RECORDS,
	KMIG_DEC_DONE,
	KMIG_DEC_FAILED,
};

struct kmig_dec_section {
	uint32_t id;
	uint16_t kind;
	uint16_t instance;
	bool ended;
	char name[KMIG_STREAM_MAX_NAME + 1];
};

struct kmig_dec {
	struct kmig_dec_cfg cfg;
	int fd;				/* -1: buffer source */
	const uint8_t *in;		/* the input: buffer, or rbuf */
	size_t in_len, in_off;		/* bytes in it, bytes consumed */
	uint8_t *rbuf;			/* what an fd source reads into */
	size_t rcap;			/* its size */
	bool in_place;			/* a batch went to its destination */
	uint64_t offset;		/* of the current record */
	int cur_type;			/* its type, or: */
#define CUR_HEADER	(-1)		/* the stream header */
#define CUR_UNREAD	(-2)		/* a record not read yet */
	uint64_t pos;			/* bytes consumed */
	uint64_t records;		/* records after the header */
	uint64_t caps;			/* agreed capabilities */
	enum kmig_dec_state state;
	int body;			/* open section body, or -1 */
	bool cont_valid;
	uint32_t cont_slot;
	bool dev_ended;			/* END_OF_STATE seen in this body */
	unsigned int nsec;
	struct kmig_dec_section sec[KMIG_STREAM_MAX_SECTIONS];
	uint64_t bpages[KMIG_STREAM_MAX_BATCH];	/* the current batch */
	uint32_t bcrc[KMIG_STREAM_MAX_BATCH];
	bool btorn[KMIG_STREAM_MAX_BATCH];
	void *bdata[KMIG_STREAM_MAX_BATCH];
	char err[256];
};

int kmig_dec_init_fd(struct kmig_dec *d, const struct kmig_dec_cfg *cfg,
		     int fd);
int kmig_dec_init_buf(struct kmig_dec *d, const struct kmig_dec_cfg *cfg,
		      const void *buf, size_t len);
void kmig_dec_free(struct kmig_dec *d);

/* Decode one record (or the header): 1, 0 once END_OF_STREAM has been
 * decoded, or -errno. */
int kmig_dec_next(struct kmig_dec *d);
/*
 * Decode up to and including END_OF_STREAM: 0 or -errno. A buffer source
 * must end there (trailing bytes are -EPROTO); an fd source stops there
 * without waiting for EOF, and drops what it read ahead past it: the
 * peer may send more only once answered (GO follows LOADED, handshake.h).
 */
int kmig_dec_run(struct kmig_dec *d);
const char *kmig_dec_error(const struct kmig_dec *d);

#endif /* KMIG_STREAM_DEC_H */
