/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the snapshot library (snap.c, snap_io.c): the page engine that
 * moves a snapshot's pages between memory and the file with N threads.
 *
 * The work is cut into chunks of whole checksum ranges (a chunk never
 * splits a range nor a bitmap word), handed out to the threads in file
 * order from one counter. A thread writes or reads each run of set
 * pages of its chunk with one pwrite/pread (a buffered one cut at 1 MiB
 * so that the copy finds the pages in the cache), and computes the
 * checksums of its ranges itself, a write's in the pass that finds the
 * zero pages, a read's right after the read. The first error stops every thread and is the
 * one reported, naming the slot, the pages and the errno.
 */
#ifndef KMIG_SNAP_IO_H
#define KMIG_SNAP_IO_H

#include "snap.h"

/*
 * @len bytes at @off, written (@out) or read whole: 0, -errno, -EIO for
 * a write that made no progress, or -ENODATA when the file ends first.
 */
int snap_file_io(int fd, void *buf, size_t len, uint64_t off, bool out);

/* A writer for @fd, @src and @io, with nothing else yet. */
void snap_writer_init(struct kmig_snap_writer *w, int fd,
		      const struct kmig_snap_src *src, struct kmig_snap_io *io);
/* @s's creation time (now) and its @creator. */
void snap_stamp(struct kmig_snap *s, const char *creator);

/*
 * Write the pages of @n slots from @src to the file (@io->data_fd, or
 * @fd), setting the slots' bitmaps and checksums. With @only (one bitmap
 * per slot, or NULL: every page) only the ranges holding a page marked
 * there are touched: each page's bit decided again from memory as a
 * full write decides it, the marked pages in the file and the pages new
 * in it written, and the range's checksum computed again.
 * 0, or -errno with the message in @err.
 */
int snap_io_write(int fd, struct kmig_snap_slot *slots, unsigned int n,
		  const struct kmig_snap_src *src, const uint64_t *const *only,
		  struct kmig_snap_io *io, char *err, size_t errlen);

/*
 * A merge into a file of the same slots (kmig save --incremental): every
 * range of @src decided again from memory as snap_io_write() decides
 * it, the pages the file holds read back and compared byte for byte,
 * and only the pages that differ, or are new in the file, written; the
 * pages that left it punched out. The slots' bitmaps and checksums are
 * the file's on entry and the memory's on return.
 */
int snap_io_merge(int fd, struct kmig_snap_slot *slots, unsigned int n,
		  const struct kmig_snap_src *src, struct kmig_snap_io *io,
		  char *err, size_t errlen);

/*
 * The bits of @n slots decided from @src as snap_io_merge() decides
 * them, with nothing read nor written: a merge's pages new in the file
 * are those whose bit it sets. The slots' checksums are left undefined
 * (not computed).
 */
int snap_io_decide(int fd, struct kmig_snap_slot *slots, unsigned int n,
		   const struct kmig_snap_src *src, struct kmig_snap_io *io,
		   char *err, size_t errlen);
/* Pages of @n slots into @dst, each range checked, as kmig_snap_read_io(). */
int snap_io_read(int fd, const struct kmig_snap_slot *slots, unsigned int n,
		 uint8_t *const *dst, struct kmig_snap_io *io, char *err,
		 size_t errlen);

#endif /* KMIG_SNAP_IO_H */
