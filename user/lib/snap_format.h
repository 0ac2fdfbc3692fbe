/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig snapshot file: every constant of the format, in one place.
 * Documentation/file-format.rst describes the same layout byte by byte,
 * and a host test checks that each name below appears there with its
 * value. All integers are little-endian.
 *
 *   header   block at 0: magic, version, page size, slot table, where the
 *            state and the trailer are; its own CRC in its last 4 bytes
 *   per slot a bitmap of the pages written, one CRC per range of pages,
 *            and the pages, page n at pages offset + n * page size
 *   state    vCPU and device state, a kmig stream (stream-format.rst)
 *   trailer  last: commits the file, with a CRC of all metadata; while
 *            an incremental save merges into the file, the merge marker
 *            stands in its place
 *
 * Beside it, FILE.ws: the working set a lazy restore recorded (the pages
 * its guest faulted first, in order), bound to the snapshot by its
 * creation time and header CRC, with a CRC of its own.
 */
#ifndef KMIG_SNAP_FORMAT_H
#define KMIG_SNAP_FORMAT_H

#define KMIG_SNAP_MAGIC			0x50414e5347494d4bull	/* "KMIGSNAP" */
#define KMIG_SNAP_VERSION		1
#define KMIG_SNAP_HEADER_SIZE		4096
#define KMIG_SNAP_PAGE_SIZE		4096
#define KMIG_SNAP_SLOTS_AT		128	/* the slot table, in the header */
#define KMIG_SNAP_SLOT_SIZE		48	/* one slot's entry */
#define KMIG_SNAP_MAX_SLOTS		64
#define KMIG_SNAP_RANGE_PAGES		256	/* pages per checksum */
#define KMIG_SNAP_PAGES_ALIGN		0x100000	/* pages offsets: 1 MiB */
#define KMIG_SNAP_MAX_STATE		0x4000000	/* 64 MiB of state */
#define KMIG_SNAP_MAX_SLOT_SIZE		0x40000000000ull	/* 4 TiB */
#define KMIG_SNAP_TRAILER_MAGIC		0x454e4f4447494d4bull	/* "KMIGDONE" */
#define KMIG_SNAP_TRAILER_SIZE		32
#define KMIG_SNAP_MERGE_MAGIC		0x4752454d47494d4bull	/* "KMIGMERG" */
#define KMIG_SNAP_WS_MAGIC		0x5445535747494d4bull	/* "KMIGWSET" */
#define KMIG_SNAP_WS_VERSION		1
#define KMIG_SNAP_WS_HEADER_SIZE	32
#define KMIG_SNAP_WS_ENTRY_SIZE		16	/* slot id, 0, page */
#define KMIG_SNAP_WS_MAX		0x100000	/* entries */

/* Every constant above, for the documentation's test: X(name). */
#define KMIG_SNAP_CONSTS(X)						\
	X(KMIG_SNAP_MAGIC) X(KMIG_SNAP_VERSION) X(KMIG_SNAP_HEADER_SIZE) \
	X(KMIG_SNAP_PAGE_SIZE) X(KMIG_SNAP_SLOTS_AT)			\
	X(KMIG_SNAP_SLOT_SIZE) X(KMIG_SNAP_MAX_SLOTS)			\
	X(KMIG_SNAP_RANGE_PAGES) X(KMIG_SNAP_PAGES_ALIGN)		\
	X(KMIG_SNAP_MAX_STATE) X(KMIG_SNAP_MAX_SLOT_SIZE)		\
	X(KMIG_SNAP_TRAILER_MAGIC) X(KMIG_SNAP_TRAILER_SIZE)		\
	X(KMIG_SNAP_MERGE_MAGIC)					\
	X(KMIG_SNAP_WS_MAGIC) X(KMIG_SNAP_WS_VERSION)			\
	X(KMIG_SNAP_WS_HEADER_SIZE) X(KMIG_SNAP_WS_ENTRY_SIZE)		\
	X(KMIG_SNAP_WS_MAX)

#endif /* KMIG_SNAP_FORMAT_H */
