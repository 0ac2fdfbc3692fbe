// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging: writes through any mapping, pwrite and installs set the
 * page's bit; get-and-clear re-arms; split get/clear with KVM's range
 * rules; a failed round's bits merge back; and writer threads hammering
 * while another thread harvests lose nothing (checked by content). The
 * present bitmap shows exactly the pages that have memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"

#define NPAGES	200			/* not a multiple of 64 */
#define SIZE	(NPAGES * PAGE_SZ)
#define WORDS	((NPAGES + 63) / 64)

FIXTURE(dirty) {
	int fd;
	uint8_t *mem;
	uint64_t bm[WORDS];
};

FIXTURE_SETUP(dirty)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG, 0, SIZE);
	self->mem = kmig_map(self->fd, 0, SIZE);
}

FIXTURE_TEARDOWN(dirty)
{
	munmap(self->mem, SIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

static int harvest(int fd, uint64_t *bm, bool clear)
{
	memset(bm, 0xa5, WORDS * 8);
	return __kmig_dirty(fd, KMIG_GET_DIRTY_LOG, 0,
			    clear ? KMIG_DIRTY_LOG_CLEAR : 0, 0, 0, bm);
}


TEST_F(dirty, user_writes_are_logged_and_rearmed)
{
	static const unsigned int pages[] = { 0, 1, 63, 64, 100, 199 };
	unsigned int i;

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(0, bm_count(self->bm, WORDS));

	/* A read does not dirty. */
	EXPECT_EQ(0, self->mem[5 * PAGE_SZ]);
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		self->mem[pages[i] * PAGE_SZ + i] = i + 1;
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(6, bm_count(self->bm, WORDS));
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		EXPECT_TRUE(bm_bit(self->bm, pages[i]));

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(0, bm_count(self->bm, WORDS));

	/* Re-armed: the same page written again shows again. */
	self->mem[100 * PAGE_SZ] = 9;
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(1, bm_count(self->bm, WORDS));
	EXPECT_TRUE(bm_bit(self->bm, 100));
}

TEST_F(dirty, any_mapping_pwrite_and_install_set_bits)
{
	uint64_t page = 150;
	uint8_t *other;

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	other = kmig_map(self->fd, 0, SIZE);
	other[7 * PAGE_SZ] = 1;
	ASSERT_EQ(1, pwrite(self->fd, "x", 1, 9 * PAGE_SZ + 5));
	ASSERT_EQ(0, __kmig_install(self->fd, 0, KMIG_INSTALL_ZERO, &page,
				    NULL, NULL, 1, NULL));
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(3, bm_count(self->bm, WORDS));
	EXPECT_TRUE(bm_bit(self->bm, 7));
	EXPECT_TRUE(bm_bit(self->bm, 9));
	EXPECT_TRUE(bm_bit(self->bm, 150));
	munmap(other, SIZE);
}

TEST_F(dirty, split_get_and_clear)
{
	uint64_t mask[2] = {};

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	self->mem[3 * PAGE_SZ] = 1;
	self->mem[70 * PAGE_SZ] = 1;
	self->mem[71 * PAGE_SZ] = 1;
	self->mem[198 * PAGE_SZ] = 1;

	/* Get without clear, twice: the same bits. */
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_EQ(4, bm_count(self->bm, WORDS));
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_EQ(4, bm_count(self->bm, WORDS));

	/* Clear only page 70 of the range 64..127. */
	mask[0] = 1ULL << (70 - 64);
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 0, 64, 64,
				  mask));
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_EQ(3, bm_count(self->bm, WORDS));
	EXPECT_FALSE(bm_bit(self->bm, 70));
	EXPECT_TRUE(bm_bit(self->bm, 71));

	/* Page 70 was re-armed: a new write shows. */
	self->mem[70 * PAGE_SZ] = 2;
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_TRUE(bm_bit(self->bm, 70));

	/* The last range may end at the slot end, unaligned. */
	mask[0] = ~0ULL;
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 0, 192, 8,
				  mask));
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_FALSE(bm_bit(self->bm, 198));

	/* KVM's range rules. */
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 0,
					3, 64, mask));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 0,
					0, 10, mask));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 0,
					192, 64, mask));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 0, 1,
					0, 64, mask));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0, 2,
					0, 0, self->bm));
	EXPECT_EQ(-ENOENT, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 5, 0,
					0, 0, self->bm));
	EXPECT_EQ(-EFAULT, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0, 0,
					0, 0, (void *)8));
}

/*
 * A clear spanning more than one step of the kernel's loop (32768 pages)
 * and an unaligned slot end re-arms every page it names, and only those;
 * reading a re-armed page does not dirty it.
 */
TEST_F(dirty, large_split_clear_rearms_across_chunks)
{
	const uint64_t npages = 40001, size = npages * PAGE_SZ;
	const unsigned int pages[] = { 0, 32767, 32768, 40000 };
	const size_t words = (npages + 63) / 64;
	uint64_t *bm, *mask;
	volatile uint8_t *big;
	unsigned int i, n;

	bm = calloc(words, 8);
	mask = malloc(words * 8);
	ASSERT_TRUE(bm && mask);
	memset(mask, 0xff, words * 8);
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_DIRTY_LOG, 1ULL << 32, size);
	big = kmig_map(self->fd, 1, size);
	for (i = 0; i < ARRAY_SIZE(pages); i++)
		big[pages[i] * PAGE_SZ] = 1;

	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1, 0, 0, 0,
				  bm));
	n = bm_count(bm, words);
	EXPECT_EQ(ARRAY_SIZE(pages), n);

	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_CLEAR_DIRTY_LOG, 1, 0, 0,
				  npages, mask));
	for (i = 0; i < ARRAY_SIZE(pages); i++)
		EXPECT_EQ(1, big[pages[i] * PAGE_SZ]);
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1, 0, 0, 0,
				  bm));
	n = bm_count(bm, words);
	EXPECT_EQ(0, n);

	/* Re-armed on both sides of the step and at the end. */
	big[32767 * PAGE_SZ] = 2;
	big[32768 * PAGE_SZ] = 2;
	big[40000 * PAGE_SZ] = 2;
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	n = bm_count(bm, words);
	EXPECT_EQ(3, n);
	EXPECT_TRUE(bm_bit(bm, 32767));
	EXPECT_TRUE(bm_bit(bm, 32768));
	EXPECT_TRUE(bm_bit(bm, 40000));

	munmap((void *)big, size);
	free(mask);
	free(bm);
}

static int set_logging(int fd, uint32_t slot, uint32_t flags)
{
	struct kmig_dirty_logging a = { .slot = slot, .flags = flags };

	return ioctl(fd, KMIG_SET_DIRTY_LOGGING, &a) ? -errno : 0;
}

TEST_F(dirty, logging_stops_and_restarts)
{
	int other;

	self->mem[0] = 1;
	ASSERT_EQ(0, set_logging(self->fd, 0, 0));
	/* Stopping empties the log, and later writes set nothing. */
	self->mem[PAGE_SZ] = 1;
	self->mem[5 * PAGE_SZ] = 1;
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(0, bm_count(self->bm, WORDS));

	/* Restarting protects every page again, written ones included. */
	ASSERT_EQ(0, set_logging(self->fd, 0, KMIG_DIRTY_LOGGING_ON));
	ASSERT_EQ(0, harvest(self->fd, self->bm, false));
	EXPECT_EQ(0, bm_count(self->bm, WORDS));
	self->mem[5 * PAGE_SZ] = 2;
	self->mem[7 * PAGE_SZ] = 2;
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(2, bm_count(self->bm, WORDS));
	EXPECT_TRUE(bm_bit(self->bm, 5));
	EXPECT_TRUE(bm_bit(self->bm, 7));

	EXPECT_EQ(-EINVAL, set_logging(self->fd, 0, 2));
	EXPECT_EQ(-ENOENT, set_logging(self->fd, 9, 0));
	other = kmig_open();
	kmig_set_memslot(other, 0, 0, 0, SIZE);
	EXPECT_EQ(-ENODEV, set_logging(other, 0, KMIG_DIRTY_LOGGING_ON));
	close(other);
}

TEST_F(dirty, present_bitmap_shows_pages_with_memory)
{
	uint64_t bm[WORDS], page = 7;
	uint8_t buf[PAGE_SZ] = { 1 };
	int other;

	/* A write through the mapping, a pwrite, and a read fault. */
	self->mem[3 * PAGE_SZ] = 1;
	ASSERT_EQ(PAGE_SZ, pwrite(self->fd, buf, PAGE_SZ,
				  KMIG_SLOT_OFFSET(0) + 64 * PAGE_SZ));
	EXPECT_EQ(0, self->mem[199 * PAGE_SZ]);
	memset(bm, 0xa5, sizeof(bm));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0, 0, 0,
				  NPAGES, bm));
	EXPECT_EQ(3, bm_count(bm, WORDS));
	EXPECT_TRUE(bm_bit(bm, 3));
	EXPECT_TRUE(bm_bit(bm, 64));
	EXPECT_TRUE(bm_bit(bm, 199));

	/* A range ending at the slot end: bit 0 is page 64. */
	memset(bm, 0xa5, sizeof(bm));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0, 0, 64,
				  NPAGES - 64, bm));
	EXPECT_EQ(1, bm[0]);
	EXPECT_EQ(0, bm[1]);
	EXPECT_EQ(1ULL << (199 - 192), bm[2]);

	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0,
					1, 0, NPAGES, bm));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0,
					0, 3, 64, bm));
	EXPECT_EQ(-EINVAL, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0,
					0, 0, NPAGES + 1, bm));
	EXPECT_EQ(-ENOENT, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 9,
					0, 0, 64, bm));
	EXPECT_EQ(-EFAULT, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 0,
					0, 0, NPAGES, (uint64_t *)8));

	/* Any slot, logged or not. */
	other = kmig_open();
	kmig_set_memslot(other, 0, 0, 0, SIZE);
	ASSERT_EQ(PAGE_SZ, pwrite(other, buf, PAGE_SZ,
				  KMIG_SLOT_OFFSET(0) + page * PAGE_SZ));
	ASSERT_EQ(0, __kmig_dirty(other, KMIG_GET_PRESENT_BITMAP, 0, 0, 0,
				  NPAGES, bm));
	EXPECT_EQ(1, bm_count(bm, WORDS));
	EXPECT_TRUE(bm_bit(bm, page));
	close(other);
}

TEST_F(dirty, slot_without_log_is_refused)
{
	kmig_set_memslot(self->fd, 1, 0, SIZE, PAGE_SZ);
	EXPECT_EQ(-ENODEV, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1, 0,
					0, 0, self->bm));
}

/* A consumer whose round failed gives the bits back. */
TEST_F(dirty, failed_round_merges_back)
{
	uint64_t taken[WORDS];

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	self->mem[10 * PAGE_SZ] = 1;
	self->mem[130 * PAGE_SZ] = 1;
	ASSERT_EQ(0, harvest(self->fd, taken, true));
	EXPECT_EQ(2, bm_count(taken, WORDS));
	/* Meanwhile another page gets dirty. */
	self->mem[11 * PAGE_SZ] = 1;
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_MERGE_DIRTY_LOG, 0, 0, 0,
				  NPAGES, taken));
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(3, bm_count(self->bm, WORDS));
	EXPECT_TRUE(bm_bit(self->bm, 10));
	EXPECT_TRUE(bm_bit(self->bm, 11));
	EXPECT_TRUE(bm_bit(self->bm, 130));
}

#define WRITERS		3
#define ROUNDS		60

struct hammer {
	uint8_t *mem;
	volatile bool stop;
	unsigned int seed;
	uint64_t writes;
};

static void *writer(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = __sync_fetch_and_add(&h->seed, 1);
	uint64_t *p;

	while (!h->stop) {
		p = (uint64_t *)(h->mem + rand_r(&seed) % NPAGES * PAGE_SZ);
		p[rand_r(&seed) % (PAGE_SZ / 8)] = ((uint64_t)rand_r(&seed) << 32) |
						   rand_r(&seed);
		__atomic_add_fetch(&h->writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Writers hammer random words while this thread harvests and copies every
 * dirty page into a shadow, as a migration source would. After the
 * writers stop and one last round, the shadow equals memory: no write was
 * lost across any harvest.
 */
TEST_F(dirty, concurrent_writers_lose_nothing)
{
	struct hammer h = { .mem = self->mem, .seed = 42 };
	pthread_t threads[WRITERS];
	uint8_t *shadow;
	uint64_t copied = 0;
	int r, i;

	shadow = malloc(SIZE);
	ASSERT_NE(NULL, shadow);
	memset(self->mem, 0x3c, SIZE);
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	memcpy(shadow, self->mem, SIZE);

	for (i = 0; i < WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, writer, &h));
	for (r = 0; r <= ROUNDS; r++) {
		if (r == ROUNDS) {
			h.stop = true;
			for (i = 0; i < WRITERS; i++)
				pthread_join(threads[i], NULL);
		} else {
			usleep(2000);
		}
		ASSERT_EQ(0, harvest(self->fd, self->bm, true));
		for (i = 0; i < NPAGES; i++) {
			if (!bm_bit(self->bm, i))
				continue;
			/* Alternate the copy path: mapping and pread. */
			if (r & 1)
				memcpy(shadow + i * PAGE_SZ,
				       self->mem + i * PAGE_SZ, PAGE_SZ);
			else
				ASSERT_EQ(PAGE_SZ,
					  pread(self->fd, shadow + i * PAGE_SZ,
						PAGE_SZ, i * PAGE_SZ));
			copied++;
		}
	}
	TH_LOG("%llu writes, %llu page copies over %d rounds",
	       (unsigned long long)h.writes, (unsigned long long)copied,
	       ROUNDS);
	EXPECT_LT(ROUNDS, copied);
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, memcmp(shadow + i * PAGE_SZ,
				    self->mem + i * PAGE_SZ, PAGE_SZ))
			TH_LOG("page %d differs", i);
	free(shadow);
}

TEST_HARNESS_MAIN
