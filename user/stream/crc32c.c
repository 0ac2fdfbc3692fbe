// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32C: slicing-by-8 tables and the SSE4.2 instruction. Which one runs is
 * decided once, by timing both: on hardware the instruction is about five
 * times faster, under an emulator such as QEMU's TCG the tables are (each
 * emulated crc32 instruction is a helper call).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u

/* table[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t table[8][256];
static int table_ready;

static void table_init(void)
{
	uint32_t i, bit, c;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (c & 1 ? CRC32C_POLY : 0);
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^
				      table[0][table[k - 1][i] & 0xff];
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t kmig_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t lo, hi;

	/* Racing initialisers compute the same tables: harmless. */
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		table_init();
	crc = ~crc;
	for (; len && ((uintptr_t)p & 7); len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	for (; len >= 8; len -= 8, p += 8) {
		lo = crc ^ (p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
		hi = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

bool kmig_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t kmig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc, w;

	for (; len && ((uintptr_t)p & 7); len--)
		c = _mm_crc32_u8(c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	for (; len; len--)
		c = _mm_crc32_u8(c, *p++);
	return ~(uint32_t)c;
}
#else
bool kmig_crc32c_hw_available(void)
{
	return false;
}

uint32_t kmig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return kmig_crc32c_sw(crc, buf, len);
}
#endif

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

/* Best of a few runs over 16 KiB, in nanoseconds. */
static uint64_t time_fn(crc_fn fn, const uint8_t *buf, size_t len)
{
	uint64_t best = UINT64_MAX, t;
	struct timespec a, b;
	volatile uint32_t sink;
	int i;

	for (i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		sink = fn(0, buf, len);
		clock_gettime(CLOCK_MONOTONIC, &b);
		(void)sink;
		t = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u +
		    b.tv_nsec - a.tv_nsec;
		if (t < best)
			best = t;
	}
	return best;
}

static crc_fn pick(void)
{
	static uint8_t buf[16384];
	const char *force = getenv("KMIG_CRC32C");
	size_t i;

	if (!kmig_crc32c_hw_available() || (force && !strcmp(force, "sw")))
		return kmig_crc32c_sw;
	if (force && !strcmp(force, "hw"))
		return kmig_crc32c_hw;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 131 + (i >> 8);
	kmig_crc32c_sw(0, buf, 1);	/* build the tables outside the timing */
	return time_fn(kmig_crc32c_hw, buf, sizeof(buf)) <=
	       time_fn(kmig_crc32c_sw, buf, sizeof(buf)) ?
	       kmig_crc32c_hw : kmig_crc32c_sw;
}

static crc_fn chosen;

const char *kmig_crc32c_impl(void)
{
	kmig_crc32c(0, NULL, 0);
	return __atomic_load_n(&chosen, __ATOMIC_ACQUIRE) == kmig_crc32c_hw ?
	       "sse4.2" : "slicing-by-8";
}

uint32_t kmig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc_fn fn = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);

	if (!fn) {
		/* Racing first callers may time twice: both answers work. */
		fn = pick();
		__atomic_store_n(&chosen, fn, __ATOMIC_RELEASE);
	}
	return len ? fn(crc, buf, len) : crc;
}
