// SPDX-License-Identifier: GPL-2.0
/*
 * The folios of a slot: what a hole costs, which node they come from and
 * go to, and which memory cgroup pays for them. A fault or a pwrite into
 * a hole of a huge slot's block that already has pages allocates one
 * page, not a 2 MiB folio it cannot cache; mbind() decides the node of
 * 2 MiB folios and move_pages() moves them whole; a slot's pages, order 0
 * or 2 MiB, are charged to the VM's memory cgroup as page cache (memory.stat
 * "file", and "file_thp" for 2 MiB folios) and uncharged by a punch and by
 * the context's close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mempolicy.h>

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

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE	(1 << 1)
#endif

/* /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define KPF_HEAD	15
#define KPF_TAIL	16

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

static long sys_move_pages(unsigned long n, void **pages, const int *nodes,
			   int *status, int flags)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, flags);
}

static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *mask)
{
	return syscall(SYS_mbind, addr, len, mode, mask,
		       mask ? 8 * sizeof(*mask) : 0, 0);
}

/*
 * The frame of the page mapped at @p (present) by /proc/self/pagemap
 * @pm, or 0.
 */
static uint64_t pfn_of(int pm, const volatile uint8_t *p)
{
	uint64_t e;

	if (pread(pm, &e, sizeof(e), (uintptr_t)p / PAGE_SZ * sizeof(e)) !=
	    sizeof(e))
		return 0;
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* Whether /proc/kpageflags @kf has bit @bit for frame @pfn. */
static bool pfn_flag(int kf, uint64_t pfn, unsigned int bit)
{
	uint64_t f;

	return pread(kf, &f, sizeof(f), pfn * sizeof(f)) == sizeof(f) &&
	       (f >> bit & 1);
}

/*
 * Whether the HBLOCK pages mapped from @p (each read first, so mapped)
 * are one 2 MiB folio: aligned contiguous frames, a compound head and
 * its tails.
 */
static bool one_2m_folio(const volatile uint8_t *p)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	uint64_t head = 0;
	unsigned long i = 0;
	bool ok = false;

	if (pm < 0 || kf < 0)
		goto out;
	for (i = 0; i < HBLOCK; i++)
		(void)p[i * PAGE_SZ];
	head = pfn_of(pm, p);
	if (!head || head % HBLOCK || !pfn_flag(kf, head, KPF_HEAD))
		goto out;
	for (i = 1; i < HBLOCK; i++)
		if (pfn_of(pm, p + i * PAGE_SZ) != head + i ||
		    !pfn_flag(kf, head + i, KPF_TAIL))
			goto out;
	ok = true;
out:
	if (!ok)
		printf("# not one 2 MiB folio at %p: head frame %#llx, page %lu\n",
		       (void *)p, (unsigned long long)head, i);
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return ok;
}

/* The node of each of the HPAGES pages mapped at @p, in @status. */
static long nodes_of(uint8_t *p, int *status)
{
	void *pages[HPAGES];
	unsigned long i;

	for (i = 0; i < HPAGES; i++)
		pages[i] = p + i * PAGE_SZ;
	return sys_move_pages(HPAGES, pages, NULL, status, 0);
}

/*
 * mbind() on a mapping of a huge slot decides the node of its 2 MiB
 * folios: block 0 faulted through the bound mapping, block 1 written by
 * pwrite under the slot's copy of the policy; bound to node 1, then to
 * node 0 on a new slot.
 */
TEST_F(folio, mbind_decides_the_node_of_2m_folios)
{
	int status[HPAGES], to;
	unsigned long mask, i;
	uint32_t s;
	uint8_t *a;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node");
	for (to = 1; to >= 0; to--) {
		mask = 1UL << to;
		s = 2 + to;
		kmig_set_memslot(self->fd, s, KMIG_SLOT_HUGE, (uint64_t)s << 30,
				 HSIZE);
		a = kmig_map(self->fd, s, HSIZE);
		ASSERT_EQ(0, sys_mbind(a, HSIZE, MPOL_BIND, &mask));
		a[3 * PAGE_SZ] = 1;
		ASSERT_TRUE(fill(self->fd, s, HBLOCK + 7, 1));
		EXPECT_EQ(HPAGES, ctx_pages(self->fd) - (to ? 0 : HPAGES));
		EXPECT_TRUE(one_2m_folio(a));
		EXPECT_TRUE(one_2m_folio(a + HUGE_SZ));
		ASSERT_EQ(0, nodes_of(a, status));
		for (i = 0; i < HPAGES; i++) {
			ASSERT_EQ(to, status[i])
				TH_LOG("page %lu, bound to node %d", i, to);
		}
		EXPECT_EQ(1, a[3 * PAGE_SZ]);
		EXPECT_EQ(FILL(HBLOCK + 7), a[(HBLOCK + 7) * PAGE_SZ]);
		munmap(a, HSIZE);
	}
}

/*
 * move_pages() of every page of two 2 MiB folios migrates each folio
 * whole: every page on the other node, each block still one 2 MiB folio,
 * the data as written. The first page of a folio isolates it all; the
 * next one, found isolated, is reported EBUSY though the folio moves
 * (mm/migrate.c, 6.1 and 6.12): a page's status is the node or EBUSY.
 */
TEST_F(folio, move_pages_moves_2m_folios_whole)
{
	int nodes[HPAGES], status[HPAGES], to, busy = 0;
	void *pages[HPAGES];
	unsigned long i;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node");
	ASSERT_TRUE(fill(self->fd, 1, 0, HPAGES));
	/* Mapped, every page: move_pages() sees only mapped pages. */
	ASSERT_TRUE(one_2m_folio(self->mem));
	ASSERT_TRUE(one_2m_folio(self->mem + HUGE_SZ));
	ASSERT_EQ(0, nodes_of(self->mem, status));
	ASSERT_LE(0, status[0]);
	to = !status[0];
	for (i = 0; i < HPAGES; i++) {
		pages[i] = self->mem + i * PAGE_SZ;
		nodes[i] = to;
	}
	ASSERT_EQ(0, sys_move_pages(HPAGES, pages, nodes, status,
				    MPOL_MF_MOVE));
	for (i = 0; i < HPAGES; i++) {
		if (status[i] == -EBUSY) {
			busy++;
		} else {
			ASSERT_EQ(to, status[i]) TH_LOG("page %lu", i);
		}
	}
	TH_LOG("move_pages() statuses EBUSY: %d of %lu", busy, HPAGES);

	ASSERT_EQ(0, nodes_of(self->mem, status));
	for (i = 0; i < HPAGES; i++) {
		ASSERT_EQ(to, status[i]) TH_LOG("page %lu", i);
	}
	EXPECT_TRUE(one_2m_folio(self->mem));
	EXPECT_TRUE(one_2m_folio(self->mem + HUGE_SZ));
	for (i = 0; i < HPAGES; i++) {
		ASSERT_TRUE(page_is(self->fd, 1, i, FILL(i), FILL(i)))
			TH_LOG("page %lu", i);
		ASSERT_EQ(FILL(i), self->mem[i * PAGE_SZ + PAGE_SZ - 1]);
	}
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
}

#define CG		"/sys/fs/cgroup/kmig-folio"

/* Counter @key of CG's memory.stat, in bytes; -1 if none. */
static long cg_stat(const char *key)
{
	return kmig_file_counter(CG "/memory.stat", key);
}

/*
 * A context opened by this process from inside CG, which it leaves again:
 * the VM's cgroup is CG, every later writer is outside it. The fd, or
 * -errno; -ENOENT without cgroup2.
 */
static int open_in_cgroup(void)
{
	int fd, ret;

	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK)) {
		if (!getenv("KMIG_BED"))
			return -ENOENT;
		if (mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL))
			return -errno;
	}
	ret = kmig_write_str("/sys/fs/cgroup/cgroup.subtree_control",
			     "+memory");
	if (ret)
		return ret;
	rmdir(CG);
	if (mkdir(CG, 0755))
		return -errno;
	ret = kmig_write_str(CG "/cgroup.procs", "0");
	if (ret)
		return ret;
	fd = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	ret = kmig_write_str("/sys/fs/cgroup/cgroup.procs", "0");
	if (ret && fd >= 0) {
		close(fd);
		fd = ret;
	}
	return fd;
}

/*
 * A slot of HPAGES pages, @flags, in a context of CG: pwrite fills it from
 * outside CG, CG's "file" grows by the slot and "file_thp" by its 2 MiB
 * folios; punching block 1 returns that block, closing the context the
 * rest.
 */
static void charge_and_uncharge(struct __test_metadata *_metadata,
				uint32_t flags)
{
	long thp = flags & KMIG_SLOT_HUGE ? HSIZE : 0;
	long file0, thp0, file, view;
	int fd = open_in_cgroup();

	if (fd == -ENOENT)
		SKIP(return, "no cgroup2 at /sys/fs/cgroup");
	ASSERT_LE(0, fd);
	kmig_set_memslot(fd, 1, flags, 0, HSIZE);
	file0 = cg_stat("file");
	thp0 = cg_stat("file_thp");
	ASSERT_LE(0, file0);
	ASSERT_LE(0, thp0);
	ASSERT_TRUE(fill(fd, 1, 0, HPAGES));
	file = cg_stat("file");
	TH_LOG("memory.stat file: %ld -> %ld, file_thp %ld -> %ld", file0,
	       file, thp0, cg_stat("file_thp"));
	/* Nothing else in CG adds 64 pages of page cache meanwhile. */
	EXPECT_LE(file0 + (long)HSIZE, file);
	EXPECT_GT(file0 + (long)HSIZE + 64 * (long)PAGE_SZ, file);
	EXPECT_EQ(thp0 + thp, cg_stat("file_thp"));

	view = kmig_view(fd, KMIG_VIEW_TRACKED);
	ASSERT_LE(0, view);
	ASSERT_EQ(0, fallocate(view, PUNCH, KMIG_SLOT_OFFSET(1) + HUGE_SZ,
			       HUGE_SZ));
	close(view);
	EXPECT_EQ(HBLOCK, ctx_pages(fd));
	EXPECT_GE(file - (long)HUGE_SZ, cg_stat("file"));
	EXPECT_EQ(thp0 + thp / 2, cg_stat("file_thp"));
	TH_LOG("after punching 2 MiB: file %ld, file_thp %ld", cg_stat("file"),
	       cg_stat("file_thp"));

	close(fd);
	EXPECT_GE(file - (long)HSIZE, cg_stat("file"));
	EXPECT_EQ(thp0, cg_stat("file_thp"));
	EXPECT_EQ(0, rmdir(CG));
}

TEST_F(folio, order0_pages_are_charged_to_the_vm_and_uncharged)
{
	charge_and_uncharge(_metadata, 0);
}

TEST_F(folio, huge_pages_are_charged_to_the_vm_and_uncharged)
{
	charge_and_uncharge(_metadata, KMIG_SLOT_HUGE);
}

TEST_HARNESS_MAIN
