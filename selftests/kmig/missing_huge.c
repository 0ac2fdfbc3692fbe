// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy on a KMIG_SLOT_HUGE slot, in whole 2 MiB pages: a fault on any
 * page of a block says KMIG_FAULT_HUGE; one install of the whole block
 * answers every page of it with one 2 MiB folio, which the guest view
 * maps with a PMD; installs of part of a block stay 4 KiB pages, and a
 * whole install over a block with pages present keeps them and fills the
 * rest a page at a time; a bad source installs nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "kvmlog.h"

#define HUGE_SZ		(2UL << 20)
#define HBLOCK		(HUGE_SZ / PAGE_SZ)
#define HPAGES		(2 * HBLOCK)
/* The byte the test installs at offset @o of page @p. */
#define BYTE(p, o)	((uint8_t)((p) * 7 + (o) / 64 + 1))

FIXTURE(missing_huge) {
	int fd, ffd;
	uint8_t *guest;
	uint8_t *buf;		/* one block, BYTE() of block 0's pages */
	uint64_t pages[HBLOCK];
	uint8_t status[HBLOCK];
};

FIXTURE_SETUP(missing_huge)
{
	size_t o;
	int g;

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	/* Logged by KVM, as a guest view needs; logging stays stopped. */
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_MISSING | KMIG_SLOT_DIRTY_LOG |
			 KMIG_SLOT_KVM_LOG | KMIG_SLOT_HUGE, 0,
			 HPAGES * PAGE_SZ);
	g = kmig_view(self->fd, KMIG_VIEW_GUEST);
	ASSERT_LE(0, g);
	self->guest = mmap(NULL, HPAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
			   MAP_SHARED, g, KMIG_SLOT_OFFSET(1));
	close(g);
	ASSERT_NE(MAP_FAILED, self->guest);
	ASSERT_EQ(0, (uintptr_t)self->guest % HUGE_SZ);
	self->ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, self->ffd);
	self->buf = malloc(HUGE_SZ);
	ASSERT_NE(NULL, self->buf);
	for (o = 0; o < HUGE_SZ; o++)
		self->buf[o] = BYTE(o / PAGE_SZ, o % PAGE_SZ);
}

FIXTURE_TEARDOWN(missing_huge)
{
	munmap(self->guest, HPAGES * PAGE_SZ);
	close(self->ffd);
	close(self->fd);
	free(self->buf);
	EXPECT_TRUE(kmig_objects_zero());
}

/* Fill @pages with @n page numbers from @first. */
static uint64_t *run(uint64_t *pages, uint64_t first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		pages[i] = first + i;
	return pages;
}

struct reader {
	pthread_t thread;
	volatile uint8_t *addr;
	uint8_t value;
};

static void *read_byte(void *arg)
{
	struct reader *r = arg;

	r->value = *r->addr;
	return NULL;
}

/*
 * Three threads fault three pages of block 0, each reported with
 * KMIG_FAULT_HUGE; one install of the block answers all three, as one
 * folio the guest view maps with a PMD.
 */
TEST_F(missing_huge, one_install_of_the_block_answers_every_fault_in_2m)
{
	static const unsigned int page[3] = { 0, 300, HBLOCK - 1 };
	struct kmig_fault rec[3];
	struct reader r[3];
	struct kmig_ctx_stats st;
	unsigned int i, seen = 0;
	uint32_t done;

	for (i = 0; i < 3; i++) {
		r[i].addr = self->guest + page[i] * PAGE_SZ + 100;
		KVM_ASSERT(!pthread_create(&r[i].thread, NULL, read_byte,
					   &r[i]), "thread");
	}
	ASSERT_EQ(3, kmig_read_faults(self->ffd, rec, 3));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, rec[i].slot);
		EXPECT_EQ(KMIG_FAULT_HUGE, rec[i].flags);
		ASSERT_GT(HBLOCK, rec[i].page);
		seen |= (rec[i].page == page[0]) | (rec[i].page == page[1]) << 1 |
			(rec[i].page == page[2]) << 2;
	}
	EXPECT_EQ(7, seen);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 3, 2000));

	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, run(self->pages, 0, HBLOCK),
				    self->buf, self->status, HBLOCK, &done));
	EXPECT_EQ(HBLOCK, done);
	for (i = 0; i < HBLOCK; i++)
		ASSERT_EQ(KMIG_INSTALL_DONE, self->status[i]);
	for (i = 0; i < 3; i++) {
		pthread_join(r[i].thread, NULL);
		EXPECT_EQ(BYTE(page[i], 100), r[i].value);
	}
	EXPECT_EQ(0, memcmp(self->guest, self->buf, HUGE_SZ));
	EXPECT_EQ(HBLOCK, kmig_ctx_pages(self->fd));
	EXPECT_EQ(HUGE_SZ / 1024, kmig_pmd_kb(self->guest));
	kmig_stats(self->fd, &st);
	EXPECT_EQ(3, st.faults);
	EXPECT_EQ(HBLOCK, st.installed_copy);
	EXPECT_EQ(HBLOCK - 3, st.installed_background);
	EXPECT_EQ(0, st.waiters);
}

/*
 * Part of block 1 installed first stays 4 KiB pages; a whole install of
 * the block then keeps them (PRESENT) and fills the rest. A zero install
 * of the whole of block 0 is one folio too.
 */
TEST_F(missing_huge, a_partial_install_stays_4k_and_is_kept)
{
	uint8_t *b1 = self->guest + HUGE_SZ;
	uint32_t done;
	unsigned int i;

	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, run(self->pages, HBLOCK + 10,
							  9),
				    self->buf, NULL, 9, &done));
	EXPECT_EQ(9, done);
	EXPECT_EQ(9, kmig_ctx_pages(self->fd));
	for (i = 0; i < 9; i++)
		ASSERT_EQ(0, memcmp(b1 + (10 + i) * PAGE_SZ,
				    self->buf + i * PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(0, kmig_pmd_kb(self->guest));

	/* The block again, whole, with other data: the 9 pages stay. */
	memset(self->buf, 0xa5, HUGE_SZ);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, run(self->pages, HBLOCK,
							  HBLOCK),
				    self->buf, self->status, HBLOCK, &done));
	EXPECT_EQ(HBLOCK - 9, done);
	for (i = 0; i < HBLOCK; i++)
		ASSERT_EQ(i >= 10 && i < 19 ? KMIG_INSTALL_PRESENT :
		  KMIG_INSTALL_DONE, self->status[i]) TH_LOG("page %u", i);
	EXPECT_EQ(HBLOCK, kmig_ctx_pages(self->fd));
	EXPECT_EQ(BYTE(0, 0), b1[10 * PAGE_SZ]);
	EXPECT_EQ(BYTE(8, PAGE_SZ - 1), b1[19 * PAGE_SZ - 1]);
	EXPECT_EQ(0xa5, b1[9 * PAGE_SZ]);
	EXPECT_EQ(0xa5, b1[HUGE_SZ - 1]);
	EXPECT_EQ(0, kmig_pmd_kb(self->guest));

	ASSERT_EQ(0, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO,
				    run(self->pages, 0, HBLOCK), NULL, NULL,
				    HBLOCK, &done));
	EXPECT_EQ(HBLOCK, done);
	EXPECT_EQ(0, self->guest[HUGE_SZ - 1]);
	EXPECT_EQ(HUGE_SZ / 1024, kmig_pmd_kb(self->guest));
	EXPECT_EQ(HPAGES, kmig_ctx_pages(self->fd));
}

/* A whole block from a bad buffer: EFAULT, nothing installed. */
TEST_F(missing_huge, a_block_from_a_bad_buffer_installs_nothing)
{
	void *hole = mmap(NULL, HUGE_SZ, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t done = 77;

	ASSERT_NE(MAP_FAILED, hole);
	EXPECT_EQ(-EFAULT, __kmig_install(self->fd, 1, 0,
					  run(self->pages, 0, HBLOCK), hole,
					  NULL, HBLOCK, &done));
	EXPECT_EQ(0, done);
	EXPECT_EQ(0, kmig_ctx_pages(self->fd));
	munmap(hole, HUGE_SZ);
}

TEST_HARNESS_MAIN
