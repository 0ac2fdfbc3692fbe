// SPDX-License-Identifier: GPL-2.0
/*
 * Stream round trips: every record type the encoder writes comes out of the
 * decoder with the same values and data, from a buffer and from a file
 * descriptor, and CONTINUE saves the slot field exactly when it should.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "stream_log.h"
#include "le.h"

static uint8_t page_a[KMIG_STREAM_PAGE_SIZE], page_b[KMIG_STREAM_PAGE_SIZE];
static const uint8_t uuid[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4,
				  5, 6, 7, 8, 9, 10, 11, 12 };

static struct kmig_section sec(uint8_t type, uint32_t id, uint16_t kind,
			       uint16_t instance, const char *name)
{
	struct kmig_section s = { .type = type, .id = id, .kind = kind,
				  .instance = instance, .version = 3 };

	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

/* One of everything; fills @want with the events the decoder must log. */
static int encode_all(struct kmig_enc *e, struct ev_log *want)
{
	struct kmig_scmd ping = { .id = KMIG_SCMD_PING, .token = 0xfeedf00d };
	struct kmig_scmd sync = { .id = KMIG_SCMD_ROUND_SYNC,
				 .round = 0x123456789aull };
	struct kmig_scmd chans = { .id = KMIG_SCMD_CHANNELS };
	struct kmig_scmd sw = { .id = KMIG_SCMD_SWITCHOVER };
	struct kmig_scmd rp = { .id = KMIG_SCMD_OPEN_RETURN_PATH };
	struct kmig_scmd pc = { .id = KMIG_SCMD_POSTCOPY };
	struct kmig_scmd run = { .id = KMIG_SCMD_POSTCOPY_RUN };
	struct kmig_section s;
	uint8_t vstate[300], cfg[40], data[5000];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < sizeof(page_a); i++) {
		page_a[i] = i * 7;
		page_b[i] = ~i;
	}
	for (i = 0; i < sizeof(data); i++)
		data[i] = i ^ 0x5c;
	memset(vstate, 0xa5, sizeof(vstate));
	memset(cfg, 0x3c, sizeof(cfg));
	chans.channels.count = 4;
	memcpy(chans.channels.uuid, uuid, 16);

	ret |= kmig_enc_header(e);
	ret |= kmig_enc_caps(e, KMIG_SCAP_MULTI_CHANNEL | KMIG_SCAP_DEVICE_STATE,
			     KMIG_SCAP_RETURN_PATH | KMIG_SCAP_POSTCOPY |
			     (1ull << 63));
	log_caps(want, KMIG_SCAP_MULTI_CHANNEL | KMIG_SCAP_DEVICE_STATE |
		       KMIG_SCAP_RETURN_PATH | KMIG_SCAP_POSTCOPY);
	ret |= kmig_enc_cmd(e, &rp);
	log_cmd(want, &rp);
	ret |= kmig_enc_cmd(e, &chans);
	log_cmd(want, &chans);
	ret |= kmig_enc_cmd(e, &ping);
	log_cmd(want, &ping);

	s = sec(KMIG_REC_SECTION_START, 7, KMIG_SEC_RAM, 0, "ram");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_page(e, 0, 0, page_a);
	log_page(want, 0, 0, page_a);
	ret |= kmig_enc_page(e, 0, 15, page_b);
	log_page(want, 0, 15, page_b);
	ret |= kmig_enc_zero(e, 0, 1, 14);
	log_zero(want, 0, 1, 14);
	ret |= kmig_enc_page(e, 0x10001, 255, page_a);
	log_page(want, 0x10001, 255, page_a);
	ret |= kmig_enc_zero(e, 0, 3, 1);
	log_zero(want, 0, 3, 1);
	s = sec(KMIG_REC_SECTION_FOOTER, 7, KMIG_SEC_RAM, 0, "ram");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_cmd(e, &sync);
	log_cmd(want, &sync);

	s = sec(KMIG_REC_SECTION_PART, 7, KMIG_SEC_RAM, 0, "ram");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_zero(e, 0x10001, 0, 256);
	log_zero(want, 0x10001, 0, 256);
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);

	/* device section, started while running, ended at stop */
	s = sec(KMIG_REC_SECTION_START, 9, KMIG_SEC_DEVICE, 2, "kmig-sample.0");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_device(e, KMIG_DEVPKT_SETUP_STATE, cfg, 8);
	log_device(want, 2, KMIG_DEVPKT_SETUP_STATE, cfg, 8);
	ret |= kmig_enc_device(e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	log_device(want, 2, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);

	ret |= kmig_enc_cmd(e, &sw);
	log_cmd(want, &sw);
	ret |= kmig_enc_cmd(e, &pc);
	log_cmd(want, &pc);

	/* postcopy's discard list: runs of stale pages, no CONTINUE */
	s = sec(KMIG_REC_SECTION_FULL, 10, KMIG_SEC_RAM, 0, "discard");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_discard(e, 0x10001, 4, 200);
	log_discard(want, 0x10001, 4, 200);
	ret |= kmig_enc_discard(e, 0, 15, 1);
	log_discard(want, 0, 15, 1);
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_cmd(e, &run);
	log_cmd(want, &run);

	s = sec(KMIG_REC_SECTION_END, 7, KMIG_SEC_RAM, 0, "ram");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_page(e, 0x10001, 3, page_b);
	log_page(want, 0x10001, 3, page_b);
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);

	s = sec(KMIG_REC_SECTION_FULL, 8, KMIG_SEC_VCPU, 1, "cpu");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	for (i = KMIG_VCPU_REGS; i <= KMIG_VCPU_DEBUGREGS; i++) {
		ret |= kmig_enc_vcpu(e, 1, i, vstate, i * 30);
		log_vcpu(want, 1, i, vstate, i * 30);
	}
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);

	s = sec(KMIG_REC_SECTION_END, 9, KMIG_SEC_DEVICE, 2, "kmig-sample.0");
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);
	ret |= kmig_enc_device(e, KMIG_DEVPKT_CONFIG_STATE, cfg, sizeof(cfg));
	log_device(want, 2, KMIG_DEVPKT_CONFIG_STATE, cfg, sizeof(cfg));
	ret |= kmig_enc_device(e, KMIG_DEVPKT_DATA_STATE, data, sizeof(data));
	log_device(want, 2, KMIG_DEVPKT_DATA_STATE, data, sizeof(data));
	ret |= kmig_enc_device(e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	log_device(want, 2, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	s.type = KMIG_REC_SECTION_FOOTER;
	ret |= kmig_enc_section(e, &s);
	log_section(want, &s);

	ret |= kmig_enc_eos(e);
	log_eos(want);
	return ret;
}

static void expect_same(struct __test_metadata *_metadata,
			const struct ev_log *want, const struct ev_log *got)
{
	unsigned int i;

	ASSERT_EQ(want->n, got->n);
	for (i = 0; i < want->n; i++) {
		const struct ev *w = &want->ev[i], *g = &got->ev[i];

		EXPECT_EQ(w->kind, g->kind) TH_LOG("event %u", i);
		EXPECT_EQ(w->a, g->a) TH_LOG("event %u kind %d", i, w->kind);
		EXPECT_EQ(w->b, g->b) TH_LOG("event %u kind %d", i, w->kind);
		EXPECT_EQ(w->c, g->c) TH_LOG("event %u kind %d", i, w->kind);
		EXPECT_EQ(w->crc, g->crc) TH_LOG("event %u kind %d", i, w->kind);
		EXPECT_STREQ(w->name, g->name) TH_LOG("event %u", i);
	}
}

static struct ev_log want, got;

TEST(every_record_type_from_buffer)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	kmig_enc_init_mem(&e);
	ASSERT_EQ(0, encode_all(&e, &want));
	buf = kmig_enc_mem(&e, &len);
	ASSERT_EQ(0, log_decode(&got, buf, len, err, sizeof(err)))
		TH_LOG("%s", err);
	expect_same(_metadata, &want, &got);
	/* the last section: device 9, its instance and name */
	EXPECT_EQ(EV_SECTION, got.ev[got.n - 6].kind);
	EXPECT_EQ(KMIG_SEC_DEVICE, got.ev[got.n - 6].c >> 32);
	EXPECT_EQ(2, (got.ev[got.n - 6].c >> 16) & 0xffff);
	kmig_enc_free(&e);
}

TEST(every_record_type_through_an_fd)
{
	struct kmig_dec_cfg cfg = log_cfg(&got);
	struct kmig_enc e;
	struct kmig_dec d;
	int fd, i;

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	fd = memfd_create("stream", 0);
	ASSERT_LE(0, fd);
	kmig_enc_init_fd(&e, fd);
	ASSERT_EQ(0, encode_all(&e, &want));
	/* enough pages to pass the encoder's flush threshold several times */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, encode_all(&e, &want));
	kmig_enc_free(&e);
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));

	/* the first copy is the stream; the decoder stops at its end */
	ASSERT_EQ(0, kmig_dec_init_fd(&d, &cfg, fd));
	ASSERT_EQ(0, kmig_dec_run(&d)) TH_LOG("%s", kmig_dec_error(&d));
	want.n /= 4;
	expect_same(_metadata, &want, &got);
	kmig_dec_free(&d);
	close(fd);
}

/* Byte for byte what an encoder writes to @fd for pages given @by_ref. */
static int encode_pages(int fd, const uint8_t *pages, int n, bool by_ref)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_FULL, .id = 1, .kind = KMIG_SEC_RAM,
		.version = 1, .name = "ram",
	};
	struct kmig_enc e;
	int i, ret;

	kmig_enc_init_fd(&e, fd);
	ret = kmig_enc_header(&e);
	if (!ret)
		ret = kmig_enc_caps(&e, 0, 0);
	if (!ret)
		ret = kmig_enc_section(&e, &sec);
	for (i = 0; i < n && !ret; i++) {
		const uint8_t *p = pages + (size_t)i * KMIG_STREAM_PAGE_SIZE;

		if (i % 7 == 3)
			ret = kmig_enc_zero(&e, i % 3, i, 1 + i % 5);
		else if (by_ref)
			ret = kmig_enc_page_ref(&e, i % 3, i, p);
		else
			ret = kmig_enc_page(&e, i % 3, i, p);
	}
	/* a flush with nothing staged writes nothing, and succeeds */
	if (!ret)
		ret = kmig_enc_flush(&e);
	if (!ret)
		ret = kmig_enc_flush(&e);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&e, &sec);
	if (!ret)
		ret = kmig_enc_eos(&e);
	kmig_enc_free(&e);
	return ret;
}

TEST(pages_by_reference_write_the_same_bytes)
{
	const int n = 1500;	/* past the reference limit and FLUSH_AT */
	size_t len = (size_t)n * KMIG_STREAM_PAGE_SIZE;
	uint8_t *pages = malloc(len), *a, *b;
	unsigned int seed = 5;
	off_t la, lb;
	int fa, fb;
	size_t i;

	ASSERT_NE(NULL, pages);
	for (i = 0; i < len; i++)
		pages[i] = rand_r(&seed);
	fa = memfd_create("copied", 0);
	fb = memfd_create("by-ref", 0);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, encode_pages(fa, pages, n, false));
	ASSERT_EQ(0, encode_pages(fb, pages, n, true));
	la = lseek(fa, 0, SEEK_END);
	lb = lseek(fb, 0, SEEK_END);
	ASSERT_EQ(la, lb);
	ASSERT_LT((off_t)len / 2, la);
	a = malloc(la);
	b = malloc(lb);
	ASSERT_EQ(la, pread(fa, a, la, 0));
	ASSERT_EQ(lb, pread(fb, b, lb, 0));
	EXPECT_EQ(0, memcmp(a, b, la));
	free(a);
	free(b);
	free(pages);
	close(fa);
	close(fb);
}

/* Pages collected until the decoder releases them, then checked. */
static struct {
	const uint8_t *pages;		/* what was encoded */
	const uint8_t *held[2048];
	uint64_t held_page[2048];
	unsigned int nheld, checked, releases, bad;
} hold;

static int hold_page(void *opaque, uint32_t slot, uint64_t page,
		     const void *data)
{
	if (hold.nheld == 2048)
		return -ENOSPC;
	hold.held[hold.nheld] = data;
	hold.held_page[hold.nheld++] = page;
	return 0;
}

static void hold_release(void *opaque)
{
	unsigned int i;

	for (i = 0; i < hold.nheld; i++)
		if (memcmp(hold.held[i], hold.pages + hold.held_page[i] *
			   KMIG_STREAM_PAGE_SIZE, KMIG_STREAM_PAGE_SIZE))
			hold.bad++;
	hold.checked += hold.nheld;
	hold.nheld = 0;
	hold.releases++;
}

TEST(page_data_stays_valid_until_released)
{
	static const struct kmig_dec_ops ops = {
		.page = hold_page, .release = hold_release,
	};
	const struct kmig_slot slots[3] = {
		{ 0, 2000 }, { 1, 2000 }, { 2, 2000 },
	};
	struct kmig_dec_cfg cfg = {
		.slots = slots, .nslots = 3, .ops = &ops,
	};
	const int n = 1500;
	size_t len = (size_t)n * KMIG_STREAM_PAGE_SIZE, i;
	uint8_t *pages = malloc(len);
	unsigned int seed = 9;
	struct kmig_dec d;
	int fd;

	ASSERT_NE(NULL, pages);
	for (i = 0; i < len; i++)
		pages[i] = rand_r(&seed);
	memset(&hold, 0, sizeof(hold));
	hold.pages = pages;
	fd = memfd_create("stream", 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, encode_pages(fd, pages, n, true));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(0, kmig_dec_init_fd(&d, &cfg, fd));
	ASSERT_EQ(0, kmig_dec_run(&d)) TH_LOG("%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	/* 6 MiB through a 256 KiB buffer: refilled, so released, often */
	EXPECT_LE(3, hold.releases);
	EXPECT_EQ(n - (n + 3) / 7, hold.checked);
	EXPECT_EQ(0, hold.bad);
	free(pages);
	close(fd);
}

TEST(next_returns_one_per_record_then_zero)
{
	struct kmig_dec_cfg cfg = log_cfg(&got);
	struct kmig_enc e;
	struct kmig_dec d;
	const uint8_t *buf;
	size_t len;
	int n = 0, ret;

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	kmig_enc_init_mem(&e);
	ASSERT_EQ(0, encode_all(&e, &want));
	buf = kmig_enc_mem(&e, &len);
	ASSERT_EQ(0, kmig_dec_init_buf(&d, &cfg, buf, len));
	while ((ret = kmig_dec_next(&d)) == 1)
		n++;
	ASSERT_EQ(0, ret);
	/* 1 for the header and each record but the last: END_OF_STREAM
	 * returns 0 (each logged event is one record) */
	EXPECT_EQ(want.n, n);
	EXPECT_EQ(e.records, d.records);
	EXPECT_EQ(0, kmig_dec_next(&d));
	kmig_dec_free(&d);
	kmig_enc_free(&e);
}

TEST(continue_omits_the_slot_within_a_section)
{
	struct kmig_section s = sec(KMIG_REC_SECTION_START, 1, KMIG_SEC_RAM, 0,
				    "ram");
	struct kmig_enc e;
	const uint8_t *buf;
	size_t len, at[6];
	int i = 0;

	kmig_enc_init_mem(&e);
	ASSERT_EQ(0, kmig_enc_header(&e));
	ASSERT_EQ(0, kmig_enc_caps(&e, 0, 0));
	ASSERT_EQ(0, kmig_enc_section(&e, &s));
	kmig_enc_mem(&e, &at[i++]);
	ASSERT_EQ(0, kmig_enc_page(&e, 0, 1, page_a));	/* slot given */
	kmig_enc_mem(&e, &at[i++]);
	ASSERT_EQ(0, kmig_enc_page(&e, 0, 2, page_a));	/* continue */
	kmig_enc_mem(&e, &at[i++]);
	ASSERT_EQ(0, kmig_enc_zero(&e, 0, 3, 2));	/* continue */
	kmig_enc_mem(&e, &at[i++]);
	ASSERT_EQ(0, kmig_enc_zero(&e, 0x10001, 3, 2));	/* new slot */
	s.type = KMIG_REC_SECTION_FOOTER;
	ASSERT_EQ(0, kmig_enc_section(&e, &s));
	s.type = KMIG_REC_SECTION_END;
	ASSERT_EQ(0, kmig_enc_section(&e, &s));
	kmig_enc_mem(&e, &at[i++]);
	ASSERT_EQ(0, kmig_enc_zero(&e, 0x10001, 9, 1));	/* new section */
	buf = kmig_enc_mem(&e, &len);

	EXPECT_EQ(0, buf[at[0] + 1]);
	EXPECT_EQ(4 + 8 + 4096, get_le32(buf + at[0] + 4));
	EXPECT_EQ(KMIG_RECF_CONTINUE, buf[at[1] + 1]);
	EXPECT_EQ(8 + 4096, get_le32(buf + at[1] + 4));
	EXPECT_EQ(KMIG_RECF_CONTINUE, buf[at[2] + 1]);
	EXPECT_EQ(12, get_le32(buf + at[2] + 4));
	EXPECT_EQ(0, buf[at[3] + 1]);
	EXPECT_EQ(0x10001, get_le32(buf + at[3] + 8));
	EXPECT_EQ(0, buf[at[4] + 1]);
	kmig_enc_free(&e);
}

TEST(header_bytes_are_little_endian)
{
	struct kmig_enc e;
	const uint8_t *buf;
	size_t len;

	kmig_enc_init_mem(&e);
	ASSERT_EQ(0, kmig_enc_header(&e));
	ASSERT_EQ(0, kmig_enc_caps(&e, 0x0102, 0));
	buf = kmig_enc_mem(&e, &len);
	ASSERT_EQ(16 + 8 + 16 + 4, len);
	EXPECT_EQ(0, memcmp(buf, "KMIG\x03\x00\x10\x00\x00\x00\x00\x00", 12));
	EXPECT_EQ(kmig_crc32c(0, buf, 12), get_le32(buf + 12));
	EXPECT_EQ(KMIG_REC_CAPS, buf[16]);
	EXPECT_EQ(0, memcmp(buf + 17, "\x00\x00\x00\x10\x00\x00\x00", 7));
	EXPECT_EQ(0x02, buf[24]);
	EXPECT_EQ(0x01, buf[25]);
	EXPECT_EQ(kmig_crc32c(0, buf + 16, 24), get_le32(buf + 40));
	kmig_enc_free(&e);
}

TEST(optional_caps_unknown_to_the_decoder_are_dropped)
{
	struct kmig_enc e;
	const uint8_t *buf;
	char err[256];
	size_t len;

	memset(&got, 0, sizeof(got));
	kmig_enc_init_mem(&e);
	ASSERT_EQ(0, kmig_enc_header(&e));
	ASSERT_EQ(0, kmig_enc_caps(&e, KMIG_SCAP_RETURN_PATH,
				   KMIG_SCAP_MULTI_CHANNEL | 1ull << 40));
	ASSERT_EQ(0, kmig_enc_eos(&e));
	buf = kmig_enc_mem(&e, &len);
	ASSERT_EQ(0, log_decode(&got, buf, len, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(2, got.n);
	EXPECT_EQ(EV_CAPS, got.ev[0].kind);
	EXPECT_EQ(KMIG_SCAP_RETURN_PATH | KMIG_SCAP_MULTI_CHANNEL, got.ev[0].a);
	EXPECT_EQ(EV_EOS, got.ev[1].kind);
	kmig_enc_free(&e);
}

TEST(encoder_refuses_bad_arguments)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_START, .id = 1,
				  .kind = KMIG_SEC_RAM };
	struct kmig_scmd c = { .id = 99 };
	struct kmig_enc e;
	static uint8_t big[KMIG_STREAM_MAX_PAYLOAD + 1];

	kmig_enc_init_mem(&e);
	EXPECT_EQ(-EINVAL, kmig_enc_section(&e, &s));	/* empty name */
	s.type = 0x42;
	EXPECT_EQ(-EINVAL, kmig_enc_section(&e, &s));
	EXPECT_EQ(-EINVAL, kmig_enc_cmd(&e, &c));
	EXPECT_EQ(-EINVAL, kmig_enc_zero(&e, 0, 0, 0));
	EXPECT_EQ(-EMSGSIZE, kmig_enc_vcpu(&e, 0, 1, big,
					   KMIG_STREAM_MAX_VCPU_PART + 1));
	EXPECT_EQ(-EMSGSIZE, kmig_enc_device(&e, 4, big, sizeof(big) - 16));
	EXPECT_EQ(-EMSGSIZE, kmig_enc_record(&e, 1, 0, big, sizeof(big)));
	EXPECT_EQ(0, e.len);
	kmig_enc_free(&e);
}

TEST(names_come_from_the_format_header)
{
	EXPECT_STREQ("RAM_PAGE", kmig_rec_name(KMIG_REC_RAM_PAGE));
	EXPECT_STREQ("END_OF_STREAM", kmig_rec_name(0x7f));
	EXPECT_EQ(NULL, kmig_rec_name(0x55));
	EXPECT_STREQ("DEVICE", kmig_sec_kind_name(KMIG_SEC_DEVICE));
	EXPECT_STREQ("ROUND_SYNC", kmig_scmd_name(2));
	EXPECT_STREQ("LAPIC", kmig_vcpu_part_name(KMIG_VCPU_LAPIC));
	EXPECT_STREQ("END_OF_STATE", kmig_devpkt_name(1));
	EXPECT_EQ(20, kmig_scmd_len(KMIG_SCMD_CHANNELS));
	EXPECT_EQ(-1, kmig_scmd_len(0));
}

TEST_HARNESS_MAIN
