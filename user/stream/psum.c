// SPDX-License-Identifier: GPL-2.0
/*
 * Page sums (psum.h). XXH64 is written here from its specification
 * (xxHash's doc/xxhash_spec.md): four accumulators take 8-byte lanes of
 * each 32-byte stripe, are merged, and the rest of the input and an
 * avalanche follow. Pages are whole stripes, so the tail code runs only
 * for the tests' other lengths.
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "le.h"
#include "psum.h"

#define P1	0x9e3779b185ebca87ull
#define P2	0xc2b2ae3d27d4eb4full
#define P3	0x165667b19e3779f9ull
#define P4	0x85ebca77c2b2ae63ull
#define P5	0x27d4eb2f165667c5ull

static inline uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

static inline uint64_t round64(uint64_t acc, uint64_t lane)
{
	return rotl(acc + lane * P2, 31) * P1;
}

static inline uint64_t merge(uint64_t h, uint64_t acc)
{
	return (h ^ round64(0, acc)) * P1 + P4;
}

uint64_t kmig_xxh64(const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1, h;

	if (len >= 32) {
		for (; end - p >= 32; p += 32) {
			v1 = round64(v1, get_le64(p));
			v2 = round64(v2, get_le64(p + 8));
			v3 = round64(v3, get_le64(p + 16));
			v4 = round64(v4, get_le64(p + 24));
		}
		h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
		h = merge(merge(merge(merge(h, v1), v2), v3), v4);
	} else {
		h = P5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rotl(h ^ round64(0, get_le64(p)), 27) * P1 + P4;
	if (end - p >= 4) {
		h = rotl(h ^ get_le32(p) * P1, 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl(h ^ *p * P5, 11) * P1;
	h = (h ^ h >> 33) * P2;
	h = (h ^ h >> 29) * P3;
	return h ^ h >> 32;
}

uint32_t kmig_page_sum(enum kmig_psum psum, const void *page)
{
	if (psum == KMIG_PSUM_XXH64)
		return (uint32_t)kmig_xxh64(page, KMIG_STREAM_PAGE_SIZE);
	return kmig_crc32c(0, page, KMIG_STREAM_PAGE_SIZE);
}

const char *kmig_psum_name(enum kmig_psum psum)
{
	return psum == KMIG_PSUM_XXH64 ? "xxh64" : "crc32c";
}

uint32_t kmig_xxh64_sum(uint32_t sum, const void *buf, size_t len)
{
	return sum ^ (uint32_t)kmig_xxh64(buf, len);
}

static enum kmig_psum pick(void)
{
	static uint8_t buf[4 * KMIG_STREAM_PAGE_SIZE];
	const char *force = getenv("KMIG_PAGE_SUM");
	unsigned int i;

	if (force && !strcmp(force, "crc32c"))
		return KMIG_PSUM_CRC32C;
	if (force && !strcmp(force, "xxh64"))
		return KMIG_PSUM_XXH64;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 131 + (i >> 8);
	kmig_crc32c(0, buf, 1);	/* its own choice outside the timing */
	return kmig_sum_time_ns(kmig_xxh64_sum, buf, sizeof(buf)) <
	       kmig_sum_time_ns(kmig_crc32c, buf, sizeof(buf)) ?
	       KMIG_PSUM_XXH64 : KMIG_PSUM_CRC32C;
}

enum kmig_psum kmig_psum_pick(void)
{
	/* 0: not picked yet; else the choice plus one. */
	static int picked;
	int v = __atomic_load_n(&picked, __ATOMIC_ACQUIRE);

	if (!v) {
		/* Racing first callers may time twice: both answers work. */
		v = pick() + 1;
		__atomic_store_n(&picked, v, __ATOMIC_RELEASE);
	}
	return v - 1;
}
