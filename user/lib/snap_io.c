// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot page engine (snap_io.h): N threads writing and reading a
 * snapshot's pages at their fixed offsets.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "crc32c.h"
#include "snap_io.h"
#include "util.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define RANGE		KMIG_SNAP_RANGE_PAGES
#define CHUNK_RANGES	16	/* 16 MiB of pages per unit of work */
#define MAX_CHUNK	1024	/* ranges: 1 GiB */
#define ZERO_GAP	16	/* fewer zero pages written inside a run */
#define CACHED_PAGES	256	/* buffered: gathered before a write */
#define SAME_GAP	4	/* direct merge: fewer same pages joined */

/* One run of the engine: what every thread shares. */
struct engine {
	int fd;				/* where the pages go */
	bool out;			/* writing */
	struct kmig_snap_slot *slots;
	unsigned int n;
	const struct kmig_snap_src *src;	/* writing */
	uint8_t *const *dst;			/* reading */
	const uint64_t *const *only;
	bool merge;			/* compare with the file first */
	bool decide;			/* bits only: no I/O */
	bool direct;			/* @fd is O_DIRECT */
	const struct kmig_snap_io *io;
	uint64_t chunk_pages;
	uint64_t flush_pages;		/* gathered before a write or read */
	uint64_t first[KMIG_SNAP_MAX_SLOTS + 1];	/* slot i's first chunk */
	atomic_uint_fast64_t next;	/* the next chunk to take */
	atomic_bool stop;		/* an error: take no more */
	atomic_bool bounced;
	atomic_uint_fast64_t read, written, punched;	/* bytes of pages */
	uint32_t zcrc;			/* of a page of zeroes */
	pthread_mutex_t lock;		/* the first error, below */
	int ret;
	char *err;
	size_t errlen;
};

/* One thread's own. */
struct worker {
	struct engine *e;
	pthread_t tid;
	bool bounce;			/* through @buf, not from the memory */
	uint8_t *buf;			/* chunk_pages pages, page aligned */
	uint8_t *rbuf;			/* a merge's read back, the same */
};

static bool bit(const uint64_t *bm, uint64_t p)
{
	return bm[p / 64] & (1ull << (p % 64));
}

static int failed(struct engine *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first error only; every thread stops at its next chunk. */
static int failed(struct engine *e, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&e->lock);
	if (!e->ret) {
		e->ret = ret;
		va_start(ap, fmt);
		vsnprintf(e->err, e->errlen, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&e->lock);
	atomic_store(&e->stop, true);
	return ret;
}

/*
 * Memory at @mem to or from the file at @off. Direct I/O from memory the
 * kernel cannot pin (EFAULT) goes through the thread's bounce buffer,
 * from then on.
 */
static int move(struct worker *w, uint8_t *mem, size_t len, uint64_t off)
{
	struct engine *e = w->e;
	int ret;

	if (!w->bounce) {
		ret = snap_file_io(e->fd, mem, len, off, e->out);
		if (ret != -EFAULT || e->io->data_fd < 0)
			return ret;
		w->bounce = true;
	}
	if (!w->buf) {
		w->buf = aligned_alloc(PAGE, e->chunk_pages * PAGE);
		if (!w->buf)
			return -ENOMEM;
	}
	atomic_store(&e->bounced, true);
	if (e->out)
		memcpy(w->buf, mem, len);
	ret = snap_file_io(e->fd, w->buf, len, off, e->out);
	if (!ret && !e->out)
		memcpy(mem, w->buf, len);
	return ret;
}

static int run_io(struct worker *w, const struct kmig_snap_slot *sl,
		  uint8_t *map, uint64_t first, uint64_t end)
{
	int ret;

	if (first == end || w->e->decide)
		return 0;
	ret = move(w, map + first * PAGE, (end - first) * PAGE,
		   sl->pages_off + first * PAGE);
	if (!ret)
		atomic_fetch_add(w->e->out ? &w->e->written : &w->e->read,
				 (end - first) * PAGE);
	if (ret)
		return failed(w->e, ret, "slot %u: cannot %s pages %llu..%llu: %s",
			      sl->id, w->e->out ? "write" : "read",
			      (unsigned long long)first,
			      (unsigned long long)end - 1, strerror(-ret));
	return 0;
}

/*
 * Range @r's checksum as a reader sees it, from memory at @map. A page of
 * zeroes in the file (a short gap's) is summed as one that is not: the
 * same checksum, without reading it through the CRC.
 */
static uint32_t range_crc(const struct engine *e,
			  const struct kmig_snap_slot *sl, const uint8_t *map,
			  uint64_t r)
{
	uint64_t p, end = (r + 1) * RANGE;
	const uint8_t *page;
	uint32_t crc = 0;

	if (end > sl->npages)
		end = sl->npages;
	for (p = r * RANGE; p < end; p++) {
		page = map + p * PAGE;
		crc = bit(sl->bitmap, p) && !kmig_page_is_zero(page) ?
		      kmig_crc32c(crc, page, PAGE) :
		      kmig_crc32c_combine(crc, e->zcrc, PAGE);
	}
	return crc;
}

/* Whether @only marks a page of [@first, @end) (whole words). */
static bool any_marked(const uint64_t *only, uint64_t first, uint64_t end)
{
	uint64_t wd;

	if (!only)
		return true;
	for (wd = first / 64; wd < (end + 63) / 64; wd++)
		if (only[wd])
			return true;
	return false;
}

/*
 * The pages a thread has to write, gathered while they are consecutive:
 * [first, end) goes out with one pwrite when the next page to write is
 * not @end, when the writer flushes it, and at the end of the chunk.
 * With @bridge, a page to write fewer than ZERO_GAP pages after @end
 * joins them when the pages between are zero (with memory), known from
 * @end to @zero_end: written as zeroes, their bits clear (the bytes of
 * such a page are not part of the format). That keeps a direct I/O
 * whole across a short gap that the file's rule leaves out, one at a
 * range's boundary. A page whose bit was set is written only if @only
 * (bit p - @only_base, or NULL: every page) marks it. With @join (a
 * direct merge), a page to write fewer than SAME_GAP pages after @end
 * joins them when the pages between are in the file and the same there
 * as in memory (compared), known from @end to @same_end: written again,
 * the same bytes, so that scattered changes go out in fewer writes.
 */
struct gather {
	struct kmig_snap_slot *sl;
	uint8_t *map;
	uint64_t first, end;
	uint64_t zero_end;
	uint64_t same_end;
	bool bridge, join;
	const uint64_t *only;
	uint64_t only_base;
};

static int flush(struct worker *w, struct gather *g)
{
	int ret = run_io(w, g->sl, g->map, g->first, g->end);

	g->first = g->end;
	return ret;
}

/* Page @p to write, with the pages gathered if it follows them. */
static int gather(struct worker *w, struct gather *g, uint64_t p)
{
	if (g->bridge && g->end > g->first && g->zero_end == p &&
	    p - g->end < ZERO_GAP)
		g->end = p;
	if (g->join && g->end > g->first && g->same_end == p &&
	    p - g->end < SAME_GAP)
		g->end = p;
	if (p != g->end) {
		if (flush(w, g))
			return -1;
		g->first = p;
	}
	g->end = p + 1;
	g->zero_end = p + 1;
	g->same_end = p + 1;
	return 0;
}

/*
 * Page @p's bit set, and the page gathered unless the file holds it
 * already: it is not marked in g->only (not written to since, or the
 * same in the file) and its bit was set.
 */
static int put_page(struct worker *w, struct gather *g, uint64_t p)
{
	uint64_t *word = &g->sl->bitmap[p / 64];
	bool had = *word & (1ull << (p % 64));

	*word |= 1ull << (p % 64);
	if (g->only && !bit(g->only, p - g->only_base) && had) {
		if (g->same_end == p)
			g->same_end = p + 1;
		return 0;
	}
	return gather(w, g, p);
}

static void clear_pages(struct kmig_snap_slot *sl, uint64_t first,
			uint64_t end)
{
	for (; first < end; first++)
		sl->bitmap[first / 64] &= ~(1ull << (first % 64));
}

/*
 * Range [@first, @end) of a slot to the file, its bits and checksum
 * computed from memory in the same pass (each page read while it is in
 * the cache): a page with memory that is not zero is in the file; so is
 * a gap of fewer than ZERO_GAP zero pages between two of those in the
 * range, written inside their run rather than breaking it in two
 * (file-format.rst); any other page is not. A page is written unless
 * the file holds it already (put_page()).
 */
static int write_range(struct worker *w, struct gather *g,
		       const struct kmig_snap_src *src, uint64_t first,
		       uint64_t end, uint32_t *sum)
{
	uint32_t crc = 0, zcrc = w->e->zcrc;
	uint64_t p, q, zeros = first;	/* [zeros, p): zero, undecided */
	bool after = false;		/* they follow a page not zero */
	const uint8_t *page;

	for (p = first; p < end; p++) {
		page = src->map + p * PAGE;
		if (src->present && !bit(src->present, p)) {
			/* A page without memory is not read: that gives it some. */
			clear_pages(g->sl, zeros, p + 1);
			crc = kmig_crc32c_combine(crc, zcrc, PAGE);
			zeros = p + 1;
			after = false;
			continue;
		}
		if (kmig_page_is_zero(page)) {
			crc = kmig_crc32c_combine(crc, zcrc, PAGE);
			if (g->zero_end == p)
				g->zero_end = p + 1;
			continue;
		}
		if (!w->e->decide)	/* it needs only the bits */
			crc = kmig_crc32c(crc, page, PAGE);
		if (after && p - zeros < ZERO_GAP) {
			for (q = zeros; q < p; q++)
				if (put_page(w, g, q))
					return -1;
		} else {
			clear_pages(g->sl, zeros, p);
		}
		if (put_page(w, g, p))
			return -1;
		zeros = p + 1;
		after = true;
	}
	clear_pages(g->sl, zeros, end);
	*sum = crc;
	return 0;
}

/* Page @p is in the file and has memory to compare it with. */
static bool held(const struct kmig_snap_slot *sl,
		 const struct kmig_snap_src *src, uint64_t p)
{
	return bit(sl->bitmap, p) && (!src->present || bit(src->present, p));
}

/*
 * A merge (kmig save --incremental): the pages of [@first, @end) that
 * the file holds and that have memory, read back into the thread's
 * read buffer, page p at p - @base.
 */
static int read_back(struct worker *w, const struct kmig_snap_slot *sl,
		     const struct kmig_snap_src *src, uint64_t first,
		     uint64_t end, uint64_t base)
{
	struct engine *e = w->e;
	uint64_t p, run;
	int ret;

	if (!w->rbuf)
		w->rbuf = aligned_alloc(PAGE, e->chunk_pages * PAGE);
	if (!w->rbuf)
		return failed(e, -ENOMEM, "out of memory");
	for (p = first; p < end; p = run) {
		for (; p < end && !held(sl, src, p); p++)
			;
		for (run = p; run < end && held(sl, src, run); run++)
			;
		if (p == run)
			continue;
		ret = snap_file_io(e->fd, w->rbuf + (p - base) * PAGE,
				   (run - p) * PAGE, sl->pages_off + p * PAGE,
				   false);
		if (ret)
			return failed(e, ret, "slot %u: cannot read pages %llu..%llu back: %s",
				      sl->id, (unsigned long long)p,
				      (unsigned long long)run - 1,
				      strerror(-ret));
		atomic_fetch_add(&e->read, (run - p) * PAGE);
	}
	return 0;
}

/*
 * Which pages of range [@first, @end), read back by read_back() (page p
 * at p - @base), differ from memory, byte for byte: marked in @diff (bit
 * p - @first). The range's checksum alone could match a change.
 */
static void compare_range(struct worker *w, const struct kmig_snap_slot *sl,
			  const struct kmig_snap_src *src, uint64_t first,
			  uint64_t end, uint64_t base, uint64_t *diff)
{
	uint64_t p;

	memset(diff, 0, RANGE / 8);
	for (p = first; p < end; p++)
		if (held(sl, src, p) &&
		    memcmp(w->rbuf + (p - base) * PAGE, src->map + p * PAGE,
			   PAGE))
			diff[(p - first) / 64] |= 1ull << ((p - first) % 64);
}

/* Page @p was in the file (bit p - @first of @old) and is not now. */
static bool gone(const struct kmig_snap_slot *sl, const uint64_t *old,
		 uint64_t first, uint64_t p)
{
	return bit(old, p - first) && !bit(sl->bitmap, p);
}

/*
 * The pages of [@first, @end) that left the file (their bit set in @old,
 * bit p - @first, and clear now) punched out of it, where the file
 * system can; where it cannot, their bytes stay, outside the format.
 */
static int punch(struct worker *w, const struct kmig_snap_slot *sl,
		 const uint64_t *old, uint64_t first, uint64_t end)
{
	struct engine *e = w->e;
	uint64_t p, run;

	for (p = first; p < end; p = run) {
		for (; p < end && !gone(sl, old, first, p); p++)
			;
		for (run = p; run < end && gone(sl, old, first, run); run++)
			;
		if (p == run)
			continue;
		if (fallocate(e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      sl->pages_off + p * PAGE, (run - p) * PAGE)) {
			if (errno == EOPNOTSUPP || errno == ENOSYS)
				return 0;
			return failed(e, -errno, "slot %u: cannot punch pages %llu..%llu out: %s",
				      sl->id, (unsigned long long)p,
				      (unsigned long long)run - 1,
				      strerror(errno));
		}
		atomic_fetch_add(&e->punched, (run - p) * PAGE);
	}
	return 0;
}

/*
 * Pages [@first, @end) of slot @i to the file, range by range: every
 * range holding a page marked in @only (every range without it); for a
 * merge, each range's pages compared with the file's first and only
 * those that differ written. The pages gathered go out once they are
 * flush_pages or more, at the end of a range: in the buffered case,
 * while the copy still finds them in the cache.
 */
static int write_chunk(struct worker *w, unsigned int i, uint64_t first,
		       uint64_t end)
{
	struct engine *e = w->e;
	struct kmig_snap_slot *sl = &e->slots[i];
	const uint64_t *only = e->only ? e->only[i] : NULL;
	struct gather g = {
		.sl = sl, .map = (uint8_t *)e->src[i].map,
		.first = first, .end = first, .zero_end = first,
		.same_end = first,
		.bridge = !e->merge && e->flush_pages == e->chunk_pages,
		.join = e->merge && e->direct,
		.only = only,
	};
	uint64_t r, rend, diff[RANGE / 64], old[RANGE / 64], part = first;

	for (r = first; r < end; r = rend) {
		rend = r + RANGE < end ? r + RANGE : end;
		if (!any_marked(only, r, rend))
			continue;
		if (e->merge) {
			/* Read back as a read_chunk() reads: flush_pages or more. */
			if (r >= part) {
				part = r + (e->flush_pages + RANGE - 1) /
				       RANGE * RANGE;
				part = part < end ? part : end;
				if (read_back(w, sl, &e->src[i], r, part,
					      first))
					return -1;
			}
			compare_range(w, sl, &e->src[i], r, rend, first, diff);
		} else if (e->decide) {
			memset(diff, 0, sizeof(diff));	/* as if none differed */
		}
		if (e->merge || e->decide) {
			g.only = diff;
			g.only_base = r;
		}
		memcpy(old, &sl->bitmap[r / 64], (rend - r + 63) / 64 * 8);
		if (write_range(w, &g, &e->src[i], r, rend,
				&sl->sums[r / RANGE]) ||
		    (!e->decide && punch(w, sl, old, r, rend)))
			return -1;
		if (g.end - g.first >= e->flush_pages && flush(w, &g))
			return -1;
	}
	return flush(w, &g);
}

/* Each run of set pages of [@first, @end) from the file. */
static int read_runs(struct worker *w, const struct kmig_snap_slot *sl,
		     uint8_t *map, uint64_t first, uint64_t end)
{
	uint64_t p, run;

	for (p = first; p < end; p = run) {
		for (; p < end && !bit(sl->bitmap, p); p++)
			;
		for (run = p; run < end && bit(sl->bitmap, run); run++)
			;
		if (run_io(w, sl, map, p, run))
			return -1;
	}
	return 0;
}

/*
 * Pages [@first, @end) of slot @i from the file, flush_pages or more at
 * a time (whole ranges), each range checked right after it is read.
 */
static int read_chunk(struct worker *w, unsigned int i, uint64_t first,
		      uint64_t end)
{
	struct engine *e = w->e;
	const struct kmig_snap_slot *sl = &e->slots[i];
	uint8_t *map = e->dst[i];
	uint64_t part, pend, r, last;
	uint32_t crc;

	for (part = first; part < end; part = pend) {
		pend = part + (e->flush_pages + RANGE - 1) / RANGE * RANGE;
		if (pend > end)
			pend = end;
		if (read_runs(w, sl, map, part, pend))
			return -1;
		for (r = part / RANGE; r < (pend + RANGE - 1) / RANGE; r++) {
			crc = range_crc(e, sl, map, r);
			if (crc == sl->sums[r])
				continue;
			last = (r + 1) * RANGE < sl->npages ?
			       (r + 1) * RANGE : sl->npages;
			return failed(e, -EBADMSG,
				      "slot %u pages %llu..%llu: checksum mismatch (stored 0x%08x, computed 0x%08x)",
				      sl->id, (unsigned long long)r * RANGE,
				      (unsigned long long)last - 1, sl->sums[r],
				      crc);
		}
	}
	return 0;
}

/* Take chunks in file order until there are none or one failed. */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	uint64_t c, first, end;
	unsigned int i;

	while (!atomic_load(&e->stop)) {
		c = atomic_fetch_add(&e->next, 1);
		if (c >= e->first[e->n])
			break;
		for (i = 0; c >= e->first[i + 1]; i++)
			;
		first = (c - e->first[i]) * e->chunk_pages;
		end = first + e->chunk_pages;
		if (end > e->slots[i].npages)
			end = e->slots[i].npages;
		if (!any_marked(e->only ? e->only[i] : NULL, first, end))
			continue;
		if (e->out ? write_chunk(w, i, first, end) :
			     read_chunk(w, i, first, end))
			break;
	}
	return NULL;
}

static int check_io(const struct kmig_snap_io *io, char *err, size_t n)
{
	if (!io->threads || io->threads > KMIG_SNAP_MAX_THREADS) {
		snprintf(err, n, "%u threads (1..%u)", io->threads,
			 KMIG_SNAP_MAX_THREADS);
		return -EINVAL;
	}
	if (io->chunk_ranges > MAX_CHUNK) {
		snprintf(err, n, "%u ranges per chunk (%u at most)",
			 io->chunk_ranges, MAX_CHUNK);
		return -EINVAL;
	}
	return 0;
}

/*
 * Pages per I/O. Direct I/O goes to the disk as issued: the larger the
 * better. A buffered one is a copy, fastest while its source is in the
 * cache; so is a direct read from tmpfs (a copy from the page cache
 * whatever the flag), whose range checks then read the pages from the
 * cache too (benchmarks.rst).
 */
static uint64_t io_pages(struct engine *e)
{
	int flags = fcntl(e->fd, F_GETFL);
	struct statfs fs;

	e->direct = flags >= 0 && (flags & O_DIRECT);
	if (!e->direct)
		return CACHED_PAGES;
	if (!e->out && !fstatfs(e->fd, &fs) && fs.f_type == TMPFS_MAGIC)
		return CACHED_PAGES;
	return e->chunk_pages;
}

/* Run @e on io->threads threads, this one among them. */
static int engine_run(struct engine *e, struct kmig_snap_io *io, int fd)
{
	struct worker w[KMIG_SNAP_MAX_THREADS] = { 0 };
	unsigned int t, started = 1;
	int ret;

	ret = check_io(io, e->err, e->errlen);
	if (ret)
		return ret;
	e->io = io;
	e->fd = io->data_fd >= 0 ? io->data_fd : fd;
	e->chunk_pages = (uint64_t)(io->chunk_ranges ? io->chunk_ranges :
				    CHUNK_RANGES) * RANGE;
	e->flush_pages = io_pages(e);
	e->zcrc = kmig_snap_zero_crc();
	for (t = 0; t < e->n; t++)
		e->first[t + 1] = e->first[t] +
			(e->slots[t].npages + e->chunk_pages - 1) /
			e->chunk_pages;
	pthread_mutex_init(&e->lock, NULL);
	for (t = 0; t < io->threads; t++) {
		w[t].e = e;
		w[t].bounce = io->bounce;
	}
	/* Fewer threads than asked, if the system has no more to give. */
	for (t = 1; t < io->threads; t++, started++)
		if (pthread_create(&w[t].tid, NULL, work, &w[t]))
			break;
	work(&w[0]);
	for (t = 1; t < started; t++)
		pthread_join(w[t].tid, NULL);
	for (t = 0; t < io->threads; t++) {
		free(w[t].buf);
		free(w[t].rbuf);
	}
	pthread_mutex_destroy(&e->lock);
	io->bounced |= atomic_load(&e->bounced);
	io->read_bytes += atomic_load(&e->read);
	io->written_bytes += atomic_load(&e->written);
	io->punched_bytes += atomic_load(&e->punched);
	return e->ret;
}

int snap_io_write(int fd, struct kmig_snap_slot *slots, unsigned int n,
		  const struct kmig_snap_src *src, const uint64_t *const *only,
		  struct kmig_snap_io *io, char *err, size_t errlen)
{
	struct engine e = {
		.out = true, .slots = slots, .n = n, .src = src, .only = only,
		.err = err, .errlen = errlen,
	};

	return engine_run(&e, io, fd);
}

int snap_io_merge(int fd, struct kmig_snap_slot *slots, unsigned int n,
		  const struct kmig_snap_src *src, struct kmig_snap_io *io,
		  char *err, size_t errlen)
{
	struct engine e = {
		.out = true, .merge = true, .slots = slots, .n = n, .src = src,
		.err = err, .errlen = errlen,
	};

	return engine_run(&e, io, fd);
}

int snap_io_decide(int fd, struct kmig_snap_slot *slots, unsigned int n,
		   const struct kmig_snap_src *src, struct kmig_snap_io *io,
		   char *err, size_t errlen)
{
	struct engine e = {
		.out = true, .decide = true, .slots = slots, .n = n,
		.src = src, .err = err, .errlen = errlen,
	};

	return engine_run(&e, io, fd);
}

int snap_io_read(int fd, const struct kmig_snap_slot *slots, unsigned int n,
		 uint8_t *const *dst, struct kmig_snap_io *io, char *err,
		 size_t errlen)
{
	struct engine e = {
		.slots = (struct kmig_snap_slot *)slots, .n = n, .dst = dst,
		.err = err, .errlen = errlen,
	};

	return engine_run(&e, io, fd);
}

int kmig_snap_read_io(int fd, const struct kmig_snap *s, uint8_t *const *dst,
		      struct kmig_snap_io *io, char *err, size_t errlen)
{
	return snap_io_read(fd, s->slot, s->nslots, dst, io, err, errlen);
}
