// SPDX-License-Identifier: GPL-2.0
/*
 * The folios of a slot: a fault or a pwrite into a hole of a huge slot's
 * block that already has pages allocates one page, not a 2 MiB folio it
 * cannot cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvmlog.h"

#define HUGE_SZ		(2UL << 20)
#define HBLOCK		(HUGE_SZ / PAGE_SZ)
#define HPAGES		(2 * HBLOCK)
#define HSIZE		(HPAGES * PAGE_SZ)
/* What the tests write to every byte of page @i. */
#define FILL(i)		((uint8_t)((i) + 1))
#define PUNCH		(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

static uint64_t ctx_pages(int fd)
{
	struct kmig_ctx_stats st;

	kmig_stats(fd, &st);
	return st.pages;
}

/* pwrite FILL(i) over pages @first .. @first + @n - 1 of slot @s. */
static bool fill(int fd, uint32_t s, unsigned long first, unsigned long n)
{
	uint8_t buf[PAGE_SZ];
	unsigned long i;

	for (i = first; i < first + n; i++) {
		memset(buf, FILL(i), PAGE_SZ);
		if (pwrite(fd, buf, PAGE_SZ, KMIG_SLOT_OFFSET(s) + i * PAGE_SZ)
		    != PAGE_SZ)
			return false;
	}
	return true;
}

/* Whether page @i of slot @s reads @head in byte 0 and @rest after it. */
static bool page_is(int fd, uint32_t s, unsigned long i, uint8_t head,
		    uint8_t rest)
{
	uint8_t buf[PAGE_SZ];
	unsigned long j;

	if (pread(fd, buf, PAGE_SZ, KMIG_SLOT_OFFSET(s) + i * PAGE_SZ) !=
	    PAGE_SZ || buf[0] != head)
		return false;
	for (j = 1; j < PAGE_SZ; j++)
		if (buf[j] != rest)
			return false;
	return true;
}

/* Pages the page allocator handed out so far, all zones; -1 if unknown. */
static long pgalloc(void)
{
	static const char *const zones[] = {
		"pgalloc_dma", "pgalloc_dma32", "pgalloc_normal",
		"pgalloc_movable",
	};
	long n, sum = 0;
	unsigned int i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		n = kmig_vmstat(zones[i]);
		if (n > 0)
			sum += n;
	}
	return sum ? sum : -1;
}

FIXTURE(folio) {
	int fd;
	uint8_t *mem;
};

/* A KMIG_SLOT_HUGE slot 1 of two 2 MiB blocks, mapped (a tracked view). */
FIXTURE_SETUP(folio)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_HUGE, 0, HSIZE);
	self->mem = kmig_map(self->fd, 1, HSIZE);
}

FIXTURE_TEARDOWN(folio)
{
	munmap(self->mem, HSIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/*
 * Pages 64 to 127 punched out of a 2 MiB folio (which splits), then
 * filled again, half by a write fault and half by pwrite: 64 pages come
 * from the page allocator, not 64 zeroed 2 MiB folios that the cache
 * refuses because the block has pages.
 */
TEST_F(folio, a_hole_in_a_split_block_allocates_one_page)
{
	int view = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	long before, after;
	unsigned long i;

	ASSERT_LE(0, view);
	ASSERT_TRUE(fill(self->fd, 1, 0, HBLOCK));
	ASSERT_EQ(HBLOCK, ctx_pages(self->fd));
	ASSERT_EQ(0, fallocate(view, PUNCH, KMIG_SLOT_OFFSET(1) + 64 * PAGE_SZ,
			       64 * PAGE_SZ));
	ASSERT_EQ(HBLOCK - 64, ctx_pages(self->fd));

	before = pgalloc();
	ASSERT_LT(0, before);
	for (i = 64; i < 96; i++)
		self->mem[i * PAGE_SZ] = FILL(i);
	ASSERT_TRUE(fill(self->fd, 1, 96, 32));
	after = pgalloc();
	TH_LOG("pages allocated to fill 64 holes of a split block: %ld",
	       after - before);
	EXPECT_EQ(HBLOCK, ctx_pages(self->fd));
	/* Each refused 2 MiB folio would add 512. */
	EXPECT_GT(64 * HBLOCK / 8, after - before);

	for (i = 0; i < HBLOCK; i++) {
		if (i >= 64 && i < 96) {
			ASSERT_TRUE(page_is(self->fd, 1, i, FILL(i), 0))
				TH_LOG("page %lu", i);
		} else {
			ASSERT_TRUE(page_is(self->fd, 1, i, FILL(i), FILL(i)))
				TH_LOG("page %lu", i);
		}
	}
	/* A block with no page still gets its 2 MiB folio. */
	self->mem[(HBLOCK + 1) * PAGE_SZ] = 1;
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
	close(view);
}

TEST_HARNESS_MAIN
