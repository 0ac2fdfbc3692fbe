// SPDX-License-Identifier: GPL-2.0
/*
 * Page sums (psum.h): kmig's XXH64 is xxHash's (checked against the
 * system's libxxhash, which make check installs), the source's choice
 * follows KMIG_PAGE_SUM, and a stream whose CAPS require XXH64 page sums
 * carries them on the wire, decodes in place and from a buffer in any
 * pieces, names a torn page, and is refused by a decoder without them.
 */
#include <dlfcn.h>

#include "kselftest_harness.h"
#include "le.h"
#include "psum.h"
#include "stream_pages.h"

typedef unsigned long long (*xxh64_fn)(const void *buf, size_t len,
				       unsigned long long seed);

TEST(xxh64_is_xxhash_xxh64)
{
	static uint8_t buf[3 * PAGE];
	size_t lens[] = { 31, 32, 33, 63, 64, 100, 255, PAGE - 1, PAGE,
			  PAGE + 7, sizeof(buf) };
	unsigned int seed = 11, i;
	xxh64_fn ref;
	void *lib;
	size_t n;

	lib = dlopen("libxxhash.so.0", RTLD_NOW);
	ASSERT_NE(NULL, lib)
		TH_LOG("libxxhash.so.0 (Debian's libxxhash0, which make check installs): %s",
		       dlerror());
	ref = (xxh64_fn)dlsym(lib, "XXH64");
	ASSERT_NE(NULL, ref);
	for (n = 0; n < sizeof(buf); n++)
		buf[n] = rand_r(&seed);
	for (n = 0; n <= 40; n++)	/* every tail: 0..7 bytes, 4-byte word */
		EXPECT_EQ(ref(buf + 3, n, 0), kmig_xxh64(buf + 3, n))
			TH_LOG("%zu bytes", n);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = lens[i];
		EXPECT_EQ(ref(buf, n, 0), kmig_xxh64(buf, n))
			TH_LOG("%zu bytes", n);
	}
	dlclose(lib);
}

TEST(xxh64_of_nothing)
{
	EXPECT_EQ(0xef46db3751d8e999ull, kmig_xxh64("", 0));
}

TEST(page_sums)
{
	static uint8_t page[PAGE];

	memset(page, 0x3c, sizeof(page));
	EXPECT_EQ((uint32_t)kmig_xxh64(page, PAGE),
		  kmig_page_sum(KMIG_PSUM_XXH64, page));
	EXPECT_EQ(kmig_crc32c(0, page, PAGE),
		  kmig_page_sum(KMIG_PSUM_CRC32C, page));
	EXPECT_STREQ("xxh64", kmig_psum_name(KMIG_PSUM_XXH64));
	EXPECT_STREQ("crc32c", kmig_psum_name(KMIG_PSUM_CRC32C));
}

/* The harness runs each test in its own process: a first pick each. */
TEST(pick_forced_xxh64)
{
	ASSERT_EQ(0, setenv("KMIG_PAGE_SUM", "xxh64", 1));
	EXPECT_EQ(KMIG_PSUM_XXH64, kmig_psum_pick());
}

TEST(pick_forced_crc32c)
{
	ASSERT_EQ(0, setenv("KMIG_PAGE_SUM", "crc32c", 1));
	EXPECT_EQ(KMIG_PSUM_CRC32C, kmig_psum_pick());
}

TEST(pick_timed_is_stable)
{
	enum kmig_psum p;

	ASSERT_EQ(0, unsetenv("KMIG_PAGE_SUM"));
	p = kmig_psum_pick();
	EXPECT_TRUE(p == KMIG_PSUM_CRC32C || p == KMIG_PSUM_XXH64);
	EXPECT_EQ(p, kmig_psum_pick());
	TH_LOG("picked %s here", kmig_psum_name(p));
}

/* The first RAM_PAGES of everything(): one page, src0[7]; its sum. */
static uint32_t first_batch_sum(const uint8_t *buf, size_t len)
{
	const uint8_t *r = buf + KMIG_STREAM_HEADER_SIZE;

	while (r < buf + len && r[0] != KMIG_REC_RAM_PAGES)
		r += KMIG_STREAM_REC_HDR_SIZE + get_le32(r + 4) +
		     KMIG_STREAM_CRC_SIZE;
	return get_le32(r + KMIG_STREAM_REC_HDR_SIZE +
			KMIG_REC_RAM_PAGES_HDR_LEN + 8);
}

TEST(xxh64_batches_through_a_socket_in_any_pieces)
{
	unsigned int seed, sent;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	bool in_place;
	size_t len;

	rx_caps = KMIG_SCAP_PAGE_XXH64;
	kmig_enc_init_mem(&e);
	sent = everything(&e);
	ASSERT_EQ(KMIG_PSUM_XXH64, e.psum);
	buf = kmig_enc_mem(&e, &len);
	EXPECT_EQ((uint32_t)kmig_xxh64(src0[7], PAGE),
		  first_batch_sum(buf, len));
	for (seed = 0; seed < 12; seed++) {
		reset();
		ASSERT_EQ(0, decode_socket(seed % 2 ? &in_place_ops :
					   &page_ops, buf, len, seed,
					   &in_place, err))
			TH_LOG("pieces %u: %s", seed, err);
		EXPECT_EQ(seed % 2, in_place);
		EXPECT_EQ(sent + 1, rx.pages);	/* and one RAM_PAGE */
		EXPECT_EQ(0, rx.misplaced);
		EXPECT_TRUE(guest_matches()) TH_LOG("pieces %u", seed);
	}
	reset();
	ASSERT_EQ(0, decode_buf(&in_place_ops, buf, len, err)) TH_LOG("%s", err);
	EXPECT_EQ(3, rx.batches);
	EXPECT_TRUE(guest_matches());
	kmig_enc_free(&e);
}

/* A stream of one batch of 128 pages, page @bad's sum off by one bit. */
static const uint8_t *torn_stream(struct kmig_enc *e, unsigned int bad,
				  size_t *len)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	uint32_t sums[KMIG_STREAM_MAX_BATCH];
	unsigned int i;

	kmig_enc_init_mem(e);
	begin(e);
	for (i = 0; i < KMIG_STREAM_MAX_BATCH; i++) {
		memset(src1[i], i + 1, PAGE);
		pages[i] = i;
		data[i] = src1[i];
		sums[i] = kmig_enc_page_sum(e, src1[i]) ^ (i == bad);
	}
	kmig_enc_pages_crc(e, 0x10001, pages, KMIG_STREAM_MAX_BATCH, data,
			   sums);
	finish(e);
	return kmig_enc_mem(e, len);
}

TEST(xxh64_torn_page_is_named_or_refused)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;
	int pass;

	rx_caps = KMIG_SCAP_PAGE_XXH64;
	buf = torn_stream(&e, 77, &len);
	for (pass = 0; pass < 2; pass++) {
		reset();
		ASSERT_EQ(0, pass ? decode_socket(&torn_ops, buf, len, 5, NULL,
						  err) :
				    decode_buf(&torn_ops, buf, len, err))
			TH_LOG("%s", err);
		EXPECT_EQ(KMIG_STREAM_MAX_BATCH, rx.pages);
		EXPECT_EQ(1, rx.torn);
		EXPECT_EQ(77, rx.torn_page);
		reset();
		EXPECT_EQ(-EBADMSG,
			  pass ? decode_socket(&in_place_ops, buf, len, 5, NULL,
					       err) :
				 decode_buf(&in_place_ops, buf, len, err));
		EXPECT_NE(NULL, strstr(err, "XXH64 mismatch: page 77 (78 of the batch's 128)"))
			TH_LOG("%s", err);
		EXPECT_EQ(0, rx.batches);
	}
	kmig_enc_free(&e);
}

/* CRC32C sums in a stream that said XXH64: every page is torn. */
TEST(crc32c_sums_in_an_xxh64_stream_are_refused)
{
	const void *data[1] = { src1[0] };
	uint64_t pages[1] = { 9 };
	uint32_t sum;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	rx_caps = KMIG_SCAP_PAGE_XXH64;
	memset(src1[0], 0x42, PAGE);
	sum = kmig_crc32c(0, src1[0], PAGE);
	kmig_enc_init_mem(&e);
	begin(&e);
	kmig_enc_pages_crc(&e, 0x10001, pages, 1, data, &sum);
	finish(&e);
	buf = kmig_enc_mem(&e, &len);
	reset();
	EXPECT_EQ(-EBADMSG, decode_buf(&in_place_ops, buf, len, err));
	EXPECT_NE(NULL, strstr(err, "XXH64 mismatch: page 9")) TH_LOG("%s", err);
	kmig_enc_free(&e);
}

TEST(a_decoder_without_xxh64_refuses_the_stream)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2, .ops = &in_place_ops,
		.caps_supported = KMIG_SCAP_ALL & ~KMIG_SCAP_PAGE_XXH64,
	};
	struct kmig_enc e;
	struct kmig_dec d;
	const uint8_t *buf;
	size_t len;

	rx_caps = KMIG_SCAP_PAGE_XXH64;
	buf = torn_stream(&e, KMIG_STREAM_MAX_BATCH, &len);
	reset();
	ASSERT_EQ(0, kmig_dec_init_buf(&d, &cfg, buf, len));
	EXPECT_EQ(-EPROTONOSUPPORT, kmig_dec_run(&d));
	EXPECT_NE(NULL, strstr(kmig_dec_error(&d),
			       "required capabilities 0x10 not supported"))
		TH_LOG("%s", kmig_dec_error(&d));
	EXPECT_TRUE(guest_untouched());
	kmig_dec_free(&d);
	kmig_enc_free(&e);
}

TEST_HARNESS_MAIN
