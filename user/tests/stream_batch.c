// SPDX-License-Identifier: GPL-2.0
/*
 * RAM_PAGES, batches of pages: they round-trip through a buffer and a
 * socket, go straight to the destinations a consumer gives (read from the
 * socket in any chunking), are checked there, and every broken batch is
 * refused with nothing delivered, and with nothing written at all when
 * the header or page list is wrong; a torn page is named to a consumer
 * that takes torn pages, and only to it.
 */
#include "kselftest_harness.h"
#include "crc32c.h"
#include "le.h"
#include "stream_pages.h"

TEST(batches_go_in_place_through_a_socket_in_any_pieces)
{
	unsigned int seed, sent;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	bool in_place;
	size_t len;

	kmig_enc_init_mem(&e);
	sent = everything(&e);
	buf = kmig_enc_mem(&e, &len);
	for (seed = 0; seed < 12; seed++) {
		reset();
		ASSERT_EQ(0, decode_socket(&in_place_ops, buf, len, seed,
					   &in_place, err))
			TH_LOG("pieces %u: %s", seed, err);
		EXPECT_TRUE(in_place);
		EXPECT_EQ(3, rx.dests);
		EXPECT_EQ(3, rx.batches);
		EXPECT_EQ(sent + 1, rx.pages);	/* and one RAM_PAGE */
		EXPECT_EQ(0, rx.misplaced);
		EXPECT_TRUE(guest_matches()) TH_LOG("pieces %u", seed);
	}
	kmig_enc_free(&e);
}

TEST(batches_in_place_from_a_buffer)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	kmig_enc_init_mem(&e);
	everything(&e);
	buf = kmig_enc_mem(&e, &len);
	reset();
	ASSERT_EQ(0, decode_buf(&in_place_ops, buf, len, err)) TH_LOG("%s", err);
	EXPECT_EQ(3, rx.batches);
	EXPECT_EQ(0, rx.misplaced);
	EXPECT_TRUE(guest_matches());
	kmig_enc_free(&e);
}

TEST(without_destinations_pages_come_one_by_one)
{
	struct kmig_enc e;
	const uint8_t *buf;
	unsigned int sent;
	char err[256];
	bool in_place;
	size_t len;

	kmig_enc_init_mem(&e);
	sent = everything(&e);
	buf = kmig_enc_mem(&e, &len);
	reset();
	ASSERT_EQ(0, decode_buf(&page_ops, buf, len, err)) TH_LOG("%s", err);
	EXPECT_EQ(sent + 1, rx.pages);
	EXPECT_TRUE(guest_matches());
	reset();
	ASSERT_EQ(0, decode_socket(&page_ops, buf, len, 3, &in_place, err))
		TH_LOG("%s", err);
	EXPECT_FALSE(in_place);
	EXPECT_EQ(sent + 1, rx.pages);
	EXPECT_TRUE(guest_matches());
	kmig_enc_free(&e);
}

/* An fd encoder writes pages by reference: the same bytes as in memory. */
TEST(fd_encoder_writes_the_same_bytes)
{
	struct kmig_enc m, f;
	const uint8_t *buf;
	uint8_t *got;
	size_t len;
	int fd;

	kmig_enc_init_mem(&m);
	everything(&m);
	buf = kmig_enc_mem(&m, &len);
	fd = memfd_create("batch", 0);
	ASSERT_LE(0, fd);
	kmig_enc_init_fd(&f, fd);
	everything(&f);
	ASSERT_EQ(0, f.err);
	kmig_enc_free(&f);
	ASSERT_EQ((off_t)len, lseek(fd, 0, SEEK_END));
	got = malloc(len);
	ASSERT_NE(NULL, got);
	ASSERT_EQ((ssize_t)len, pread(fd, got, len, 0));
	EXPECT_EQ(0, memcmp(buf, got, len));
	free(got);
	close(fd);
	kmig_enc_free(&m);
}

/* Pages next to each other in memory go out as one iovec: same bytes. */
TEST(fd_encoder_contiguous_pages)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	struct kmig_enc m, f;
	const uint8_t *buf;
	unsigned int i, k;
	uint8_t *got;
	size_t len;
	int fd;

	for (i = 0; i < KMIG_STREAM_MAX_BATCH; i++) {
		pages[i] = 2 * i + 1;
		data[i] = src1[i + (i > 60)];	/* one gap */
		memset(src1[i], i, PAGE);
	}
	fd = memfd_create("contiguous", 0);
	ASSERT_LE(0, fd);
	kmig_enc_init_mem(&m);
	kmig_enc_init_fd(&f, fd);
	for (k = 0; k < 5; k++) {	/* past the reference limit */
		ASSERT_EQ(0, kmig_enc_pages(&m, 1, pages, 128 - k, data + k));
		ASSERT_EQ(0, kmig_enc_pages(&f, 1, pages, 128 - k, data + k));
	}
	ASSERT_EQ(0, kmig_enc_flush(&f));
	kmig_enc_free(&f);
	buf = kmig_enc_mem(&m, &len);
	ASSERT_EQ((off_t)len, lseek(fd, 0, SEEK_END));
	got = malloc(len);
	ASSERT_NE(NULL, got);
	ASSERT_EQ((ssize_t)len, pread(fd, got, len, 0));
	EXPECT_EQ(0, memcmp(buf, got, len));
	free(got);
	close(fd);
	kmig_enc_free(&m);
}

/*
 * Page CRCs given by the caller: the same bytes as an encoder that sums
 * the pages itself; a wrong one changes only its own four bytes and the
 * list CRC (that is how a page torn on the source looks on the wire).
 */
TEST(fd_encoder_with_given_crcs)
{
	const size_t page_crc5 = KMIG_STREAM_REC_HDR_SIZE +
				 KMIG_REC_RAM_PAGES_HDR_LEN +
				 8 * KMIG_STREAM_MAX_BATCH + 4 * 5;
	const size_t list_crc = KMIG_STREAM_REC_HDR_SIZE +
				KMIG_REC_RAM_PAGES_LIST_LEN(KMIG_STREAM_MAX_BATCH);
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	uint32_t crcs[KMIG_STREAM_MAX_BATCH];
	struct kmig_enc m, f;
	const uint8_t *buf;
	unsigned int i;
	uint8_t *got;
	size_t len, b;
	int fd;

	for (i = 0; i < KMIG_STREAM_MAX_BATCH; i++) {
		memset(src1[i], i * 7 + 1, PAGE);
		src1[i][i] = 0;
		pages[i] = i + 3;
		crcs[i] = kmig_crc32c(0, src1[i], PAGE);
		data[i] = src1[i];
	}
	fd = memfd_create("given-crcs", 0);
	ASSERT_LE(0, fd);
	kmig_enc_init_mem(&m);
	kmig_enc_init_fd(&f, fd);
	ASSERT_EQ(0, kmig_enc_pages(&m, 1, pages, KMIG_STREAM_MAX_BATCH, data));
	ASSERT_EQ(0, kmig_enc_pages_crc(&f, 1, pages, KMIG_STREAM_MAX_BATCH,
					data, crcs));
	crcs[5] ^= 1;
	ASSERT_EQ(0, kmig_enc_pages_crc(&f, 1, pages, KMIG_STREAM_MAX_BATCH,
					data, crcs));
	ASSERT_EQ(0, kmig_enc_flush(&f));
	kmig_enc_free(&f);
	buf = kmig_enc_mem(&m, &len);
	ASSERT_EQ((off_t)(2 * len), lseek(fd, 0, SEEK_END));
	got = malloc(2 * len);
	ASSERT_NE(NULL, got);
	ASSERT_EQ((ssize_t)(2 * len), pread(fd, got, 2 * len, 0));
	EXPECT_EQ(0, memcmp(buf, got, len));
	for (b = 0; b < len; b++)
		if (b / 4 != page_crc5 / 4 && b / 4 != list_crc / 4)
			ASSERT_EQ(buf[b], got[len + b]) TH_LOG("byte %zu", b);
	EXPECT_NE(0, memcmp(buf + page_crc5, got + len + page_crc5, 4));
	EXPECT_NE(0, memcmp(buf + list_crc, got + len + list_crc, 4));
	free(got);
	close(fd);
	kmig_enc_free(&m);
}

TEST(encoder_refuses_bad_batches)
{
	const void *data[KMIG_STREAM_MAX_BATCH + 1] = { 0 };
	uint64_t pages[KMIG_STREAM_MAX_BATCH + 1];
	struct kmig_enc e;
	unsigned int i;

	for (i = 0; i <= KMIG_STREAM_MAX_BATCH; i++) {
		pages[i] = i;
		data[i] = src0[0];
	}
	kmig_enc_init_mem(&e);
	EXPECT_EQ(-EINVAL, kmig_enc_pages(&e, 0, pages, 0, data));
	EXPECT_EQ(-EINVAL, kmig_enc_pages(&e, 0, pages,
					  KMIG_STREAM_MAX_BATCH + 1, data));
	pages[1] = 0;
	EXPECT_EQ(-EINVAL, kmig_enc_pages(&e, 0, pages, 2, data));
	EXPECT_EQ(0, e.records);
	kmig_enc_free(&e);
}

/*
 * A forged batch: @count in the header, the pages listed, @n pages of
 * data (0x5a), both CRCs right unless @bad_list / @bad_data.
 */
struct forge {
	uint8_t flags;
	uint32_t slot;
	uint16_t count, reserved;
	uint64_t pages[4];
	unsigned int n;
	bool bad_list, bad_data;
	int len_delta;
};

static void forge(struct kmig_enc *e, const struct forge *f)
{
	uint32_t len = KMIG_REC_RAM_PAGES_LEN(f->n) + f->len_delta;
	size_t list = KMIG_REC_RAM_PAGES_LIST_LEN(f->n);
	uint8_t *pl = calloc(1, len + 8), hdr[8];
	unsigned int i;

	memset(pl + list + 4, 0x5a, (size_t)f->n * PAGE);
	put_le32(pl, f->slot);
	put_le16(pl + 4, f->count);
	put_le16(pl + 6, f->reserved);
	for (i = 0; i < f->n; i++) {
		put_le64(pl + 8 + 8 * i, f->pages[i]);
		put_le32(pl + 8 + 8 * f->n + 4 * i,
			 kmig_crc32c(0, pl + list + 4 + (size_t)i * PAGE, PAGE));
	}
	hdr[0] = KMIG_REC_RAM_PAGES;
	hdr[1] = f->flags;
	put_le16(hdr + 2, 0);
	put_le32(hdr + 4, len);
	put_le32(pl + list, kmig_crc32c(kmig_crc32c(0, hdr, 8), pl, list) ^
			    f->bad_list);
	kmig_enc_record(e, KMIG_REC_RAM_PAGES, f->flags, pl, len);
	e->len -= 4;	/* the CRC kmig_enc_record() adds: RAM_PAGES has none */
	if (f->bad_data)	/* a byte of the last page flipped on the way */
		e->buf[e->len - 1] ^= 1;
	free(pl);
}

/* A stream of @f alone, in @e: its bytes. */
static const uint8_t *forged_stream(struct kmig_enc *e, const struct forge *f,
				    size_t *len)
{
	kmig_enc_init_mem(e);
	begin(e);
	forge(e, f);
	finish(e);
	return kmig_enc_mem(e, len);
}

/*
 * Refused with @want and a message holding @msg, decoded from a buffer
 * and through a socket; nothing delivered, and with @untouched nothing
 * written either.
 */
static void expect_refused(struct __test_metadata *_metadata,
			   const struct forge *f, int want, const char *msg,
			   bool untouched)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;
	int pass;

	buf = forged_stream(&e, f, &len);
	for (pass = 0; pass < 2; pass++) {
		reset();
		EXPECT_EQ(want, pass ? decode_socket(&in_place_ops, buf, len,
						     7, NULL, err) :
				       decode_buf(&in_place_ops, buf, len, err))
			TH_LOG("%s", err);
		EXPECT_NE(NULL, strstr(err, "RAM_PAGES")) TH_LOG("%s", err);
		EXPECT_NE(NULL, strstr(err, msg)) TH_LOG("%s", err);
		EXPECT_EQ(0, rx.batches);
		if (untouched) {
			EXPECT_EQ(0, rx.dests);
			EXPECT_TRUE(guest_untouched());
		}
	}
	kmig_enc_free(&e);
}

#define GOOD	{ .slot = 0, .count = 2, .n = 2, .pages = { 3, 4 } }

TEST(a_forged_good_batch_is_accepted)
{
	struct forge f = GOOD;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	buf = forged_stream(&e, &f, &len);
	reset();
	ASSERT_EQ(0, decode_buf(&in_place_ops, buf, len, err)) TH_LOG("%s", err);
	EXPECT_EQ(1, rx.batches);
	EXPECT_EQ(0x5a, guest0[4][PAGE - 1]);
	kmig_enc_free(&e);
}

TEST(batch_of_no_pages)
{
	struct forge f = { .count = 0, .n = 0 };

	expect_refused(_metadata, &f, -EMSGSIZE, "a batch of 0 pages", true);
}

TEST(batch_of_too_many_pages)
{
	struct forge f = { .count = 129, .n = 2, .pages = { 1, 2 } };

	expect_refused(_metadata, &f, -EMSGSIZE, "a batch of 129 pages", true);
}

TEST(batch_count_disagrees_with_length)
{
	struct forge f = GOOD;

	f.count = 3;
	expect_refused(_metadata, &f, -EMSGSIZE, "a batch of 3 pages is", true);
	f.count = 2;
	f.len_delta = 1;
	expect_refused(_metadata, &f, -EMSGSIZE, "a batch of 2 pages is", true);
}

TEST(batch_list_crc_is_checked_before_any_page_is_written)
{
	struct forge f = GOOD;

	f.bad_list = true;
	expect_refused(_metadata, &f, -EBADMSG, "page list CRC mismatch", true);
}

TEST(batch_data_crc_is_checked_where_the_pages_landed)
{
	struct forge f = GOOD;

	f.bad_data = true;
	expect_refused(_metadata, &f, -EBADMSG,
		       "CRC mismatch: page 4 (2 of the batch's 2)", false);
	expect_refused(_metadata, &f, -EBADMSG, "where it landed; 1 page torn",
		       false);
	EXPECT_EQ(1, rx.dests);
}

/*
 * A consumer that takes torn pages gets the batch, then the torn page
 * named, from a buffer and through a socket in pieces.
 */
TEST(a_torn_page_is_named_to_a_consumer_that_takes_it)
{
	struct forge f = GOOD;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;
	int pass;

	f.bad_data = true;
	buf = forged_stream(&e, &f, &len);
	for (pass = 0; pass < 2; pass++) {
		reset();
		ASSERT_EQ(0, pass ? decode_socket(&torn_ops, buf, len, 7, NULL,
						  err) :
				    decode_buf(&torn_ops, buf, len, err))
			TH_LOG("%s", err);
		EXPECT_EQ(1, rx.batches);
		EXPECT_EQ(2, rx.pages);
		EXPECT_EQ(1, rx.torn);
		EXPECT_EQ(4, rx.torn_page);
		EXPECT_EQ(0x5a, guest0[3][PAGE - 1]);
	}
	kmig_enc_free(&e);
}

TEST(batch_page_beyond_its_slot)
{
	struct forge f = GOOD;

	f.pages[0] = 3;
	f.pages[1] = 16;
	expect_refused(_metadata, &f, -ERANGE, "page 16 beyond slot 0", true);
	f.pages[1] = ~0ull;
	expect_refused(_metadata, &f, -ERANGE, "beyond slot 0", true);
}

TEST(batch_unknown_slot)
{
	struct forge f = GOOD;

	f.slot = 9;
	expect_refused(_metadata, &f, -ERANGE, "unknown slot 9", true);
}

TEST(batch_pages_must_ascend)
{
	struct forge f = GOOD;

	f.pages[0] = 4;
	f.pages[1] = 4;
	expect_refused(_metadata, &f, -EPROTO, "page 4 after page 4", true);
	f.pages[1] = 2;
	expect_refused(_metadata, &f, -EPROTO, "page 2 after page 4", true);
}

TEST(batch_flags_and_reserved)
{
	struct forge f = GOOD;

	f.flags = KMIG_RECF_CONTINUE;
	expect_refused(_metadata, &f, -EPROTO, "unknown flags 0x01", true);
	f.flags = 0;
	f.reserved = 1;
	expect_refused(_metadata, &f, -EPROTO, "reserved", true);
}

TEST(batch_outside_a_ram_section)
{
	const void *data[1] = { src0[0] };
	uint64_t pages[1] = { 1 };
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, 0);
	kmig_enc_pages(&e, 0, pages, 1, data);
	kmig_enc_eos(&e);
	buf = kmig_enc_mem(&e, &len);
	reset();
	EXPECT_EQ(-EPROTO, decode_buf(&in_place_ops, buf, len, err));
	EXPECT_NE(NULL, strstr(err, "outside any section")) TH_LOG("%s", err);
	EXPECT_EQ(0, rx.dests);
	kmig_enc_free(&e);
}

TEST(batch_consumer_refusals)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	kmig_enc_init_mem(&e);
	everything(&e);
	buf = kmig_enc_mem(&e, &len);
	reset();
	rx.dest_ret = -ECANCELED;
	EXPECT_EQ(-ECANCELED, decode_buf(&in_place_ops, buf, len, err));
	EXPECT_NE(NULL, strstr(err, "refused by its handler")) TH_LOG("%s", err);
	reset();
	rx.null_dest = true;
	EXPECT_EQ(-EFAULT, decode_socket(&in_place_ops, buf, len, 0, NULL, err));
	EXPECT_NE(NULL, strstr(err, "no destination for page 7"))
		TH_LOG("%s", err);
	EXPECT_EQ(0, rx.batches);
	kmig_enc_free(&e);
}

/* Cut anywhere, from a buffer or a socket: truncated, and a batch is
 * delivered only whole. */
TEST(batch_truncated_anywhere)
{
	const void *data[3] = { src0[1], src0[2], src0[3] };
	uint64_t pages[3] = { 1, 2, 3 };
	size_t len, start, cut;
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];

	kmig_enc_init_mem(&e);
	begin(&e);
	start = e.len;
	kmig_enc_pages(&e, 0, pages, 3, data);
	finish(&e);
	buf = kmig_enc_mem(&e, &len);
	for (cut = start; cut < len; cut += cut < start + 64 ? 1 : 509) {
		reset();
		ASSERT_EQ(-ENODATA, decode_buf(&in_place_ops, buf, cut, err))
			TH_LOG("cut %zu: %s", cut, err);
		ASSERT_NE(NULL, strstr(err, "truncated")) TH_LOG("%s", err);
		ASSERT_EQ(cut >= start + KMIG_STREAM_REC_HDR_SIZE +
			  KMIG_REC_RAM_PAGES_LEN(3) + 4, rx.batches);
		reset();
		ASSERT_EQ(-ENODATA, decode_socket(&in_place_ops, buf, cut,
						  cut, NULL, err))
			TH_LOG("cut %zu: %s", cut, err);
		ASSERT_NE(NULL, strstr(err, "truncated")) TH_LOG("%s", err);
	}
	kmig_enc_free(&e);
}

TEST_HARNESS_MAIN
