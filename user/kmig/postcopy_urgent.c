// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy's urgent path at the source (postcopy_src.h,
 * Documentation/postcopy.rst): from RUN on, each page request of the
 * return path is answered on the main channel, its pages in one section
 * part, never behind a pushed page, and the push goes on from the last
 * page asked for. The return path's reader answers a request itself when
 * nothing is queued or being answered (on_request()); else the urgent
 * thread answers the queued ones, a slot's run at once (urgent()).
 *
 * After RESUMED, each answer also carries up to --postcopy-prefetch pages
 * that follow the last page asked for (prefetch()). A request on a huge
 * slot is answered with its whole 2 MiB block (answer_blocks()), which the
 * destination installs in one call, as one folio.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "postcopy_src.h"
#include "util.h"

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

static int answer(struct precopy_src *s, uint64_t *v, unsigned int n);
static int serve(struct precopy_src *s, uint64_t *v, const uint64_t *at,
		 unsigned int n);

/*
 * The return path's reader: a REQUEST, checked. If nothing is queued or
 * being answered, the reader answers it itself (one thread wake-up less
 * on a fault's way); else it queues it for the urgent thread, behind the
 * others.
 */
static int on_request(void *opaque, uint64_t value)
{
	struct precopy_src *s = opaque;
	struct pc_src *pc = s->pc;
	uint32_t slot = value >> 32;
	uint64_t page = value & 0xffffffffu;
	struct pc_req *q;
	int i = mig_vm_slot_index(&s->vm, slot);

	if (i < 0 || page >= s->vm.slots[i].npages)
		return fail(s, -EPROTO,
			    "the destination requested page %llu of slot %u, which this VM does not have",
			    (unsigned long long)page, slot);
	pthread_mutex_lock(&pc->lock);
	__atomic_fetch_add(&pc->requests, 1, __ATOMIC_RELAXED);
	/* before RESUMED only the load's faults: from it on, the guest's */
	if (__atomic_load_n(&s->rp.resumed, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&pc->faults, 1, __ATOMIC_RELAXED);
	if (!pc->n && !pc->busy && !pc->stop) {
		uint64_t at = kmig_now_ns();

		pc->busy = true;
		mig_lat_add(pc->wait_us, 0);
		pthread_mutex_unlock(&pc->lock);
		return serve(s, &value, &at, 1);
	}
	if (pc->n == pc->cap) {
		q = malloc(2 * pc->cap * sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&pc->lock);
			return fail(s, -ENOMEM, "out of memory");
		}
		for (i = 0; (size_t)i < pc->n; i++)
			q[i] = pc->q[(pc->head + i) % pc->cap];
		free(pc->q);
		pc->q = q;
		pc->head = 0;
		pc->cap *= 2;
	}
	pc->q[(pc->head + pc->n++) % pc->cap] = (struct pc_req) {
		.value = value, .at_ns = kmig_now_ns(),
	};
	pthread_cond_broadcast(&pc->cond);
	pthread_mutex_unlock(&pc->lock);
	return 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool test_bit64(const uint64_t *map, uint64_t p)
{
	return map[p / 64] & (1ull << (p % 64));
}

/* Returns true if the push has taken (sent, or is sending) @p's chunk. */
static bool pushed_chunk(const struct precopy_src *s, unsigned int slot,
			 uint64_t p)
{
	uint64_t c = s->senders.first_chunk[slot] +
		     p / mig_slot_chunk(&s->vm.slots[slot]);

	return __atomic_load_n(&s->senders.taken[c / 64], __ATOMIC_RELAXED) &
	       (1ull << (c % 64));
}

/*
 * The prefetch window after a fault: of the --postcopy-prefetch pages
 * after @last in the @slot-th slot, those the destination still lacks
 * (in the discard list) that neither the urgent path nor the push has
 * sent, into @pages from @n on. Only after RESUMED: before it, the
 * requests are the stale pages, and the downtime waits for each answer.
 * Returns the new count.
 */
static unsigned int prefetch(struct precopy_src *s, unsigned int slot,
			     uint64_t last, uint64_t *pages, unsigned int n)
{
	const struct mig_slot *sl = &s->vm.slots[slot];
	uint64_t p, end = last + 1 + s->o.postcopy_prefetch;

	if (!__atomic_load_n(&s->rp.resumed, __ATOMIC_ACQUIRE))
		return n;
	if (end > sl->npages)
		end = sl->npages;
	for (p = last + 1; p < end && n < ANSWER_MAX; p++)
		if (test_bit64(sl->bitmap, p) &&
		    !test_bit64(s->pc->sent[slot], p) &&
		    !pushed_chunk(s, slot, p))
			pages[n++] = p;
	return n;
}

/*
 * The whole aligned block of each requested page of @pages[0..@n) (of
 * the @slot-th slot, a huge one, ascending), block after block, in
 * records of pages in order: the destination installs it in one call, as
 * one 2 MiB folio. The block's other pages are in the discard list too
 * (widen_to_blocks()); one the destination has already is left as it is
 * there. Each block is read from the paused guest into ->block and
 * flushed before the next is read. The push goes on after the last.
 */
static int answer_blocks(struct precopy_src *s, unsigned int slot,
			 const uint64_t *pages, unsigned int n)
{
	const struct mig_slot *sl = &s->vm.slots[slot];
	struct kmig_enc *e = &s->ch[0].enc;
	uint64_t b, last = UINT64_MAX, list[KMIG_STREAM_MAX_BATCH];
	const void *data[KMIG_STREAM_MAX_BATCH];
	unsigned int i, j, k;
	int ret = 0;

	for (i = 0; i < n && !ret; i++) {
		b = pages[i] - pages[i] % MIG_BLOCK_PAGES;
		if (b == last)
			continue;
		last = b;
		ret = kmig_ctx_read(s->vm.ctx_fd, sl->id, b * MIG_PAGE,
				    s->pc->block, MIG_BLOCK_PAGES * MIG_PAGE);
		if (ret)
			return fail(s, ret, "cannot read pages %llu..%llu of slot %u: %s",
				    (unsigned long long)b,
				    (unsigned long long)b + MIG_BLOCK_PAGES - 1,
				    sl->id, strerror(-ret));
		for (j = 0; j < MIG_BLOCK_PAGES && !ret;
		     j += KMIG_STREAM_MAX_BATCH) {
			for (k = 0; k < KMIG_STREAM_MAX_BATCH; k++) {
				list[k] = b + j + k;
				data[k] = s->pc->block + (size_t)(j + k) * MIG_PAGE;
				s->pc->sent[slot][list[k] / 64] |=
					1ull << (list[k] % 64);
			}
			ret = kmig_enc_pages(e, sl->id, list, k, data);
		}
		if (!ret)
			ret = kmig_enc_flush(e);
	}
	if (!ret)
		mig_senders_seek(&s->senders, slot,
				 last + MIG_BLOCK_PAGES < sl->npages ?
				 last + MIG_BLOCK_PAGES : last);
	return ret;
}

/*
 * Requested pages @v[0..@n), all of one slot, now, on the urgent path:
 * on a huge slot their blocks (answer_blocks()), else in one RAM_PAGES
 * record (its list ascending, each page once: a page two vCPUs faulted
 * on may be asked for twice), with the prefetch window after the last.
 * The push goes on from the last requested.
 */
static int answer(struct precopy_src *s, uint64_t *v, unsigned int n)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_PART, .id = MIG_URGENT_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "urgent",
	};
	uint32_t slot = v[0] >> 32;
	uint64_t pages[ANSWER_MAX];
	const void *data[ANSWER_MAX];
	struct kmig_enc *e = &s->ch[0].enc;
	unsigned int i, k, asked, idx = mig_vm_slot_index(&s->vm, slot);
	bool huge = s->vm.slots[idx].huge;
	int ret;

	qsort(v, n, sizeof(*v), by_value);
	for (i = k = 1; i < n; i++)
		if (v[i] != v[k - 1])
			v[k++] = v[i];
	asked = k;
	for (i = 0; i < asked; i++)
		pages[i] = v[i] & 0xffffffffu;
	if (huge)
		goto send;
	n = prefetch(s, idx, pages[asked - 1], pages, asked);
	__atomic_fetch_add(&s->pc->prefetched, n - asked, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		s->pc->sent[idx][pages[i] / 64] |= 1ull << (pages[i] % 64);
		data[i] = s->pc->page[i];
		ret = kmig_ctx_read(s->vm.ctx_fd, slot, pages[i] * MIG_PAGE,
				    s->pc->page[i], MIG_PAGE);
		if (ret)
			return fail(s, ret, "cannot read page %llu of slot %u: %s",
				    (unsigned long long)pages[i], slot,
				    strerror(-ret));
	}
	mig_senders_seek(&s->senders, idx, pages[asked - 1]);
send:
	precopy_main_begin(s);
	ret = kmig_enc_section(e, &sec);
	if (!ret && huge)
		ret = answer_blocks(s, idx, pages, asked);
	else if (!ret)
		ret = kmig_enc_pages(e, slot, pages, n, data);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	if (!ret)
		ret = kmig_enc_flush(e);
	return precopy_main_end(s, ret);
}

/*
 * Requests @v[0..@n) read at @at[0..@n) answered by their owner (->busy
 * set for it), their times counted, ->busy cleared: 0 or the answer's
 * error (the migration failed).
 */
static int serve(struct precopy_src *s, uint64_t *v, const uint64_t *at,
		 unsigned int n)
{
	struct pc_src *pc = s->pc;
	int ret = answer(s, v, n);
	uint64_t now = kmig_now_ns();
	unsigned int i;

	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < n; i++)
		mig_lat_add(pc->answer_us, (now - at[i]) / 1000);
	pc->answered += n;
	pc->busy = false;
	pthread_cond_broadcast(&pc->cond);	/* the urgent thread, the stop */
	pthread_mutex_unlock(&pc->lock);
	return ret;
}

/* The urgent thread: the queued requests, oldest first, a slot's run at once. */
static void *urgent(void *arg)
{
	struct precopy_src *s = arg;
	struct pc_src *pc = s->pc;
	uint64_t v[URGENT_BATCH], at[URGENT_BATCH], now;
	unsigned int n;

	pthread_mutex_lock(&pc->lock);
	for (;;) {
		while ((!pc->n || pc->busy) && !pc->stop)
			pthread_cond_wait(&pc->cond, &pc->lock);
		if (pc->stop)
			break;
		now = kmig_now_ns();
		for (n = 0; n < URGENT_BATCH && pc->n; n++) {
			v[n] = pc->q[pc->head].value;
			if (n && v[n] >> 32 != v[0] >> 32)
				break;	/* another slot: the next batch */
			at[n] = pc->q[pc->head].at_ns;
			mig_lat_add(pc->wait_us, (now - at[n]) / 1000);
			pc->head = (pc->head + 1) % pc->cap;
			pc->n--;
		}
		pc->busy = true;
		pthread_mutex_unlock(&pc->lock);
		if (serve(s, v, at, n))
			return NULL;
		pthread_mutex_lock(&pc->lock);
	}
	pthread_mutex_unlock(&pc->lock);
	return NULL;
}

int pc_urgent_start(struct precopy_src *s)
{
	struct pc_src *pc = s->pc;

	if (pthread_create(&pc->thread, NULL, urgent, s))
		return fail(s, -EAGAIN, "cannot start the urgent thread");
	pc->started = true;
	s->rp.opaque = s;
	__atomic_store_n(&s->rp.on_request, on_request, __ATOMIC_RELEASE);
	return 0;
}

void postcopy_stop(struct precopy_src *s)
{
	struct pc_src *pc = s->pc;

	if (!pc || !pc->started)
		return;
	pthread_mutex_lock(&pc->lock);
	pc->stop = true;
	pthread_cond_broadcast(&pc->cond);
	/* nothing on the urgent path after this: the reader's answer ends */
	while (pc->busy)
		pthread_cond_wait(&pc->cond, &pc->lock);
	pthread_mutex_unlock(&pc->lock);
	pthread_join(pc->thread, NULL);
	pc->started = false;
}
