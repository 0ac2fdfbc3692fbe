// SPDX-License-Identifier: GPL-2.0
/*
 * An incremental save merged in place into its base snapshot file
 * (snap.h, kmig_snap_writer_merge(); Documentation/file-format.rst,
 * "Incremental snapshots").
 *
 * In the order of the file's writes:
 *
 *   1. nothing, until the memory is known to have the file's slots;
 *      then the blocks of the pages new in the file reserved
 *      (fallocate), and if they cannot be, the merge refused with the
 *      file as it was (reserve());
 *   2. the trailer replaced by the merge marker, and fdatasync: from
 *      here until the new trailer the file is torn, and refused;
 *   3. the pages: each range decided again from memory, the pages the
 *      file holds compared with it byte for byte, only those that differ
 *      and those new in the file written, those gone punched out
 *      (snap_io_merge());
 *   4. then, at finish (snap.c), the state, the bitmaps, the checksums
 *      and the header, the file cut to its new length, fdatasync, and
 *      the trailer last (with --durable, fdatasync again).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "le.h"
#include "snap.h"
#include "snap_io.h"
#include "util.h"

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* @src has @s's slots, one for one: 0, or -EINVAL and why in @err. */
static int same_slots(const struct kmig_snap *s,
		      const struct kmig_snap_src *src, unsigned int n,
		      char *err, size_t errlen)
{
	const struct kmig_snap_slot *f;
	unsigned int i;

	if (n != s->nslots)
		return kmig_errf(err, errlen, -EINVAL,
				 "the file has %u slots, the guest %u: not the same VM layout",
				 s->nslots, n);
	for (i = 0; i < n; i++) {
		f = &s->slot[i];
		if (f->id != src[i].id || f->gpa != src[i].gpa ||
		    f->size != src[i].size)
			return kmig_errf(err, errlen, -EINVAL,
					 "the file's slot %u is %llu pages at 0x%llx, the guest's slot %u %llu pages at 0x%llx: not the same VM layout",
					 f->id, (unsigned long long)f->npages,
					 (unsigned long long)f->gpa, src[i].id,
					 (unsigned long long)src[i].size /
					 KMIG_SNAP_PAGE_SIZE,
					 (unsigned long long)src[i].gpa);
	}
	return 0;
}

/*
 * Where the state and the trailer go before finish knows the state's
 * length, as for a new file: the state in the gap between the metadata
 * and the first pages (if there is one), the trailer after the last
 * pages; finish moves the state after them if it does not fit.
 */
static void no_state(struct kmig_snap *s)
{
	uint64_t meta = KMIG_SNAP_HEADER_SIZE, first = UINT64_MAX, pages = 0;
	const struct kmig_snap_slot *sl;
	unsigned int i;

	for (i = 0; i < s->nslots; i++) {
		sl = &s->slot[i];
		meta = max64(meta, sl->bitmap_off +
			     kmig_bitmap_words(sl->npages) * 8);
		meta = max64(meta, sl->sums_off + (sl->npages +
			     KMIG_SNAP_RANGE_PAGES - 1) /
			     KMIG_SNAP_RANGE_PAGES * 4);
		pages = max64(pages, sl->pages_off + sl->size);
		if (sl->pages_off < first)
			first = sl->pages_off;
	}
	meta = (meta + 7) / 8 * 8;
	s->state_len = 0;
	s->state_off = meta <= first ? meta : max64(meta, pages);
	s->trailer_off = max64(s->state_off, pages);
}

/* The next run from *@p of pages set in @now and clear in @old: *@end. */
static bool next_new(const uint64_t *old, const uint64_t *now,
		     uint64_t npages, uint64_t *p, uint64_t *end)
{
	uint64_t q = *p;

#define NEW(x) ((now[(x) / 64] & ~old[(x) / 64]) & (1ull << ((x) % 64)))
	for (; q < npages && !NEW(q); q++)
		;
	for (*p = q; q < npages && NEW(q); q++)
		;
#undef NEW
	*end = q;
	return *p < q;
}

/*
 * fallocate() (@punch: punch out) the runs of pages new in the file, in
 * @now and not in the file's bitmaps, slot by slot: all of them, or
 * those before slot @stop's page @stop_page. 0, or -errno and where in
 * *@stop, *@stop_page.
 */
static int new_runs(int fd, const struct kmig_snap *s, uint64_t *const *now,
		    bool punch, unsigned int *stop, uint64_t *stop_page)
{
	int mode = FALLOC_FL_KEEP_SIZE |
		   (punch ? FALLOC_FL_PUNCH_HOLE : 0);
	const struct kmig_snap_slot *sl;
	uint64_t p, end;
	unsigned int i;

	for (i = 0; i < s->nslots && i <= *stop; i++) {
		sl = &s->slot[i];
		for (p = 0; next_new(sl->bitmap, now[i], sl->npages, &p, &end);
		     p = end) {
			if (i == *stop && p >= *stop_page)
				return 0;
			if (fallocate(fd, mode, sl->pages_off + p * KMIG_SNAP_PAGE_SIZE,
				      (end - p) * KMIG_SNAP_PAGE_SIZE)) {
				*stop = i;
				*stop_page = end;
				return -errno;
			}
		}
	}
	return 0;
}

/*
 * Room for the merge, while the file is still the base snapshot: the
 * pages new in the file (their bit clear in it, set by the rule now)
 * decided from memory, and their blocks allocated. If the file system
 * cannot (ENOSPC, EDQUOT, ...), what was allocated is punched out again
 * and the merge refused: the file is as it was. Where it has no
 * fallocate(), the merge goes on as it would without. The pages that
 * leave the file are not counted against those that enter it: they are
 * punched out only as the merge reaches them.
 */
static int reserve(int fd, const struct kmig_snap *s,
		   const struct kmig_snap_src *src, struct kmig_snap_io *io,
		   char *err, size_t errlen)
{
	struct kmig_snap_slot sl[KMIG_SNAP_MAX_SLOTS];
	uint64_t *now[KMIG_SNAP_MAX_SLOTS] = { 0 }, bytes = 0, p, end;
	unsigned int i, stop = UINT_MAX;
	uint64_t stop_page = 0;
	int ret = 0;

	memcpy(sl, s->slot, s->nslots * sizeof(sl[0]));
	for (i = 0; i < s->nslots; i++) {
		now[i] = malloc(kmig_bitmap_words(sl[i].npages) * 8);
		sl[i].sums = malloc((sl[i].npages + KMIG_SNAP_RANGE_PAGES - 1) /
				    KMIG_SNAP_RANGE_PAGES * 4);
		if (!now[i] || !sl[i].sums) {
			free(sl[i].sums);
			ret = kmig_errf(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		memcpy(now[i], s->slot[i].bitmap,
		       kmig_bitmap_words(sl[i].npages) * 8);
		sl[i].bitmap = now[i];
	}
	ret = snap_io_decide(fd, sl, s->nslots, src, io, err, errlen);
	for (i = 0; i < s->nslots; i++)
		free(sl[i].sums);
	if (ret)
		goto out;
	for (i = 0; i < s->nslots; i++)
		for (p = 0; next_new(s->slot[i].bitmap, now[i], sl[i].npages,
				     &p, &end); p = end)
			bytes += (end - p) * KMIG_SNAP_PAGE_SIZE;
	ret = new_runs(fd, s, now, false, &stop, &stop_page);
	if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
		ret = 0;	/* no reservation: the merge goes on as before */
	} else if (ret) {
		new_runs(fd, s, now, true, &stop, &stop_page);
		ret = kmig_errf(err, errlen, ret,
				"%s to merge %.1f MiB of pages new in the file (fallocate: %s)",
				ret == -ENOSPC || ret == -EDQUOT ?
				"not enough space on the file system" :
				"cannot reserve the space",
				bytes / 1048576.0, strerror(-ret));
	}
out:
	for (i = 0; i < s->nslots; i++)
		free(now[i]);
	return ret;
}

/* The trailer replaced by the merge marker, on stable storage. */
static int unseal(int fd, const struct kmig_snap *s, char *err, size_t n)
{
	uint8_t t[KMIG_SNAP_TRAILER_SIZE] = { 0 };
	int ret;

	put_le64(t, KMIG_SNAP_MERGE_MAGIC);
	put_le64(t + 8, s->trailer_off);
	ret = kmig_snap_pwrite(fd, t, sizeof(t), s->trailer_off);
	if (!ret && fdatasync(fd))
		ret = -errno;
	if (ret)
		return kmig_errf(err, n, ret, "cannot write the merge marker: %s",
				 strerror(-ret));
	return 0;
}

int kmig_snap_writer_merge(struct kmig_snap_writer *w, int fd,
			   struct kmig_snap *base,
			   const struct kmig_snap_src *src, unsigned int n,
			   const char *creator, struct kmig_snap_io *io,
			   char *err, size_t errlen)
{
	int ret;

	snap_writer_init(w, fd, src, io);
	w->merge = true;
	ret = same_slots(base, src, n, err, errlen);
	if (ret)
		return ret;
	ret = reserve(fd, base, src, io, err, errlen);
	if (ret)
		return ret;
	w->s = *base;		/* its bitmaps and checksums are the writer's */
	memset(base, 0, sizeof(*base));
	free(w->s.state);	/* finish writes the caller's */
	w->s.state = NULL;
	w->unsealed = true;	/* even if the marker is half written */
	ret = unseal(fd, &w->s, err, errlen);
	if (ret)
		return ret;
	kmig_stop_at("merge-pages");	/* a test's crash before them */
	snap_stamp(&w->s, creator);
	no_state(&w->s);
	return snap_io_merge(fd, w->s.slot, n, src, io, err, errlen);
}
