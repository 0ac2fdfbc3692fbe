// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32C: a byte-wise table and the SSE4.2 instruction, picked at run time.
 */
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u

static uint32_t table[256];
static int table_ready;

static void table_init(void)
{
	uint32_t i, bit, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (c & 1 ? CRC32C_POLY : 0);
		table[i] = c;
	}
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t kmig_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* Racing initialisers compute the same table: harmless. */
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		table_init();
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
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

uint32_t kmig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static int use_hw = -1;
	int hw = __atomic_load_n(&use_hw, __ATOMIC_RELAXED);

	if (hw < 0) {
		hw = kmig_crc32c_hw_available();
		__atomic_store_n(&use_hw, hw, __ATOMIC_RELAXED);
	}
	return hw ? kmig_crc32c_hw(crc, buf, len) : kmig_crc32c_sw(crc, buf, len);
}
