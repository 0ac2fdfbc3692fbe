// SPDX-License-Identifier: GPL-2.0
/*
 * kmig restore --lazy's servers (restore_lazy.h): until every range of
 * pages is installed,
 *
 *   the fault thread   reads the fault fd; for each fault, reads the
 *                      page's whole range (its checksum covers the
 *                      range), checks it and installs it
 *   N filler threads   install the other ranges: first those of the
 *                      working set recorded by an earlier lazy restore
 *                      (FILE.ws: the guest resumes once they are in),
 *                      then all in order (--fill-rate bounds that part);
 *                      none starts a range while the fault thread serves
 *                      one, and none holds a lock over I/O
 *
 * A range is claimed by at most one filler (TODO -> CLAIMED, atomically),
 * and read and installed by one thread (-> BUSY, take()): the filler
 * that claimed it, or the fault thread, which takes a fault's range from
 * TODO or CLAIMED and leaves a BUSY one to its reader, whose install
 * wakes the fault. One reader, because a staged page takes one writer:
 * each page is read from the file straight into its staged page (the
 * staging view, stage.h) and the range handed over with
 * KMIG_INSTALL_STAGED, which takes the pages out of the view. Pages are
 * read into a buffer and copied (KMIG_INSTALL) where a slot has no
 * staging view (huge, a module before API version 4,
 * KMIG_STAGED_INSTALL=0) and where a page cannot be staged (present).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "restore_lazy.h"
#include "stage.h"

/* Range @g of them all: slot index *@i, range *@r within it. */
static void range_of(const struct lazy *l, uint64_t g, unsigned int *i,
		     uint64_t *r)
{
	for (*i = 0; g >= l->base[*i + 1]; (*i)++)
		;
	*r = g - l->base[*i];
}

/* A server's buffers, for one range at a time. */
struct server {
	uint64_t pages[KMIG_SNAP_RANGE_PAGES];	/* the range's, in the file */
	uint64_t ipages[KMIG_SNAP_RANGE_PAGES];	/* to install */
	uint8_t *dst[KMIG_SNAP_RANGE_PAGES];	/* where each is read */
	uint8_t how[KMIG_SNAP_RANGE_PAGES];	/* enum kmig_stage_how */
	uint8_t status[KMIG_SNAP_RANGE_PAGES];	/* KMIG_INSTALL_* */
	uint8_t *bounce;			/* the copied pages, packed */
};

static struct server *server_new(struct lazy *l)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s)
		s->bounce = malloc(KMIG_SNAP_RANGE_BYTES);
	if (s && s->bounce)
		return s;
	free(s);
	lazy_fail(l, -ENOMEM, "out of memory");
	return NULL;
}

static void server_free(struct server *s)
{
	if (s)
		free(s->bounce);
	free(s);
}

/*
 * Range @g taken by this thread to read and install, alone (a staged page
 * has one writer): from TODO by the fault thread, from CLAIMED by the
 * filler that claimed it or by the fault thread. False when another
 * thread reads it (its install wakes the faults waiting there) or did.
 */
static bool take(struct lazy *l, uint64_t g)
{
	uint8_t s = __atomic_load_n(&l->state[g], __ATOMIC_ACQUIRE);

	while (s == TODO || s == CLAIMED)
		if (__atomic_compare_exchange_n(&l->state[g], &s, BUSY, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
	return false;
}

/*
 * Where each of the @n pages of slot @i in ->pages is read: into its
 * staged page when the slot has a staging view (and the page can be
 * staged), else packed into the bounce buffer, to be copied.
 */
static int dest(struct lazy *l, unsigned int i, struct server *s,
		unsigned int n)
{
	uint8_t *view = l->stage[i];
	uint64_t first, last;
	unsigned int k, c = 0;
	int ret;

	memset(s->how, view ? KMIG_STAGE_STAGED : KMIG_STAGE_COPY, n);
	if (view) {
		ret = kmig_stage_pages(view, s->pages, n, s->how, &first,
				       &last);
		if (ret)
			return lazy_fail(l, ret, "slot %u pages %llu..%llu: cannot stage them: %s",
					 l->snap.slot[i].id,
					 (unsigned long long)first,
					 (unsigned long long)last,
					 strerror(-ret));
	}
	for (k = 0; k < n; k++)
		s->dst[k] = s->how[k] == KMIG_STAGE_STAGED ?
			    view + s->pages[k] * KMIG_SNAP_PAGE_SIZE :
			    s->bounce + (uint64_t)c++ * KMIG_SNAP_PAGE_SIZE;
	return 0;
}

/* The pages of ->ipages[0..@n - 1]: "N" or "N..M". */
static const char *span(const uint64_t *p, unsigned int n, char *buf,
			size_t len)
{
	snprintf(buf, len, n > 1 ? "s %llu..%llu" : " %llu",
		 (unsigned long long)p[0], (unsigned long long)p[n - 1]);
	return buf;
}

/*
 * The @n pages read where dest() put them, checked: the copied ones
 * installed by KMIG_INSTALL, the staged ones handed over; those that got
 * memory so counted (a present page is left as it is: the VMM's own,
 * overwritten at the setup, and those of a restore that died).
 */
static int install(struct lazy *l, const struct kmig_snap_slot *sl,
		   struct server *s, unsigned int n)
{
	unsigned int k, c = 0, st = 0, copied = 0, staged = 0;
	char pg[64];
	int ret = 0;

	for (k = 0; k < n; k++)
		if (s->how[k] == KMIG_STAGE_COPY)
			s->ipages[c++] = s->pages[k];
	if (c)
		ret = kmig_ctx_install_n(l->vm.ctx_fd, sl->id, s->ipages,
					 s->bounce, c, &copied);
	if (ret)
		return lazy_fail(l, ret, "slot %u page%s: cannot install them: %s%s",
				 sl->id, span(s->ipages, c, pg, sizeof(pg)),
				 strerror(-ret), ret != -EBUSY ? "" :
				 " (staged by a lazy restore that died: restore with staged installs)");
	for (k = 0; k < n; k++)
		if (s->how[k] == KMIG_STAGE_STAGED)
			s->ipages[st++] = s->pages[k];
	if (st)
		ret = kmig_ctx_install_staged(l->vm.ctx_fd, sl->id, s->ipages,
					      st, s->status, &staged);
	if (ret)
		return lazy_fail(l, ret, "slot %u page%s: cannot hand over the staged pages: %s",
				 sl->id, span(s->ipages, st, pg, sizeof(pg)),
				 strerror(-ret));
	for (k = 0; k < st; k++)
		if (s->status[k] == KMIG_INSTALL_NOT_STAGED)
			return lazy_fail(l, -ENOENT, "slot %u page %llu: read into its staged page, which the module holds no more",
					 sl->id,
					 (unsigned long long)s->ipages[k]);
	__atomic_fetch_add(&l->pages_staged, staged, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->pages_copied, copied, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Read, check and install range @g, unless another thread does: 0, or
 * -errno (the restore failed).
 */
static int serve(struct lazy *l, uint64_t g, struct server *s, bool fault)
{
	const struct kmig_snap_slot *sl;
	char err[256];
	unsigned int i, n;
	uint64_t r;
	int ret;

	if (!take(l, g))
		return 0;
	range_of(l, g, &i, &r);
	sl = &l->snap.slot[i];
	n = kmig_snap_range_pages(&l->snap, i, r, s->pages);
	ret = dest(l, i, s, n);
	if (ret)
		return ret;
	ret = kmig_snap_read_pages(l->fd, &l->snap, i, r, s->pages, n, s->dst,
				   err, sizeof(err));
	if (ret)
		return lazy_fail(l, ret, "%s: %s", l->so->file, err);
	/* the selftests' filler slow to hand a range over: its faults wait */
	if (!fault)
		kmig_delay_at("lazy-fill");
	ret = install(l, sl, s, n);
	if (ret)
		return ret;
	__atomic_store_n(&l->state[g], DONE, __ATOMIC_RELEASE);
	pthread_mutex_lock(&l->lock);
	l->by_fault += fault;
	l->ws_left -= l->in_ws[g];
	if (++l->done == lazy_total(l) || (l->in_ws[g] && !l->ws_left))
		pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

/* ---- the fault thread ---- */

static void record(struct lazy *l, const struct kmig_fault *f)
{
	if (l->nws < l->so->record_ws)
		l->ws[l->nws++] = (struct kmig_ws_entry){ f->slot, f->page };
}

static int serve_fault(struct lazy *l, const struct kmig_fault *f,
		       struct server *s)
{
	unsigned int i;
	uint64_t g;

	for (i = 0; i < l->snap.nslots && l->snap.slot[i].id != f->slot; i++)
		;
	if (i == l->snap.nslots || f->page >= l->snap.slot[i].npages)
		return lazy_fail(l, -EPROTO, "a fault on slot %u page %llu, not in the file",
				 f->slot, (unsigned long long)f->page);
	record(l, f);
	g = l->base[i] + f->page / KMIG_SNAP_RANGE_PAGES;
	return serve(l, g, s, true);
}

static void set_pending(struct lazy *l, bool on)
{
	pthread_mutex_lock(&l->lock);
	l->pending = on;
	if (!on)
		pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

static void *faulter(void *arg)
{
	struct kmig_fault rec[32];
	struct lazy *l = arg;
	struct server *s = server_new(l);
	int n, k;

	if (!s)
		return NULL;
	for (;;) {
		n = kmig_fault_wait(l->ffd, l->stop[0], rec, 32);
		if (n <= 0) {
			if (n)
				lazy_fail(l, n, "the fault fd: %s",
					  n == -EIO ? "closed" : strerror(-n));
			break;
		}
		/* the selftests' agent killed with a fault in hand */
		kmig_stop_at("lazy-fault");
		set_pending(l, true);
		for (k = 0; k < n; k++)
			if (serve_fault(l, &rec[k], s))
				break;
		set_pending(l, false);
	}
	server_free(s);
	return NULL;
}

/* ---- the fillers ---- */

static bool claim(struct lazy *l, uint64_t g)
{
	uint8_t todo = TODO;

	return __atomic_compare_exchange_n(&l->state[g], &todo, CLAIMED, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The next range to fill (*@in_order: not the working set's), or false. */
static bool next_range(struct lazy *l, uint64_t *g, bool *in_order)
{
	uint64_t k;

	while ((k = __atomic_fetch_add(&l->pnext, 1, __ATOMIC_RELAXED)) <
	       l->nprefetch) {
		*g = l->prefetch[k];
		*in_order = false;
		if (claim(l, *g))
			return true;
	}
	while ((*g = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED)) <
	       lazy_total(l)) {
		*in_order = true;
		if (claim(l, *g))
			return true;
	}
	return false;
}

/* Wait while a fault is served; false once the restore ends. */
static bool may_fill(struct lazy *l)
{
	bool go;

	pthread_mutex_lock(&l->lock);
	while (l->pending && !l->quit && !l->error)
		pthread_cond_wait(&l->cond, &l->lock);
	go = !l->quit && !l->error;
	pthread_mutex_unlock(&l->lock);
	return go;
}

/* --fill-rate: each range in order waits for its turn. */
static void throttle(struct lazy *l)
{
	uint64_t cost, at, now = kmig_now_ns();
	struct timespec ts;

	if (!l->so->fill_rate)
		return;
	cost = KMIG_SNAP_RANGE_BYTES * 1000000000ull / l->so->fill_rate;
	pthread_mutex_lock(&l->lock);
	at = l->next_ns > now ? l->next_ns : now;
	l->next_ns = at + cost;
	pthread_mutex_unlock(&l->lock);
	if (at <= now)
		return;
	ts.tv_sec = (at - now) / 1000000000ull;
	ts.tv_nsec = (at - now) % 1000000000ull;
	nanosleep(&ts, NULL);
}

static void *filler(void *arg)
{
	struct lazy *l = arg;
	struct server *s = server_new(l);
	bool in_order;
	uint64_t g;

	if (!s)
		return NULL;
	while (may_fill(l) && next_range(l, &g, &in_order)) {
		if (in_order)
			throttle(l);
		else
			__atomic_fetch_add(&l->prefetched, 1, __ATOMIC_RELAXED);
		if (!may_fill(l) || serve(l, g, s, false))
			break;
	}
	server_free(s);
	return NULL;
}

/* ---- starting and stopping ---- */

int lazy_start_threads(struct lazy *l)
{
	int ret;

	ret = kmig_ctx_fault_fd(l->vm.ctx_fd, KMIG_FAULT_FD_KEEP_WAITING);
	if (ret < 0)
		return lazy_fail(l, ret, "cannot serve the guest's faults: %s",
				 ret == -EBUSY ? "another process serves them (a kmig restore --lazy still running?)" :
				 strerror(-ret));
	l->ffd = ret;
	if (pipe2(l->stop, O_CLOEXEC))
		return lazy_fail(l, -errno, "pipe: %s", strerror(errno));
	if (pthread_create(&l->faulter, NULL, faulter, l))
		return lazy_fail(l, -EAGAIN, "cannot start the fault thread");
	l->faulter_started = true;
	for (; l->nfillers < l->so->threads; l->nfillers++)
		if (pthread_create(&l->filler[l->nfillers], NULL, filler, l))
			return lazy_fail(l, -EAGAIN, "cannot start a filler thread");
	return 0;
}

void lazy_stop_threads(struct lazy *l)
{
	unsigned int i;

	pthread_mutex_lock(&l->lock);
	l->quit = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	for (i = 0; i < l->nfillers; i++)
		pthread_join(l->filler[i], NULL);
	l->nfillers = 0;
	kmig_fault_thread_stop(l->faulter, &l->faulter_started, l->stop[1],
			       "kmig restore");
}
