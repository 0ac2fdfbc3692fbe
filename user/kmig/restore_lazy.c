// SPDX-License-Identifier: GPL-2.0
/*
 * kmig restore --lazy: the guest runs at once and its pages come from the
 * snapshot file as it needs them (Documentation/file-format.rst, "Lazy
 * restore").
 *
 * The file is checked whole but for its pages; every page it has goes
 * into missing mode (pages it does not have are zero: they are never
 * missing, and a fault gives them a zero page); the pages the VMM has
 * already (missing mode leaves them present) are overwritten with the
 * file's; the vCPU state is loaded and the guest resumed. Then the fault
 * thread and the fillers (restore_lazy_serve.c) install every range of
 * pages.
 *
 * A range that fails its checksum is never installed: the restore stops,
 * and the fault fd is replaced by one that does not keep faults waiting
 * and closed, so every access to a page still missing gets SIGBUS (KVM:
 * KVM_RUN fails with EFAULT). The fault fd keeps faults waiting
 * otherwise: if this process dies, the guest's faults wait (killably)
 * for `kmig restore --lazy --resume-fill`, which serves and fills what is
 * still missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "restore_lazy.h"
#include "stage.h"

/* Record the first error and wake everyone: the restore ends. */
int lazy_fail(struct lazy *l, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&l->lock);
	if (!l->error) {
		l->error = ret;
		va_start(ap, fmt);
		vsnprintf(l->err, sizeof(l->err), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* ---- setting up ---- */

/* Which pages of slot @i have memory now: a bitmap to free, or NULL. */
static uint64_t *present_of(struct lazy *l, unsigned int i)
{
	const struct kmig_snap_slot *sl = &l->snap.slot[i];
	uint64_t *present;
	char why[128];
	int ret;

	present = mig_slot_present(l->vm.ctx_fd, sl->id, sl->npages, &ret, why,
				   sizeof(why));
	if (!present)
		lazy_fail(l, ret, "%s", why);
	return present;
}

/*
 * Returns true if every page of range @r that the file has is present
 * (@present NULL: if the file has none).
 */
static bool range_present(const struct kmig_snap_slot *sl,
			  const uint64_t *present, uint64_t r)
{
	uint64_t w;

	for (w = r * WORDS; w < (r + 1) * WORDS &&
	     w < kmig_bitmap_words(sl->npages); w++)
		if (sl->bitmap[w] & ~(present ? present[w] : 0))
			return false;
	return true;
}

/* Every range whose pages are all present is done (--resume-fill). */
static int take_present(struct lazy *l)
{
	const struct kmig_snap_slot *sl;
	uint64_t *present, r;
	unsigned int i;

	for (i = 0; i < l->snap.nslots; i++) {
		sl = &l->snap.slot[i];
		present = present_of(l, i);
		if (!present)
			return -EIO;
		for (r = 0; r < kmig_snap_nranges(sl); r++) {
			if (l->state[l->base[i] + r] == DONE ||
			    !range_present(sl, present, r))
				continue;
			l->state[l->base[i] + r] = DONE;
			l->done++;
		}
		free(present);
	}
	return 0;
}

/* FILE.ws's ranges, each once, in the order of their first fault. */
static void take_ws(struct lazy *l, const char *path)
{
	struct kmig_ws_entry *e;
	unsigned int n, k, i;
	char err[256];
	uint64_t g;
	int ret;

	ret = kmig_ws_read(path, &l->snap, &l->stamp, &e, &n, err, sizeof(err));
	if (ret == -ENOENT)
		return;
	if (ret) {
		fprintf(stderr, "kmig restore: not prefetching the working set: %s\n",
			err);
		return;
	}
	l->prefetch = calloc(n ? n : 1, sizeof(*l->prefetch));
	for (k = 0; l->prefetch && k < n; k++) {
		for (i = 0; l->snap.slot[i].id != e[k].slot; i++)
			;
		g = l->base[i] + e[k].page / KMIG_SNAP_RANGE_PAGES;
		if (l->state[g] == TODO && !l->in_ws[g]) {
			l->in_ws[g] = 1;
			l->prefetch[l->nprefetch++] = g;
		}
	}
	l->ws_left = l->nprefetch;
	free(e);
}

/*
 * The pages slot @i of the VMM has already (its own writes while it
 * waited) would stay as they are when installed: overwrite each with
 * what the file says, before the guest runs. In range @r: @present.
 */
static int overwrite_range(struct lazy *l, unsigned int i, uint64_t r,
			   const uint64_t *present, uint8_t *buf,
			   uint64_t *pages)
{
	static const uint8_t zero[KMIG_SNAP_PAGE_SIZE];
	const struct kmig_snap_slot *sl = &l->snap.slot[i];
	unsigned int n, k = 0, done;
	struct iovec iov;
	char err[256];
	uint64_t p;
	int ret;

	ret = kmig_snap_read_range(l->fd, &l->snap, i, r, buf, pages, &n, err,
				   sizeof(err));
	if (ret)
		return lazy_fail(l, ret, "%s: %s", l->so->file, err);
	for (p = r * KMIG_SNAP_RANGE_PAGES;
	     p < (r + 1) * KMIG_SNAP_RANGE_PAGES && p < sl->npages; p++) {
		for (; k < n && pages[k] < p; k++)
			;
		if (!(present[p / 64] & (1ull << (p % 64))))
			continue;
		iov.iov_base = k < n && pages[k] == p ?
			       buf + (uint64_t)k * KMIG_SNAP_PAGE_SIZE :
			       (void *)zero;
		iov.iov_len = KMIG_SNAP_PAGE_SIZE;
		ret = kmig_ctx_write_pages(l->vm.ctx_fd, sl->id, p, &iov, 1,
					   &done);
		if (ret)
			return lazy_fail(l, ret, "slot %u page %llu: cannot overwrite it: %s",
					 sl->id, (unsigned long long)p,
					 strerror(-ret));
	}
	return 0;
}

/* Every page the VMM has already, as the file has it. */
static int overwrite_present(struct lazy *l)
{
	uint64_t pages[KMIG_SNAP_RANGE_PAGES], *present, r, w, any;
	uint8_t *buf = malloc(KMIG_SNAP_RANGE_BYTES);
	const struct kmig_snap_slot *sl;
	unsigned int i;
	int ret = buf ? 0 : lazy_fail(l, -ENOMEM, "out of memory");

	for (i = 0; i < l->snap.nslots && !ret; i++) {
		sl = &l->snap.slot[i];
		present = present_of(l, i);
		if (!present)
			ret = -EIO;
		for (r = 0; !ret && r < kmig_snap_nranges(sl); r++) {
			for (any = 0, w = r * WORDS; w < (r + 1) * WORDS &&
			     w < kmig_bitmap_words(sl->npages); w++)
				any |= present[w];
			if (any)
				ret = overwrite_range(l, i, r, present, buf,
						      pages);
		}
		free(present);
	}
	free(buf);
	return ret;
}

static int vmm_req(struct lazy *l, const char *req)
{
	char why[256];
	int ret = mig_vmm_req(&l->vm.vmm, req, why, sizeof(why));

	/* unmap and map again after a restore that died: done already */
	if (ret == -EALREADY && (!strcmp(req, "unmap") || !strcmp(req, "map")))
		return 0;
	return ret ? lazy_fail(l, ret, "%s", why) : 0;
}

/* Every page the file has in missing mode, while nothing maps the slots. */
static int set_missing(struct lazy *l)
{
	const struct kmig_snap_slot *sl;
	uint64_t first, n;
	unsigned int i;
	int ret;

	ret = vmm_req(l, "unmap");
	for (i = 0; i < l->snap.nslots && !ret; i++) {
		sl = &l->snap.slot[i];
		ret = kmig_ctx_set_missing_runs(l->vm.ctx_fd, sl->id,
						sl->bitmap, sl->npages, 0,
						&first, &n);
		if (ret)
			return lazy_fail(l, ret, "cannot put pages %llu..%llu of slot %u in missing mode: %s",
					 (unsigned long long)first,
					 (unsigned long long)(first + n - 1),
					 sl->id, strerror(-ret));
	}
	return ret;
}
static int open_file(struct lazy *l, char *state, size_t n)
{
	char err[512];
	unsigned int i;
	uint64_t r;
	int ret;

	l->fd = open(l->so->file, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0)
		return lazy_fail(l, -errno, "%s: %s", l->so->file, strerror(errno));
	ret = snap_lock(l->fd, l->so, false, err, sizeof(err));
	if (ret)
		return lazy_fail(l, ret, "%s", err);
	ret = kmig_snap_open(l->fd, &l->snap, err, sizeof(err));
	if (!ret) {
		l->opened = true;
		ret = kmig_snap_stamp(l->fd, &l->snap, &l->stamp, err,
				      sizeof(err));
	}
	if (ret)
		return lazy_fail(l, ret, "%s: %.400s", l->so->file, err);
	for (i = 0; i < l->snap.nslots; i++)
		l->base[i + 1] = l->base[i] + kmig_snap_nranges(&l->snap.slot[i]);
	l->state = calloc(lazy_total(l), 1);
	l->in_ws = calloc(lazy_total(l), 1);
	l->ws = calloc(l->so->record_ws ? l->so->record_ws : 1, sizeof(*l->ws));
	if (!l->state || !l->in_ws || !l->ws)
		return lazy_fail(l, -ENOMEM, "out of memory");
	/* A range the file has no page of is zero, and never missing. */
	for (i = 0; i < l->snap.nslots; i++)
		for (r = 0; r < kmig_snap_nranges(&l->snap.slot[i]); r++)
			if (range_present(&l->snap.slot[i], NULL, r)) {
				l->state[l->base[i] + r] = DONE;
				l->done++;
			}
	ret = snap_attach(&l->vm, l->so, 0, state, n, err, sizeof(err));
	if (!ret)
		ret = snap_same_slots(&l->snap, &l->vm, err, sizeof(err));
	return ret ? lazy_fail(l, ret, "%s", err) : 0;
}

/*
 * Attach, and load the guest and run it. --resume-fill after a restore
 * that died once the guest ran (it is not "incoming") only serves and
 * fills; after one that died before, the whole setup is done again, as
 * none of it can have been undone by the guest: pages put in missing
 * mode again stay what they are if present, every present page is
 * overwritten again (the VMM's own ones, written when it started, among
 * them), and the guest's state is loaded.
 */
static int begin(struct lazy *l, uint64_t *run_ms, uint64_t t0)
{
	char state[32], path[4096];
	bool setup;
	int ret;

	ret = open_file(l, state, sizeof(state));
	if (ret)
		return ret;
	setup = !strcmp(state, "incoming");
	if (!setup && !l->so->resume_fill)
		return lazy_fail(l, -EBUSY,
				 "the VMM at %s is %s, not waiting for a guest (start it with --incoming)",
				 l->so->o.vmm, state);
	if (setup)
		ret = set_missing(l);
	if (!ret && setup) {
		kmig_stop_at("lazy-setup");
		ret = overwrite_present(l);
	}
	if (!ret && l->so->resume_fill)
		ret = take_present(l);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s.ws", l->so->file);
	take_ws(l, path);
	/* the selftests' reader: memory the file's but for what is missing */
	kmig_stop_at("lazy-serve");
	/* after the missing mode, which no mapping may exist for */
	kmig_stage_map(&l->vm, l->stage, "the lazy restore's pages");
	ret = lazy_start_threads(l);
	if (!ret && setup)
		ret = vmm_req(l, "map");
	if (ret || !setup)
		return ret;
	ret = snap_load(&l->vm, &l->snap, path, sizeof(path));
	if (ret)
		return lazy_fail(l, ret, "%s", path);
	/* The working set first, then the guest; a range failed: not at all. */
	pthread_mutex_lock(&l->lock);
	while (l->ws_left && !l->error)
		pthread_cond_wait(&l->cond, &l->lock);
	ret = l->error;
	pthread_mutex_unlock(&l->lock);
	if (!ret && l->so->resume)
		ret = vmm_req(l, "resume");
	if (ret)
		return ret;
	*run_ms = (kmig_now_ns() - t0) / 1000000;
	return 0;
}

/* ---- the end ---- */

/*
 * The restore failed with the guest's memory incomplete: from now on an
 * access to a page still missing gets SIGBUS, rather than waiting for a
 * server that will not come or ever seeing wrong data.
 */
static void fail_faults(struct lazy *l)
{
	int ffd;

	if (l->ffd >= 0)
		close(l->ffd);
	l->ffd = -1;
	ffd = kmig_ctx_fault_fd(l->vm.ctx_fd, 0);
	if (ffd < 0) {
		fprintf(stderr, "kmig restore: cannot end the guest's faults with SIGBUS: %s\n",
			strerror(-ffd));
		return;
	}
	close(ffd);
}

/* Every page the file has is here now. */
static int all_present(struct lazy *l)
{
	const struct kmig_snap_slot *sl;
	uint64_t *present, r;
	unsigned int i;
	bool all;

	for (i = 0; i < l->snap.nslots; i++) {
		sl = &l->snap.slot[i];
		present = present_of(l, i);
		if (!present)
			return -EIO;
		for (r = 0, all = true; r < kmig_snap_nranges(sl); r++)
			all &= range_present(sl, present, r);
		free(present);
		if (!all)
			return lazy_fail(l, -ENODATA, "slot %u: pages still missing after the fill",
					 sl->id);
	}
	return 0;
}

/* Wait until every range is done or the restore failed. */
static int wait_filled(struct lazy *l)
{
	int ret;

	pthread_mutex_lock(&l->lock);
	while (l->done < lazy_total(l) && !l->error)
		pthread_cond_wait(&l->cond, &l->lock);
	ret = l->error;
	pthread_mutex_unlock(&l->lock);
	lazy_stop_threads(l);
	if (ret) {
		fail_faults(l);
		return ret;
	}
	ret = all_present(l);
	if (ret)
		return ret;
	/* Nothing is missing: the fault fd has nothing left to serve. */
	close(l->ffd);
	l->ffd = -1;
	ret = kmig_snap_unchanged(l->fd, &l->snap, &l->stamp, l->err,
				  sizeof(l->err));
	if (ret)
		return l->error = ret;
	return 0;
}

static void report(struct lazy *l, uint64_t run_ms, uint64_t t0)
{
	struct kmig_ctx_stats st = { 0 };

	kmig_ctx_stats(l->vm.ctx_fd, &st);
	printf("kmig restore: lazy: %.1f MiB of guest memory from %s in %llu ms; ",
	       l->vm.mem_size / 1048576.0, l->so->file,
	       (unsigned long long)(kmig_now_ns() - t0) / 1000000);
	if (!l->so->resume_fill)
		printf("the guest %s after %llu ms; ",
		       l->so->resume ? "ran" : "was loaded",
		       (unsigned long long)run_ms);
	printf("%llu ranges, %llu served for faults, %llu prefetched; pages staged %llu, copied %llu; faults %llu, latency p50 %llu us, p99 %llu us\n",
	       (unsigned long long)lazy_total(l), (unsigned long long)l->by_fault,
	       (unsigned long long)l->prefetched,
	       (unsigned long long)l->pages_staged,
	       (unsigned long long)l->pages_copied,
	       (unsigned long long)st.faults,
	       (unsigned long long)mig_fault_percentile(&st, 50),
	       (unsigned long long)mig_fault_percentile(&st, 99));
}

static int save_ws(struct lazy *l)
{
	char path[4096];
	int ret;

	if (!l->so->record_ws)
		return 0;
	snprintf(path, sizeof(path), "%s.ws", l->so->file);
	ret = kmig_ws_write(path, &l->snap, &l->stamp, l->ws, l->nws, l->err,
			    sizeof(l->err));
	if (!ret)
		printf("kmig restore: the working set, %u pages, is in %s\n",
		       l->nws, path);
	return ret;
}

int restore_lazy(const struct snap_opts *so, char *err, size_t n)
{
	struct lazy *l = calloc(1, sizeof(*l));
	uint64_t t0 = kmig_now_ns(), run_ms = 0;
	int ret;

	if (!l)
		return snprintf(err, n, "out of memory"), -ENOMEM;
	l->so = so;
	l->fd = l->ffd = l->stop[0] = l->stop[1] = -1;
	l->vm.ctx_fd = -1;
	l->vm.vmm.fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	ret = begin(l, &run_ms, t0);
	if (ret) {
		/* Faults the threads started to serve end as well. */
		lazy_stop_threads(l);
		if (l->ffd >= 0)
			fail_faults(l);
	} else {
		ret = wait_filled(l);
	}
	if (!ret)
		ret = save_ws(l);
	if (!ret)
		report(l, run_ms, t0);
	snprintf(err, n, "%s", l->err);
	if (l->ffd >= 0)
		close(l->ffd);
	if (l->stop[0] >= 0) {
		close(l->stop[0]);
		close(l->stop[1]);
	}
	if (l->opened)
		kmig_snap_close(&l->snap);
	if (l->fd >= 0)
		close(l->fd);
	kmig_stage_unmap(&l->vm, l->stage);
	mig_vm_detach(&l->vm);
	free(l->state);
	free(l->in_ws);
	free(l->prefetch);
	free(l->ws);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
	return ret;
}
