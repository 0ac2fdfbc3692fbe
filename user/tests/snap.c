// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot files (snap.h): a save of two slots reads back byte for byte,
 * sparse where the memory is zero; and every kind of bad file is refused
 * with its own message before a page is read (cut anywhere, another
 * magic, version or page size, a damaged header, overlapping regions,
 * regions past the end, a missing trailer, damaged metadata), or, for a
 * damaged page, when its range is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "crc32c.h"
#include "le.h"
#include "snap.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define NPAGES0		300	/* not a whole number of ranges */
#define NPAGES1		512
#define HOLE		200	/* slot 1 is zero from here on */
#define STATE_LEN	1000

FIXTURE(snap) {
	uint8_t *mem[2];
	struct kmig_snap_src src[2];
	uint8_t state[STATE_LEN];
	int fd;			/* the file, saved */
	char err[256];
};

FIXTURE_SETUP(snap)
{
	static const uint64_t npages[2] = { NPAGES0, NPAGES1 };
	unsigned int seed = 7, i;
	uint64_t p;

	for (i = 0; i < 2; i++) {
		self->mem[i] = calloc(npages[i], PAGE);
		ASSERT_NE(NULL, self->mem[i]);
		/* A third of the pages zero; the others marked. */
		for (p = 0; p < npages[i]; p++)
			if (rand_r(&seed) % 3)
				memset(self->mem[i] + p * PAGE, rand_r(&seed) | 1,
				       PAGE);
		/* And a long run of zero pages: a hole. */
		if (i)
			memset(self->mem[i] + HOLE * PAGE, 0,
			       (NPAGES1 - HOLE) * PAGE);
		self->src[i] = (struct kmig_snap_src) {
			.id = i ? 0x10001 : 0, .gpa = i ? 0 : 0x100000,
			.size = npages[i] * PAGE, .map = self->mem[i],
		};
	}
	for (i = 0; i < STATE_LEN; i++)
		self->state[i] = i * 13;
	self->fd = memfd_create("snap", 0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kmig_snap_write(self->fd, self->src, 2, self->state,
				     STATE_LEN, "test", true, self->err,
				     sizeof(self->err))) TH_LOG("%s", self->err);
}

FIXTURE_TEARDOWN(snap)
{
	free(self->mem[0]);
	free(self->mem[1]);
	close(self->fd);
}

static uint64_t file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_size;
}

/* kmig_snap_open()'s verdict on the file, the message in @err. */
static int open_snap(int fd, char *err, size_t n)
{
	struct kmig_snap s;
	int ret = kmig_snap_open(fd, &s, err, n);

	if (!ret)
		kmig_snap_close(&s);
	return ret;
}

static void poke32(int fd, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	if (pwrite(fd, b, 4, off) != 4)
		abort();
}

static void poke64(int fd, uint64_t off, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	if (pwrite(fd, b, 8, off) != 8)
		abort();
}

static void flip(int fd, uint64_t off)
{
	uint8_t b;

	if (pread(fd, &b, 1, off) != 1)
		abort();
	b ^= 0x10;
	if (pwrite(fd, &b, 1, off) != 1)
		abort();
}

/* The header's CRC made right again after a change to it. */
static void reseal_header(int fd)
{
	uint8_t h[KMIG_SNAP_HEADER_SIZE];

	if (pread(fd, h, sizeof(h), 0) != sizeof(h))
		abort();
	poke32(fd, KMIG_SNAP_HEADER_SIZE - 4,
	       kmig_crc32c(0, h, KMIG_SNAP_HEADER_SIZE - 4));
}

/* Slot @i's entry in the header, field at @off. */
static uint64_t slot_field(unsigned int i, unsigned int off)
{
	return KMIG_SNAP_SLOTS_AT + i * KMIG_SNAP_SLOT_SIZE + off;
}

#define EXPECT_REFUSED(self, want, msg)					\
	do {								\
		EXPECT_EQ(want, open_snap(self->fd, self->err,		\
					  sizeof(self->err)))		\
			TH_LOG("%s", self->err);			\
		EXPECT_NE(NULL, strstr(self->err, msg))			\
			TH_LOG("'%s' does not say '%s'", self->err, msg); \
	} while (0)

TEST_F(snap, reads_back_byte_for_byte_and_sparse)
{
	struct kmig_snap s;
	struct stat st;
	uint8_t *dst;
	unsigned int i;

	ASSERT_EQ(0, kmig_snap_open(self->fd, &s, self->err,
				    sizeof(self->err))) TH_LOG("%s", self->err);
	EXPECT_EQ(2, s.nslots);
	EXPECT_STREQ("test", s.creator);
	ASSERT_EQ(STATE_LEN, s.state_len);
	EXPECT_EQ(0, memcmp(self->state, s.state, STATE_LEN));
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(self->src[i].id, s.slot[i].id);
		EXPECT_EQ(self->src[i].gpa, s.slot[i].gpa);
		ASSERT_EQ(self->src[i].size, s.slot[i].size);
		EXPECT_EQ(0, s.slot[i].pages_off % KMIG_SNAP_PAGES_ALIGN);
		dst = calloc(1, s.slot[i].size);
		ASSERT_NE(NULL, dst);
		EXPECT_EQ(0, kmig_snap_read_slot(self->fd, &s, i, dst,
						 self->err, sizeof(self->err)))
			TH_LOG("%s", self->err);
		EXPECT_EQ(0, memcmp(self->mem[i], dst, s.slot[i].size));
		free(dst);
	}
	/* The long run of zero pages is a hole, and counts for nothing. */
	EXPECT_EQ((off_t)(s.slot[1].pages_off + NPAGES1 * PAGE),
		  lseek(self->fd, s.slot[1].pages_off + HOLE * PAGE, SEEK_DATA));
	kmig_snap_close(&s);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_LT((uint64_t)st.st_blocks * 512,
		  (NPAGES0 + HOLE) * PAGE + 64 * 1024);
}

TEST_F(snap, a_file_that_is_not_empty_is_not_overwritten)
{
	EXPECT_EQ(-EEXIST, kmig_snap_write(self->fd, self->src, 2, NULL, 0, "",
					   false, self->err,
					   sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "not empty"));
	EXPECT_EQ(0, open_snap(self->fd, self->err, sizeof(self->err)));
}

TEST_F(snap, a_file_cut_anywhere_is_refused)
{
	uint64_t size = file_size(self->fd), cut[] = {
		0, 100, KMIG_SNAP_HEADER_SIZE, KMIG_SNAP_HEADER_SIZE + 40,
		size / 2, size - KMIG_SNAP_TRAILER_SIZE, size - 1,
	};
	unsigned int i;

	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		ASSERT_EQ(0, ftruncate(self->fd, cut[i]));
		EXPECT_EQ(-EPROTO, open_snap(self->fd, self->err,
					     sizeof(self->err)))
			TH_LOG("cut at %llu: %s", (unsigned long long)cut[i],
			       self->err);
	}
}

TEST_F(snap, a_file_grown_since_is_refused)
{
	ASSERT_EQ(0, ftruncate(self->fd, file_size(self->fd) + 4096));
	EXPECT_REFUSED(self, -EPROTO, "torn or cut");
}

TEST_F(snap, bad_magic)
{
	poke64(self->fd, 0, 0x1234);
	EXPECT_REFUSED(self, -EPROTO, "not a kmig snapshot");
}

TEST_F(snap, another_version)
{
	uint8_t v[2] = { 2, 0 };

	ASSERT_EQ(2, pwrite(self->fd, v, 2, 8));
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTONOSUPPORT, "version 2 (this reads version 1)");
}

TEST_F(snap, damaged_header)
{
	flip(self->fd, 60);	/* the creator */
	EXPECT_REFUSED(self, -EBADMSG, "header CRC mismatch");
}

TEST_F(snap, another_page_size)
{
	poke32(self->fd, 12, 65536);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTONOSUPPORT, "page size 65536");
}

TEST_F(snap, no_slot_or_too_many)
{
	poke32(self->fd, 16, 0);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "0 slots");
	poke32(self->fd, 16, KMIG_SNAP_MAX_SLOTS + 1);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "65 slots");
}

TEST_F(snap, a_slot_twice)
{
	poke32(self->fd, slot_field(1, 0), 0);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "slot 0 twice");
}

TEST_F(snap, pages_not_aligned)
{
	poke64(self->fd, slot_field(0, 40), 3 * 4096);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "not 1 MiB aligned");
}

TEST_F(snap, overlapping_regions)
{
	struct kmig_snap s;

	ASSERT_EQ(0, kmig_snap_open(self->fd, &s, self->err,
				    sizeof(self->err)));
	poke64(self->fd, slot_field(0, 40), s.slot[1].pages_off);
	kmig_snap_close(&s);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "slot 0's pages and slot 65537's pages overlap");
	poke64(self->fd, slot_field(0, 24), 4000);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "the header and slot 0's bitmap overlap");
}

TEST_F(snap, regions_past_the_end)
{
	poke64(self->fd, slot_field(1, 32), file_size(self->fd));
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "slot 65537's checksums: past the trailer");
	poke64(self->fd, slot_field(1, 32), ~0ull - 8);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "past the trailer");
}

TEST_F(snap, too_much_state)
{
	poke64(self->fd, 40, KMIG_SNAP_MAX_STATE + 1ull);
	reseal_header(self->fd);
	EXPECT_REFUSED(self, -EPROTO, "bytes of state");
}

TEST_F(snap, a_missing_trailer_is_a_torn_file)
{
	uint8_t zero[KMIG_SNAP_TRAILER_SIZE] = { 0 };
	uint64_t at = file_size(self->fd) - KMIG_SNAP_TRAILER_SIZE;

	ASSERT_EQ(sizeof(zero), pwrite(self->fd, zero, sizeof(zero), at));
	EXPECT_REFUSED(self, -EBADMSG, "the file is torn");
}

TEST_F(snap, damaged_trailer)
{
	flip(self->fd, file_size(self->fd) - 10);
	EXPECT_REFUSED(self, -EBADMSG, "the trailer is damaged");
}

TEST_F(snap, damaged_metadata)
{
	struct kmig_snap s;

	ASSERT_EQ(0, kmig_snap_open(self->fd, &s, self->err,
				    sizeof(self->err)));
	flip(self->fd, s.slot[1].bitmap_off + 3);
	kmig_snap_close(&s);
	EXPECT_REFUSED(self, -EBADMSG, "metadata CRC mismatch");
}

TEST_F(snap, bitmap_bits_past_the_slot)
{
	uint64_t w = (NPAGES0 - 1) / 64;
	struct kmig_snap s;
	uint8_t b[8];

	ASSERT_EQ(0, kmig_snap_open(self->fd, &s, self->err,
				    sizeof(self->err)));
	ASSERT_EQ(8, pread(self->fd, b, 8, s.slot[0].bitmap_off + 8 * w));
	poke64(self->fd, s.slot[0].bitmap_off + 8 * w,
	       get_le64(b) | 1ull << 63);
	kmig_snap_close(&s);
	EXPECT_REFUSED(self, -EPROTO, "pages past its end");
}

/* A damaged page passes the open, and fails its range's checksum. */
TEST_F(snap, a_damaged_page_fails_its_range)
{
	struct kmig_snap s;
	uint8_t *dst;
	uint64_t p;

	for (p = 260; !(self->mem[0][p * PAGE]); p++)
		;
	ASSERT_LT(p, NPAGES0);
	ASSERT_EQ(0, kmig_snap_open(self->fd, &s, self->err,
				    sizeof(self->err)));
	flip(self->fd, s.slot[0].pages_off + p * PAGE + 99);
	dst = calloc(1, s.slot[0].size);
	ASSERT_NE(NULL, dst);
	EXPECT_EQ(-EBADMSG, kmig_snap_read_slot(self->fd, &s, 0, dst,
						self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "slot 0 pages 256..299: checksum mismatch"))
		TH_LOG("%s", self->err);
	/* The other slot reads. */
	free(dst);
	dst = calloc(1, s.slot[1].size);
	ASSERT_NE(NULL, dst);
	EXPECT_EQ(0, kmig_snap_read_slot(self->fd, &s, 1, dst, self->err,
					 sizeof(self->err)));
	free(dst);
	kmig_snap_close(&s);
}

TEST(bad_slots_are_not_saved)
{
	static uint8_t mem[2 * PAGE];
	struct kmig_snap_src src[2] = {
		{ .id = 1, .size = PAGE + 1, .map = mem },
		{ .id = 1, .size = PAGE, .map = mem },
	};
	char err[256];
	int fd = memfd_create("bad", 0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kmig_snap_write(fd, src, 1, NULL, 0, "", false, err,
					   sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "slot 1: size 4097"));
	src[0].size = PAGE;
	EXPECT_EQ(-EINVAL, kmig_snap_write(fd, src, 2, NULL, 0, "", false, err,
					   sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "slot 1 twice"));
	EXPECT_EQ(-EINVAL, kmig_snap_write(fd, src, 0, NULL, 0, "", false, err,
					   sizeof(err)));
	EXPECT_EQ(0, file_size(fd));
	close(fd);
}

TEST_HARNESS_MAIN
