// SPDX-License-Identifier: GPL-2.0
/*
 * The receiving engine in postcopy (receiver.h, Documentation/postcopy.rst).
 *
 * Once a channel said POSTCOPY, every page it brings is installed with
 * KMIG_INSTALL (or handed over with KMIG_INSTALL_STAGED, below), which
 * leaves a present page untouched: an answer that came first, or the
 * guest's own newer write. A page channel brings none before the discard
 * list is in missing mode (mig_recv_pc_ready()): a stale copy here is
 * discarded first, never overwritten. Pages land in the channel's bounce
 * buffer or in their staged pages, never in a mapping of guest memory:
 * postcopy unmaps the slots, and a page given memory before its content
 * lands would wake a faulting vCPU onto zeros.
 *
 * Without staged installs a page channel gathers the pages of an aligned
 * 2 MiB block that arrive in order, one batch after the other, in its
 * bounce buffer, and installs the block in one KMIG_INSTALL: on a huge
 * slot it then lands as one 2 MiB folio (KMIG_FEATURE_HUGE_INSTALL),
 * where page by page it would stay in 4 KiB pages for good. The first page
 * that does not continue the block, and any command, installs what was
 * gathered as it is.
 * The main channel gathers too once its owner says so (->gathers, the
 * incoming side): it carries the answers to faults, a huge slot's whole
 * block in four records, and the owner installs a partial block at the
 * answer's section footer, so that no page is held back longer than its
 * answer.
 *
 * Zero-copy (KMIG_FEATURE_STAGED_INSTALL, Documentation/uapi.rst): on a
 * slot that is not huge, a page is read from the socket straight into
 * its staged page in the staging view, the page the guest will have,
 * checked there by its CRC (the decoder's), and handed over with
 * KMIG_INSTALL_STAGED, a batch at a time. A batch that fails its CRC is
 * never handed over: its pages stay staged, absent to the guest, whose
 * faults wait; the migration fails, and the recovery that follows
 * stages them again (a staged page is the slot's, not the view's) with
 * the right bytes before it hands them over. A page is staged by one
 * channel only (->claimed): the first to take it; a second copy (an
 * answer and the push, both the content at the pause) is dropped, as
 * KMIG_INSTALL drops a copy of a present page, since the first install
 * takes a staged page out of the view and a second writer would fault.
 * A page that cannot be staged (present, or never missing) is copied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "blocktime.h"
#include "ctx.h"
#include "receiver.h"
#include "stage.h"
#include "util.h"

int mig_recv_pc_switch(struct mig_recv_chan *c, bool wait)
{
	struct rbarrier *b = &c->r->bar;
	int ret;

	ret = mig_recv_flush(c);
	if (ret)
		return ret;
	if (c->postcopy) {
		snprintf(c->err, sizeof(c->err), "POSTCOPY twice");
		return -EPROTO;
	}
	c->bounce = malloc(MIG_BLOCK_PAGES * MIG_PAGE);
	if (!c->bounce)
		return -ENOMEM;
	c->postcopy = true;
	c->gathers = c->index;
	if (!wait)
		return 0;
	pthread_mutex_lock(&b->lock);
	c->r->pc_switched++;
	pthread_cond_broadcast(&b->cond);
	while (!c->r->pc_ready && !b->aborted)
		pthread_cond_wait(&b->cond, &b->lock);
	ret = c->r->pc_ready ? 0 : -ECANCELED;
	pthread_mutex_unlock(&b->lock);
	if (ret)
		snprintf(c->err, sizeof(c->err), "another channel failed");
	return ret;
}

int mig_recv_pc_wait_switched(struct mig_recv *r)
{
	struct rbarrier *b = &r->bar;
	struct timespec until = kmig_deadline(r->io_timeout_s * 1000ull);
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	while (r->pc_switched < r->nchan - 1 && !b->aborted && !ret)
		ret = pthread_cond_timedwait(&b->cond, &b->lock, &until);
	ret = r->pc_switched == r->nchan - 1 ? 0 :
	      b->aborted ? -ECANCELED : -ETIMEDOUT;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

/* The staging view's mappings @map (kmig_stage_unmap()), every claim freed. */
static void stage_drop(struct mig_recv *r, uint8_t **map)
{
	unsigned int i;

	kmig_stage_unmap(r->vm, map);
	for (i = 0; i < r->vm->nslots; i++) {
		free(r->claimed[i]);
		r->claimed[i] = NULL;
	}
}

/*
 * The staging view (kmig_stage_map()) and each mapped slot's claims,
 * published only once all are; or, with the reason in the log, none.
 */
static void stage_open(struct mig_recv *r)
{
	uint8_t *map[MIG_MAX_SLOTS];
	struct mig_vm *vm = r->vm;
	unsigned int i;
	int ret;

	if (kmig_stage_map(vm, map, "postcopy pages"))
		return;
	for (i = 0, ret = 0; !ret && i < vm->nslots; i++) {
		if (!map[i])
			continue;
		r->claimed[i] = calloc(kmig_bitmap_words(vm->slots[i].npages),
				       8);
		if (!r->claimed[i])
			ret = -ENOMEM;
	}
	if (ret) {
		fprintf(stderr, "kmig: out of memory; postcopy pages are copied\n");
		stage_drop(r, map);
		return;
	}
	for (i = 0; i < vm->nslots; i++)
		__atomic_store_n(&r->stage[i], map[i], __ATOMIC_RELEASE);
}

void mig_recv_pc_free(struct mig_recv *r)
{
	stage_drop(r, r->stage);
}

void mig_recv_pc_ready(struct mig_recv *r)
{
	stage_open(r);
	pthread_mutex_lock(&r->bar.lock);
	r->pc_ready = true;
	pthread_cond_broadcast(&r->bar.cond);
	pthread_mutex_unlock(&r->bar.lock);
}

static int install(struct mig_recv_chan *c, struct mig_slot *sl,
		   const uint64_t *pages, const void *buf, unsigned int n)
{
	unsigned int done = 0;
	int ret;

	if (!n)
		return 0;
	ret = kmig_ctx_install_n(c->r->vm->ctx_fd, sl->id, pages, buf, n,
				 &done);
	if (!ret && buf)
		__atomic_fetch_add(&c->r->pc_copied, done, __ATOMIC_RELAXED);
	if (!ret)
		mig_bt_installed(__atomic_load_n(&c->r->bt, __ATOMIC_ACQUIRE),
				 sl - c->r->vm->slots, pages, n);
	else
		snprintf(c->err, sizeof(c->err),
			 "cannot install pages %llu..%llu of slot %u: %s",
			 (unsigned long long)pages[0],
			 (unsigned long long)pages[n - 1], sl->id,
			 strerror(-ret));
	if (!ret && n == MIG_BLOCK_PAGES && done == n)
		__atomic_fetch_add(&c->r->pc_blocks, 1, __ATOMIC_RELAXED);
	return ret;
}

static bool consecutive(const uint64_t *pages, unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (pages[i] != pages[0] + i)
			return false;
	return true;
}

int mig_recv_pc_flush(struct mig_recv_chan *c)
{
	unsigned int n = c->ngather;

	c->ngather = 0;
	c->gpend = 0;
	return install(c, c->gslot, c->gpages, c->bounce, n);
}

/* Page @p taken by this channel: true if no channel had taken it. */
static bool claim(uint64_t *claimed, uint64_t p)
{
	uint64_t bit = 1ull << (p % 64);

	return !(__atomic_fetch_or(&claimed[p / 64], bit, __ATOMIC_RELAXED) &
		 bit);
}

static int stage_fail(struct mig_recv_chan *c, const struct mig_slot *sl,
		      uint64_t first, uint64_t last, int ret)
{
	snprintf(c->err, sizeof(c->err),
		 "cannot stage pages %llu..%llu of slot %u: %s",
		 (unsigned long long)first, (unsigned long long)last, sl->id,
		 strerror(-ret));
	return ret;
}

/*
 * The batch's pages that this channel takes first, staged, each run of
 * consecutive ones in one call, and read into their staged pages; the
 * others into the bounce buffer, to be copied or dropped (->how).
 */
static int stage_dest(struct mig_recv_chan *c, const struct mig_slot *sl,
		      const uint64_t *pages, unsigned int n, void **dst)
{
	uint64_t *claimed = c->r->claimed[sl - c->r->vm->slots], first, last;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++)
		c->how[i] = claim(claimed, pages[i]) ? KMIG_STAGE_STAGED :
			    KMIG_STAGE_SKIP;
	ret = kmig_stage_pages(c->bstage, pages, n, c->how, &first, &last);
	if (ret)
		return stage_fail(c, sl, first, last, ret);
	for (i = 0; i < n; i++)
		dst[i] = c->how[i] == KMIG_STAGE_STAGED ?
			 c->bstage + pages[i] * MIG_PAGE :
			 c->bounce + (size_t)i * MIG_PAGE;
	return 0;
}

int mig_recv_pc_dest(struct mig_recv_chan *c, uint32_t slot,
		     const uint64_t *pages, unsigned int n, void **dst)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int i;
	uint8_t *base;
	bool joins;
	int ret;

	if (!sl)
		return -ERANGE;
	c->bstage = __atomic_load_n(&c->r->stage[sl - c->r->vm->slots],
				    __ATOMIC_ACQUIRE);
	if (c->bstage) {
		ret = c->ngather ? mig_recv_pc_flush(c) : 0;
		return ret ? ret : stage_dest(c, sl, pages, n, dst);
	}
	joins = c->gathers && n <= MIG_BLOCK_PAGES && consecutive(pages, n);
	if (joins && c->ngather)
		joins = sl == c->gslot && pages[0] == c->gfirst + c->ngather &&
			c->ngather + n <= MIG_BLOCK_PAGES;
	else if (joins)
		joins = !(pages[0] % MIG_BLOCK_PAGES);
	if (!joins && c->ngather) {
		ret = mig_recv_pc_flush(c);
		if (ret)
			return ret;
	}
	c->gpend = 0;
	base = c->bounce;
	if (joins && !c->ngather) {
		c->gslot = sl;
		c->gfirst = pages[0];
	}
	if (joins) {
		c->gpend = n;
		base = c->bounce + (size_t)c->ngather * MIG_PAGE;
	}
	for (i = 0; i < n; i++)
		dst[i] = base + (size_t)i * MIG_PAGE;
	return 0;
}

static int handed_over(struct mig_recv_chan *c, const struct mig_slot *sl,
		       const uint64_t *pages, unsigned int n, int ret)
{
	unsigned int i;

	for (i = 0; !ret && i < n; i++)
		if (c->status[i] == KMIG_INSTALL_NOT_STAGED)
			ret = -ENOENT;
	if (ret == -ENOENT)
		snprintf(c->err, sizeof(c->err),
			 "page %llu of slot %u: received in its staged page, which the module holds no more",
			 (unsigned long long)pages[i - 1], sl->id);
	else if (ret)
		snprintf(c->err, sizeof(c->err),
			 "cannot hand over staged pages %llu..%llu of slot %u: %s",
			 (unsigned long long)pages[0],
			 (unsigned long long)pages[n - 1], sl->id,
			 strerror(-ret));
	return ret;
}

/*
 * The batch, its CRC passed: the copies (compacted in the bounce buffer)
 * installed, the staged pages handed over; a page's second copy dropped.
 * A staged page is present afterwards (DONE) or was already (PRESENT:
 * its waiters are woken, as a copy install does); NOT_STAGED would be a
 * page lost: the receiver fails.
 */
static int stage_install(struct mig_recv_chan *c, struct mig_slot *sl,
			 const uint64_t *pages, unsigned int n)
{
	unsigned int i, k = 0, done = 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (c->how[i] != KMIG_STAGE_COPY)
			continue;
		if (i != k)
			memmove(c->bounce + (size_t)k * MIG_PAGE,
				c->bounce + (size_t)i * MIG_PAGE, MIG_PAGE);
		c->ipages[k++] = pages[i];
	}
	ret = install(c, sl, c->ipages, c->bounce, k);
	if (ret)
		return ret;
	for (i = k = 0; i < n; i++)
		if (c->how[i] == KMIG_STAGE_STAGED)
			c->ipages[k++] = pages[i];
	if (!k)
		return 0;
	ret = kmig_ctx_install_staged(c->r->vm->ctx_fd, sl->id, c->ipages, k,
				      c->status, &done);
	ret = handed_over(c, sl, c->ipages, k, ret);
	if (ret)
		return ret;
	__atomic_fetch_add(&c->r->pc_staged, done, __ATOMIC_RELAXED);
	mig_bt_installed(__atomic_load_n(&c->r->bt, __ATOMIC_ACQUIRE),
			 sl - c->r->vm->slots, c->ipages, k);
	return 0;
}

/* @n pages where mig_recv_pc_dest() put them, checked by their CRC. */
int mig_recv_pc_pages(struct mig_recv_chan *c, uint32_t slot,
		      const uint64_t *pages, unsigned int n)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);

	if (!sl)
		return -ERANGE;
	if (c->bstage)
		return stage_install(c, sl, pages, n);
	if (!c->gpend)
		return install(c, sl, pages, c->bounce, n);
	memcpy(c->gpages + c->ngather, pages, n * sizeof(*pages));
	c->ngather += n;
	c->gpend = 0;
	return c->ngather < MIG_BLOCK_PAGES ? 0 : mig_recv_pc_flush(c);
}

/*
 * Zero page @p of a slot with a staging view, staged already (EBUSY to a
 * zero install): by a receiver whose batch failed its CRC before the
 * hand-over. Zeros there, handed over.
 */
static int zero_staged(struct mig_recv_chan *c, const struct mig_slot *sl,
		       uint64_t p)
{
	uint8_t *pg = c->bstage + p * MIG_PAGE;
	unsigned int done;
	int ret;

	ret = kmig_ctx_install_n(c->r->vm->ctx_fd, sl->id, &p, NULL, 1, &done);
	if (ret != -EBUSY)
		return ret;
	ret = kmig_ctx_stage(pg, MIG_PAGE);
	if (ret)
		return ret;
	memset(pg, 0, MIG_PAGE);
	ret = kmig_ctx_install_staged(c->r->vm->ctx_fd, sl->id, &p, 1,
				      c->status, &done);
	if (!ret && c->status[0] == KMIG_INSTALL_NOT_STAGED)
		ret = -ENOENT;
	if (!ret)
		__atomic_fetch_add(&c->r->pc_staged, done, __ATOMIC_RELAXED);
	return ret;
}

/* The @k zero pages in ->ipages this channel took first, installed. */
static int zero_claimed(struct mig_recv_chan *c, struct mig_slot *sl,
			unsigned int k)
{
	unsigned int i, done;
	int ret;

	if (!k)
		return 0;
	ret = kmig_ctx_install_n(c->r->vm->ctx_fd, sl->id, c->ipages, NULL, k,
				 &done);
	if (ret == -EBUSY)	/* one is staged: each alone */
		for (i = 0, ret = 0; i < k && !ret; i++)
			ret = zero_staged(c, sl, c->ipages[i]);
	if (ret) {
		snprintf(c->err, sizeof(c->err),
			 "cannot install zero pages %llu..%llu of slot %u: %s",
			 (unsigned long long)c->ipages[0],
			 (unsigned long long)c->ipages[k - 1], sl->id,
			 strerror(-ret));
		return ret;
	}
	mig_bt_installed(__atomic_load_n(&c->r->bt, __ATOMIC_ACQUIRE),
			 sl - c->r->vm->slots, c->ipages, k);
	return 0;
}

/* Zero pages of a slot with a staging view: those no channel took yet. */
static int stage_zero(struct mig_recv_chan *c, struct mig_slot *sl,
		      uint64_t page, uint32_t count)
{
	uint64_t *claimed = c->r->claimed[sl - c->r->vm->slots], p;
	unsigned int k = 0;
	int ret = c->ngather ? mig_recv_pc_flush(c) : 0;

	for (p = page; p < page + count && !ret; p++) {
		if (!claim(claimed, p))
			continue;
		c->ipages[k++] = p;
		if (k < KMIG_STREAM_MAX_BATCH)
			continue;
		ret = zero_claimed(c, sl, k);
		k = 0;
	}
	return ret ? ret : zero_claimed(c, sl, k);
}

int mig_recv_pc_zero(struct mig_recv_chan *c, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int k = 0;
	void *dst;
	uint64_t p;
	int ret;

	if (!sl)
		return -ERANGE;
	c->bstage = __atomic_load_n(&c->r->stage[sl - c->r->vm->slots],
				    __ATOMIC_ACQUIRE);
	if (c->bstage)
		return stage_zero(c, sl, page, count);
	for (p = page; p < page + count; p++) {
		ret = mig_recv_pc_dest(c, slot, &p, 1, &dst);
		if (ret)
			return ret;
		if (c->gpend) {		/* gathered */
			memset(dst, 0, MIG_PAGE);
			ret = mig_recv_pc_pages(c, slot, &p, 1);
			if (ret)
				return ret;
			continue;
		}
		c->ipages[k++] = p;
		if (k < KMIG_STREAM_MAX_BATCH)
			continue;
		ret = install(c, sl, c->ipages, NULL, k);
		if (ret)
			return ret;
		k = 0;
	}
	return install(c, sl, c->ipages, NULL, k);
}
