// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory is page cache, so the kernel's memory management works on
 * it: GUP-fast pins its pages without the slow path, move_pages() migrates
 * them between NUMA nodes, mbind() and set_mempolicy() choose the node of
 * new pages, a poisoned page signals its accessor with BUS_MCEERR_AR
 * while the rest of the slot keeps working, and a hole punched in a view
 * (fallocate, MADV_REMOVE) frees its pages, reads as zeros and is logged
 * dirty.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/mempolicy.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvmlog.h"

#define NPAGES	256
#define SIZE	(NPAGES * PAGE_SZ)
/* What the fixture writes to every byte of page @i. */
#define FILL(i)	((uint8_t)((i) + 1))

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE	(1 << 1)
#endif

#define TRACING		"/sys/kernel/tracing/"
#define PROBE		"kmig_mm_gup_slow"

FIXTURE(mm) {
	int fd;
	uint8_t *mem;
};

FIXTURE_SETUP(mm)
{
	unsigned long i;

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_DIRTY_LOG, 0, SIZE);
	self->mem = kmig_map(self->fd, 1, SIZE);
	for (i = 0; i < NPAGES; i++)
		memset(self->mem + i * PAGE_SZ, FILL(i), PAGE_SZ);
}

FIXTURE_TEARDOWN(mm)
{
	if (self->mem)
		munmap(self->mem, SIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

static int write_file(const char *path, const char *s, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/*
 * Every get_user_pages_fast() that GUP-fast cannot finish ends in the slow
 * path's __get_user_pages(); the compiler may have kept only a copy of it
 * (.constprop, .isra) or only a caller out of line. The first such symbol
 * in kallsyms, in *@sym; 0 or -ENOENT.
 */
static int slow_gup_symbol(char *sym, size_t len)
{
	static const char *const names[] = {
		"__get_user_pages", "__get_user_pages_locked",
		"__gup_longterm_locked",
	};
	char line[256], name[200];
	unsigned int i;
	size_t n;
	FILE *f;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		f = fopen("/proc/kallsyms", "r");
		if (!f)
			return -errno;
		n = strlen(names[i]);
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%*s %*s %199s", name) != 1)
				continue;
			if (!strcmp(name, names[i]) ||
			    (!strncmp(name, names[i], n) && name[n] == '.')) {
				snprintf(sym, len, "%s", name);
				fclose(f);
				return 0;
			}
		}
		fclose(f);
	}
	return -ENOENT;
}

/* Put an enabled kprobe on the slow GUP path: 0 or -errno. */
static int probe_on(void)
{
	char sym[200], def[256];
	int ret;

	if (access(TRACING "kprobe_events", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	ret = slow_gup_symbol(sym, sizeof(sym));
	if (ret)
		return ret;
	snprintf(def, sizeof(def), "p:%s %s\n", PROBE, sym);
	ret = write_file(TRACING "kprobe_events", def, O_APPEND);
	if (ret)
		return ret;
	return write_file(TRACING "events/kprobes/" PROBE "/enable", "1", 0);
}

static void probe_off(void)
{
	write_file(TRACING "events/kprobes/" PROBE "/enable", "0", 0);
	write_file(TRACING "kprobe_events", "-:" PROBE "\n", O_APPEND);
}

/* Hits of the probe so far, or -1. */
static long probe_hits(void)
{
	FILE *f = fopen(TRACING "kprobe_profile", "r");
	long hits, misses, found = -1;
	char name[128];

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld %ld", name, &hits, &misses) == 3)
		if (!strcmp(name, PROBE))
			found = hits;
	fclose(f);
	return found;
}

/*
 * vmsplice() of user memory into a pipe pins it with get_user_pages_fast(),
 * one call per 4 KiB iovec (lib/iov_iter.c); each page is spliced and the
 * pipe drained to /dev/null. Returns the slow-path calls, or -1.
 */
static long splice_pass(uint8_t *mem, unsigned long npages)
{
	int p[2], null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	long before, after = -1;
	struct iovec iov;
	unsigned long i;

	if (null < 0 || pipe2(p, O_CLOEXEC))
		return -1;
	before = probe_hits();
	for (i = 0; i < npages; i++) {
		iov.iov_base = mem + i * PAGE_SZ;
		iov.iov_len = PAGE_SZ;
		if (vmsplice(p[1], &iov, 1, 0) != PAGE_SZ ||
		    splice(p[0], NULL, null, NULL, PAGE_SZ, 0) != PAGE_SZ)
			goto out;
	}
	after = probe_hits();
out:
	close(p[0]);
	close(p[1]);
	close(null);
	return after < 0 || before < 0 ? -1 : after - before;
}

TEST_F(mm, gup_fast_pins_kmig_pages)
{
	uint8_t *anon;
	long kmig, ref;
	int ret;

	anon = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	memset(anon, 1, SIZE);
	ret = probe_on();
	if (ret) {
		probe_off();
		munmap(anon, SIZE);
		SKIP(return, "no kprobe on the slow GUP path: %s",
		     strerror(-ret));
	}
	ref = splice_pass(anon, NPAGES);
	kmig = splice_pass(self->mem, NPAGES);
	probe_off();
	munmap(anon, SIZE);
	TH_LOG("slow-path GUP calls for %d pages: kmig %ld, anonymous %ld",
	       NPAGES, kmig, ref);
	ASSERT_LE(0, kmig);
	ASSERT_LE(0, ref);
	/* Before the page cache, 6.12 took the slow path for every page. */
	EXPECT_GE(NPAGES / 32, kmig);
}

static long sys_move_pages(unsigned long n, void **pages, const int *nodes,
			   int *status, int flags)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, flags);
}

TEST_F(mm, move_pages_migrates_between_nodes)
{
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES];
	struct kmig_info info;
	unsigned long i;
	uint8_t buf[PAGE_SZ];
	int to;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node");
	for (i = 0; i < NPAGES; i++)
		pages[i] = self->mem + i * PAGE_SZ;
	ASSERT_EQ(0, sys_move_pages(NPAGES, pages, NULL, status, 0));
	ASSERT_LE(0, status[0]);
	to = !status[0];
	for (i = 0; i < NPAGES; i++)
		nodes[i] = to;
	ASSERT_EQ(0, sys_move_pages(NPAGES, pages, nodes, status,
				    MPOL_MF_MOVE));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(to, status[i]) TH_LOG("page %lu", i);
	}
	/* Where they are now, and what they hold, by mapping and pread. */
	ASSERT_EQ(0, sys_move_pages(NPAGES, pages, NULL, status, 0));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(to, status[i]) TH_LOG("page %lu", i);
		ASSERT_EQ(FILL(i), self->mem[i * PAGE_SZ + PAGE_SZ - 1]);
		ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ,
					 KMIG_SLOT_OFFSET(1) + i * PAGE_SZ));
		ASSERT_EQ(FILL(i), buf[0]);
	}
	kmig_objects(&info);
	EXPECT_EQ(NPAGES, info.obj_pages);
}

static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *mask)
{
	return syscall(SYS_mbind, addr, len, mode, mask,
		       mask ? 8 * sizeof(*mask) : 0, 0);
}

static long sys_set_mempolicy(int mode, const unsigned long *mask)
{
	return syscall(SYS_set_mempolicy, mode, mask,
		       mask ? 8 * sizeof(*mask) : 0);
}

/* The mode of the policy at @addr, or -errno. */
static int policy_at(void *addr)
{
	int mode;

	if (syscall(SYS_get_mempolicy, &mode, NULL, 0, addr, MPOL_F_ADDR))
		return -errno;
	return mode;
}

/* Who wrote the quarter @q of the slot in the test below. */
static const char *writer(unsigned long q)
{
	switch (q) {
	case 0:
		return "a fault through the bound mapping";
	case 1:
		return "a fault through the other mapping";
	case 2:
		return "pwrite under the slot's policy";
	default:
		return "pwrite under the task's policy";
	}
}

/*
 * Who decides the node of a new page (Documentation/uapi.rst): a fault
 * through a mapping follows that mapping's mbind(); a fault through
 * another mapping of the slot, and pwrite(), follow the slot's copy of the
 * last mbind() on any of its mappings; with none, the writer's
 * set_mempolicy(). Each quarter of a fresh slot is written one way, with
 * the policy bound to node 1, then to node 0.
 */
TEST_F(mm, mbind_and_set_mempolicy_choose_the_node)
{
	enum { N = 64 };
	int status[N], to, ret;
	uint8_t *a, *b, buf[PAGE_SZ];
	unsigned long mask, i;
	void *pages[N];
	uint32_t s;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node");
	for (to = 1; to >= 0; to--) {
		mask = 1UL << to;
		s = 2 + to;
		kmig_set_memslot(self->fd, s, 0, (uint64_t)s << 30, N * PAGE_SZ);
		a = kmig_map(self->fd, s, N * PAGE_SZ);
		b = kmig_map(self->fd, s, N * PAGE_SZ);
		ASSERT_EQ(0, sys_mbind(a, N * PAGE_SZ, MPOL_BIND, &mask));
		EXPECT_EQ(MPOL_BIND, policy_at(a));
		/* Without a policy of its own, still none for NUMA balancing. */
		EXPECT_EQ(MPOL_LOCAL, policy_at(b));

		for (i = 0; i < N / 4; i++)
			a[i * PAGE_SZ] = 1;
		for (; i < N / 2; i++)
			b[i * PAGE_SZ] = 2;
		memset(buf, 3, sizeof(buf));
		for (; i < 3 * N / 4; i++)
			ASSERT_EQ(PAGE_SZ, pwrite(self->fd, buf, PAGE_SZ,
						  KMIG_SLOT_OFFSET(s) +
						  i * PAGE_SZ));
		/* MPOL_DEFAULT clears the slot's copy: the task's decides. */
		ASSERT_EQ(0, sys_mbind(a, N * PAGE_SZ, MPOL_DEFAULT, NULL));
		ASSERT_EQ(0, sys_set_mempolicy(MPOL_BIND, &mask));
		memset(buf, 4, sizeof(buf));
		for (; i < N; i++) {
			ret = pwrite(self->fd, buf, PAGE_SZ,
				     KMIG_SLOT_OFFSET(s) + i * PAGE_SZ);
			if (ret != PAGE_SZ)
				break;
		}
		ASSERT_EQ(0, sys_set_mempolicy(MPOL_DEFAULT, NULL));
		ASSERT_EQ(N, i);

		for (i = 0; i < N; i++) {
			pages[i] = a + i * PAGE_SZ;
			ASSERT_EQ(1 + 4 * i / N, a[i * PAGE_SZ]);
		}
		ASSERT_EQ(0, sys_move_pages(N, pages, NULL, status, 0));
		for (i = 0; i < N; i++) {
			EXPECT_EQ(to, status[i])
				TH_LOG("page %lu, %s, bound to node %d", i,
				       writer(4 * i / N), to);
		}
		munmap(a, N * PAGE_SZ);
		munmap(b, N * PAGE_SZ);
	}
}

static sigjmp_buf bus_jmp;
static volatile int bus_code;
static void *volatile bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	bus_code = si->si_code;
	bus_addr = si->si_addr;
	siglongjmp(bus_jmp, 1);
}

/* Read a byte of @p; the si_code of a SIGBUS it raised, else 0. */
static int touch(volatile uint8_t *p)
{
	bus_code = 0;
	bus_addr = NULL;
	if (!sigsetjmp(bus_jmp, 1))
		(void)*p;
	return bus_code;
}

/*
 * Poison the page at @p with MADV_HWPOISON, catching SIGBUS: 6.12 signals
 * the caller, which maps the page, from the injection itself (the SIGBUS
 * cuts the call short; bus_code tells); 6.1 at its next access. 0 or
 * -errno.
 */
static int inject_hwpoison(void *p)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	int ret = 0;

	if (sigaction(SIGBUS, &sa, NULL))
		return -errno;
	bus_code = 0;
	if (!sigsetjmp(bus_jmp, 1))
		ret = madvise(p, PAGE_SZ, MADV_HWPOISON);
	return ret ? -errno : 0;
}

TEST_F(mm, hwpoison_signals_the_accessor_and_spares_the_rest)
{
	uint8_t *bad = self->mem + PAGE_SZ, *again, buf[PAGE_SZ];
	unsigned long i;
	int ret = inject_hwpoison(bad);

	if (ret == -EINVAL || ret == -EPERM)
		SKIP(return, "no MADV_HWPOISON: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	TH_LOG("injection signalled: si_code %d", bus_code);

	EXPECT_EQ(BUS_MCEERR_AR, touch(bad));
	EXPECT_EQ(bad, bus_addr);
	/* A new mapping faults through kmig, which knows of the poison. */
	again = kmig_map(self->fd, 1, SIZE);
	EXPECT_EQ(BUS_MCEERR_AR, touch(again + PAGE_SZ));
	EXPECT_EQ(again + PAGE_SZ, bus_addr);
	EXPECT_EQ(-1, pread(self->fd, buf, PAGE_SZ,
			    KMIG_SLOT_OFFSET(1) + PAGE_SZ));
	EXPECT_EQ(EIO, errno);

	/* The rest keeps working. */
	for (i = 0; i < NPAGES; i++) {
		if (i == 1)
			continue;
		ASSERT_EQ(0, touch(again + i * PAGE_SZ));
		ASSERT_EQ(FILL(i), again[i * PAGE_SZ]);
		self->mem[i * PAGE_SZ] = 0xaa;
		ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ,
					 KMIG_SLOT_OFFSET(1) + i * PAGE_SZ));
		ASSERT_EQ(0xaa, buf[0]);
	}
	munmap(again, SIZE);
}

#define PUNCH	(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

static uint64_t ctx_pages(int fd)
{
	struct kmig_ctx_stats st;

	kmig_stats(fd, &st);
	return st.pages;
}

/* Whether exactly pages @first .. @first + @n - 1 of slot 1 are logged. */
static bool logged_exactly(int fd, unsigned long first, unsigned long n)
{
	uint64_t log[NPAGES / 64];
	unsigned long i;
	bool set;

	if (__kmig_dirty(fd, KMIG_GET_DIRTY_LOG, 1, KMIG_DIRTY_LOG_CLEAR, 0,
			 NPAGES, log))
		return false;
	for (i = 0; i < NPAGES; i++) {
		set = log[i / 64] >> (i % 64) & 1;
		if (set != (i >= first && i < first + n)) {
			printf("# page %lu logged %d\n", i, set);
			return false;
		}
	}
	return true;
}

/* Whether every byte of page @i of slot 1 reads @v by pread. */
static bool page_reads(int fd, unsigned long i, uint8_t v)
{
	uint8_t buf[PAGE_SZ];
	unsigned long j;

	if (pread(fd, buf, PAGE_SZ, KMIG_SLOT_OFFSET(1) + i * PAGE_SZ) !=
	    PAGE_SZ)
		return false;
	for (j = 0; j < PAGE_SZ; j++)
		if (buf[j] != v)
			return false;
	return true;
}

/* Whether pages @first .. @first + @n - 1 of slot 1 read as zeros. */
static bool reads_zeros(int fd, const uint8_t *mem, unsigned long first,
			unsigned long n)
{
	unsigned long i, j;

	for (i = first; i < first + n; i++) {
		if (!page_reads(fd, i, 0))
			return false;
		for (j = 0; j < PAGE_SZ; j++)
			if (mem[i * PAGE_SZ + j])
				return false;
	}
	return true;
}

TEST_F(mm, punch_hole_frees_zeroes_and_logs_the_pages)
{
	int view = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	uint64_t off = KMIG_SLOT_OFFSET(1);

	ASSERT_TRUE(logged_exactly(self->fd, 0, NPAGES));
	ASSERT_EQ(NPAGES, ctx_pages(self->fd));
	ASSERT_EQ(0, fallocate(view, PUNCH, off + 8 * PAGE_SZ, 16 * PAGE_SZ));
	/* Memory returned: the count, before anything faults them back. */
	EXPECT_EQ(NPAGES - 16, ctx_pages(self->fd));
	EXPECT_TRUE(logged_exactly(self->fd, 8, 16));
	/* Punching the hole again logs nothing: no page was there. */
	ASSERT_EQ(0, fallocate(view, PUNCH, off + 8 * PAGE_SZ, 16 * PAGE_SZ));
	EXPECT_TRUE(logged_exactly(self->fd, 0, 0));
	EXPECT_TRUE(reads_zeros(self->fd, self->mem, 8, 16));
	EXPECT_EQ(FILL(7), self->mem[8 * PAGE_SZ - 1]);
	EXPECT_EQ(FILL(24), self->mem[24 * PAGE_SZ]);

	/* Whole pages of one slot, by punching only. */
	EXPECT_EQ(-1, fallocate(view, PUNCH, off + 1, PAGE_SZ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(view, PUNCH, off, PAGE_SZ / 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(view, PUNCH, off + PAGE_SZ, SIZE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(view, PUNCH, KMIG_SLOT_OFFSET(2), PAGE_SZ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, fallocate(view, FALLOC_FL_KEEP_SIZE, off, PAGE_SZ));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(view, PUNCH | FALLOC_FL_ZERO_RANGE, off,
				PAGE_SZ));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* /dev/kmig itself is a character device. */
	EXPECT_EQ(-1, fallocate(self->fd, PUNCH, off, PAGE_SZ));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(FILL(0), self->mem[0]);
	EXPECT_TRUE(logged_exactly(self->fd, 0, 0));
	close(view);
}

TEST_F(mm, madv_remove_on_a_view_punches)
{
	int view = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	uint8_t *p;

	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, view,
		 KMIG_SLOT_OFFSET(1));
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(FILL(40), p[40 * PAGE_SZ]);
	ASSERT_TRUE(logged_exactly(self->fd, 0, NPAGES));
	ASSERT_EQ(0, madvise(p + 32 * PAGE_SZ, 4 * PAGE_SZ, MADV_REMOVE));
	EXPECT_EQ(NPAGES - 4, ctx_pages(self->fd));
	EXPECT_TRUE(logged_exactly(self->fd, 32, 4));
	/* Gone from every mapping: the context fd's and the view's. */
	EXPECT_TRUE(reads_zeros(self->fd, p, 32, 4));
	EXPECT_TRUE(reads_zeros(self->fd, self->mem, 32, 4));
	EXPECT_EQ(FILL(36), p[36 * PAGE_SZ]);
	munmap(p, SIZE);
	close(view);
}

/*
 * A page that has not arrived in missing mode cannot be punched (its
 * waiters would get zeros); one that has can, and leaves missing mode.
 */
TEST_F(mm, punch_refuses_a_missing_page_and_frees_an_arrived_one)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	uint64_t off = KMIG_SLOT_OFFSET(2);
	uint8_t buf[PAGE_SZ], *p;
	int view, ffd;

	kmig_set_memslot(self->fd, 2, KMIG_SLOT_MISSING, SIZE, 8 * PAGE_SZ);
	view = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(PAGE_SZ, pwrite(self->fd, buf, PAGE_SZ, off));
	EXPECT_EQ(-1, fallocate(view, PUNCH, off, 2 * PAGE_SZ));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ, off));
	EXPECT_EQ(0x5a, buf[PAGE_SZ - 1]);
	EXPECT_EQ(NPAGES + 1, ctx_pages(self->fd));

	ASSERT_EQ(0, fallocate(view, PUNCH, off, PAGE_SZ));
	EXPECT_EQ(NPAGES, ctx_pages(self->fd));
	/* With the server gone a missing page is SIGBUS; this one is zeros. */
	ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, ffd);
	close(ffd);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	EXPECT_EQ(0, touch(p));
	EXPECT_EQ(0, p[PAGE_SZ - 1]);
	EXPECT_EQ(BUS_ADRERR, touch(p + PAGE_SZ));
	munmap(p, 8 * PAGE_SZ);
	close(view);
}

/*
 * A KMIG_SLOT_HUGE slot, two 2 MiB blocks, not logging, mapped through
 * the context fd (a tracked view).
 */
#define HUGE_SZ		(2UL << 20)
#define HPAGES		(2 * HUGE_SZ / PAGE_SZ)
#define HBLOCK		(HUGE_SZ / PAGE_SZ)

FIXTURE(mm_huge) {
	int fd;
	uint8_t *mem;
};

FIXTURE_SETUP(mm_huge)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_HUGE, 0, HPAGES * PAGE_SZ);
	self->mem = kmig_map(self->fd, 1, HPAGES * PAGE_SZ);
}

FIXTURE_TEARDOWN(mm_huge)
{
	munmap(self->mem, HPAGES * PAGE_SZ);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/* pwrite FILL(i) over pages @first .. @first + @n - 1 of slot 1. */
static bool huge_fill(int fd, unsigned long first, unsigned long n)
{
	uint8_t buf[PAGE_SZ];
	unsigned long i;

	for (i = first; i < first + n; i++) {
		memset(buf, FILL(i), PAGE_SZ);
		if (pwrite(fd, buf, PAGE_SZ, KMIG_SLOT_OFFSET(1) + i * PAGE_SZ)
		    != PAGE_SZ)
			return false;
	}
	return true;
}

/* The first page of @first .. @first + @n - 1 not all FILL(i), or -1. */
static long huge_first_bad(int fd, unsigned long first, unsigned long n)
{
	unsigned long i;

	for (i = first; i < first + n; i++)
		if (!page_reads(fd, i, FILL(i)))
			return i;
	return -1;
}

TEST_F(mm_huge, a_fault_or_a_write_brings_a_whole_2m_folio)
{
	uint64_t present[HPAGES / 64];
	struct kmig_info info;
	uint8_t buf[PAGE_SZ];
	unsigned long i;

	EXPECT_EQ(0, ctx_pages(self->fd));
	self->mem[3 * PAGE_SZ] = 7;
	EXPECT_EQ(HBLOCK, ctx_pages(self->fd));
	/* Counted and reported in 4 KiB pages. */
	kmig_objects(&info);
	EXPECT_EQ(HBLOCK, info.obj_pages);
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 1, 0, 0,
				  HPAGES, present));
	for (i = 0; i < HPAGES / 64; i++) {
		EXPECT_EQ(i < HBLOCK / 64 ? ~0ULL : 0, present[i]);
	}
	EXPECT_EQ(0, self->mem[4 * PAGE_SZ]);
	/* pwrite of an absent page of block 1: the folio, zeros around it. */
	ASSERT_TRUE(huge_fill(self->fd, HBLOCK + 100, 1));
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
	EXPECT_EQ(-1, huge_first_bad(self->fd, HBLOCK + 100, 1));
	ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ, KMIG_SLOT_OFFSET(1) +
				 (HBLOCK + 99) * PAGE_SZ));
	EXPECT_EQ(0, buf[0]);
	EXPECT_EQ(FILL(HBLOCK + 100), self->mem[(HBLOCK + 100) * PAGE_SZ]);
	EXPECT_EQ(7, self->mem[3 * PAGE_SZ]);
}

/*
 * Punching part of a 2 MiB folio never loses the rest: the folio splits
 * and the punched pages go; a folio that cannot split (a pipe holds a
 * page of it) keeps its memory and reads zeros where punched. The data
 * is pwritten, so no dirty PTE marks the folio dirty on the way: a clean
 * folio the core cannot split, it drops whole.
 */
TEST_F(mm_huge, punching_part_of_a_2m_folio_keeps_the_rest)
{
	int view = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	uint64_t off = KMIG_SLOT_OFFSET(1);
	struct iovec iov;
	uint8_t *ro;
	int p[2];

	ASSERT_LE(0, view);
	ASSERT_TRUE(huge_fill(self->fd, 0, HPAGES));
	ASSERT_EQ(HPAGES, ctx_pages(self->fd));
	ASSERT_EQ(0, fallocate(view, PUNCH, off + 10 * PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(HPAGES - 1, ctx_pages(self->fd));
	EXPECT_EQ(-1, huge_first_bad(self->fd, 0, 10));
	EXPECT_EQ(-1, huge_first_bad(self->fd, 11, HPAGES - 11));

	/* Block 1 pinned by a pipe through a read-only mapping. */
	ro = mmap(NULL, HPAGES * PAGE_SZ, PROT_READ, MAP_SHARED, self->fd,
		  off);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, pipe(p));
	iov.iov_base = ro + (HBLOCK + 20) * PAGE_SZ;
	iov.iov_len = PAGE_SZ;
	ASSERT_EQ(PAGE_SZ, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ(0, fallocate(view, PUNCH, off + (HBLOCK + 21) * PAGE_SZ,
			       PAGE_SZ));
	EXPECT_EQ(-1, huge_first_bad(self->fd, 11, HBLOCK + 10));
	EXPECT_EQ(-1, huge_first_bad(self->fd, HBLOCK + 22, HBLOCK - 22));
	EXPECT_TRUE(reads_zeros(self->fd, ro, HBLOCK + 21, 1));
	TH_LOG("pages after punching a pinned folio: %llu of %lu",
	       (unsigned long long)ctx_pages(self->fd), HPAGES - 1);
	close(p[0]);
	close(p[1]);
	munmap(ro, HPAGES * PAGE_SZ);
	close(view);
}

TEST_F(mm_huge, gup_fast_pins_huge_pages)
{
	long kmig;
	int ret;

	memset(self->mem, 1, HPAGES * PAGE_SZ);
	ret = probe_on();
	if (ret) {
		probe_off();
		SKIP(return, "no kprobe on the slow GUP path: %s",
		     strerror(-ret));
	}
	kmig = splice_pass(self->mem, HPAGES);
	probe_off();
	TH_LOG("slow-path GUP calls for %lu pages of a huge slot: %ld",
	       HPAGES, kmig);
	ASSERT_LE(0, kmig);
	EXPECT_GE(HPAGES / 32, kmig);
}

TEST_F(mm_huge, hwpoison_splits_the_folio_and_spares_the_rest)
{
	uint8_t *bad = self->mem + (HBLOCK + 5) * PAGE_SZ, buf[PAGE_SZ];
	int ret;

	ASSERT_TRUE(huge_fill(self->fd, 0, HPAGES));
	ASSERT_EQ(FILL(HBLOCK + 5), *bad);
	ret = inject_hwpoison(bad);
	if (ret == -EINVAL || ret == -EPERM)
		SKIP(return, "no MADV_HWPOISON: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	EXPECT_EQ(BUS_MCEERR_AR, touch(bad));
	EXPECT_EQ(-1, pread(self->fd, buf, PAGE_SZ,
			    KMIG_SLOT_OFFSET(1) + (HBLOCK + 5) * PAGE_SZ));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, huge_first_bad(self->fd, 0, HBLOCK + 5));
	EXPECT_EQ(-1, huge_first_bad(self->fd, HBLOCK + 6, HBLOCK - 6));
	EXPECT_EQ(0, touch(bad + PAGE_SZ));
	EXPECT_EQ(HPAGES - 1, ctx_pages(self->fd));
}

TEST_HARNESS_MAIN
