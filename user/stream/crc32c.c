// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32C: slicing-by-8 tables, the SSE4.2 instruction in three
 * interleaved chains joined with PCLMULQDQ, and folding with VPCLMULQDQ
 * (AVX-512). Which one runs is decided once, by timing them: on hardware
 * the instruction is about fifteen times faster than the tables and the
 * folding two to three times faster again; under an emulator such as
 * QEMU's TCG the tables are fastest (each emulated crc32 instruction is
 * a helper call).
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

/* a(x) * b(x) mod P, both reflected (bit 31 is x^0). */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;
	int i;

	for (i = 31; i >= 0; i--) {
		if (a & (1u << i))
			p ^= b;
		b = (b >> 1) ^ (b & 1 ? CRC32C_POLY : 0);
	}
	return p;
}

/* x^n mod P, reflected. */
static uint32_t xpow(uint64_t n)
{
	uint32_t r = 1u << 31, x = 1u << 30;

	for (; n; n >>= 1, x = mulmod(x, x))
		if (n & 1)
			r = mulmod(r, x);
	return r;
}

#if defined(__x86_64__)
#include <immintrin.h>

/*
 * Three interleaved chains: a stripe of 3 * B bytes is three blocks whose
 * CRCs run in parallel (the crc32 instruction has a latency of three
 * cycles and a throughput of one), then joined. Feeding n zero bytes to a
 * CRC register multiplies it by x^(8n) mod P; a carry-less multiply by
 * x^(8n - 33) and one crc32 of the 64-bit product (which multiplies by
 * x^32, and the reflected product carries one more x) does the same.
 */
static const unsigned int stripe_block[] = { 8192, 1360, 336, 80 };
#define NSTRIPES (sizeof(stripe_block) / sizeof(stripe_block[0]))

/* shift[i][0]: by one block of stripe_block[i], [1]: by two. */
static uint64_t shift[NSTRIPES][2];
static int shift_ready;

static void shift_init(void)
{
	unsigned int i;

	for (i = 0; i < NSTRIPES; i++) {
		shift[i][0] = xpow(8ull * stripe_block[i] - 33);
		shift[i][1] = xpow(16ull * stripe_block[i] - 33);
	}
	__atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

bool kmig_crc32c_hw_available(void)
{
	return __builtin_cpu_supports("sse4.2") &&
	       __builtin_cpu_supports("pclmul");
}

/* Register @c times the constant @k (see above). */
__attribute__((target("sse4.2,pclmul")))
static uint64_t shifted(uint64_t c, uint64_t k)
{
	__m128i p = _mm_clmulepi64_si128(_mm_cvtsi64_si128(c),
					 _mm_cvtsi64_si128(k), 0);

	return _mm_crc32_u64(0, _mm_cvtsi128_si64(p));
}

__attribute__((target("sse4.2,pclmul")))
static uint64_t stripe(uint64_t c, const uint8_t *p, size_t b,
		       const uint64_t k[2])
{
	uint64_t c1 = 0, c2 = 0, w0, w1, w2;
	size_t i;

	for (i = 0; i < b; i += 8) {
		memcpy(&w0, p + i, 8);
		memcpy(&w1, p + b + i, 8);
		memcpy(&w2, p + 2 * b + i, 8);
		c = _mm_crc32_u64(c, w0);
		c1 = _mm_crc32_u64(c1, w1);
		c2 = _mm_crc32_u64(c2, w2);
	}
	return shifted(c, k[1]) ^ shifted(c1, k[0]) ^ c2;
}

__attribute__((target("sse4.2,pclmul")))
uint32_t kmig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc, w;
	unsigned int i;
	size_t b;

	if (!__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE))
		shift_init();
	for (; len && ((uintptr_t)p & 7); len--)
		c = _mm_crc32_u8(c, *p++);
	for (i = 0; i < NSTRIPES; i++) {
		b = stripe_block[i];
		for (; len >= 3 * b; len -= 3 * b, p += 3 * b)
			c = stripe(c, p, b, shift[i]);
	}
	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	for (; len; len--)
		c = _mm_crc32_u8(c, *p++);
	return ~(uint32_t)c;
}

/*
 * Folding with VPCLMULQDQ on 512-bit registers: four accumulators of four
 * 16-byte lanes take 256 bytes a step. A lane X (bytes b0..b15, the low
 * quadword holding the higher powers) stands for X(x) at its place; d
 * bytes further on it weighs X(x) * x^(8d), which two carry-less
 * multiplies reduce below 2^128: lo * (x^(8d + 63) mod P) and
 * hi * (x^(8d - 1) mod P) (the reflected product carries one more x).
 * What is left is one lane standing for the whole buffer; two crc32
 * instructions reduce it, and the tail goes the instruction's way.
 */
#define FOLD_STEP	256
#define FOLD_MIN	FOLD_STEP

/* fold_k[i]: the constants of a fold by 16 * (i + 1) bytes; [4]: by 256. */
static uint64_t fold_k[5][2];
static int fold_ready;

static uint64_t fold_const(unsigned int bits)
{
	return (uint64_t)xpow(bits) << 32;	/* degree < 32, bit 63 is x^0 */
}

static void fold_init(void)
{
	static const unsigned int dist[5] = { 16, 32, 48, 64, FOLD_STEP };
	unsigned int i;

	for (i = 0; i < 5; i++) {
		fold_k[i][0] = fold_const(8 * dist[i] + 63);
		fold_k[i][1] = fold_const(8 * dist[i] - 1);
	}
	__atomic_store_n(&fold_ready, 1, __ATOMIC_RELEASE);
}

bool kmig_crc32c_fold_available(void)
{
	return kmig_crc32c_hw_available() &&
	       __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("vpclmulqdq");
}

#define FOLD_TARGET __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))

FOLD_TARGET
static __m512i fold512(__m512i x, __m512i k, __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11),
					 next, 0x96);
}

FOLD_TARGET
static __m128i fold128(__m128i x, const uint64_t k[2], __m128i next)
{
	__m128i kk = _mm_set_epi64x(k[1], k[0]);

	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, kk, 0x00),
					   _mm_clmulepi64_si128(x, kk, 0x11)),
			     next);
}

FOLD_TARGET
static __m512i broadcast_k(const uint64_t k[2])
{
	return _mm512_broadcast_i32x4(_mm_set_epi64x(k[1], k[0]));
}

FOLD_TARGET __attribute__((always_inline))
static inline __m512i take(const uint8_t *p)
{
	return _mm512_loadu_si512(p);
}

/* Byte by byte, through the crc32 instruction. */
FOLD_TARGET __attribute__((always_inline))
static inline uint64_t tail(uint64_t c, const uint8_t *p, size_t len)
{
	uint64_t w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
	}
	for (; len; len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}

/* The folding over @len >= FOLD_MIN bytes at @p. */
FOLD_TARGET __attribute__((always_inline))
static inline uint32_t fold(uint32_t crc, const uint8_t *p, size_t len)
{
	__m512i a0, a1, a2, a3, k;
	size_t step = 0;
	__m128i x;
	uint64_t c;

	if (!__atomic_load_n(&fold_ready, __ATOMIC_ACQUIRE))
		fold_init();
	/* The initial register is the first four bytes, xored in. */
	a0 = _mm512_xor_si512(take(p),
			      _mm512_zextsi128_si512(_mm_cvtsi32_si128(~crc)));
	a1 = take(p + 64);
	a2 = take(p + 128);
	a3 = take(p + 192);
	k = broadcast_k(fold_k[4]);
	for (step = FOLD_STEP; len - step >= FOLD_STEP; step += FOLD_STEP) {
		a0 = fold512(a0, k, take(p + step));
		a1 = fold512(a1, k, take(p + step + 64));
		a2 = fold512(a2, k, take(p + step + 128));
		a3 = fold512(a3, k, take(p + step + 192));
	}
	k = broadcast_k(fold_k[3]);
	a0 = fold512(a0, k, a1);
	a0 = fold512(a0, k, a2);
	a0 = fold512(a0, k, a3);
	for (; len - step >= 64; step += 64)
		a0 = fold512(a0, k, take(p + step));
	x = fold128(_mm512_extracti32x4_epi32(a0, 0), fold_k[2],
		    _mm512_extracti32x4_epi32(a0, 3));
	x = _mm_xor_si128(x, fold128(_mm512_extracti32x4_epi32(a0, 1),
				     fold_k[1], _mm_setzero_si128()));
	x = _mm_xor_si128(x, fold128(_mm512_extracti32x4_epi32(a0, 2),
				     fold_k[0], _mm_setzero_si128()));
	c = _mm_crc32_u64(0, _mm_cvtsi128_si64(x));
	c = _mm_crc32_u64(c, _mm_extract_epi64(x, 1));
	return ~(uint32_t)tail(c, p + step, len - step);
}

FOLD_TARGET
uint32_t kmig_crc32c_fold(uint32_t crc, const void *buf, size_t len)
{
	if (len < FOLD_MIN)
		return kmig_crc32c_hw(crc, buf, len);
	return fold(crc, buf, len);
}

/* crc * x^(8 * len) mod P: as if @len zero bytes followed. */
__attribute__((target("sse4.2,pclmul")))
static uint32_t shift_hw(uint32_t crc, uint64_t k)
{
	return shifted(crc, k);
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

bool kmig_crc32c_fold_available(void)
{
	return false;
}

uint32_t kmig_crc32c_fold(uint32_t crc, const void *buf, size_t len)
{
	return kmig_crc32c_sw(crc, buf, len);
}
#endif

uint64_t kmig_sum_time_ns(kmig_sum_fn fn, const void *buf, size_t len)
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

static const struct {
	const char *name;	/* as KMIG_CRC32C names it */
	const char *impl;	/* as kmig_crc32c_impl() does */
	kmig_sum_fn fn;
	bool (*available)(void);
} impls[] = {
	{ "fold", "vpclmulqdq-fold", kmig_crc32c_fold,
	  kmig_crc32c_fold_available },
	{ "hw", "sse4.2-x3", kmig_crc32c_hw, kmig_crc32c_hw_available },
	{ "sw", "slicing-by-8", kmig_crc32c_sw, NULL },
};
#define NIMPLS (sizeof(impls) / sizeof(impls[0]))

/* KMIG_CRC32C's choice when available, else the fastest over 16 KiB. */
static kmig_sum_fn pick(void)
{
	static uint8_t buf[16384];
	const char *force = getenv("KMIG_CRC32C");
	uint64_t best = UINT64_MAX, t;
	kmig_sum_fn fn = kmig_crc32c_sw;
	unsigned int i;

	for (i = 0; i < NIMPLS; i++)
		if (force && !strcmp(force, impls[i].name) &&
		    (!impls[i].available || impls[i].available()))
			return impls[i].fn;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 131 + (i >> 8);
	kmig_crc32c_sw(0, buf, 1);	/* build the tables outside the timing */
	for (i = 0; i < NIMPLS; i++) {
		if (impls[i].available && !impls[i].available())
			continue;
		t = kmig_sum_time_ns(impls[i].fn, buf, sizeof(buf));
		if (t < best) {
			best = t;
			fn = impls[i].fn;
		}
	}
	return fn;
}

static kmig_sum_fn chosen;

const char *kmig_crc32c_impl(void)
{
	kmig_sum_fn fn;
	unsigned int i;

	kmig_crc32c(0, NULL, 0);
	fn = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
	for (i = 0; i < NIMPLS - 1 && impls[i].fn != fn; i++)
		;
	return impls[i].impl;
}

uint32_t kmig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	kmig_sum_fn fn = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);

	if (!fn) {
		/* Racing first callers may time twice: both answers work. */
		fn = pick();
		__atomic_store_n(&chosen, fn, __ATOMIC_RELEASE);
	}
	return len ? fn(crc, buf, len) : crc;
}

/* x^(8 * KMIG_CRC32C_PAGE - 33) for shift_hw(), x^(8 * KMIG_CRC32C_PAGE). */
static uint32_t page_k[2];
static int page_k_ready;

uint32_t kmig_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b)
{
	if (len_b != KMIG_CRC32C_PAGE)
		return mulmod(crc_a, xpow(8ull * len_b)) ^ crc_b;
	if (!__atomic_load_n(&page_k_ready, __ATOMIC_ACQUIRE)) {
		page_k[0] = xpow(8ull * KMIG_CRC32C_PAGE - 33);
		page_k[1] = xpow(8ull * KMIG_CRC32C_PAGE);
		__atomic_store_n(&page_k_ready, 1, __ATOMIC_RELEASE);
	}
#if defined(__x86_64__)
	if (kmig_crc32c_hw_available())
		return shift_hw(crc_a, page_k[0]) ^ crc_b;
#endif
	return mulmod(crc_a, page_k[1]) ^ crc_b;
}
