/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page sums: the checksum of each page in a RAM_PAGES record
 * (Documentation/stream-format.rst, "Page sums"). CRC32C by default; with
 * the capability KMIG_SCAP_PAGE_XXH64 the low 32 bits of the page's
 * XXH64 (seed 0), which needs no CRC instruction or carry-less multiply
 * to be fast: on a CPU without them, or under an emulator, it runs about
 * seven times faster than CRC32C's tables.
 */
#ifndef KMIG_STREAM_PSUM_H
#define KMIG_STREAM_PSUM_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

enum kmig_psum {
	KMIG_PSUM_CRC32C,
	KMIG_PSUM_XXH64,
};

/* The page sums a stream's CAPS bits @caps (required or agreed) say. */
static inline enum kmig_psum kmig_psum_of_caps(uint64_t caps)
{
	return caps & KMIG_SCAP_PAGE_XXH64 ? KMIG_PSUM_XXH64 : KMIG_PSUM_CRC32C;
}

/* The capability a stream requires for @psum: 0 for CRC32C. */
static inline uint64_t kmig_psum_cap(enum kmig_psum psum)
{
	return psum == KMIG_PSUM_XXH64 ? KMIG_SCAP_PAGE_XXH64 : 0;
}

/* XXH64 of @len bytes, seed 0: kmig_xxh64("", 0) == 0xef46db3751d8e999. */
uint64_t kmig_xxh64(const void *buf, size_t len);
/* @sum ^ kmig_xxh64()'s low 32 bits: XXH64 as a kmig_sum_fn (crc32c.h),
 * to be timed beside CRC32C. */
uint32_t kmig_xxh64_sum(uint32_t sum, const void *buf, size_t len);

/* The sum of one page of KMIG_STREAM_PAGE_SIZE bytes. */
uint32_t kmig_page_sum(enum kmig_psum psum, const void *page);

/*
 * The sum a sender should ask for: KMIG_PAGE_SUM=crc32c or =xxh64 in the
 * environment, else the faster of the two here, timed once.
 */
enum kmig_psum kmig_psum_pick(void);

/* "crc32c" or "xxh64". */
const char *kmig_psum_name(enum kmig_psum psum);

#endif /* KMIG_STREAM_PSUM_H */
