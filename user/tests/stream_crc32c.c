// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32C: the tables, the SSE4.2 instruction and the VPCLMULQDQ folding
 * give the published check values and agree with each other, and with a
 * bit-at-a-time reference, on every length, alignment and split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "crc32c.h"

static const struct {
	const char *what;
	uint8_t fill;	/* 32 bytes of this, or a ramp when 'i'/'d' */
	uint32_t crc;
} iscsi[] = {
	/* RFC 3720, B.4 */
	{ "32 zero bytes", 0x00, 0x8a9136aa },
	{ "32 0xff bytes", 0xff, 0x62a8ab43 },
	{ "ramp 0..31", 'i', 0x46dd794e },
	{ "ramp 31..0", 'd', 0x113fdb5c },
};

static void fill(uint8_t *b, uint8_t how)
{
	int i;

	for (i = 0; i < 32; i++)
		b[i] = how == 'i' ? i : how == 'd' ? 31 - i : how;
}

TEST(sw_check_values)
{
	uint8_t b[32];
	unsigned int i;

	EXPECT_EQ(0xe3069283, kmig_crc32c_sw(0, "123456789", 9));
	EXPECT_EQ(0, kmig_crc32c_sw(0, "", 0));
	for (i = 0; i < sizeof(iscsi) / sizeof(iscsi[0]); i++) {
		fill(b, iscsi[i].fill);
		EXPECT_EQ(iscsi[i].crc, kmig_crc32c_sw(0, b, 32))
			TH_LOG("%s", iscsi[i].what);
	}
}

/* The definition: one bit at a time. */
static uint32_t crc_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = ~0u;
	int bit;

	while (len--) {
		c ^= *p++;
		for (bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78u : 0);
	}
	return ~c;
}

TEST(sw_equals_bitwise_every_length_and_alignment)
{
	uint8_t buf[600];
	unsigned int seed = 3;
	size_t len, off;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = rand_r(&seed);
	for (off = 0; off < 8; off++)
		for (len = 0; len <= 520; len++)
			ASSERT_EQ(crc_bitwise(buf + off, len),
				  kmig_crc32c_sw(0, buf + off, len))
				TH_LOG("offset %zu length %zu", off, len);
}

TEST(the_timed_pick_is_one_of_the_three)
{
	const char *impl = kmig_crc32c_impl();
	uint8_t buf[4096];

	memset(buf, 0xa5, sizeof(buf));
	TH_LOG("kmig_crc32c runs %s", impl);
	EXPECT_TRUE(!strcmp(impl, "vpclmulqdq-fold") ||
		    !strcmp(impl, "sse4.2-x3") || !strcmp(impl, "slicing-by-8"));
	EXPECT_EQ(kmig_crc32c_sw(0, buf, sizeof(buf)),
		  kmig_crc32c(0, buf, sizeof(buf)));
}

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

/* The published check value @fn misses, or NULL. */
static const char *misses_check_value(crc_fn fn)
{
	uint8_t b[32];
	unsigned int i;

	if (fn(0, "123456789", 9) != 0xe3069283)
		return "\"123456789\"";
	for (i = 0; i < sizeof(iscsi) / sizeof(iscsi[0]); i++) {
		fill(b, iscsi[i].fill);
		if (fn(0, b, 32) != iscsi[i].crc)
			return iscsi[i].what;
	}
	return NULL;
}

TEST(hw_check_values)
{
	if (!kmig_crc32c_hw_available())
		SKIP(return, "this CPU has no SSE4.2 crc32 instruction");
	EXPECT_EQ(NULL, misses_check_value(kmig_crc32c_hw));
}

TEST(hw_equals_sw_every_length_and_alignment)
{
	size_t len, off, n = 0;
	uint8_t *buf = malloc(4096 + 16);
	unsigned int seed = 1;

	if (!kmig_crc32c_hw_available())
		SKIP(free(buf); return, "this CPU has no SSE4.2 crc32 instruction");
	ASSERT_NE(NULL, buf);
	for (len = 0; len < 4096 + 16; len++)
		buf[len] = rand_r(&seed);
	for (off = 0; off < 8; off++) {
		for (len = 0; len <= 1100; len++) {
			ASSERT_EQ(kmig_crc32c_sw(0, buf + off, len),
				  kmig_crc32c_hw(0, buf + off, len))
				TH_LOG("offset %zu length %zu", off, len);
			n++;
		}
		ASSERT_EQ(kmig_crc32c_sw(0x1234, buf + off, 4096),
			  kmig_crc32c_hw(0x1234, buf + off, 4096));
	}
	EXPECT_EQ(8 * 1101, n);
	free(buf);
}

/*
 * Whether @fn disagrees with the tables (and where, in @why) over @buf
 * (@max + 64 random bytes): every length within 9 of each of @edges at
 * 16 alignments, then 2000 random lengths below @max at random
 * alignments with a random initial CRC.
 */
static bool disagrees(crc_fn fn, const uint8_t *buf, size_t max,
		      const size_t *edges, size_t nedges, unsigned int seed,
		      char *why, size_t n)
{
	size_t len, off, i;
	uint32_t init;
	unsigned int k;

	for (i = 0; i < nedges; i++)
		for (len = edges[i] - 9; len <= edges[i] + 9; len++)
			for (off = 0; off < 16; off++)
				if (kmig_crc32c_sw(0, buf + off, len) !=
				    fn(0, buf + off, len))
					goto differ;
	for (k = 0; k < 2000; k++) {
		len = rand_r(&seed) % max;
		off = rand_r(&seed) % 64;
		init = rand_r(&seed) ^ (uint32_t)rand_r(&seed) << 16;
		if (kmig_crc32c_sw(init, buf + off, len) !=
		    fn(init, buf + off, len))
			goto differ;
	}
	return false;
differ:
	snprintf(why, n, "offset %zu length %zu", off, len);
	return true;
}

static uint8_t *random_bytes(size_t n, unsigned int seed)
{
	uint8_t *buf = malloc(n);
	size_t i;

	for (i = 0; buf && i < n; i++)
		buf[i] = rand_r(&seed);
	return buf;
}

/*
 * Long buffers take the interleaved stripes (3 x 8192, 1360, 336 and 80
 * bytes): every length around a stripe boundary, then random lengths up
 * to 200 KiB.
 */
TEST(hw_equals_sw_random_lengths_and_alignments)
{
	static const size_t edges[] = { 240, 1008, 4080, 24576 };
	size_t max = 200 << 10;
	uint8_t *buf = random_bytes(max + 64, 11);
	char why[64];

	if (!kmig_crc32c_hw_available())
		SKIP(free(buf); return, "this CPU has no SSE4.2 crc32 instruction");
	ASSERT_NE(NULL, buf);
	EXPECT_FALSE(disagrees(kmig_crc32c_hw, buf, max, edges,
			       sizeof(edges) / sizeof(edges[0]), 11, why,
			       sizeof(why)))
		TH_LOG("%s", why);
	free(buf);
}

TEST(fold_check_values)
{
	uint8_t b[300];
	unsigned int i;

	if (!kmig_crc32c_fold_available())
		SKIP(return, "this CPU has no VPCLMULQDQ and AVX-512F");
	EXPECT_EQ(NULL, misses_check_value(kmig_crc32c_fold));
	/* 256 bytes and more fold; 300 zero bytes, a ramp of them. */
	memset(b, 0, sizeof(b));
	EXPECT_EQ(crc_bitwise(b, sizeof(b)), kmig_crc32c_fold(0, b, sizeof(b)));
	for (i = 0; i < sizeof(b); i++)
		b[i] = i;
	EXPECT_EQ(crc_bitwise(b, sizeof(b)), kmig_crc32c_fold(0, b, sizeof(b)));
}

/*
 * The folding takes 256 bytes a step, then 64, then the tail: every
 * length around those boundaries, then random lengths up to 200 KiB.
 */
TEST(fold_equals_sw_random_lengths_and_alignments)
{
	static const size_t edges[] = { 256, 320, 512, 4096, 4096 + 255 };
	size_t max = 200 << 10, len;
	uint8_t *buf = random_bytes(max + 64, 13);
	char why[64];

	if (!kmig_crc32c_fold_available())
		SKIP(free(buf); return, "this CPU has no VPCLMULQDQ and AVX-512F");
	ASSERT_NE(NULL, buf);
	for (len = 0; len <= 1100; len++)
		ASSERT_EQ(kmig_crc32c_sw(0x1234, buf + 3, len),
			  kmig_crc32c_fold(0x1234, buf + 3, len))
			TH_LOG("length %zu", len);
	EXPECT_FALSE(disagrees(kmig_crc32c_fold, buf, max, edges,
			       sizeof(edges) / sizeof(edges[0]), 13, why,
			       sizeof(why)))
		TH_LOG("%s", why);
	free(buf);
}

/* A page's CRC joined to what came before it: as if summed in one go. */
TEST(combine_equals_whole)
{
	size_t max = 3 * 4096, la, lb;
	uint8_t *buf = malloc(max);
	unsigned int seed = 19, n;
	uint32_t init, a, b;

	ASSERT_NE(NULL, buf);
	for (la = 0; la < max; la++)
		buf[la] = rand_r(&seed);
	for (n = 0; n < 400; n++) {
		la = rand_r(&seed) % 4096;
		lb = n % 2 ? KMIG_CRC32C_PAGE : rand_r(&seed) % 4096;
		init = rand_r(&seed);
		a = kmig_crc32c(init, buf, la);
		b = kmig_crc32c(0, buf + la, lb);
		ASSERT_EQ(kmig_crc32c_sw(init, buf, la + lb),
			  kmig_crc32c_combine(a, b, lb))
			TH_LOG("%zu bytes then %zu", la, lb);
	}
	/* Another page's CRC does not pass for this one's. */
	a = kmig_crc32c(0, buf, 100);
	b = kmig_crc32c(0, buf + 4096, KMIG_CRC32C_PAGE);
	EXPECT_NE(kmig_crc32c_sw(0, buf, 100 + 4096),
		  kmig_crc32c_combine(a, b, KMIG_CRC32C_PAGE));
	free(buf);
}

TEST(split_equals_whole)
{
	uint8_t buf[777];
	uint32_t whole, part;
	unsigned int seed = 7;
	size_t cut;

	for (cut = 0; cut < sizeof(buf); cut++)
		buf[cut] = rand_r(&seed);
	whole = kmig_crc32c(0, buf, sizeof(buf));
	EXPECT_EQ(kmig_crc32c_sw(0, buf, sizeof(buf)), whole);
	for (cut = 0; cut <= sizeof(buf); cut += 37) {
		part = kmig_crc32c(0, buf, cut);
		part = kmig_crc32c(part, buf + cut, sizeof(buf) - cut);
		EXPECT_EQ(whole, part) TH_LOG("split at %zu", cut);
		part = kmig_crc32c_sw(0, buf, cut);
		part = kmig_crc32c_sw(part, buf + cut, sizeof(buf) - cut);
		EXPECT_EQ(whole, part) TH_LOG("sw split at %zu", cut);
	}
}

TEST(detects_every_single_bit_flip)
{
	uint8_t buf[64];
	uint32_t good;
	unsigned int bit;

	memset(buf, 0x5a, sizeof(buf));
	good = kmig_crc32c(0, buf, sizeof(buf));
	for (bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= 1 << (bit % 8);
		EXPECT_NE(good, kmig_crc32c(0, buf, sizeof(buf)));
		buf[bit / 8] ^= 1 << (bit % 8);
	}
}

TEST_HARNESS_MAIN
