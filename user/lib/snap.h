/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshot files (Documentation/file-format.rst): a guest's memory at
 * fixed offsets, a page's place in the file given by its number, zero
 * pages never written (the file is sparse), a checksum per range of
 * pages, its vCPU and device state, and a trailer written last that
 * commits the file. A file without its trailer is torn and refused.
 *
 * kmig_snap_open() checks everything but the pages before anything is
 * read into a guest; kmig_snap_read_slot() checks each range of pages
 * against its checksum as it reads it.
 */
#ifndef KMIG_SNAP_H
#define KMIG_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap_format.h"

/* What kmig_snap_write() saves of one slot. */
struct kmig_snap_src {
	uint32_t id;
	uint64_t gpa, size;		/* size: a multiple of the page size */
	const uint8_t *map;		/* its memory, read only */
	const uint64_t *present;	/* pages with memory, or NULL: all */
};

struct kmig_snap_slot {
	uint32_t id;
	uint64_t gpa, size, npages;
	uint64_t bitmap_off, sums_off, pages_off;
	uint64_t *bitmap;		/* bit n: page n is in the file */
	uint32_t *sums;			/* CRC32C of each range of pages */
};

struct kmig_snap {
	uint64_t created_ns;		/* CLOCK_REALTIME of the save */
	char creator[65];
	unsigned int nslots;
	struct kmig_snap_slot slot[KMIG_SNAP_MAX_SLOTS];
	uint64_t state_off, state_len;
	uint8_t *state;			/* the vCPU and device state stream */
	uint64_t trailer_off;
};

/* At most this many threads move a snapshot's pages. */
#define KMIG_SNAP_MAX_THREADS		64

/* How the pages move between memory and the file. */
struct kmig_snap_io {
	unsigned int threads;		/* 1..KMIG_SNAP_MAX_THREADS */
	int data_fd;			/* the pages through this fd (say, one
					 * opened O_DIRECT), or -1: the file's */
	bool bounce;			/* through an aligned buffer per thread */
	unsigned int chunk_ranges;	/* ranges per unit of work, 0: 16 */
	bool bounced;			/* out: some pages went through one
					 * (the memory refused direct I/O) */
	uint64_t read_bytes;		/* out: bytes of pages read, */
	uint64_t written_bytes;		/* written */
	uint64_t punched_bytes;		/* and punched out (holes) */
};

#define KMIG_SNAP_IO_INIT { .threads = 1, .data_fd = -1 }

/*
 * Write a snapshot of @n slots and @state (@state_len bytes) to @fd, a
 * new or empty file: every page not zero at its offset, then the
 * metadata, then (@durable: after fdatasync) the trailer, and with
 * @durable fdatasync again. 0, or -errno with a message in @err.
 */
int kmig_snap_write(int fd, const struct kmig_snap_src *src, unsigned int n,
		    const void *state, size_t state_len, const char *creator,
		    bool durable, char *err, size_t errlen);
/*
 * kmig_snap_write() with the pages moved as @io says: the same bytes in
 * the file whatever the number of threads.
 */
int kmig_snap_write_io(int fd, const struct kmig_snap_src *src,
		       unsigned int n, const void *state, size_t state_len,
		       const char *creator, bool durable,
		       struct kmig_snap_io *io, char *err, size_t errlen);
/*
 * A save in steps, for a guest that runs while its pages are written
 * (kmig save --live): begin writes every page as kmig_snap_write_io()
 * does; each update rewrites the pages marked in @dirty (one bitmap per
 * slot) at their offsets, clearing the bit of a page that is zero now
 * (its old bytes stay in the file, outside the format), and computes
 * again the checksum of every range holding one; finish, once the guest
 * is paused and a last update made, writes the state, the metadata and
 * the trailer. The bitmap and the checksums then describe the memory as
 * it was at the last update. @src (its present bitmaps too) must stay
 * valid, and current, until finish.
 */
struct kmig_snap_writer {
	struct kmig_snap s;
	int fd;
	const struct kmig_snap_src *src;
	struct kmig_snap_io *io;
	bool merge;			/* into an existing file */
	bool unsealed;			/* its trailer is gone: it is torn
					 * until finish commits it again */
};

int kmig_snap_writer_begin(struct kmig_snap_writer *w, int fd,
			   const struct kmig_snap_src *src, unsigned int n,
			   const char *creator, struct kmig_snap_io *io,
			   char *err, size_t errlen);
int kmig_snap_writer_update(struct kmig_snap_writer *w,
			    const uint64_t *const *dirty, char *err,
			    size_t errlen);
int kmig_snap_writer_finish(struct kmig_snap_writer *w, const void *state,
			    size_t state_len, bool durable, char *err,
			    size_t errlen);
void kmig_snap_writer_free(struct kmig_snap_writer *w);

/*
 * An incremental save (kmig save --incremental): begin for a writer that
 * merges the memory @src into @fd, the snapshot @base that
 * kmig_snap_open() accepted, in place. @src must have @base's slots (id,
 * address and size, in order): if not, -EINVAL, and the file is not
 * touched. Otherwise the writer takes @base's bitmaps and checksums
 * (@base is empty on return), replaces the trailer by the merge marker
 * and syncs it (from then on the file is torn, until finish commits it),
 * then compares every page the file holds with memory, byte for byte,
 * and writes only those that differ and those new in the file; the
 * pages that left the file are punched out. Update and finish as for a
 * new file; finish syncs before the trailer whatever @durable.
 */
int kmig_snap_writer_merge(struct kmig_snap_writer *w, int fd,
			   struct kmig_snap *base,
			   const struct kmig_snap_src *src, unsigned int n,
			   const char *creator, struct kmig_snap_io *io,
			   char *err, size_t errlen);

/* Read and check @fd's metadata into @s: 0, or -errno and @err. */
int kmig_snap_open(int fd, struct kmig_snap *s, char *err, size_t errlen);
void kmig_snap_close(struct kmig_snap *s);
/*
 * Slot @i's pages into @dst (slot size bytes): the pages in the file are
 * read there, the others are not touched (they must be zero already), and
 * each range is checked against its checksum once read. 0, or -errno
 * (-EBADMSG: a checksum; the range named in @err).
 */
int kmig_snap_read_slot(int fd, const struct kmig_snap *s, unsigned int i,
			uint8_t *dst, char *err, size_t errlen);

/*
 * Every slot's pages, slot i's into @dst[i], as kmig_snap_read_slot()
 * does but moved as @io says. 0, or the first error's -errno (-EBADMSG:
 * a checksum; the slot and the range named in @err).
 */
int kmig_snap_read_io(int fd, const struct kmig_snap *s, uint8_t *const *dst,
		      struct kmig_snap_io *io, char *err, size_t errlen);

/*
 * For snap_lazy.c: snap.c's positional read and write loops (0, -errno,
 * -ENODATA when the file ends first), a zero page's CRC.
 */
int kmig_snap_pread(int fd, void *buf, size_t len, uint64_t off);
int kmig_snap_pwrite(int fd, const void *buf, size_t len, uint64_t off);
uint32_t kmig_snap_zero_crc(void);

#endif /* KMIG_SNAP_H */
