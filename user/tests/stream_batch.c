// SPDX-License-Identifier: GPL-2.0
/*
 * RAM_PAGES, batches of pages: they round-trip through a buffer and a
 * socket, go straight to the destinations a consumer gives (read from the
 * socket in any chunking), are checked there, and every broken batch is
 * refused with nothing delivered, and with nothing written at all when
 * the header or page list is wrong; a torn page is named to a consumer
 * that takes torn pages, and only to it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "stream_log.h"
#include "crc32c.h"
#include "le.h"

#define PAGE	KMIG_STREAM_PAGE_SIZE

/* The destination's memory: test_slots' two slots, 16 and 256 pages. */
static uint8_t guest0[16][PAGE], guest1[256][PAGE];
/* What the source sent, page by page, for the check. */
static uint8_t src0[16][PAGE], src1[256][PAGE];

static struct {
	unsigned int dests, batches, pages, misplaced;
	unsigned int torn;	/* torn pages named */
	uint64_t torn_page;	/* the last one */
	int dest_ret;		/* pages_dest returns this */
	bool null_dest;		/* ... or leaves a destination NULL */
} rx;

static uint8_t *guest_page(uint32_t slot, uint64_t page)
{
	return slot ? guest1[page] : guest0[page];
}

static int rx_dest(void *o, uint32_t slot, const uint64_t *pages,
		   unsigned int n, void **dst)
{
	unsigned int i;

	rx.dests++;
	if (rx.dest_ret)
		return rx.dest_ret;
	for (i = 0; i < n; i++)
		dst[i] = rx.null_dest && i == n - 1 ? NULL :
			 guest_page(slot, pages[i]);
	return 0;
}

static int rx_pages(void *o, uint32_t slot, const uint64_t *pages,
		    unsigned int n, const void *const *data)
{
	unsigned int i;

	rx.batches++;
	rx.pages += n;
	for (i = 0; i < n; i++)
		rx.misplaced += data[i] != guest_page(slot, pages[i]);
	return 0;
}

static int rx_page(void *o, uint32_t slot, uint64_t page, const void *data)
{
	rx.pages++;
	memcpy(guest_page(slot, page), data, PAGE);
	return 0;
}

static int rx_zero(void *o, uint32_t slot, uint64_t page, uint32_t count)
{
	while (count--)
		memset(guest_page(slot, page++), 0, PAGE);
	return 0;
}

static int rx_torn(void *o, uint32_t slot, uint64_t page)
{
	rx.torn++;
	rx.torn_page = page;
	return 0;
}

static const struct kmig_dec_ops in_place_ops = {
	.pages_dest = rx_dest, .pages = rx_pages, .page = rx_page,
	.zero = rx_zero,
};

/* ... and taking torn pages. */
static const struct kmig_dec_ops torn_ops = {
	.pages_dest = rx_dest, .pages = rx_pages, .page = rx_page,
	.zero = rx_zero, .torn = rx_torn,
};

/* Without destinations the pages come one by one, from the input. */
static const struct kmig_dec_ops page_ops = {
	.page = rx_page, .zero = rx_zero,
};

static void reset(void)
{
	memset(&rx, 0, sizeof(rx));
	memset(guest0, 0xee, sizeof(guest0));
	memset(guest1, 0xee, sizeof(guest1));
}

static bool guest_untouched(void)
{
	size_t i;

	for (i = 0; i < sizeof(guest0); i++)
		if (((uint8_t *)guest0)[i] != 0xee)
			return false;
	for (i = 0; i < sizeof(guest1); i++)
		if (((uint8_t *)guest1)[i] != 0xee)
			return false;
	return true;
}

static void begin(struct kmig_enc *e)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_FULL, .id = 1,
				  .kind = KMIG_SEC_RAM, .name = "ram" };

	kmig_enc_header(e);
	kmig_enc_caps(e, 0, 0);
	kmig_enc_section(e, &s);
}

static void finish(struct kmig_enc *e)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_FOOTER, .id = 1 };

	kmig_enc_section(e, &s);
	kmig_enc_eos(e);
}

/*
 * A stream of every RAM record kind: batches of 1, 128 and 100 pages,
 * a single page, zero runs (one with CONTINUE after a batch). Sends
 * src0/src1's pages; returns how many pages went in batches.
 */
static unsigned int everything(struct kmig_enc *e)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	unsigned int seed = 4, i, n;
	size_t b;

	for (b = 0; b < sizeof(src0); b++)
		((uint8_t *)src0)[b] = rand_r(&seed);
	for (b = 0; b < sizeof(src1); b++)
		((uint8_t *)src1)[b] = rand_r(&seed);
	begin(e);
	pages[0] = 7;
	data[0] = src0[7];
	kmig_enc_pages(e, 0, pages, 1, data);
	for (i = 0; i < 128; i++) {
		pages[i] = 2 * i;
		data[i] = src1[2 * i];
	}
	kmig_enc_pages(e, 0x10001, pages, 128, data);
	kmig_enc_zero(e, 0x10001, 1, 1);	/* CONTINUE */
	memset(src1[1], 0, PAGE);
	kmig_enc_page(e, 0, 8, src0[8]);
	for (i = 0, n = 0; i < 256 && n < 100; i++)
		if (i % 2 && i > 1) {
			pages[n] = i;
			data[n++] = src1[i];
		}
	kmig_enc_pages(e, 0x10001, pages, n, data);
	kmig_enc_zero(e, 0, 0, 7);
	memset(src0, 0, 7 * PAGE);
	finish(e);
	return 1 + 128 + 100;
}

/* The pages everything() sent are where they belong. */
static bool guest_matches(void)
{
	unsigned int i;

	for (i = 0; i < 9; i++)
		if (memcmp(guest0[i], src0[i], PAGE))
			return false;
	for (i = 0; i < 202; i++)
		if (memcmp(guest1[i], src1[i], PAGE))
			return false;
	return true;
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
	unsigned int seed;	/* 0: one write; else random pieces */
	bool ok;
};

static void *writer(void *arg)
{
	struct writer *w = arg;
	size_t off = 0, k;
	ssize_t n;

	w->ok = true;
	while (off < w->len) {
		k = w->len - off;
		if (w->seed && k > 1)
			k = 1 + rand_r(&w->seed) % (k < 9000 ? k : 9000);
		n = send(w->fd, w->buf + off, k, MSG_NOSIGNAL);
		if (n <= 0) {
			w->ok = false;
			break;
		}
		off += n;
	}
	close(w->fd);
	return NULL;
}

/* Decode @len bytes of @buf sent through a socket in pieces. */
static int decode_socket(const struct kmig_dec_ops *ops, const uint8_t *buf,
			 size_t len, unsigned int seed, bool *in_place,
			 char *err)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL, .ops = ops,
	};
	struct writer w = { .buf = buf, .len = len, .seed = seed };
	struct kmig_dec d;
	pthread_t t;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	w.fd = sv[1];
	if (pthread_create(&t, NULL, writer, &w))
		return -EAGAIN;
	ret = kmig_dec_init_fd(&d, &cfg, sv[0]);
	if (!ret)
		ret = kmig_dec_run(&d);
	snprintf(err, 256, "%s", kmig_dec_error(&d));
	if (in_place)
		*in_place = d.in_place;
	kmig_dec_free(&d);
	close(sv[0]);
	pthread_join(t, NULL);
	return ret;
}

static int decode_buf(const struct kmig_dec_ops *ops, const uint8_t *buf,
		      size_t len, char *err)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL, .ops = ops,
	};
	struct kmig_dec d;
	int ret;

	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	snprintf(err, 256, "%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	return ret;
}

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
