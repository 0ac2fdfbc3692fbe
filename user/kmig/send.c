// SPDX-License-Identifier: GPL-2.0
/*
 * Page senders. Each channel's sender takes its share of the dirty pages
 * (chunks of MIG_CHUNK_PAGES, dealt round-robin), copies them out of the
 * slot's mapping into its buffer, sends zero pages as zero records (runs
 * coalesced) and the others in batches (RAM_PAGES, up to
 * KMIG_STREAM_MAX_BATCH pages of a chunk) that the encoder writes
 * straight from that buffer, and keeps under its share of --bandwidth.
 *
 * The copy is the one the CRC is computed on: the guest keeps writing its
 * memory meanwhile, and the dirty log sends such pages again. Pages that
 * have no memory (round 0 asks the module) are never read: a read through
 * the mapping would give them some.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kmig.h>

#include "mig.h"

#define BATCH_BYTES(n)	(KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_PAGES_LEN(n) + \
			 KMIG_STREAM_CRC_SIZE)
#define ZERO_REC_BYTES	(KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_SLOT_LEN + \
			 KMIG_REC_RAM_ZERO_LEN + KMIG_STREAM_CRC_SIZE)

bool mig_page_is_zero(const void *p)
{
	const uint64_t *w = p;
	unsigned int i;

	for (i = 0; i < MIG_PAGE / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

int mig_sender_init(struct mig_sender *s, int sock, unsigned int index,
		    unsigned int count, const struct mig_vm *vm,
		    uint64_t rate)
{
	memset(s, 0, sizeof(*s));
	s->sock = sock;
	s->index = index;
	s->count = count;
	s->vm = vm;
	s->rate = rate;
	s->buf = malloc(MIG_SEND_BUF_PAGES * MIG_PAGE);
	if (!s->buf)
		return -ENOMEM;
	kmig_enc_init_fd(&s->enc, sock);
	return 0;
}

void mig_sender_free(struct mig_sender *s)
{
	kmig_enc_free(&s->enc);
	free(s->buf);
	s->buf = NULL;
}

/* Sleep as long as the bytes sent so far are ahead of the rate. */
static void rate_wait(struct mig_sender *s, uint64_t bytes)
{
	uint64_t now = mig_now_ns(), due;
	struct timespec ts;

	if (!s->rate)
		return;
	if (!s->cap_start_ns || now - s->cap_start_ns > 1000000000ull) {
		/* Restart the window every second: no credit for idle time. */
		s->cap_start_ns = now;
		s->cap_bytes = 0;
	}
	s->cap_bytes += bytes;
	due = s->cap_start_ns + s->cap_bytes * 1000000000ull / s->rate;
	if (due > now) {
		ts.tv_sec = (due - now) / 1000000000ull;
		ts.tv_nsec = (due - now) % 1000000000ull;
		nanosleep(&ts, NULL);
	}
}

/* Encode the batch built so far (its pages stay in the buffer). */
static int send_batch(struct mig_sender *s, uint64_t *bytes)
{
	int ret;

	if (!s->nb)
		return 0;
	ret = kmig_enc_pages(&s->enc, s->bslot, s->bpages, s->nb, s->bdata);
	*bytes += BATCH_BYTES(s->nb);
	s->pages += s->nb;
	s->nb = 0;
	return ret;
}

static int batch_page(struct mig_sender *s, const struct mig_slot *sl,
		      uint64_t p, const void *data, uint64_t *bytes)
{
	s->bslot = sl->id;
	s->bpages[s->nb] = p;
	s->bdata[s->nb++] = data;
	return s->nb == KMIG_STREAM_MAX_BATCH ? send_batch(s, bytes) : 0;
}

/*
 * Copy pages first .. end - 1 of @sl into the buffer, behind what earlier
 * chunks left there for the encoder to write: the batch encoded and a
 * flush first when they do not fit. Returns where page @first landed.
 */
static uint8_t *copy_pages(struct mig_sender *s, const struct mig_slot *sl,
			   uint64_t first, uint64_t end, uint64_t *bytes)
{
	uint64_t n = end - first;
	uint8_t *at;
	int ret;

	if (s->used + n > MIG_SEND_BUF_PAGES) {
		ret = send_batch(s, bytes);
		if (!ret)
			ret = kmig_enc_flush(&s->enc);
		if (ret) {
			s->err = ret;
			snprintf(s->errmsg, sizeof(s->errmsg),
				 "cannot send pages of slot %u: %s", sl->id,
				 strerror(-ret));
			return NULL;
		}
		s->used = 0;
	}
	at = s->buf + s->used * MIG_PAGE;
	memcpy(at, sl->map + first * MIG_PAGE, n * MIG_PAGE);
	s->used += n;
	return at;
}

static bool bit(const uint64_t *bm, uint64_t p)
{
	return bm[p / 64] & (1ull << (p % 64));
}

/* To read: in this round's bitmap, and with memory (round 0 checks). */
static bool to_read(const struct mig_slot *sl, uint64_t p)
{
	return bit(sl->bitmap, p) && (!sl->present || bit(sl->present, p));
}

/* Zero records for runs of zero pages, coalesced. */
struct zero_run {
	uint64_t first, count;
};

static int zero_page(struct mig_sender *s, const struct mig_slot *sl,
		     struct zero_run *z, uint64_t p, uint64_t *bytes)
{
	int ret = 0;

	s->zero++;
	if (z->count && z->first + z->count == p) {
		z->count++;
		return 0;
	}
	if (z->count) {
		ret = kmig_enc_zero(&s->enc, sl->id, z->first, z->count);
		*bytes += ZERO_REC_BYTES;
	}
	z->first = p;
	z->count = 1;
	return ret;
}

/*
 * The pages of one chunk in this round's bitmap: those without memory as
 * zero pages straight away; the others copied out of the mapping a run of
 * consecutive pages at a time (never a page between them, which might
 * have no memory), zero pages among them as zero records, the rest in
 * batches written straight from the buffer.
 */
static int send_chunk(struct mig_sender *s, const struct mig_slot *sl,
		      uint64_t first, uint64_t end)
{
	struct zero_run z = { 0 };
	uint64_t p, lo, hi, bytes = 0;
	const uint8_t *buf, *data;
	int ret = 0;

	for (p = first; p < end && !ret; p = hi) {
		for (; p < end && !to_read(sl, p) && !ret; p++)
			if (bit(sl->bitmap, p))
				ret = zero_page(s, sl, &z, p, &bytes);
		if (p == end || ret)
			break;
		for (lo = p, hi = p + 1; hi < end && to_read(sl, hi); hi++)
			;
		buf = copy_pages(s, sl, lo, hi, &bytes);
		if (!buf)
			return s->err;
		for (p = lo; p < hi && !ret; p++) {
			data = buf + (p - lo) * MIG_PAGE;
			if (mig_page_is_zero(data)) {
				ret = zero_page(s, sl, &z, p, &bytes);
				continue;
			}
			ret = batch_page(s, sl, p, data, &bytes);
		}
	}
	if (!ret)
		ret = send_batch(s, &bytes);
	if (!ret && z.count) {
		ret = kmig_enc_zero(&s->enc, sl->id, z.first, z.count);
		bytes += ZERO_REC_BYTES;
	}
	s->bytes += bytes;
	if (ret) {
		s->nb = 0;
		s->err = ret;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "cannot send pages of slot %u: %s", sl->id,
			 strerror(-ret));
	}
	rate_wait(s, bytes);
	return ret;
}

int mig_send_pages(struct mig_sender *s)
{
	const struct mig_vm *vm = s->vm;
	uint64_t c, nchunks, first, end;
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nslots; i++) {
		const struct mig_slot *sl = &vm->slots[i];

		nchunks = (sl->npages + MIG_CHUNK_PAGES - 1) / MIG_CHUNK_PAGES;
		for (c = s->index; c < nchunks; c += s->count) {
			first = c * MIG_CHUNK_PAGES;
			end = first + MIG_CHUNK_PAGES;
			if (end > sl->npages)
				end = sl->npages;
			ret = send_chunk(s, sl, first, end);
			if (ret)
				return ret;
		}
	}
	return 0;
}
