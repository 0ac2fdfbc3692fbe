// SPDX-License-Identifier: GPL-2.0
/*
 * An incremental save merged in place into its base snapshot file
 * (snap.h, kmig_snap_writer_merge(); Documentation/file-format.rst,
 * "Incremental snapshots").
 *
 * In the order of the file's writes:
 *
 *   1. nothing, until the memory is known to have the file's slots;
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
