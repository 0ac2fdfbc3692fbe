// SPDX-License-Identifier: GPL-2.0
/*
 * The secondary's staging of STRM messages (user/kmig/colo_sec_stream.c)
 * on a socketpair, without a VM: a message's pages are staged, not put
 * into the RAM cache; a page streamed again replaces its copy, so the
 * staging never holds more pages than the guest has; the commit puts the
 * latest copies into the cache and marks them to flush; a corrupt
 * message is refused whole and one out of place is a protocol error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "colo_secondary.h"
#include "crc32c.h"
#include "le.h"
#include "util.h"

#define SLOT_PAGES	8u

FIXTURE(stage) {
	struct colo_sec s;
	int peer;		/* the primary's end */
};

FIXTURE_SETUP(stage)
{
	unsigned int i;
	int sv[2];

	memset(&self->s, 0, sizeof(self->s));
	self->s.vm.nslots = 2;
	for (i = 0; i < 2; i++) {
		self->s.vm.slots[i].id = 10 + i;
		self->s.vm.slots[i].npages = SLOT_PAGES;
		self->s.vm.slots[i].size = SLOT_PAGES * MIG_PAGE;
		self->s.vm.slots[i].bitmap = calloc(1, 8);
		ASSERT_NE(NULL, self->s.vm.slots[i].bitmap);
	}
	self->s.vm.mem_size = 2 * SLOT_PAGES * MIG_PAGE;
	ASSERT_EQ(0, colo_sec_cache_init(&self->s));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	self->s.sock = sv[0];
	self->peer = sv[1];
	self->s.committed = true;
	self->s.last = 4;
}

FIXTURE_TEARDOWN(stage)
{
	unsigned int i;

	colo_sec_stream_end(&self->s);
	colo_sec_cache_free(&self->s);
	for (i = 0; i < 2; i++)
		free(self->s.vm.slots[i].bitmap);
	close(self->s.sock);
	close(self->peer);
}

/*
 * A STRM message for checkpoint @seq of @n pages of slot @id from
 * @first on, each filled with @fill, onto @fd (its CRC off by @bad),
 * and its header into @h and @hb as the secondary's loop reads them.
 */
/* A STRM header (colo.c's colo_hdr_encode(), not linked here). */
static void strm_hdr(struct colo_hdr *h, uint64_t seq, uint64_t n,
		     uint8_t hb[COLO_HDR_SIZE])
{
	*h = (struct colo_hdr){ .magic = COLO_STRM_MAGIC, .seq = seq,
				.npages = n };
	memset(hb, 0, COLO_HDR_SIZE);
	put_le32(hb, h->magic);
	put_le64(hb + 8, seq);
	put_le64(hb + 16, n);
}

static void send_strm(int fd, uint64_t seq, uint32_t id, uint64_t first,
		      unsigned int n, uint8_t fill, uint32_t bad,
		      struct colo_hdr *h, uint8_t hb[COLO_HDR_SIZE])
{
	uint8_t rec[COLO_REC_HDR_SIZE + MIG_PAGE], tr[COLO_TRAILER_SIZE];
	uint32_t crc;
	unsigned int i;

	strm_hdr(h, seq, n, hb);
	crc = kmig_crc32c(0, hb, COLO_HDR_SIZE);
	for (i = 0; i < n; i++) {
		memset(rec, 0, COLO_REC_HDR_SIZE);
		put_le32(rec, id);
		put_le64(rec + 8, first + i);
		memset(rec + COLO_REC_HDR_SIZE, fill, MIG_PAGE);
		crc = kmig_crc32c(crc, rec, sizeof(rec));
		kmig_io_all(fd, rec, sizeof(rec), true);
	}
	put_le32(tr, COLO_END_MAGIC);
	put_le32(tr + 4, crc ^ bad);
	kmig_io_all(fd, tr, sizeof(tr), true);
}

static bool page_is(const uint8_t *p, uint8_t fill)
{
	unsigned int i;

	for (i = 0; i < MIG_PAGE; i++)
		if (p[i] != fill)
			return false;
	return true;
}

TEST_F(stage, staged_apart_then_latest_copy_into_the_cache)
{
	struct colo_sec *s = &self->s;
	uint8_t hb[COLO_HDR_SIZE];
	struct colo_hdr h;

	send_strm(self->peer, 5, 10, 0, 4, 0xaa, 0, &h, hb);
	ASSERT_EQ(0, colo_sec_stream_receive(s, &h, hb));
	EXPECT_EQ(4, s->strm.n);
	/* the cache is still the last commit's: zeros */
	EXPECT_TRUE(page_is(s->cache[0], 0));
	/* pages 2..5 again: 2 and 3 replaced in place, 4 and 5 new */
	send_strm(self->peer, 5, 10, 2, 4, 0xbb, 0, &h, hb);
	ASSERT_EQ(0, colo_sec_stream_receive(s, &h, hb));
	EXPECT_EQ(6, s->strm.n);
	EXPECT_EQ(8, s->strm.received);
	EXPECT_EQ(2, s->strm.msgs);
	send_strm(self->peer, 5, 11, 7, 1, 0xcc, 0, &h, hb);
	ASSERT_EQ(0, colo_sec_stream_receive(s, &h, hb));

	colo_sec_stream_to_cache(s);
	EXPECT_TRUE(page_is(s->cache[0] + 1 * MIG_PAGE, 0xaa));
	EXPECT_TRUE(page_is(s->cache[0] + 2 * MIG_PAGE, 0xbb));
	EXPECT_TRUE(page_is(s->cache[0] + 5 * MIG_PAGE, 0xbb));
	EXPECT_TRUE(page_is(s->cache[0] + 6 * MIG_PAGE, 0));
	EXPECT_TRUE(page_is(s->cache[1] + 7 * MIG_PAGE, 0xcc));
	EXPECT_EQ(0x3f, s->vm.slots[0].bitmap[0]);
	EXPECT_EQ(0x80, s->vm.slots[1].bitmap[0]);
	EXPECT_EQ(0, s->strm.n);
	EXPECT_EQ(0, s->strm.msgs);
}

TEST_F(stage, never_more_than_the_guest)
{
	struct colo_sec *s = &self->s;
	uint8_t hb[COLO_HDR_SIZE];
	struct colo_hdr h;
	unsigned int round, id;

	for (round = 0; round < 3; round++) {
		for (id = 10; id < 12; id++) {
			send_strm(self->peer, 5, id, 0, SLOT_PAGES, round, 0,
				  &h, hb);
			ASSERT_EQ(0, colo_sec_stream_receive(s, &h, hb));
		}
	}
	EXPECT_EQ(2 * SLOT_PAGES, s->strm.n);
	EXPECT_EQ(2 * SLOT_PAGES, s->strm.cap);
	EXPECT_EQ(6 * SLOT_PAGES, s->strm.received);
	colo_sec_stream_to_cache(s);
	EXPECT_TRUE(page_is(s->cache[1] + 3 * MIG_PAGE, 2));
}

TEST_F(stage, corrupt_refused_whole)
{
	struct colo_sec *s = &self->s;
	uint8_t hb[COLO_HDR_SIZE];
	struct colo_hdr h;

	send_strm(self->peer, 5, 10, 0, 2, 0xaa, 0, &h, hb);
	ASSERT_EQ(0, colo_sec_stream_receive(s, &h, hb));
	send_strm(self->peer, 5, 10, 0, 4, 0xbb, 1, &h, hb);
	EXPECT_EQ(-EBADMSG, colo_sec_stream_receive(s, &h, hb));
	EXPECT_NE(NULL, strstr(s->err, "streamed pages for checkpoint 5: CRC mismatch"))
		TH_LOG("%s", s->err);
	/* the first message's copies, untouched by the refused one */
	EXPECT_EQ(2, s->strm.n);
	EXPECT_TRUE(page_is(s->strm.data, 0xaa));
	EXPECT_TRUE(page_is(s->strm.data + MIG_PAGE, 0xaa));
}

TEST_F(stage, out_of_place)
{
	struct colo_sec *s = &self->s;
	uint8_t hb[COLO_HDR_SIZE];
	struct colo_hdr h;

	/* for checkpoint 6 while 5 is the next */
	strm_hdr(&h, 6, 1, hb);
	EXPECT_EQ(-EPROTO, colo_sec_stream_receive(s, &h, hb));
	/* with vCPU state */
	s->err[0] = 0;
	h.seq = 5;
	h.vcpu_len = 8;
	EXPECT_EQ(-EPROTO, colo_sec_stream_receive(s, &h, hb));
	/* too many pages for one message */
	s->err[0] = 0;
	h.vcpu_len = 0;
	h.npages = COLO_STRM_PAGES + 1;
	EXPECT_EQ(-EPROTO, colo_sec_stream_receive(s, &h, hb));
	/* before checkpoint 0 committed */
	s->err[0] = 0;
	s->committed = false;
	h.npages = 1;
	EXPECT_EQ(-EPROTO, colo_sec_stream_receive(s, &h, hb));
	EXPECT_NE(NULL, strstr(s->err, "before checkpoint 0 committed"));
	/* a record naming a page the VM has not */
	s->err[0] = 0;
	s->committed = true;
	send_strm(self->peer, 5, 10, SLOT_PAGES, 1, 0xaa, 0, &h, hb);
	EXPECT_EQ(-EBADMSG, colo_sec_stream_receive(s, &h, hb));
	EXPECT_EQ(0, s->strm.n);
}

TEST_HARNESS_MAIN
