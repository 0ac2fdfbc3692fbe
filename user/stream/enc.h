/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stream encoder: builds records (header, payload, CRC32C) and writes them
 * to a file descriptor, or keeps the whole stream in memory.
 *
 * Functions return 0 or -errno; the first write error sticks and every
 * later call returns it. The encoder checks its arguments (lengths, names)
 * but not the order of records: kmig_enc_record() writes any record at all,
 * which the tests use to forge hostile streams.
 */
#ifndef KMIG_STREAM_ENC_H
#define KMIG_STREAM_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psum.h"
#include "stream.h"

/* A page kmig_enc_page_ref() did not copy: it goes out at @at of buf. */
struct kmig_enc_ref {
	size_t at;
	const void *data;
};

struct kmig_enc {
	int fd;			/* -1: memory sink */
	uint8_t *buf;
	size_t len, cap;
	struct kmig_enc_ref *refs;
	unsigned int nrefs;
	uint64_t records;	/* records written after the header */
	uint64_t bytes;		/* written to fd so far (atomic) */
	uint32_t cont_slot;	/* slot of the last RAM record ... */
	bool cont_valid;	/* ... since the last section record */
	enum kmig_psum psum;	/* RAM_PAGES' page sums, set by CAPS */
	int err;
	/* MSG_ZEROCOPY (kmig_enc_zerocopy()): send calls made, let go of by
	 * the kernel, and among those copied after all (loopback). */
	bool zerocopy;
	unsigned int zc_timeout_ms;
	uint64_t zc_sent, zc_done, zc_copied;
};

void kmig_enc_init_fd(struct kmig_enc *e, int fd);
void kmig_enc_init_mem(struct kmig_enc *e);
/* Memory sink: the stream so far (valid until the next call). */
const uint8_t *kmig_enc_mem(const struct kmig_enc *e, size_t *len);
/* fd sink: write out what is staged. */
int kmig_enc_flush(struct kmig_enc *e);
/*
 * A socket sink sends with MSG_ZEROCOPY from now on: the kernel takes the
 * staged bytes and the pages given by reference from where they are, and
 * each flush waits (at most @timeout_ms) until it has let go of them, so
 * that they may change once it returns, as without. 0, or -errno when the
 * socket cannot (SO_ZEROCOPY).
 */
int kmig_enc_zerocopy(struct kmig_enc *e, unsigned int timeout_ms);
void kmig_enc_free(struct kmig_enc *e);

int kmig_enc_header(struct kmig_enc *e);
/* A required KMIG_SCAP_PAGE_XXH64 makes RAM_PAGES' page sums XXH64. */
int kmig_enc_caps(struct kmig_enc *e, uint64_t required, uint64_t optional);
/* @s->type is SECTION_START/PART/END/FULL/FOOTER. */
int kmig_enc_section(struct kmig_enc *e, const struct kmig_section *s);
int kmig_enc_cmd(struct kmig_enc *e, const struct kmig_scmd *c);
int kmig_enc_page(struct kmig_enc *e, uint32_t slot, uint64_t page,
		  const void *data);
/*
 * kmig_enc_page() without the copy: the encoder keeps @data's address and
 * writes the page from there (writev), so @data must stay as it is until
 * the next kmig_enc_flush() returns. The CRC covers @data as it is now.
 * A memory sink copies.
 */
int kmig_enc_page_ref(struct kmig_enc *e, uint32_t slot, uint64_t page,
		      const void *data);
/*
 * RAM_PAGES: @n (1..KMIG_STREAM_MAX_BATCH) pages of @slot, page numbers
 * strictly ascending, page i's contents at @data[i]. Written from where
 * they are, as by kmig_enc_page_ref(); a memory sink copies.
 */
int kmig_enc_pages(struct kmig_enc *e, uint32_t slot, const uint64_t *pages,
		   unsigned int n, const void *const *data);
/* The sum of a page as this stream's RAM_PAGES carry it (psum.h). */
static inline uint32_t kmig_enc_page_sum(const struct kmig_enc *e,
					 const void *data)
{
	return kmig_page_sum(e->psum, data);
}

/*
 * kmig_enc_pages() with each page's sum given: @crcs[i] is
 * kmig_enc_page_sum(@e, @data[i]) as the caller read it.
 * Should the bytes at @data[i] change before the flush (a guest writing
 * its memory), the destination finds that page torn and waits for it to
 * be sent again (stream-format.rst). A memory sink uses them as given.
 */
int kmig_enc_pages_crc(struct kmig_enc *e, uint32_t slot,
		       const uint64_t *pages, unsigned int n,
		       const void *const *data, const uint32_t *crcs);
/* @count: 1..KMIG_STREAM_MAX_ZERO_RUN. */
int kmig_enc_zero(struct kmig_enc *e, uint32_t slot, uint64_t page,
		  uint32_t count);
/* RAM_DISCARD: pages @page .. @page + @count - 1 of @slot are stale
 * (postcopy); @count: 1..KMIG_STREAM_MAX_ZERO_RUN. */
int kmig_enc_discard(struct kmig_enc *e, uint32_t slot, uint64_t page,
		     uint32_t count);
int kmig_enc_vcpu(struct kmig_enc *e, uint32_t vcpu, uint16_t part,
		  const void *data, uint32_t len);
int kmig_enc_device(struct kmig_enc *e, uint32_t marker, const void *data,
		    uint32_t size);
int kmig_enc_eos(struct kmig_enc *e);

/* Any record, as given (a raw writer for tools and tests). */
int kmig_enc_record(struct kmig_enc *e, uint8_t type, uint8_t flags,
		    const void *payload, uint32_t len);

#endif /* KMIG_STREAM_ENC_H */
