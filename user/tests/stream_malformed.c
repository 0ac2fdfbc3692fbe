// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile and broken streams: each is refused with the right -errno and a
 * message naming the record, and no callback ever sees a page outside its
 * slot or a record whose CRC failed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "stream_log.h"
#include "le.h"

static uint8_t page[KMIG_STREAM_PAGE_SIZE];
static struct ev_log got;
static char err[256];

static void begin(struct kmig_enc *e, uint64_t required)
{
	kmig_enc_init_mem(e);
	kmig_enc_header(e);
	kmig_enc_caps(e, required, KMIG_SCAP_ALL);
}

static void section(struct kmig_enc *e, uint8_t type, uint32_t id,
		    uint16_t kind)
{
	struct kmig_section s = { .type = type, .id = id, .kind = kind,
				  .name = "sec" };

	kmig_enc_section(e, &s);
}

static size_t page_end, zero_end;

/* A small valid stream: one RAM section with a page and a zero run. */
static void valid(struct kmig_enc *e)
{
	begin(e, 0);
	section(e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_page(e, 0, 3, page);
	page_end = e->len;
	kmig_enc_zero(e, 0x10001, 0, 2);
	zero_end = e->len;
	section(e, KMIG_REC_SECTION_FOOTER, 1, 0);
	kmig_enc_eos(e);
}

static int decode(const uint8_t *buf, size_t len)
{
	memset(&got, 0, sizeof(got));
	return log_decode(&got, buf, len, err, sizeof(err));
}

static int decode_enc(struct kmig_enc *e)
{
	size_t len;
	const uint8_t *buf = kmig_enc_mem(e, &len);
	int ret = decode(buf, len);

	kmig_enc_free(e);
	return ret;
}

/* Refused with @errno, the message naming @a and @b. */
#define EXPECT_REFUSED(ret, errno_, a, b)				\
	do {								\
		EXPECT_EQ(errno_, ret) TH_LOG("%s", err);		\
		EXPECT_NE(NULL, strstr(err, a)) TH_LOG("%s", err);	\
		EXPECT_NE(NULL, strstr(err, b)) TH_LOG("%s", err);	\
	} while (0)

static unsigned int pages_logged(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < got.n; i++)
		n += got.ev[i].kind == EV_PAGE || got.ev[i].kind == EV_ZERO;
	return n;
}

TEST(valid_stream_is_accepted)
{
	struct kmig_enc e;

	valid(&e);
	ASSERT_EQ(0, decode_enc(&e)) TH_LOG("%s", err);
	EXPECT_EQ(2, pages_logged());
}

TEST(bad_magic)
{
	struct kmig_enc e;
	uint8_t *p;

	valid(&e);
	p = e.buf;
	p[0] = 'Q';
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "stream header", "bad magic");
	EXPECT_EQ(0, got.n);
}

TEST(unknown_version)
{
	struct kmig_enc e;

	valid(&e);
	put_le16(e.buf + 4, 4);
	put_le32(e.buf + 12, kmig_crc32c(0, e.buf, 12));
	EXPECT_REFUSED(decode_enc(&e), -EPROTONOSUPPORT, "stream header",
		       "unknown version 4");
}

/*
 * Version 1 had no RAM_PAGES, version 2 one CRC per batch: their streams
 * are refused, not misread.
 */
TEST(versions_1_and_2_refused)
{
	struct kmig_enc e;

	valid(&e);
	put_le16(e.buf + 4, 1);
	put_le32(e.buf + 12, kmig_crc32c(0, e.buf, 12));
	EXPECT_REFUSED(decode_enc(&e), -EPROTONOSUPPORT, "stream header",
		       "unknown version 1 (this decoder reads version 3)");
	valid(&e);
	put_le16(e.buf + 4, 2);
	put_le32(e.buf + 12, kmig_crc32c(0, e.buf, 12));
	EXPECT_REFUSED(decode_enc(&e), -EPROTONOSUPPORT, "stream header",
		       "unknown version 2 (this decoder reads version 3)");
}

TEST(header_crc_mismatch)
{
	struct kmig_enc e;

	valid(&e);
	e.buf[9] = 1;
	EXPECT_REFUSED(decode_enc(&e), -EBADMSG, "stream header",
		       "CRC mismatch");
}

TEST(header_reserved_not_zero)
{
	struct kmig_enc e;

	valid(&e);
	e.buf[9] = 1;
	put_le32(e.buf + 12, kmig_crc32c(0, e.buf, 12));
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "stream header", "reserved");
}

TEST(record_crc_mismatch_delivers_nothing)
{
	struct kmig_enc e;
	size_t at;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_mem(&e, &at);
	kmig_enc_page(&e, 0, 3, page);
	section(&e, KMIG_REC_SECTION_FOOTER, 1, 0);
	kmig_enc_eos(&e);
	e.buf[at + 100] ^= 0x10;		/* inside the page data */
	EXPECT_REFUSED(decode_enc(&e), -EBADMSG, "record #2 RAM_PAGE",
		       "CRC mismatch");
	EXPECT_EQ(0, pages_logged());
}

TEST(every_single_bit_flip_is_refused)
{
	struct kmig_enc e;
	const uint8_t *buf;
	uint8_t *copy;
	size_t len, i;
	int ret;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_VCPU);
	kmig_enc_vcpu(&e, 0, KMIG_VCPU_REGS, page, 64);
	section(&e, KMIG_REC_SECTION_FOOTER, 1, 0);
	kmig_enc_eos(&e);
	buf = kmig_enc_mem(&e, &len);
	copy = malloc(len);
	ASSERT_NE(NULL, copy);
	for (i = 0; i < len * 8; i++) {
		memcpy(copy, buf, len);
		copy[i / 8] ^= 1 << (i % 8);
		ret = decode(copy, len);
		ASSERT_GT(0, ret) TH_LOG("bit %zu accepted", i);
		ASSERT_NE(0, err[0]);
	}
	free(copy);
	kmig_enc_free(&e);
}

TEST(page_beyond_slot)
{
	struct kmig_enc e;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_page(&e, 0, 15, page);
	kmig_enc_page(&e, 0, 16, page);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "record #3 RAM_PAGE",
		       "page 16 (+1) beyond slot 0 (16 pages)");
	EXPECT_EQ(1, pages_logged());
}

TEST(zero_run_beyond_slot)
{
	struct kmig_enc e;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_zero(&e, 0x10001, 250, 7);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_ZERO",
		       "page 250 (+7) beyond slot 65537 (256 pages)");

	/* page + count wraps around 2^64 */
	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_zero(&e, 0, ~0ull, 2);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_ZERO", "beyond slot 0");
	EXPECT_EQ(0, pages_logged());
}

TEST(zero_run_of_zero_pages)
{
	struct kmig_enc e;
	uint8_t pl[16];

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	put_le32(pl, 0);
	put_le64(pl + 4, 0);
	put_le32(pl + 12, 0);
	kmig_enc_record(&e, KMIG_REC_RAM_ZERO, 0, pl, 16);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_ZERO",
		       "a zero run of 0 pages (1..65536)");
}

/* Postcopy's records and commands need its capability; a discard run is
 * checked like a zero run and never takes CONTINUE. */
TEST(postcopy_needs_its_capability)
{
	struct kmig_scmd pc = { .id = KMIG_SCMD_POSTCOPY };
	struct kmig_enc e;
	uint8_t pl[16];

	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, KMIG_SCAP_ALL & ~(uint64_t)KMIG_SCAP_POSTCOPY);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_discard(&e, 0, 0, 1);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_DISCARD",
		       "RAM_DISCARD without capability POSTCOPY");

	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, KMIG_SCAP_ALL & ~(uint64_t)KMIG_SCAP_POSTCOPY);
	kmig_enc_cmd(&e, &pc);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "COMMAND",
		       "command POSTCOPY without capability POSTCOPY");

	begin(&e, KMIG_SCAP_POSTCOPY);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_discard(&e, 0x10001, 250, 7);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_DISCARD",
		       "page 250 (+7) beyond slot 65537 (256 pages)");

	begin(&e, KMIG_SCAP_POSTCOPY);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	put_le32(pl, 0);
	put_le64(pl + 4, 0);
	put_le32(pl + 12, 0);
	kmig_enc_record(&e, KMIG_REC_RAM_DISCARD, 0, pl, 16);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_DISCARD",
		       "a discard run of 0 pages (1..65536)");

	begin(&e, KMIG_SCAP_POSTCOPY);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_record(&e, KMIG_REC_RAM_DISCARD, KMIG_RECF_CONTINUE, pl + 4,
			12);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_DISCARD",
		       "unknown flags 0x01");
	EXPECT_EQ(0, pages_logged());
}

/*
 * A zero run longer than KMIG_STREAM_MAX_ZERO_RUN is refused even in a
 * slot that holds it: its handler would loop over each page.
 */
TEST(zero_run_too_long)
{
	static const uint32_t counts[] = { 65537, 0xffffffffu };
	struct kmig_slot big = { .id = 0, .npages = 1ull << 33 };
	struct kmig_dec_cfg cfg = log_cfg(&got);
	struct kmig_enc e;
	struct kmig_dec d;
	const uint8_t *buf;
	unsigned int i;
	uint8_t pl[16];
	size_t len;

	for (i = 0; i < 2; i++) {
		begin(&e, 0);
		section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
		put_le32(pl, 0);
		put_le64(pl + 4, 0);
		put_le32(pl + 12, counts[i]);
		kmig_enc_record(&e, KMIG_REC_RAM_ZERO, 0, pl, 16);
		section(&e, KMIG_REC_SECTION_FOOTER, 1, 0);
		kmig_enc_eos(&e);
		buf = kmig_enc_mem(&e, &len);
		cfg.slots = &big;
		cfg.nslots = 1;
		memset(&got, 0, sizeof(got));
		ASSERT_EQ(0, kmig_dec_init_buf(&d, &cfg, buf, len));
		EXPECT_EQ(-ERANGE, kmig_dec_run(&d));
		EXPECT_NE(NULL, strstr(kmig_dec_error(&d), "a zero run of"))
			TH_LOG("%s", kmig_dec_error(&d));
		kmig_dec_free(&d);
		kmig_enc_free(&e);
		EXPECT_EQ(0, pages_logged());
	}
	EXPECT_EQ(-EINVAL, kmig_enc_zero(&e, 0, 0, 65537));
	EXPECT_EQ(-EINVAL, kmig_enc_zero(&e, 0, 0, 0));
}

TEST(unknown_slot)
{
	struct kmig_enc e;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_page(&e, 5, 0, page);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "RAM_PAGE", "unknown slot 5");
}

TEST(truncated_at_every_byte)
{
	struct kmig_enc e;
	const uint8_t *buf;
	size_t len, cut;

	valid(&e);
	buf = kmig_enc_mem(&e, &len);
	for (cut = 0; cut < len; cut++) {
		ASSERT_EQ(-ENODATA, decode(buf, cut)) TH_LOG("cut %zu: %s",
							      cut, err);
		ASSERT_NE(NULL, strstr(err, "truncated")) TH_LOG("%s", err);
		/* a record is delivered only once it is complete */
		ASSERT_EQ((cut >= page_end) + (cut >= zero_end),
			  pages_logged()) TH_LOG("cut %zu", cut);
	}
	kmig_enc_free(&e);
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
};

static void *write_and_close(void *arg)
{
	struct writer *w = arg;

	if (write(w->fd, w->buf, w->len) != (ssize_t)w->len)
		w->len = 0;
	close(w->fd);
	return NULL;
}

TEST(truncated_pipe)
{
	struct kmig_dec_cfg cfg = log_cfg(&got);
	struct kmig_enc e;
	struct kmig_dec d;
	struct writer w;
	pthread_t t;
	size_t len;
	int p[2];

	valid(&e);
	w.buf = kmig_enc_mem(&e, &len);
	w.len = zero_end - 5;		/* cut inside the RAM_ZERO record */
	ASSERT_EQ(0, pipe(p));
	w.fd = p[1];
	ASSERT_EQ(0, pthread_create(&t, NULL, write_and_close, &w));
	memset(&got, 0, sizeof(got));
	ASSERT_EQ(0, kmig_dec_init_fd(&d, &cfg, p[0]));
	EXPECT_EQ(-ENODATA, kmig_dec_run(&d));
	EXPECT_NE(NULL, strstr(kmig_dec_error(&d), "RAM_ZERO"))
		TH_LOG("%s", kmig_dec_error(&d));
	EXPECT_NE(NULL, strstr(kmig_dec_error(&d), "truncated"));
	pthread_join(t, NULL);
	EXPECT_NE(0, w.len);
	EXPECT_EQ(1, pages_logged());
	kmig_dec_free(&d);
	close(p[0]);
	kmig_enc_free(&e);
}

TEST(oversized_length_is_refused_before_reading)
{
	struct kmig_enc e;
	uint8_t hdr[8] = { KMIG_REC_RAM_PAGE, 0, 0, 0 };
	long off;

	begin(&e, 0);
	put_le32(hdr + 4, 0xffffffff);
	off = e.len;
	kmig_enc_record(&e, 0, 0, NULL, 0);	/* room for 12 bytes */
	memcpy(e.buf + off, hdr, 8);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "RAM_PAGE",
		       "length 4294967295 exceeds the limit");
}

TEST(length_not_the_record_size)
{
	struct kmig_enc e;
	static uint8_t pl[5000];

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_record(&e, KMIG_REC_RAM_PAGE, 0, pl, sizeof(pl));
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "RAM_PAGE",
		       "length 5000, this record is 4108 bytes");

	begin(&e, 0);
	kmig_enc_record(&e, KMIG_REC_END_OF_STREAM, 0, pl, 9);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "END_OF_STREAM", "length 9");
}

TEST(unknown_record_type)
{
	struct kmig_enc e;

	begin(&e, 0);
	kmig_enc_record(&e, 0x55, 0, page, 10);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "record #1 type 0x55",
		       "unknown record type 0x55");
}

TEST(unknown_flags)
{
	struct kmig_enc e;
	uint8_t pl[KMIG_REC_CAPS_LEN] = { 0 };

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	kmig_enc_page(&e, 0, 1, page);
	e.buf[e.len - 4 - 4108 - 8 + 1] = 0x80;
	put_le32(e.buf + e.len - 4, kmig_crc32c(0, e.buf + e.len - 4120, 4116));
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_PAGE",
		       "unknown flags 0x80");

	/* CONTINUE means nothing outside RAM records */
	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_record(&e, KMIG_REC_CAPS, KMIG_RECF_CONTINUE, pl, sizeof(pl));
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "CAPS", "unknown flags 0x01");
}

TEST(continue_without_previous_ram_record)
{
	struct kmig_enc e;
	uint8_t pl[12] = { 0 };

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM);
	put_le32(pl + 8, 1);
	kmig_enc_record(&e, KMIG_REC_RAM_ZERO, KMIG_RECF_CONTINUE, pl, 12);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_ZERO",
		       "CONTINUE with no earlier RAM record");

	/* a section record forgets the slot */
	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 1, KMIG_SEC_RAM);
	kmig_enc_zero(&e, 0, 0, 1);
	section(&e, KMIG_REC_SECTION_FOOTER, 1, 0);
	section(&e, KMIG_REC_SECTION_END, 1, 0);
	kmig_enc_record(&e, KMIG_REC_RAM_ZERO, KMIG_RECF_CONTINUE, pl, 12);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "record #5 RAM_ZERO",
		       "CONTINUE");
}

TEST(caps_order_and_negotiation)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_FULL, .id = 1,
				  .kind = KMIG_SEC_RAM, .name = "r" };
	struct kmig_dec_cfg cfg = log_cfg(&got);
	struct kmig_enc e;
	struct kmig_dec d;
	const uint8_t *buf;
	size_t len;

	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_section(&e, &s);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "record #0 SECTION_FULL",
		       "the first record must be CAPS");

	begin(&e, 0);
	kmig_enc_caps(&e, 0, 0);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "record #1 CAPS",
		       "CAPS again");

	begin(&e, 1ull << 40);
	EXPECT_REFUSED(decode_enc(&e), -EPROTONOSUPPORT, "CAPS",
		       "required capabilities 0x10000000000 not supported");

	/* a decoder without multi-channel support refuses a stream that
	 * requires it */
	begin(&e, KMIG_SCAP_MULTI_CHANNEL);
	kmig_enc_eos(&e);
	buf = kmig_enc_mem(&e, &len);
	cfg.caps_supported = KMIG_SCAP_ALL & ~KMIG_SCAP_MULTI_CHANNEL;
	ASSERT_EQ(0, kmig_dec_init_buf(&d, &cfg, buf, len));
	EXPECT_EQ(-EPROTONOSUPPORT, kmig_dec_run(&d));
	EXPECT_NE(NULL, strstr(kmig_dec_error(&d), "0x1 not supported"));
	/* and stays failed */
	EXPECT_GT(0, kmig_dec_next(&d));
	kmig_dec_free(&d);
	kmig_enc_free(&e);
}

TEST(records_outside_their_section)
{
	struct kmig_enc e;

	begin(&e, 0);
	kmig_enc_page(&e, 0, 0, page);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_PAGE",
		       "outside any section");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 4, KMIG_SEC_VCPU);
	kmig_enc_zero(&e, 0, 0, 1);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "RAM_ZERO",
		       "inside VCPU section 4");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 4, KMIG_SEC_RAM);
	kmig_enc_vcpu(&e, 0, KMIG_VCPU_REGS, page, 8);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "VCPU_STATE",
		       "inside RAM section 4");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 4, KMIG_SEC_RAM);
	kmig_enc_eos(&e);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "END_OF_STREAM",
		       "section 4 has no footer");
}

TEST(section_lifecycle)
{
	struct kmig_enc e;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_PART, 3, 0);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_PART",
		       "section 3 is not open");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 3, KMIG_SEC_RAM);
	section(&e, KMIG_REC_SECTION_FOOTER, 3, 0);
	section(&e, KMIG_REC_SECTION_END, 3, 0);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_END",
		       "section 3 is not open");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 3, KMIG_SEC_RAM);
	section(&e, KMIG_REC_SECTION_START, 4, KMIG_SEC_RAM);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_START",
		       "section 3 has no footer");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 3, KMIG_SEC_RAM);
	section(&e, KMIG_REC_SECTION_FOOTER, 3, 0);
	section(&e, KMIG_REC_SECTION_FULL, 3, KMIG_SEC_RAM);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FULL",
		       "section id 3 already used");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 3, KMIG_SEC_RAM);
	section(&e, KMIG_REC_SECTION_FOOTER, 5, 0);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FOOTER",
		       "footer of section 5");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 3, KMIG_SEC_RAM);
	section(&e, KMIG_REC_SECTION_FOOTER, 3, 0);
	kmig_enc_eos(&e);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "END_OF_STREAM",
		       "section 3 (sec) never ended");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 3, 9);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FULL",
		       "unknown kind 9");
}

TEST(too_many_sections)
{
	struct kmig_enc e;
	unsigned int i;

	begin(&e, 0);
	for (i = 0; i <= KMIG_STREAM_MAX_SECTIONS; i++) {
		section(&e, KMIG_REC_SECTION_FULL, i, KMIG_SEC_RAM);
		section(&e, KMIG_REC_SECTION_FOOTER, i, 0);
	}
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "SECTION_FULL",
		       "more than 256 sections");
}

TEST(section_names)
{
	struct kmig_enc e;
	uint8_t pl[20] = { 0 };

	put_le16(pl + 4, KMIG_SEC_RAM);
	pl[12] = 3;
	memcpy(pl + 13, "a b", 3);
	begin(&e, 0);
	kmig_enc_record(&e, KMIG_REC_SECTION_FULL, 0, pl, 16);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FULL",
		       "name byte 1 is 0x20");

	pl[12] = 5;
	begin(&e, 0);
	kmig_enc_record(&e, KMIG_REC_SECTION_FULL, 0, pl, 16);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "SECTION_FULL",
		       "name length 5, record has 3 name bytes");

	begin(&e, 0);
	kmig_enc_record(&e, KMIG_REC_SECTION_FULL, 0, pl, 13);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "SECTION_FULL",
		       "length 13 outside 14..76");
}

TEST(device_state_packets)
{
	struct kmig_enc e;
	uint8_t pl[24] = { 0 };

	begin(&e, 0);
	kmig_enc_caps(&e, 0, 0);
	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, 0);
	section(&e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_DEVICE);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FULL",
		       "without capability DEVICE_STATE");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_DEVICE);
	kmig_enc_device(&e, KMIG_DEVPKT_DATA_STATE, page, 10);
	section(&e, KMIG_REC_SECTION_FOOTER, 2, 0);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "SECTION_FOOTER",
		       "device section 2 ends without END_OF_STATE");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_DEVICE);
	kmig_enc_device(&e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	kmig_enc_device(&e, KMIG_DEVPKT_DATA_STATE, page, 10);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "DEVICE_STATE",
		       "DATA_STATE after END_OF_STATE");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_DEVICE);
	put_le32(pl, KMIG_DEVPKT_CONFIG_STATE);
	put_le64(pl + 8, 9);
	kmig_enc_record(&e, KMIG_REC_DEVICE_STATE, 0, pl, 24);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "DEVICE_STATE",
		       "CONFIG_STATE size 9, record carries 8 bytes");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_DEVICE);
	put_le32(pl, 77);
	kmig_enc_record(&e, KMIG_REC_DEVICE_STATE, 0, pl, 16);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "DEVICE_STATE",
		       "unknown packet marker 77");
}

TEST(commands)
{
	struct kmig_scmd c = { .id = KMIG_SCMD_CHANNELS };
	struct kmig_enc e;
	uint8_t pl[8] = { 0 };

	begin(&e, 0);
	put_le16(pl, 42);
	kmig_enc_record(&e, KMIG_REC_COMMAND, 0, pl, 4);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "COMMAND", "unknown command 42");

	begin(&e, 0);
	put_le16(pl, KMIG_SCMD_PING);
	kmig_enc_record(&e, KMIG_REC_COMMAND, 0, pl, 6);
	EXPECT_REFUSED(decode_enc(&e), -EMSGSIZE, "COMMAND",
		       "length 6, this record is 8 bytes");

	/* CHANNELS needs the capability, and at least one page channel */
	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, 0);
	c.channels.count = 2;
	kmig_enc_cmd(&e, &c);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "COMMAND",
		       "without capability MULTI_CHANNEL");

	begin(&e, 0);
	c.channels.count = 0;
	kmig_enc_cmd(&e, &c);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "COMMAND", "0 page channels");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_START, 3, KMIG_SEC_RAM);
	c.id = KMIG_SCMD_SWITCHOVER;
	kmig_enc_cmd(&e, &c);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "COMMAND",
		       "section 3 has no footer");
}

TEST(vcpu_state)
{
	uint8_t pl[KMIG_REC_VCPU_HDR_LEN + 8];
	struct kmig_enc e;

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_VCPU);
	kmig_enc_vcpu(&e, KMIG_STREAM_MAX_VCPUS, KMIG_VCPU_REGS, page, 8);
	EXPECT_REFUSED(decode_enc(&e), -ERANGE, "VCPU_STATE",
		       "vCPU 4096 beyond 4096");

	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_VCPU);
	kmig_enc_vcpu(&e, 0, 99, page, 8);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "VCPU_STATE",
		       "vCPU 0: unknown part 99");

	/* index 0, part REGS, reserved 7, eight bytes of state */
	memset(pl, 0, sizeof(pl));
	put_le16(pl + 4, KMIG_VCPU_REGS);
	put_le16(pl + 6, 7);
	begin(&e, 0);
	section(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_VCPU);
	kmig_enc_record(&e, KMIG_REC_VCPU_STATE, 0, pl, sizeof(pl));
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "VCPU_STATE",
		       "vCPU 0: part REGS: reserved not zero");
}

TEST(end_of_stream)
{
	struct kmig_enc e;
	uint8_t pl[8];
	size_t len;

	begin(&e, 0);
	put_le64(pl, 7);
	kmig_enc_record(&e, KMIG_REC_END_OF_STREAM, 0, pl, 8);
	EXPECT_REFUSED(decode_enc(&e), -EPROTO, "END_OF_STREAM",
		       "stream claims 7 records, 1 came");

	valid(&e);
	kmig_enc_caps(&e, 0, 0);
	len = e.len;
	EXPECT_EQ(-EPROTO, decode_enc(&e));
	EXPECT_NE(NULL, strstr(err, "28 bytes of garbage after END_OF_STREAM"))
		TH_LOG("%s (stream %zu bytes)", err, len);
}

TEST(handler_error_stops_decoding)
{
	struct kmig_enc e;
	size_t len;
	const uint8_t *buf;

	valid(&e);
	buf = kmig_enc_mem(&e, &len);
	memset(&got, 0, sizeof(got));
	got.fail_at = 3;		/* caps, section, then the page */
	EXPECT_EQ(-ECANCELED, log_decode(&got, buf, len, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "record #2 RAM_PAGE")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "refused by its handler"));
	EXPECT_EQ(2, got.n);
	kmig_enc_free(&e);
}

TEST_HARNESS_MAIN
