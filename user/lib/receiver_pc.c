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
	c->bounce = malloc(KMIG_STREAM_MAX_BATCH * MIG_PAGE);
	if (!c->bounce)
		return -ENOMEM;
	c->postcopy = true;
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
	int ret;

	if (!n)
		return 0;
	ret = kmig_ctx_install(c->r->vm->ctx_fd, sl->id, pages, buf, n);
	if (!ret)
		mig_bt_installed(__atomic_load_n(&c->r->bt, __ATOMIC_ACQUIRE),
				 sl - c->r->vm->slots, pages, n);
	else
		snprintf(c->err, sizeof(c->err),
			 "cannot install pages %llu..%llu of slot %u: %s",
			 (unsigned long long)pages[0],
			 (unsigned long long)pages[n - 1], sl->id,
			 strerror(-ret));
	return ret;
}

/* @n pages of the bounce buffer, checked by their CRC. */
int mig_recv_pc_pages(struct mig_recv_chan *c, uint32_t slot,
		      const uint64_t *pages, unsigned int n)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);

	if (!sl)
		return -ERANGE;
	return install(c, sl, pages, c->bounce, n);
}

int mig_recv_pc_zero(struct mig_recv_chan *c, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int k = 0;
	uint64_t p;
	int ret;

	if (!sl)
		return -ERANGE;
	for (p = page; p < page + count; p++) {
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
