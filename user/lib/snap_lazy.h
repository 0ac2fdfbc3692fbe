/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a lazy restore reads of a snapshot file (snap.h,
 * Documentation/file-format.rst) besides its metadata: one range of
 * pages at a time, checked against its checksum; a stamp of the file
 * to tell, at the end, whether it changed underneath; and the working
 * set beside it (FILE.ws), the pages a lazy restore's guest faulted
 * first, for the next one to read first.
 */
#ifndef KMIG_SNAP_LAZY_H
#define KMIG_SNAP_LAZY_H

#include "snap.h"

/* Bytes of one range of pages: what kmig_snap_read_range() needs. */
#define KMIG_SNAP_RANGE_BYTES	(KMIG_SNAP_RANGE_PAGES * KMIG_SNAP_PAGE_SIZE)

/* Ranges of pages (checksums) of slot @sl. */
uint64_t kmig_snap_nranges(const struct kmig_snap_slot *sl);
/*
 * The pages of range @r of slot @i that the file has, in order, into
 * @pages (KMIG_SNAP_RANGE_PAGES): how many.
 */
unsigned int kmig_snap_range_pages(const struct kmig_snap *s, unsigned int i,
				   uint64_t r, uint64_t *pages);
/*
 * Those @n pages of range @r of slot @i (@pages, as
 * kmig_snap_range_pages() gave them), page @pages[k] read to @dst[k],
 * and checked against the range's checksum: one read for each run of
 * pages next to each other both in the file and at @dst. 0, or -errno
 * with @err naming the slot and the pages (-EBADMSG: the checksum).
 */
int kmig_snap_read_pages(int fd, const struct kmig_snap *s, unsigned int i,
			 uint64_t r, const uint64_t *pages, unsigned int n,
			 uint8_t *const *dst, char *err, size_t errlen);
/*
 * Range @r of slot @i: the pages the file has, read and checked against
 * the range's checksum, packed in page order into @buf
 * (KMIG_SNAP_RANGE_BYTES), their numbers in @pages, *@n of them. 0, or
 * -errno with @err naming the slot and the range (-EBADMSG: checksum).
 */
int kmig_snap_read_range(int fd, const struct kmig_snap *s, unsigned int i,
			 uint64_t r, uint8_t *buf, uint64_t *pages,
			 unsigned int *n, char *err, size_t errlen);

/* What a reader can check again later of a file it opened. */
struct kmig_snap_stamp {
	uint64_t size;
	int64_t mtime_ns;
	uint32_t header_crc;		/* the header block's own CRC */
	uint8_t trailer[KMIG_SNAP_TRAILER_SIZE];
};

int kmig_snap_stamp(int fd, const struct kmig_snap *s,
		    struct kmig_snap_stamp *st, char *err, size_t errlen);
/* 0 if @fd is as @st saw it, -ESTALE (and why in @err) if not. */
int kmig_snap_unchanged(int fd, const struct kmig_snap *s,
			const struct kmig_snap_stamp *st, char *err,
			size_t errlen);

/* One page of a working set. */
struct kmig_ws_entry {
	uint32_t slot;			/* slot id */
	uint64_t page;
};

/*
 * Write @n entries (at most KMIG_SNAP_WS_MAX) as @path, the working set
 * of the snapshot @st stamped: to @path.tmp, synced, then renamed, so
 * @path is the old set or the new one, never half of one.
 */
int kmig_ws_write(const char *path, const struct kmig_snap *s,
		  const struct kmig_snap_stamp *st,
		  const struct kmig_ws_entry *e, unsigned int n, char *err,
		  size_t errlen);
/*
 * Read @path, the working set of the snapshot @s stamped @st, into *@e
 * (to free) and *@n: 0; -ENOENT when there is none; -EPROTO, -EBADMSG or
 * -ESTALE (of another snapshot) with @err saying why.
 */
int kmig_ws_read(const char *path, const struct kmig_snap *s,
		 const struct kmig_snap_stamp *st, struct kmig_ws_entry **e,
		 unsigned int *n, char *err, size_t errlen);

#endif /* KMIG_SNAP_LAZY_H */
