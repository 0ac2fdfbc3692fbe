// SPDX-License-Identifier: GPL-2.0
/*
 * The receiving engine in postcopy (receiver.h, Documentation/postcopy.rst).
 *
 * Once a channel said POSTCOPY, every page it brings is installed with
 * KMIG_INSTALL, which leaves a present page untouched: an answer that
 * came first, or the guest's own newer write. A page channel brings none
 * before the discard list is in missing mode (mig_recv_pc_ready()): a
 * stale copy here is discarded first, never overwritten. Pages land in
 * the channel's bounce buffer, never in a mapping: postcopy unmaps the
 * slots, and a page given memory before its content lands would wake a
 * faulting vCPU onto zeros.
 *
 * A page channel gathers the pages of an aligned 2 MiB block that arrive
 * in order, one batch after the other, in its bounce buffer, and installs
 * the block in one KMIG_INSTALL: on a huge slot it then lands as one
 * 2 MiB folio (KMIG_FEATURE_HUGE_INSTALL), where page by page it would
 * stay in 4 KiB pages for good. The first page that does not continue the
 * block, and any command, installs what was gathered as it is. The main
 * channel gathers too once its owner says so (->gathers, the incoming
 * side): it carries the answers to faults, a huge slot's whole block in
 * four records, and the owner installs a partial block at the answer's
 * section footer, so that no page is held back longer than its answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kmig.h>

#include "blocktime.h"
#include "ctx.h"
#include "receiver.h"
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

void mig_recv_pc_ready(struct mig_recv *r)
{
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

int mig_recv_pc_dest(struct mig_recv_chan *c, uint32_t slot,
		     const uint64_t *pages, unsigned int n, uint8_t **dst)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	bool joins;
	int ret;

	if (!sl)
		return -ERANGE;
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
	*dst = c->bounce;
	if (!joins)
		return 0;
	if (!c->ngather) {
		c->gslot = sl;
		c->gfirst = pages[0];
	}
	c->gpend = n;
	*dst = c->bounce + (size_t)c->ngather * MIG_PAGE;
	return 0;
}

/* @n pages where mig_recv_pc_dest() put them, checked by their CRC. */
int mig_recv_pc_pages(struct mig_recv_chan *c, uint32_t slot,
		      const uint64_t *pages, unsigned int n)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);

	if (!sl)
		return -ERANGE;
	if (!c->gpend)
		return install(c, sl, pages, c->bounce, n);
	memcpy(c->gpages + c->ngather, pages, n * sizeof(*pages));
	c->ngather += n;
	c->gpend = 0;
	return c->ngather < MIG_BLOCK_PAGES ? 0 : mig_recv_pc_flush(c);
}

int mig_recv_pc_zero(struct mig_recv_chan *c, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int k = 0;
	uint8_t *dst;
	uint64_t p;
	int ret;

	if (!sl)
		return -ERANGE;
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
