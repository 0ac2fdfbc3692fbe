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
 * A range is claimed by at most one filler (TODO -> CLAIMED, atomically);
 * the fault thread serves a range whatever its state but DONE: installing
 * a page that is present already leaves it untouched, so a range served
 * twice is only read twice.
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

/* Range @g of them all: slot index *@i, range *@r within it. */
static void range_of(const struct lazy *l, uint64_t g, unsigned int *i,
		     uint64_t *r)
{
	for (*i = 0; g >= l->base[*i + 1]; (*i)++)
		;
	*r = g - l->base[*i];
}

/* Read, check and install range @g: 0, or -errno (the restore failed). */
static int serve(struct lazy *l, uint64_t g, uint8_t *buf, uint64_t *pages,
		 bool fault)
{
	const struct kmig_snap_slot *sl;
	char err[256];
	unsigned int i, n;
	uint64_t r;
	int ret;

	range_of(l, g, &i, &r);
	sl = &l->snap.slot[i];
	ret = kmig_snap_read_range(l->fd, &l->snap, i, r, buf, pages, &n, err,
				   sizeof(err));
	if (ret)
		return lazy_fail(l, ret, "%s: %s", l->so->file, err);
	ret = n ? kmig_ctx_install(l->vm.ctx_fd, sl->id, pages, buf, n) : 0;
	if (ret)
		return lazy_fail(l, ret, "slot %u pages %llu..%llu: cannot install them: %s",
				 sl->id, (unsigned long long)pages[0],
				 (unsigned long long)pages[n - 1], strerror(-ret));
	if (__atomic_exchange_n(&l->state[g], DONE, __ATOMIC_ACQ_REL) == DONE)
		return 0;
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
		       uint8_t *buf, uint64_t *pages)
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
	if (__atomic_load_n(&l->state[g], __ATOMIC_ACQUIRE) == DONE)
		return 0;
	return serve(l, g, buf, pages, true);
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
	uint64_t pages[KMIG_SNAP_RANGE_PAGES];
	uint8_t *buf = malloc(KMIG_SNAP_RANGE_BYTES);
	struct kmig_fault rec[32];
	struct lazy *l = arg;
	int n, k;

	if (!buf) {
		lazy_fail(l, -ENOMEM, "out of memory");
		return NULL;
	}
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
			if (serve_fault(l, &rec[k], buf, pages))
				break;
		set_pending(l, false);
	}
	free(buf);
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
	uint64_t pages[KMIG_SNAP_RANGE_PAGES], g;
	uint8_t *buf = malloc(KMIG_SNAP_RANGE_BYTES);
	struct lazy *l = arg;
	bool in_order;

	if (!buf) {
		lazy_fail(l, -ENOMEM, "out of memory");
		return NULL;
	}
	while (may_fill(l) && next_range(l, &g, &in_order)) {
		if (in_order)
			throttle(l);
		else
			__atomic_fetch_add(&l->prefetched, 1, __ATOMIC_RELAXED);
		if (!may_fill(l) || serve(l, g, buf, pages, false))
			break;
	}
	free(buf);
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
	if (l->faulter_started) {
		if (write(l->stop[1], "", 1) != 1)
			fprintf(stderr, "kmig restore: cannot stop the fault thread: %s\n",
				strerror(errno));
		pthread_join(l->faulter, NULL);
		l->faulter_started = false;
	}
}
