// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's receiving engine (receiver.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "receiver.h"
#include "util.h"

void mig_recv_abort(struct mig_recv *r)
{
	struct rbarrier *b = &r->bar;

	pthread_mutex_lock(&b->lock);
	b->aborted = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Channel @chan ended after @rounds round syncs. */
static void bar_leave(struct rbarrier *b, unsigned int chan, uint64_t rounds)
{
	pthread_mutex_lock(&b->lock);
	if (!b->left) {
		b->left = true;
		b->left_chan = chan;
		b->left_rounds = rounds;
	}
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* A channel's page counters: the barrier reads them (missing_progress()). */
static void count_pages(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* Pages the page channels not synced yet have brought (b->lock held). */
static uint64_t missing_progress(struct mig_recv *r)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 1; i < r->nchan; i++)
		if (!(r->bar.arrived & (1u << i)))
			sum += __atomic_load_n(&r->ch[i].pages, __ATOMIC_RELAXED) +
			       __atomic_load_n(&r->ch[i].zero, __ATOMIC_RELAXED);
	return sum;
}

/* "page channel 2" or "page channels 2, 3" (b->lock held). */
static void name_missing(struct mig_recv *r, char *buf, size_t n)
{
	unsigned int i, k = 0, len = 0;

	for (i = 1; i < r->nchan; i++)
		k += !(r->bar.arrived & (1u << i));
	len = snprintf(buf, n, "page channel%s", k > 1 ? "s" : "");
	for (i = 1, k = 0; i < r->nchan && len < n; i++)
		if (!(r->bar.arrived & (1u << i)))
			len += snprintf(buf + len, n - len, "%s %u",
					k++ ? "," : "", i);
}

/*
 * Wait while the channels not synced yet bring pages (looked at every
 * quarter of the I/O timeout): true once all are there, false when none
 * did for the I/O timeout (*@stalled) or the barrier was left or aborted.
 */
static bool bar_sleep(struct mig_recv *r, uint64_t gen, bool *stalled)
{
	uint64_t timeout_ms = r->io_timeout_s * 1000ull, now;
	uint64_t seen = missing_progress(r), moved_ns = kmig_now_ns();
	struct rbarrier *b = &r->bar;
	struct timespec until = kmig_deadline(timeout_ms / 4);

	while (gen == b->gen && !b->aborted && !b->left) {
		if (pthread_cond_timedwait(&b->cond, &b->lock, &until) !=
		    ETIMEDOUT)
			continue;
		now = missing_progress(r);
		if (now != seen) {
			seen = now;
			moved_ns = kmig_now_ns();
		} else if (kmig_now_ns() - moved_ns >= timeout_ms * 1000000) {
			*stalled = true;
			return false;
		}
		until = kmig_deadline(timeout_ms / 4);
	}
	return gen != b->gen;
}

/*
 * Wait until every page channel has synced this round: 0, -ECANCELED
 * when another channel failed, -EPROTO when one ended before this round's
 * sync, or -ETIMEDOUT when the missing ones stalled (with a message in
 * @c->err).
 */
static int bar_wait(struct mig_recv_chan *c, uint64_t round)
{
	struct rbarrier *b = &c->r->bar;
	char *err = c->err, who[128];
	size_t n = sizeof(c->err);
	bool stalled = false;
	uint64_t gen;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	gen = b->gen;
	b->arrived |= 1u << c->index;
	if (++b->waiting == b->n) {
		ret = mig_torn_round_end(&c->r->torn, round, err, n);
		if (ret) {
			pthread_mutex_unlock(&b->lock);
			return ret;
		}
		b->waiting = 0;
		b->arrived = 0;
		b->gen++;
		pthread_cond_broadcast(&b->cond);
	}
	if (bar_sleep(c->r, gen, &stalled)) {
		/* all there */
	} else if (stalled) {
		name_missing(c->r, who, sizeof(who));
		snprintf(err, n, "%s did not reach ROUND_SYNC %llu: no page from them for %u s while page channel %u waited",
			 who, (unsigned long long)round, c->r->io_timeout_s,
			 c->index);
		ret = -ETIMEDOUT;
	} else if (b->left) {
		snprintf(err, n, "page channel %u ended after %llu rounds, before its ROUND_SYNC %llu",
			 b->left_chan, (unsigned long long)b->left_rounds,
			 (unsigned long long)round);
		ret = -EPROTO;
	} else {
		ret = -ECANCELED;
	}
	pthread_mutex_unlock(&b->lock);
	return ret;
}

struct mig_slot *mig_recv_slot(struct mig_recv *r, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < r->vm->nslots; i++)
		if (r->vm->slots[i].id == id)
			return &r->vm->slots[i];
	return NULL;
}

/*
 * Install the collected pages: one pwritev, the kernel copying them from
 * the decoder's buffer straight into the context. Called before the
 * decoder reuses that buffer, and before anything that must come after
 * these pages (zero records, round syncs).
 */
int mig_recv_flush(struct mig_recv_chan *c)
{
	struct mig_slot *sl = c->batch_slot;
	unsigned int done;
	int ret;

	if (!c->nbatch || c->batch_err)
		return c->batch_err;
	ret = kmig_ctx_write_pages(c->r->vm->ctx_fd, sl->id, c->batch_first,
				   c->batch, c->nbatch, &done);
	if (ret) {
		c->batch_err = ret;
		snprintf(c->err, sizeof(c->err),
			 "cannot install page %llu of slot %u: %s",
			 (unsigned long long)c->batch_first + done, sl->id,
			 strerror(-ret));
	}
	c->nbatch = 0;
	return c->batch_err;
}

void mig_recv_release(void *opaque)
{
	mig_recv_flush(opaque);
}

static int put_page(struct mig_recv_chan *c, struct mig_slot *sl, uint64_t page,
		    const void *data)
{
	int ret;

	if (c->nbatch && (c->nbatch == MIG_RECV_BATCH || sl != c->batch_slot ||
			  page != c->batch_first + c->nbatch)) {
		ret = mig_recv_flush(c);
		if (ret)
			return ret;
	}
	if (!c->nbatch) {
		c->batch_slot = sl;
		c->batch_first = page;
	}
	c->batch[c->nbatch++] = (struct iovec) { (void *)data, MIG_PAGE };
	return c->batch_err;
}

/* Page @p of @sl arrived: whole, unless mig_recv_torn() said it is not. */
static void mark(struct mig_recv_chan *c, struct mig_slot *sl, uint64_t p)
{
	bool torn = false;
	unsigned int i;

	for (i = 0; i < c->ntorn && !torn; i++)
		torn = c->torn[i] == p;
	mig_torn_mark(&c->r->torn, sl - c->r->vm->slots, p, torn);
}

int mig_recv_page(void *opaque, uint32_t slot, uint64_t page,
		   const void *data)
{
	struct mig_recv_chan *c = opaque;
	struct mig_slot *sl = mig_recv_slot(c->r, slot);

	if (!sl)
		return -ERANGE;	/* the decoder checked it already */
	count_pages(&c->pages, 1);
	if (c->postcopy) {
		void *dst;
		int ret = mig_recv_pc_dest(c, slot, &page, 1, &dst);

		if (ret)
			return ret;
		memcpy(dst, data, MIG_PAGE);
		return mig_recv_pc_pages(c, slot, &page, 1);
	}
	__atomic_fetch_or(&sl->written[page / 64], 1ull << (page % 64),
			  __ATOMIC_RELAXED);
	mark(c, sl, page);
	c->ntorn = 0;
	return put_page(c, sl, page, data);
}

int mig_recv_zero(void *opaque, uint32_t slot, uint64_t page,
		   uint32_t count)
{
	struct mig_recv_chan *c = opaque;
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	uint64_t p, bit;
	int ret;

	if (!sl)
		return -ERANGE;
	count_pages(&c->zero, count);
	if (c->postcopy)
		return mig_recv_pc_zero(c, slot, page, count);
	/* A page never written is zero already: only overwrite sent ones. */
	for (p = page; p < page + count; p++) {
		mark(c, sl, p);
		bit = 1ull << (p % 64);
		if (!(__atomic_fetch_and(&sl->written[p / 64], ~bit,
					 __ATOMIC_RELAXED) & bit))
			continue;
		ret = put_page(c, sl, p, c->r->zero);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A batch is read from the socket straight into guest memory, through the
 * slots' writable mappings, and its CRC checked there before
 * mig_recv_pages() counts it; a batch that fails it fails the migration,
 * and the guest, whose memory it is, never runs here. Pages collected for
 * pwritev go in first, so that they cannot overwrite the batch later.
 * The batch's pages get memory before it lands (kmig_ctx_install_zero()).
 */
int mig_recv_pages_dest(void *opaque, uint32_t slot, const uint64_t *pages,
			unsigned int n, void **dst)
{
	struct mig_recv_chan *c = opaque;
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int i;
	int ret;

	if (c->postcopy)
		return mig_recv_pc_dest(c, slot, pages, n, dst);
	if (!sl || !sl->map)
		return -ERANGE;	/* the decoder checked it already */
	ret = mig_recv_flush(c);
	if (ret)
		return ret;
	ret = c->r->vm->plain ? 0 :
		kmig_ctx_install_zero(c->r->vm->ctx_fd, slot, pages, n);
	if (ret) {
		snprintf(c->err, sizeof(c->err),
			 "cannot install pages %llu..%llu of slot %u: %s",
			 (unsigned long long)pages[0],
			 (unsigned long long)pages[n - 1], slot,
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < n; i++)
		dst[i] = sl->map + pages[i] * MIG_PAGE;
	return 0;
}

int mig_recv_pages(void *opaque, uint32_t slot, const uint64_t *pages,
		   unsigned int n, const void *const *data)
{
	struct mig_recv_chan *c = opaque;
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	unsigned int i;

	(void)data;	/* where mig_recv_pages_dest() put them */
	if (c->postcopy) {
		count_pages(&c->pages, n);
		return mig_recv_pc_pages(c, slot, pages, n);
	}
	for (i = 0; i < n; i++) {
		__atomic_fetch_or(&sl->written[pages[i] / 64],
				  1ull << (pages[i] % 64), __ATOMIC_RELAXED);
		mark(c, sl, pages[i]);
	}
	c->ntorn = 0;
	count_pages(&c->pages, n);
	return 0;
}

/* A page of the batch about to come is torn: kept aside when it does,
 * until it comes again. */
int mig_recv_torn(void *opaque, uint32_t slot, uint64_t page)
{
	struct mig_recv_chan *c = opaque;

	if (c->postcopy) {
		/* The source's guest is paused: nothing can tear any more. */
		snprintf(c->err, sizeof(c->err),
			 "page %llu of slot %u arrived torn in postcopy, when the source's guest was paused: damaged on the way",
			 (unsigned long long)page, slot);
		return -EBADMSG;
	}
	if (c->ntorn == KMIG_STREAM_MAX_BATCH)
		return -EOVERFLOW;	/* the decoder names each page once */
	c->torn[c->ntorn++] = page;
	return 0;
}

static int page_chan_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct mig_recv_chan *c = opaque;
	int ret;

	if (c->postcopy) {
		/* the stream paused here: a partial block goes in as it is */
		ret = mig_recv_pc_flush(c);
		if (ret)
			return ret;
	}
	if (cmd->id == KMIG_SCMD_PING)
		return 0;
	if (cmd->id == KMIG_SCMD_POSTCOPY)
		return mig_recv_pc_switch(c, true);
	if (cmd->id != KMIG_SCMD_ROUND_SYNC) {
		snprintf(c->err, sizeof(c->err),
			 "command %s on page channel %u",
			 kmig_scmd_name(cmd->id), c->index);
		return -EPROTO;
	}
	if (cmd->round != c->round) {
		snprintf(c->err, sizeof(c->err),
			 "ROUND_SYNC %llu on page channel %u, expected %llu",
			 (unsigned long long)cmd->round, c->index,
			 (unsigned long long)c->round);
		return -EPROTO;
	}
	c->round++;
	ret = mig_recv_flush(c);
	if (ret)
		return ret;
	ret = bar_wait(c, cmd->round);
	if (ret == -ECANCELED)
		snprintf(c->err, sizeof(c->err), "another channel failed");
	return ret;
}

/* A page channel carries pages only: its CAPS require MULTI_CHANNEL,
 * and may say postcopy and how its pages are summed. */
static int page_chan_caps(void *opaque, uint64_t agreed)
{
	struct mig_recv_chan *c = opaque;
	uint64_t other = agreed & ~(uint64_t)(KMIG_SCAP_MULTI_CHANNEL |
					      KMIG_SCAP_POSTCOPY |
					      KMIG_SCAP_PAGE_XXH64);
	size_t len = 0;

	if (!other && agreed)
		return 0;
	len = snprintf(c->err, sizeof(c->err),
		       "capabilities 0x%llx on page channel %u:",
		       (unsigned long long)agreed, c->index);
#define X(name, value)							\
	if ((other & (value)) && len < sizeof(c->err))			\
		len += snprintf(c->err + len, sizeof(c->err) - len,	\
				" " #name);
	KMIG_SCAP_BITS(X)
#undef X
	if (len < sizeof(c->err))
		snprintf(c->err + len, sizeof(c->err) - len, "%s",
			 agreed ? "; a page channel carries pages only" :
			 " none; a page channel requires MULTI_CHANNEL");
	return -EPROTO;
}

/* ... and RAM sections, of its own id. */
static int page_chan_section(void *opaque, const struct kmig_section *s)
{
	struct mig_recv_chan *c = opaque;

	if (s->kind == KMIG_SEC_RAM && s->id == MIG_RAM_SECTION + c->index)
		return 0;
	if (s->kind == KMIG_SEC_RAM)
		snprintf(c->err, sizeof(c->err),
			 "RAM section %u on page channel %u, which carries section %u",
			 s->id, c->index, MIG_RAM_SECTION + c->index);
	else
		snprintf(c->err, sizeof(c->err),
			 "%s section %u on page channel %u: a page channel carries pages only",
			 s->kind == KMIG_SEC_VCPU ? "vCPU" : "device", s->id,
			 c->index);
	return -EPROTO;
}

static void *page_chan_thread(void *arg)
{
	struct mig_recv_chan *c = arg;

	c->ret = kmig_dec_run(&c->dec);
	if (!c->ret && c->postcopy)
		c->ret = mig_recv_pc_flush(c);
	/* The cause first: the channels waiting for this one fail next. */
	if (c->ret)
		mig_link_fail(c->r->link, c->ret, "page channel %u: %s%s%s",
			      c->index, kmig_dec_error(&c->dec),
			      c->err[0] ? ": " : "", c->err);
	bar_leave(&c->r->bar, c->index, c->round);
	return NULL;
}

/*
 * Wait for the page channels' threads: after the main stream ended, each
 * has the I/O timeout to end its own; a failure has shut their sockets.
 */
static void join_page_chans(struct mig_recv *r)
{
	struct timespec until = kmig_deadline(r->io_timeout_s * 1000ull);
	unsigned int i;

	for (i = 1; i < r->nchan; i++) {
		if (!r->ch[i].started)
			continue;
		if (pthread_clockjoin_np(r->ch[i].thread, NULL, CLOCK_MONOTONIC,
					 &until)) {
			mig_link_fail(r->link, -ETIMEDOUT,
				      "page channel %u did not end within %u s of the main channel",
				      i, r->io_timeout_s);
			pthread_join(r->ch[i].thread, NULL);
		}
		r->ch[i].started = false;
	}
}

static int check_rounds(struct mig_recv *r)
{
	unsigned int i;

	/* The last pages went in when the decoders returned. */
	for (i = 0; i < r->nchan; i++)
		if (r->ch[i].batch_err)
			return mig_link_fail(r->link, r->ch[i].batch_err,
					     "channel %u: %s", i, r->ch[i].err);
	for (i = 1; i < r->nchan; i++)
		if (r->ch[i].round != r->ch[0].round)
			return mig_link_fail(r->link, -EPROTO,
					     "page channel %u ended after %llu rounds, the main channel after %llu",
					     i, (unsigned long long)r->ch[i].round,
					     (unsigned long long)r->ch[0].round);
	return 0;
}

int mig_recv_main_sync(struct mig_recv_chan *c, uint64_t round)
{
	if (c->r->nchan > 1)
		return 0;	/* the page channels' barrier does it */
	return mig_torn_round_end(&c->r->torn, round, c->err, sizeof(c->err));
}

void mig_recv_init(struct mig_recv *r, struct mig_link *link,
		   struct mig_vm *vm, unsigned int io_timeout_s)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->link = link;
	r->vm = vm;
	r->io_timeout_s = io_timeout_s;
	pthread_mutex_init(&r->bar.lock, NULL);
	kmig_cond_init(&r->bar.cond);
	for (i = 0; i <= MIG_MAX_CHANNELS; i++) {
		r->ch[i].sock = -1;
		r->ch[i].r = r;
		r->ch[i].index = i;
	}
}

void mig_recv_free(struct mig_recv *r)
{
	unsigned int i;

	for (i = 0; i < r->nchan; i++) {
		kmig_dec_free(&r->ch[i].dec);
		free(r->ch[i].bounce);
	}
	mig_recv_pc_free(r);
	mig_torn_free(&r->torn);
	pthread_cond_destroy(&r->bar.cond);
	pthread_mutex_destroy(&r->bar.lock);
}

static int pages_only_caps(void *opaque, uint64_t agreed)
{
	(void)opaque;
	(void)agreed;
	return 0;
}

static int pages_only_section(void *opaque, const struct kmig_section *s)
{
	struct mig_recv_chan *c = opaque;

	if (s->kind == KMIG_SEC_RAM)
		return 0;
	snprintf(c->err, sizeof(c->err), "section %u on a channel of pages",
		 s->id);
	return -EPROTO;
}

static int pages_only_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct mig_recv_chan *c = opaque;
	int ret;

	if (cmd->id != KMIG_SCMD_ROUND_SYNC)
		return 0;
	ret = mig_recv_flush(c);
	if (!ret)
		ret = mig_recv_main_sync(c, c->round);
	c->round++;
	return ret;
}

const struct kmig_dec_ops mig_recv_pages_only_ops = {
	.caps = pages_only_caps, .section = pages_only_section,
	.cmd = pages_only_cmd, .page = mig_recv_page,
	.pages_dest = mig_recv_pages_dest, .pages = mig_recv_pages,
	.zero = mig_recv_zero, .torn = mig_recv_torn,
	.release = mig_recv_release,
};

int mig_recv_run(struct mig_recv *r, const struct kmig_dec_ops *main_ops)
{
	static const struct kmig_dec_ops page_ops = {
		.caps = page_chan_caps, .section = page_chan_section,
		.cmd = page_chan_cmd, .page = mig_recv_page,
		.pages_dest = mig_recv_pages_dest, .pages = mig_recv_pages,
		.zero = mig_recv_zero, .torn = mig_recv_torn,
		.release = mig_recv_release,
	};
	char why[256];
	struct kmig_dec_cfg cfg = {
		.slots = r->dslots, .nslots = r->vm->nslots,
		.caps_supported = KMIG_SCAP_ALL,
	};
	unsigned int i;
	int ret;

	for (i = 0; i < r->vm->nslots; i++) {
		r->dslots[i].id = r->vm->slots[i].id;
		r->dslots[i].npages = r->vm->slots[i].npages;
	}
	ret = mig_torn_init(&r->torn, r->vm);
	if (ret)
		return mig_link_fail(r->link, ret, "out of memory");
	r->bar.n = r->nchan - 1;
	for (i = 0; i < r->nchan; i++) {
		cfg.ops = i ? &page_ops : main_ops;
		cfg.opaque = &r->ch[i];
		ret = kmig_dec_init_fd(&r->ch[i].dec, &cfg, r->ch[i].sock);
		if (ret)
			return mig_link_fail(r->link, ret, "channel %u: %s", i,
					     strerror(-ret));
	}
	for (i = 1; i < r->nchan; i++) {
		if (pthread_create(&r->ch[i].thread, NULL, page_chan_thread,
				   &r->ch[i])) {
			mig_link_fail(r->link, -EAGAIN,
				      "cannot start a receiver thread");
			break;
		}
		r->ch[i].started = true;
	}
	if (!mig_link_failed(r->link)) {
		ret = kmig_dec_run(&r->ch[0].dec);
		if (ret)
			mig_link_fail(r->link, ret, "main channel: %s%s%s",
				      kmig_dec_error(&r->ch[0].dec),
				      r->ch[0].err[0] ? ": " : "",
				      r->ch[0].err);
	}
	join_page_chans(r);
	if (mig_link_failed(r->link))
		return -EIO;
	ret = check_rounds(r);
	if (!ret && mig_torn_left(&r->torn, why, sizeof(why)))
		ret = mig_link_fail(r->link, -EBADMSG, "%s", why);
	return ret;
}
