// SPDX-License-Identifier: GPL-2.0
/*
 * The source's sending engine (sender.h). A sender takes chunks of
 * MIG_CHUNK_PAGES dirty pages from the shared cursor, sends zero pages as
 * zero records (runs coalesced) and the others in batches (RAM_PAGES, up
 * to KMIG_STREAM_MAX_BATCH pages of a chunk) that the encoder writes
 * straight from the slot's mapping, and keeps under its share of
 * --bandwidth.
 *
 * Nothing is copied: each page's CRC is taken where it is, and the kernel
 * copies the page from there into the socket when the encoder flushes.
 * A huge slot's chunk is a whole 2 MiB block, its records in page order
 * (a run of zero pages goes out before the page after it), so that a
 * postcopy destination can install it whole (receiver_pc.c).
 *
 * The guest keeps writing its memory meanwhile: a page it writes in
 * between goes out torn, not matching its CRC. The destination keeps it
 * aside, and the dirty log sends the page again in the next round, since
 * the write came after this round's harvest re-armed it; the final round
 * runs with the guest paused, so no page of it can tear. Pages that have
 * no memory (round 0 asks the module) are never read: a read through the
 * mapping would give them some.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kmig.h>

#include "engine.h"
#include "sender.h"
#include "util.h"

#define BATCH_BYTES(n)	(KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_PAGES_LEN(n) + \
			 KMIG_STREAM_CRC_SIZE)
#define ZERO_REC_BYTES	(KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_SLOT_LEN + \
			 KMIG_REC_RAM_ZERO_LEN + KMIG_STREAM_CRC_SIZE)

/*
 * Sleep as long as the bytes sent so far are ahead of the rate: what the
 * encoder holds goes out first, so that the channel is never silent for
 * longer than the sleep (the destination's I/O timeout counts silence).
 */
static int rate_wait(struct mig_chan *s, uint64_t bytes)
{
	uint64_t now = kmig_now_ns(), due;
	struct timespec ts;
	int ret;

	if (!s->rate)
		return 0;
	if (!s->cap_start_ns || now - s->cap_start_ns > 1000000000ull) {
		/* Restart the window every second: no credit for idle time. */
		s->cap_start_ns = now;
		s->cap_bytes = 0;
	}
	s->cap_bytes += bytes;
	due = s->cap_start_ns + s->cap_bytes * 1000000000ull / s->rate;
	if (due <= now)
		return 0;
	ret = kmig_enc_flush(&s->enc);
	if (ret)
		return ret;
	now = kmig_now_ns();
	if (due > now) {
		ts.tv_sec = (due - now) / 1000000000ull;
		ts.tv_nsec = (due - now) % 1000000000ull;
		nanosleep(&ts, NULL);
	}
	return 0;
}

uint64_t mig_psum_cap(void)
{
	return kmig_psum_cap(kmig_psum_pick());
}

/* Encode the batch built so far: the kernel reads its pages from guest
 * memory when the encoder flushes. */
static int send_batch(struct mig_chan *s, uint64_t *bytes)
{
	int ret;

	if (!s->nb)
		return 0;
	ret = kmig_enc_pages_crc(&s->enc, s->bslot, s->bpages, s->nb, s->bdata,
				 s->bcrc);
	*bytes += BATCH_BYTES(s->nb);
	__atomic_fetch_add(&s->pages, s->nb, __ATOMIC_RELAXED);
	s->nb = 0;
	return ret;
}

static int batch_page(struct mig_chan *s, const struct mig_slot *sl,
		      uint64_t p, const uint8_t *data, uint64_t *bytes)
{
	s->bslot = sl->id;
	s->bpages[s->nb] = p;
	s->bcrc[s->nb] = kmig_enc_page_sum(&s->enc, data);
	s->bdata[s->nb++] = data;
	return s->nb == KMIG_STREAM_MAX_BATCH ? send_batch(s, bytes) : 0;
}

static bool bit(const uint64_t *bm, uint64_t p)
{
	return bm[p / 64] & (1ull << (p % 64));
}

/* Only round 0 asks which pages have memory. */
static bool has_memory(const struct mig_slot *sl, uint64_t p)
{
	return !sl->present || bit(sl->present, p);
}

/* Zero records for runs of zero pages, coalesced. */
struct zero_run {
	uint64_t first, count;
};

/* The zero run so far, if any, as one record. */
static int zero_run_end(struct mig_chan *s, const struct mig_slot *sl,
			struct zero_run *z, uint64_t *bytes)
{
	uint64_t count = z->count;

	if (!count)
		return 0;
	*bytes += ZERO_REC_BYTES;
	z->count = 0;
	return kmig_enc_zero(&s->enc, sl->id, z->first, count);
}

static int zero_page(struct mig_chan *s, const struct mig_slot *sl,
		     struct zero_run *z, uint64_t p, uint64_t *bytes)
{
	int ret;

	__atomic_fetch_add(&s->zero, 1, __ATOMIC_RELAXED);
	if (z->count && z->first + z->count == p) {
		z->count++;
		return 0;
	}
	ret = zero_run_end(s, sl, z, bytes);
	z->first = p;
	z->count = 1;
	return ret;
}

/*
 * The pages of one chunk in this round's bitmap: those without memory as
 * zero pages straight away, the others read where they are, zero pages
 * among them as zero records, the rest in batches; on a huge slot in page
 * order (each kind's pending records before a page of the other kind).
 */
static int send_chunk(struct mig_chan *s, const struct mig_slot *sl,
		      uint64_t first, uint64_t end)
{
	struct zero_run z = { 0 };
	uint64_t p, bytes = 0;
	const uint8_t *data;
	int ret = 0;

	for (p = first; p < end && !ret; p++) {
		if (!bit(sl->bitmap, p))
			continue;
		data = sl->map + p * MIG_PAGE;
		if (!has_memory(sl, p) || kmig_page_is_zero(data)) {
			if (sl->huge)
				ret = send_batch(s, &bytes);
			if (!ret)
				ret = zero_page(s, sl, &z, p, &bytes);
		} else {
			if (sl->huge)
				ret = zero_run_end(s, sl, &z, &bytes);
			if (!ret)
				ret = batch_page(s, sl, p, data, &bytes);
		}
	}
	if (!ret)
		ret = send_batch(s, &bytes);
	if (!ret)
		ret = zero_run_end(s, sl, &z, &bytes);
	__atomic_fetch_add(&s->bytes, bytes, __ATOMIC_RELAXED);
	if (ret) {
		s->nb = 0;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "cannot send pages of slot %u: %s", sl->id,
			 strerror(-ret));
	}
	if (!ret)
		ret = rate_wait(s, bytes);
	return ret;
}

/* A seekable round's chunk @k, taken: true if nobody had taken it. */
static bool chunk_take(struct mig_senders *p, uint64_t k)
{
	uint64_t bit = 1ull << (k % 64);

	return !(__atomic_fetch_or(&p->taken[k / 64], bit, __ATOMIC_RELAXED) &
		 bit);
}

/*
 * A seekable round's next chunk: from the cursor, the first one nobody
 * took, wrapping around, so that a seek (mig_senders_seek()) skips none.
 */
static bool take_chunk(struct mig_senders *p, uint64_t *c)
{
	uint64_t i, k, from = __atomic_load_n(&p->next, __ATOMIC_RELAXED);

	for (i = 0; i < p->nchunks; i++) {
		k = (from + i) % p->nchunks;
		if (!chunk_take(p, k))
			continue;
		__atomic_store_n(&p->next, k + 1, __ATOMIC_RELAXED);
		*c = k;
		return true;
	}
	return false;
}

/* The round's thread, every MIG_TICK_MS at most: p->tick, if set. */
static void tick(struct mig_senders *p)
{
	uint64_t now;

	if (!p->tick)
		return;
	now = kmig_now_ns();
	if (now - p->tick_ns < MIG_TICK_MS * 1000000ull)
		return;
	p->tick_ns = now;
	p->tick(p->tick_arg);
}

/* The next chunk from the cursor: false when none is left. */
static bool next_chunk(struct mig_senders *p, const struct mig_slot **sl,
		       uint64_t *first, uint64_t *end)
{
	uint64_t c = 0;
	unsigned int i;

	if (p->taken) {
		if (!take_chunk(p, &c))
			return false;
	} else {
		c = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
	}
	if (c >= p->nchunks || mig_link_failed(p->link))
		return false;
	for (i = 0; c >= p->first_chunk[i + 1]; i++)
		;
	*sl = &p->vm->slots[i];
	*first = (c - p->first_chunk[i]) * mig_slot_chunk(*sl);
	*end = *first + mig_slot_chunk(*sl);
	if (*end > (*sl)->npages)
		*end = (*sl)->npages;
	return true;
}

int mig_chan_ram_part(struct mig_chan *ch, uint32_t sec_id, uint8_t type)
{
	struct kmig_section sec = {
		.type = type, .id = sec_id, .kind = KMIG_SEC_RAM,
		.version = 1, .name = "ram",
	};
	const struct mig_slot *sl;
	uint64_t first, end;
	int ret;

	ret = kmig_enc_section(&ch->enc, &sec);
	while (!ret && next_chunk(ch->pool, &sl, &first, &end)) {
		ret = send_chunk(ch, sl, first, end);
		if (!ch->index)		/* the round's own thread */
			tick(ch->pool);
	}
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&ch->enc, &sec);
	return ret;
}

int mig_chan_round_sync(struct mig_chan *ch, uint64_t round, bool final)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_ROUND_SYNC, .round = round };
	int ret;

	ret = kmig_enc_cmd(&ch->enc, &cmd);
	if (!ret && final)
		ret = kmig_enc_eos(&ch->enc);
	if (!ret)
		ret = kmig_enc_flush(&ch->enc);
	ch->ended = final;
	return ret;
}

void mig_chan_init(struct mig_chan *ch, int sock, unsigned int index,
		   uint64_t rate)
{
	memset(ch, 0, sizeof(*ch));
	ch->sock = sock;
	ch->index = index;
	ch->rate = rate;
	ch->last_ns = kmig_now_ns();
	pthread_mutex_init(&ch->lock, NULL);
	kmig_enc_init_fd(&ch->enc, sock);
	ch->inited = true;
}

void mig_chan_free(struct mig_chan *ch)
{
	if (!ch->inited)
		return;
	kmig_enc_free(&ch->enc);
	pthread_mutex_destroy(&ch->lock);
	ch->inited = false;
}

void mig_chan_begin(struct mig_chan *ch)
{
	pthread_mutex_lock(&ch->lock);
}

void mig_chan_end(struct mig_chan *ch)
{
	__atomic_store_n(&ch->last_ns, kmig_now_ns(), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ch->lock);
}

/* PING on @ch if nobody wrote it for MIG_PING_NS and nobody writes now. */
static void ping_idle(struct mig_senders *p, struct mig_chan *ch)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_PING };
	int ret;

	if (kmig_now_ns() - __atomic_load_n(&ch->last_ns, __ATOMIC_RELAXED) <
	    MIG_PING_NS || pthread_mutex_trylock(&ch->lock))
		return;
	ret = 0;
	if (!ch->ended) {
		size_t at = ch->enc.len;

		cmd.token = ++ch->pings;
		ret = kmig_enc_cmd(&ch->enc, &cmd);
		/* counted before they go: never taken for the stream's */
		__atomic_fetch_add(&ch->ping_bytes, ch->enc.len - at,
				   __ATOMIC_SEQ_CST);
		if (!ret)
			ret = kmig_enc_flush(&ch->enc);
	}
	mig_chan_end(ch);
	if (ret)
		mig_link_io_fail(p->link, ret, "%s %u: cannot send a keepalive: %s",
				 ch->index ? "page channel" : "main channel",
				 ch->index, strerror(-ret));
}

static void *pinger(void *arg)
{
	struct mig_senders *p = arg;
	struct timespec until;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		until = kmig_deadline(MIG_PING_NS / 4000000);
		pthread_cond_timedwait(&p->start, &p->lock, &until);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		for (i = 0; i <= p->n; i++)
			ping_idle(p, &p->chans[i]);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *sender(void *arg)
{
	struct mig_chan *ch = arg;
	struct mig_senders *p = ch->pool;
	uint64_t seen = 0, round;
	uint8_t type;
	bool final;
	int ret;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->gen == seen && !p->stop)
			pthread_cond_wait(&p->start, &p->lock);
		if (p->stop)
			break;
		seen = p->gen;
		round = p->round;
		type = p->type;
		final = p->final;
		pthread_mutex_unlock(&p->lock);

		mig_chan_begin(ch);
		ret = mig_chan_ram_part(ch, MIG_RAM_SECTION + ch->index, type);
		if (!ret)
			ret = mig_chan_round_sync(ch, round, final);
		mig_chan_end(ch);
		if (ret)
			mig_link_io_fail(p->link, ret, "page channel %u: %s",
					 ch->index, ch->errmsg[0] ?
					 ch->errmsg : strerror(-ret));

		pthread_mutex_lock(&p->lock);
		if (!--p->busy)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void mig_senders_rewind(struct mig_senders *p)
{
	const struct mig_vm *vm = p->vm;
	unsigned int i;

	p->first_chunk[0] = 0;
	for (i = 0; i < vm->nslots; i++)
		p->first_chunk[i + 1] = p->first_chunk[i] +
			(vm->slots[i].npages + mig_slot_chunk(&vm->slots[i]) -
			 1) / mig_slot_chunk(&vm->slots[i]);
	p->nchunks = p->first_chunk[vm->nslots];
	__atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
	if (p->taken)
		memset(p->taken, 0, kmig_bitmap_words(p->nchunks) * 8);
}

int mig_senders_seekable(struct mig_senders *p)
{
	mig_senders_rewind(p);
	p->taken = calloc(kmig_bitmap_words(p->nchunks) + 1, 8);
	return p->taken ? 0 : -ENOMEM;
}

void mig_senders_seek(struct mig_senders *p, unsigned int slot, uint64_t page)
{
	__atomic_store_n(&p->next, p->first_chunk[slot] +
			 page / mig_slot_chunk(&p->vm->slots[slot]),
			 __ATOMIC_RELAXED);
}

bool mig_senders_claim(struct mig_senders *p, unsigned int slot,
		       uint64_t page)
{
	return chunk_take(p, p->first_chunk[slot] +
			  page / mig_slot_chunk(&p->vm->slots[slot]));
}

int mig_senders_start(struct mig_senders *p, const struct mig_vm *vm,
		      struct mig_link *link, struct mig_chan *chans,
		      unsigned int n)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->vm = vm;
	p->link = link;
	p->chans = chans;
	p->n = n;
	pthread_mutex_init(&p->lock, NULL);
	kmig_cond_init(&p->start);
	kmig_cond_init(&p->done);
	for (i = 0; i <= n; i++)
		chans[i].pool = p;
	for (i = 1; i <= n; i++) {
		if (pthread_create(&chans[i].thread, NULL, sender, &chans[i]))
			return -EAGAIN;
		chans[i].started = true;
	}
	if (pthread_create(&p->pinger, NULL, pinger, p))
		return -EAGAIN;
	p->pinger_started = true;
	return 0;
}

void mig_senders_post(struct mig_senders *p, uint64_t round, uint8_t type,
		      bool final)
{
	mig_senders_rewind(p);
	pthread_mutex_lock(&p->lock);
	p->round = round;
	p->type = type;
	p->final = final;
	p->busy = p->n;
	p->gen++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
}

int mig_senders_wait(struct mig_senders *p)
{
	struct timespec until;

	pthread_mutex_lock(&p->lock);
	while (p->busy) {
		until = kmig_deadline(MIG_TICK_MS);
		if (pthread_cond_timedwait(&p->done, &p->lock, &until) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&p->lock);
		tick(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return mig_link_failed(p->link) ? -ECANCELED : 0;
}

int mig_senders_round(struct mig_senders *p, uint64_t round, uint8_t type,
		      bool final)
{
	mig_senders_post(p, round, type, final);
	return mig_senders_wait(p);
}

void mig_senders_stop(struct mig_senders *p)
{
	unsigned int i;

	if (!p->chans)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	for (i = 1; i <= p->n; i++)
		if (p->chans[i].started)
			pthread_join(p->chans[i].thread, NULL);
	if (p->pinger_started)
		pthread_join(p->pinger, NULL);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->taken);
	p->taken = NULL;
	p->chans = NULL;
}
