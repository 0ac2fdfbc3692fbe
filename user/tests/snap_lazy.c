// SPDX-License-Identifier: GPL-2.0
/*
 * What a lazy restore reads (snap_lazy.h): each range of a saved file
 * reads back packed, or each page where it is asked to go (at its own
 * offset, as into a staging view), its pages the memory's, and a damaged
 * page fails its range by name; a file changed after it was opened is told apart from
 * one that was not; a working set written reads back entry for entry,
 * and one damaged, cut, of another snapshot or naming a page the snapshot
 * does not have is refused with its own message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "snap_lazy.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define NPAGES		600	/* 3 ranges, the last not whole */

FIXTURE(lazy) {
	uint8_t *mem;
	int fd;
	struct kmig_snap s;
	struct kmig_snap_stamp st;
	char ws[64], err[256];
};

FIXTURE_SETUP(lazy)
{
	struct kmig_snap_src src = { .id = 5, .gpa = 0, .size = NPAGES * PAGE };
	unsigned int seed = 3;
	uint64_t p;

	self->mem = calloc(NPAGES, PAGE);
	ASSERT_NE(NULL, self->mem);
	for (p = 0; p < NPAGES; p++)
		if (rand_r(&seed) % 2)
			memset(self->mem + p * PAGE, rand_r(&seed) | 1, PAGE);
	src.map = self->mem;
	self->fd = memfd_create("snap-lazy", 0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kmig_snap_write(self->fd, &src, 1, "s", 1, "test", false,
				     self->err, sizeof(self->err)));
	ASSERT_EQ(0, kmig_snap_open(self->fd, &self->s, self->err,
				    sizeof(self->err))) TH_LOG("%s", self->err);
	ASSERT_EQ(0, kmig_snap_stamp(self->fd, &self->s, &self->st, self->err,
				     sizeof(self->err)));
	snprintf(self->ws, sizeof(self->ws), "/tmp/snap-lazy-%d.ws", getpid());
}

FIXTURE_TEARDOWN(lazy)
{
	kmig_snap_close(&self->s);
	close(self->fd);
	free(self->mem);
	unlink(self->ws);
}

TEST_F(lazy, each_range_reads_back_packed)
{
	static uint64_t pages[KMIG_SNAP_RANGE_PAGES];
	static uint8_t buf[KMIG_SNAP_RANGE_BYTES];
	uint64_t r, p, seen = 0;
	unsigned int n, k;

	ASSERT_EQ(3, kmig_snap_nranges(&self->s.slot[0]));
	for (r = 0; r < 3; r++) {
		ASSERT_EQ(0, kmig_snap_read_range(self->fd, &self->s, 0, r, buf,
						  pages, &n, self->err,
						  sizeof(self->err)))
			TH_LOG("%s", self->err);
		for (k = 0, p = r * 256; p < (r + 1) * 256 && p < NPAGES; p++) {
			/* A short gap of zero pages may be in the file too. */
			if (!(self->s.slot[0].bitmap[p / 64] & (1ull << (p % 64)))) {
				ASSERT_EQ(0, self->mem[p * PAGE]);
				continue;
			}
			ASSERT_GT(n, k);
			ASSERT_EQ(p, pages[k]);
			ASSERT_EQ(0, memcmp(buf + k * PAGE,
					    self->mem + p * PAGE, PAGE));
			k++;
		}
		EXPECT_EQ(k, n);
		seen += n;
	}
	EXPECT_LT(100, seen);
}

/* Each page at its own offset of a slot-sized buffer, as in a view. */
TEST_F(lazy, each_range_reads_into_each_page_s_place)
{
	static uint64_t pages[KMIG_SNAP_RANGE_PAGES];
	static uint8_t *dst[KMIG_SNAP_RANGE_PAGES];
	uint8_t *view = calloc(NPAGES, PAGE);
	unsigned int n, k;
	uint64_t r;

	ASSERT_NE(NULL, view);
	for (r = 0; r < 3; r++) {
		n = kmig_snap_range_pages(&self->s, 0, r, pages);
		for (k = 0; k < n; k++)
			dst[k] = view + pages[k] * PAGE;
		ASSERT_EQ(0, kmig_snap_read_pages(self->fd, &self->s, 0, r,
						  pages, n, dst, self->err,
						  sizeof(self->err)))
			TH_LOG("%s", self->err);
	}
	EXPECT_EQ(0, memcmp(view, self->mem, (size_t)NPAGES * PAGE));
	/* Places in no order: each page still lands in its own. */
	n = kmig_snap_range_pages(&self->s, 0, 1, pages);
	ASSERT_LT(1, n);
	memset(view, 0, (size_t)NPAGES * PAGE);
	for (k = 0; k < n; k++)
		dst[k] = view + (uint64_t)(n - 1 - k) * PAGE;
	ASSERT_EQ(0, kmig_snap_read_pages(self->fd, &self->s, 0, 1, pages, n,
					  dst, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	for (k = 0; k < n; k++)
		ASSERT_EQ(0, memcmp(dst[k], self->mem + pages[k] * PAGE,
				    PAGE)) TH_LOG("page %u", k);
	free(view);
}

TEST_F(lazy, a_damaged_page_fails_its_range_by_name)
{
	static uint64_t pages[KMIG_SNAP_RANGE_PAGES];
	static uint8_t buf[KMIG_SNAP_RANGE_BYTES];
	uint64_t p = 300;
	unsigned int n;
	uint8_t b;

	for (; !self->mem[p * PAGE]; p++)
		;
	ASSERT_EQ(1, pread(self->fd, &b, 1, self->s.slot[0].pages_off +
			   p * PAGE + 9));
	b ^= 0x40;
	ASSERT_EQ(1, pwrite(self->fd, &b, 1, self->s.slot[0].pages_off +
			    p * PAGE + 9));
	EXPECT_EQ(0, kmig_snap_read_range(self->fd, &self->s, 0, 0, buf, pages,
					  &n, self->err, sizeof(self->err)));
	EXPECT_EQ(-EBADMSG, kmig_snap_read_range(self->fd, &self->s, 0, 1, buf,
						 pages, &n, self->err,
						 sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "slot 5 pages 256..511: checksum mismatch"))
		TH_LOG("%s", self->err);
}

TEST_F(lazy, a_file_changed_underneath_is_told)
{
	uint8_t t;

	EXPECT_EQ(0, kmig_snap_unchanged(self->fd, &self->s, &self->st,
					 self->err, sizeof(self->err)));
	/* The trailer rewritten (as by a save over it). */
	ASSERT_EQ(1, pread(self->fd, &t, 1, self->s.trailer_off + 20));
	t ^= 1;
	ASSERT_EQ(1, pwrite(self->fd, &t, 1, self->s.trailer_off + 20));
	EXPECT_EQ(-ESTALE, kmig_snap_unchanged(self->fd, &self->s, &self->st,
					       self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "trailer")) TH_LOG("%s", self->err);
	t ^= 1;
	ASSERT_EQ(1, pwrite(self->fd, &t, 1, self->s.trailer_off + 20));
	/* Cut short. */
	ASSERT_EQ(0, ftruncate(self->fd, self->st.size - 1));
	EXPECT_EQ(-ESTALE, kmig_snap_unchanged(self->fd, &self->s, &self->st,
					       self->err, sizeof(self->err)));
}

static void put_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(b, 1, n, f) != n || fclose(f))
		abort();
}

TEST_F(lazy, a_working_set_reads_back_and_bad_ones_are_refused)
{
	const struct kmig_ws_entry in[3] = { { 5, 599 }, { 5, 0 }, { 5, 300 } };
	struct kmig_ws_entry *e;
	struct kmig_snap other;
	uint8_t *b;
	size_t len;
	unsigned int n;
	FILE *f;

	EXPECT_EQ(-ENOENT, kmig_ws_read(self->ws, &self->s, &self->st, &e, &n,
					self->err, sizeof(self->err)));
	ASSERT_EQ(0, kmig_ws_write(self->ws, &self->s, &self->st, in, 3,
				   self->err, sizeof(self->err)));
	ASSERT_EQ(0, kmig_ws_read(self->ws, &self->s, &self->st, &e, &n,
				  self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	ASSERT_EQ(3, n);
	EXPECT_EQ(0, memcmp(in, e, sizeof(in)));
	free(e);

	len = KMIG_SNAP_WS_HEADER_SIZE + 3 * KMIG_SNAP_WS_ENTRY_SIZE + 4;
	b = malloc(len);
	f = fopen(self->ws, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(len, fread(b, 1, len, f));
	fclose(f);
	/* A bit flipped. */
	b[40] ^= 1;
	put_file(self->ws, b, len);
	EXPECT_EQ(-EBADMSG, kmig_ws_read(self->ws, &self->s, &self->st, &e, &n,
					 self->err, sizeof(self->err)));
	b[40] ^= 1;
	/* Cut short. */
	put_file(self->ws, b, len - 1);
	EXPECT_EQ(-EPROTO, kmig_ws_read(self->ws, &self->s, &self->st, &e, &n,
					self->err, sizeof(self->err)));
	/* Of another snapshot. */
	other = self->s;
	other.created_ns++;
	put_file(self->ws, b, len);
	EXPECT_EQ(-ESTALE, kmig_ws_read(self->ws, &other, &self->st, &e, &n,
					self->err, sizeof(self->err)));
	/* A page past the slot. */
	ASSERT_EQ(0, kmig_ws_write(self->ws, &self->s, &self->st,
				   (struct kmig_ws_entry[]){ { 5, NPAGES } }, 1,
				   self->err, sizeof(self->err)));
	EXPECT_EQ(-EPROTO, kmig_ws_read(self->ws, &self->s, &self->st, &e, &n,
					self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "not in the snapshot"))
		TH_LOG("%s", self->err);
	free(b);
}

TEST_HARNESS_MAIN
