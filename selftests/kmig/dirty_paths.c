// SPDX-License-Identifier: GPL-2.0
/*
 * Every way a process can make a kmig page writable, or write it, behind a
 * harvest keeps the dirty log right: mprotect cycles, madvise, userfaultfd,
 * fork, process_vm_writev, /proc/PID/mem, O_DIRECT reads, vhost-net's
 * worker, and NUMA balancing (which must not scan kmig mappings at all).
 * Each test harvests (re-arming every page), goes through one path,
 * writes, and expects the written pages in the next harvest.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/loop.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "util.h"
#include "vhost_net.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC	(1 << 15)
#endif

#define NPAGES	128
#define SIZE	(NPAGES * PAGE_SZ)
#define WORDS	(NPAGES / 64)

FIXTURE(paths) {
	int fd;
	uint8_t *mem;
	uint64_t bm[WORDS];
};

FIXTURE_SETUP(paths)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG, 0, SIZE);
	self->mem = kmig_map(self->fd, 0, SIZE);
}

FIXTURE_TEARDOWN(paths)
{
	munmap(self->mem, SIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/* Harvest with clear; the number of pages reported. */
static int harvest(int fd, uint64_t *bm)
{
	int ret;

	ret = __kmig_dirty(fd, KMIG_GET_DIRTY_LOG, 0, KMIG_DIRTY_LOG_CLEAR,
			   0, 0, bm);
	if (ret)
		return ret;
	return bm_count(bm, WORDS);
}

/* Write every page; harvest twice so every page is re-armed and clean. */
static void dirty_all_and_rearm(struct __test_metadata *_metadata,
				FIXTURE_DATA(paths) *self)
{
	for (int i = 0; i < NPAGES; i++)
		self->mem[i * PAGE_SZ] = i;
	ASSERT_EQ(NPAGES, harvest(self->fd, self->bm));
	ASSERT_EQ(0, harvest(self->fd, self->bm));
}

/* Write every page through the mapping and expect all of them logged. */
static void expect_writes_logged(struct __test_metadata *_metadata,
				 FIXTURE_DATA(paths) *self, uint8_t v)
{
	int missing = 0;

	for (int i = 0; i < NPAGES; i++)
		self->mem[i * PAGE_SZ + 1] = v;
	ASSERT_LE(0, harvest(self->fd, self->bm));
	for (int i = 0; i < NPAGES; i++)
		missing += !bm_bit(self->bm, i);
	EXPECT_EQ(0, missing)
		TH_LOG("%d of %d written pages missing from the log",
		       missing, NPAGES);
}

/*
 * mprotect(PROT_READ) then back to read-write may upgrade a read-only
 * dirty PTE to writable without a fault: a re-armed page must have none.
 */
TEST_F(paths, mprotect_cycle_keeps_logging)
{
	for (int round = 0; round < 3; round++) {
		dirty_all_and_rearm(_metadata, self);
		ASSERT_EQ(0, mprotect(self->mem, SIZE, PROT_READ));
		ASSERT_EQ(0, mprotect(self->mem, SIZE, PROT_READ | PROT_WRITE));
		expect_writes_logged(_metadata, self, round + 1);
	}
	/* Reading first leaves read-only clean PTEs: the same holds. */
	dirty_all_and_rearm(_metadata, self);
	for (int i = 0; i < NPAGES; i++)
		EXPECT_EQ((uint8_t)i, self->mem[i * PAGE_SZ]);
	ASSERT_EQ(0, mprotect(self->mem, SIZE, PROT_READ));
	ASSERT_EQ(0, mprotect(self->mem, SIZE, PROT_READ | PROT_WRITE));
	expect_writes_logged(_metadata, self, 9);
}

TEST_F(paths, madvise_keeps_logging)
{
	static const struct { int advice; const char *name; } advs[] = {
		{ MADV_DONTNEED, "DONTNEED" },
		{ MADV_COLD, "COLD" },
		{ MADV_PAGEOUT, "PAGEOUT" },
		{ MADV_WILLNEED, "WILLNEED" },
	};

	for (unsigned int a = 0; a < ARRAY_SIZE(advs); a++) {
		dirty_all_and_rearm(_metadata, self);
		ASSERT_EQ(0, madvise(self->mem, SIZE, advs[a].advice))
			TH_LOG("madvise %s: %s", advs[a].name, strerror(errno));
		expect_writes_logged(_metadata, self, a + 1);
		/* Data survives: the pages are the module's. */
		EXPECT_EQ(3, self->mem[3 * PAGE_SZ]);
		EXPECT_EQ(a + 1, self->mem[3 * PAGE_SZ + 1]);
	}

	/* POPULATE_WRITE faults for write: every page shows, conservatively. */
	dirty_all_and_rearm(_metadata, self);
	ASSERT_EQ(0, madvise(self->mem, SIZE, MADV_POPULATE_WRITE));
	EXPECT_EQ(NPAGES, harvest(self->fd, self->bm));
	/* ... and re-arms like any other write fault. */
	expect_writes_logged(_metadata, self, 7);
	/* Nothing can free a kmig page behind the module's back. */
	EXPECT_NE(0, madvise(self->mem, SIZE, MADV_REMOVE));
	EXPECT_NE(0, madvise(self->mem, SIZE, MADV_FREE));
}

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int ufd = syscall(__NR_userfaultfd, O_CLOEXEC);

	if (ufd < 0)
		return -errno;
	if (ioctl(ufd, UFFDIO_API, &api)) {
		close(ufd);
		return -errno;
	}
	return ufd;
}

static int uffd_register(int ufd, void *addr, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = SIZE },
		.mode = mode,
	};

	return ioctl(ufd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/*
 * userfaultfd cannot take over a kmig mapping: missing, minor and
 * synchronous write-protect registrations are refused. Asynchronous
 * write-protect (6.7+, for PAGEMAP_SCAN) accepts any mapping; protecting
 * and unprotecting then must not make a re-armed page writable.
 */
TEST_F(paths, userfaultfd_cannot_bypass_the_log)
{
	static const uint64_t modes[] = {
		UFFDIO_REGISTER_MODE_MISSING,
		UFFDIO_REGISTER_MODE_WP,
		UFFDIO_REGISTER_MODE_MINOR,
	};
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)self->mem, .len = SIZE },
	};
	int ufd;

	ufd = uffd_open(0);
	ASSERT_LE(0, ufd) TH_LOG("userfaultfd: %s", strerror(-ufd));
	for (unsigned int m = 0; m < ARRAY_SIZE(modes); m++) {
		EXPECT_EQ(-EINVAL, uffd_register(ufd, self->mem, modes[m]))
			TH_LOG("mode %#llx", (unsigned long long)modes[m]);
	}
	close(ufd);

	ufd = uffd_open(UFFD_FEATURE_WP_ASYNC);
	if (ufd == -EINVAL) {
		TH_LOG("no UFFD_FEATURE_WP_ASYNC on this kernel");
		return;
	}
	ASSERT_LE(0, ufd);
	if (uffd_register(ufd, self->mem, UFFDIO_REGISTER_MODE_WP)) {
		TH_LOG("asynchronous write-protect refused too");
		close(ufd);
		return;
	}
	for (int round = 0; round < 2; round++) {
		dirty_all_and_rearm(_metadata, self);
		wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
		ASSERT_EQ(0, ioctl(ufd, UFFDIO_WRITEPROTECT, &wp));
		wp.mode = 0;
		ASSERT_EQ(0, ioctl(ufd, UFFDIO_WRITEPROTECT, &wp));
		expect_writes_logged(_metadata, self, round + 1);
	}
	/* Protected while dirty, harvested, then unprotected. */
	for (int i = 0; i < NPAGES; i++)
		self->mem[i * PAGE_SZ] = 5;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_WRITEPROTECT, &wp));
	ASSERT_EQ(NPAGES, harvest(self->fd, self->bm));
	wp.mode = 0;
	ASSERT_EQ(0, ioctl(ufd, UFFDIO_WRITEPROTECT, &wp));
	expect_writes_logged(_metadata, self, 3);
	close(ufd);
}

/* A child writes through the inherited shared mapping. */
TEST_F(paths, fork_child_writes_are_logged)
{
	int status, missing = 0;
	pid_t pid;

	for (int round = 0; round < 2; round++) {
		dirty_all_and_rearm(_metadata, self);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			for (int i = 0; i < NPAGES; i++)
				self->mem[i * PAGE_SZ + 2] = round + 1;
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_EQ(0, status);
		ASSERT_LE(0, harvest(self->fd, self->bm));
		for (int i = 0; i < NPAGES; i++)
			missing += !bm_bit(self->bm, i);
		EXPECT_EQ(0, missing);
		EXPECT_EQ(round + 1, self->mem[5 * PAGE_SZ + 2]);
	}
	/* Re-armed in the parent after the child went away. */
	expect_writes_logged(_metadata, self, 4);
}

/* Write @len bytes at @off of the mapping through another path. */
static ssize_t poke_vm_writev(void *dst, const void *src, size_t len)
{
	struct iovec local = { .iov_base = (void *)src, .iov_len = len };
	struct iovec remote = { .iov_base = dst, .iov_len = len };

	return process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
}

static ssize_t poke_proc_mem(void *dst, const void *src, size_t len)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pwrite(fd, src, len, (off_t)(uintptr_t)dst);
	close(fd);
	return n;
}

/*
 * The kernel writes the page through GUP and a kernel mapping: the GUP
 * write fault logs it, and the PG_dirty set on release is folded into the
 * harvest after.
 */
TEST_F(paths, remote_writes_are_logged)
{
	static ssize_t (*const poke[])(void *, const void *, size_t) = {
		poke_vm_writev, poke_proc_mem,
	};
	uint8_t buf[64];
	int missing;

	for (unsigned int p = 0; p < ARRAY_SIZE(poke); p++) {
		for (int round = 0; round < 2; round++) {
			dirty_all_and_rearm(_metadata, self);
			memset(buf, 0x40 + p * 2 + round, sizeof(buf));
			for (int i = 0; i < NPAGES; i++)
				ASSERT_EQ(sizeof(buf),
					  poke[p](self->mem + i * PAGE_SZ + 8,
						  buf, sizeof(buf)));
			ASSERT_LE(0, harvest(self->fd, self->bm));
			missing = 0;
			for (int i = 0; i < NPAGES; i++)
				missing += !bm_bit(self->bm, i);
			EXPECT_EQ(0, missing) TH_LOG("path %u round %d", p,
						     round);
			EXPECT_EQ(buf[0], self->mem[9 * PAGE_SZ + 8]);
		}
	}
}

/* A loop device over a tmpfs file, opened O_DIRECT; -errno without one. */
struct loopdev {
	int backing, ctl, dev;
};

static int loop_open(struct loopdev *l, size_t size)
{
	char name[32];
	int n;

	/* Fails when built in or loaded already: the open below tells. */
	if (system("modprobe loop 2>/dev/null") == -1)
		return -errno;
	l->backing = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (l->backing < 0 || ftruncate(l->backing, size))
		return -errno;
	l->ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (l->ctl < 0)
		return -errno;
	n = ioctl(l->ctl, LOOP_CTL_GET_FREE);
	if (n < 0)
		return -errno;
	snprintf(name, sizeof(name), "/dev/loop%d", n);
	l->dev = open(name, O_RDWR | O_CLOEXEC);
	if (l->dev < 0 || ioctl(l->dev, LOOP_SET_FD, l->backing))
		return -errno;
	close(l->dev);
	l->dev = open(name, O_RDWR | O_DIRECT | O_CLOEXEC);
	return l->dev < 0 ? -errno : 0;
}

static void loop_close(struct loopdev *l)
{
	ioctl(l->dev, LOOP_CLR_FD, 0);
	close(l->dev);
	close(l->ctl);
	close(l->backing);
}

struct copier {
	int fd;
	uint8_t *mem, *shadow;
	volatile bool stop;
	int rounds, err;
};

/* Harvest and copy, as a migration does, until told to stop. */
static void *copier(void *arg)
{
	struct copier *c = arg;
	uint64_t bm[WORDS];

	while (!c->stop && !c->err) {
		c->err = __kmig_dirty(c->fd, KMIG_GET_DIRTY_LOG, 0,
				      KMIG_DIRTY_LOG_CLEAR, 0, 0, bm);
		for (int i = 0; i < NPAGES && !c->err; i++)
			if (bm_bit(bm, i))
				memcpy(c->shadow + i * PAGE_SZ,
				       c->mem + i * PAGE_SZ, PAGE_SZ);
		c->rounds++;
	}
	return NULL;
}

/*
 * O_DIRECT read() into guest memory: the block layer pins the pages with
 * a write fault first and the data lands later, from the loop device's
 * worker through a kernel mapping; PG_dirty set when the pages are
 * released is folded into the next harvest. A thread harvests and copies
 * throughout; the shadow must end equal to memory. 3000 reads, or as many
 * as 20 s allow on a slow (debug) kernel, but no fewer than 300.
 */
TEST_F_TIMEOUT(paths, o_direct_reads_are_logged, 120)
{
	uint64_t until = kmig_now_ns() + 20 * 1000000000ull;
	struct copier c = { .fd = self->fd, .mem = self->mem };
	struct loopdev l = { -1, -1, -1 };
	uint8_t buf[8 * PAGE_SZ];
	unsigned int seed = 5;
	pthread_t t;
	int ret, bad = 0, reads;
	size_t len;
	off_t off;

	ret = loop_open(&l, SIZE);
	if (ret && !getenv("KMIG_BED"))
		SKIP(return, "no loop device: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("loop device: %s", strerror(-ret));

	c.shadow = malloc(SIZE);
	ASSERT_NE(NULL, c.shadow);
	memset(self->mem, 0x11, SIZE);
	ASSERT_EQ(NPAGES, harvest(self->fd, self->bm));
	memcpy(c.shadow, self->mem, SIZE);
	ASSERT_EQ(0, pthread_create(&t, NULL, copier, &c));
	for (reads = 0; reads < 3000 && kmig_now_ns() < until; reads++) {
		len = (1 + rand_r(&seed) % 8) * PAGE_SZ;
		off = rand_r(&seed) % (NPAGES - len / PAGE_SZ + 1) * PAGE_SZ;
		memset(buf, reads, len);
		ASSERT_EQ(len, pwrite(l.backing, buf, len, off));
		ASSERT_EQ(len, pread(l.dev, self->mem + off, len, off))
			TH_LOG("O_DIRECT read: %s", strerror(errno));
	}
	c.stop = true;
	pthread_join(t, NULL);
	ASSERT_EQ(0, c.err);
	ASSERT_LE(300, reads) TH_LOG("too slow: %d O_DIRECT reads in 20 s",
				     reads);
	ASSERT_LE(0, harvest(self->fd, self->bm));
	for (int i = 0; i < NPAGES; i++) {
		if (bm_bit(self->bm, i))
			memcpy(c.shadow + i * PAGE_SZ, self->mem + i * PAGE_SZ,
			       PAGE_SZ);
		bad += !!memcmp(c.shadow + i * PAGE_SZ,
				self->mem + i * PAGE_SZ, PAGE_SZ);
	}
	TH_LOG("%d O_DIRECT reads, %d rounds of harvest and copy", reads,
	       c.rounds);
	EXPECT_EQ(0, bad) TH_LOG("%d pages differ", bad);
	free(c.shadow);
	loop_close(&l);
}

/*
 * vhost-net's RX queue in kmig memory: the ring in pages 0-2, then
 * VQ_BUFS buffers of VQ_PAGES pages from page VQ_BUF, a descriptor per
 * page. A frame fills FRAME_PAGES pages of its buffer, not the last.
 */
#define VQ_NUM		16
#define VQ_DESC		0
#define VQ_AVAIL	1
#define VQ_USED		2
#define VQ_BUF		8
#define VQ_BUFS		2
#define VQ_PAGES	4
#define FRAME_LEN	(3 * PAGE_SZ - 100)
#define FRAME_PAGES	((FRAME_LEN + PAGE_SZ - 1) / PAGE_SZ)
#define VQ_OLD		0xee	/* the buffers before any frame */

static uint8_t *vq_buf(uint8_t *mem, int b)
{
	return mem + (VQ_BUF + b * VQ_PAGES) * PAGE_SZ;
}

/* Frame @b of round @r: an Ethernet header, then bytes of its own. */
static void frame_make(uint8_t *f, int r, int b)
{
	static const uint8_t eth[14] = {
		0x02, 0, 0, 0, 0, 0x02,		/* to the guest */
		0x02, 0, 0, 0, 0, 0x01,
		0x88, 0xb5,			/* local experimental */
	};

	memcpy(f, eth, sizeof(eth));
	for (size_t i = sizeof(eth); i < FRAME_LEN; i++)
		f[i] = i * 7 + r * 31 + b * 101 + 1;
}

/* Post buffer @b in avail slot *@avail: VQ_PAGES chained descriptors. */
static void vq_post(const struct vnet_ring *q, uint8_t *mem, int b,
		    uint16_t *avail)
{
	int head = b * VQ_PAGES;

	for (int k = 0; k < VQ_PAGES; k++)
		q->desc[head + k] = (struct vring_desc) {
			.addr = vnet_gpa(mem, vq_buf(mem, b) + k * PAGE_SZ),
			.len = PAGE_SZ,
			.flags = VRING_DESC_F_WRITE |
				 (k + 1 < VQ_PAGES ? VRING_DESC_F_NEXT : 0),
			.next = head + k + 1,
		};
	q->avail->ring[*avail % q->num] = head;
	(*avail)++;
}

/* What page @i is, and whether a round of RX writes it. */
static const char *vq_page(int i, bool *written)
{
	int k = (i - VQ_BUF) % VQ_PAGES;

	*written = true;
	if (i == VQ_DESC)
		return "descriptor table, written by the test";
	if (i == VQ_AVAIL)
		return "avail ring, written by the test";
	if (i == VQ_USED)
		return "used ring, written by vhost";
	*written = i >= VQ_BUF && i < VQ_BUF + VQ_BUFS * VQ_PAGES &&
		   k < FRAME_PAGES;
	if (*written)
		return "RX buffer page, written by vhost";
	if (i >= VQ_BUF && i < VQ_BUF + VQ_BUFS * VQ_PAGES)
		return "RX buffer page the frame does not reach";
	return "page outside the queue";
}

/* Pages whose bit in @bm is not what one round of RX makes it. */
static int vq_log_wrong(struct __test_metadata *_metadata,
			const uint64_t *bm)
{
	const char *what;
	bool written;
	int wrong = 0;

	for (int i = 0; i < NPAGES; i++) {
		what = vq_page(i, &written);
		if (bm_bit(bm, i) == written)
			continue;
		TH_LOG("page %d (%s): %s", i, what,
		       written ? "missing from the log" : "logged, not written");
		wrong++;
	}
	return wrong;
}

/* The frames of round @r are in the buffers, the rest is as before. */
static void vq_check_rx(struct __test_metadata *_metadata, uint8_t *mem,
			const struct vnet_ring *q, uint16_t used, int r)
{
	static uint8_t frame[FRAME_LEN];
	struct vring_used_elem *e;
	uint8_t *tail;

	for (int b = 0; b < VQ_BUFS; b++) {
		e = &q->used->ring[(uint16_t)(used + b) % q->num];
		EXPECT_EQ(b * VQ_PAGES, e->id);
		EXPECT_EQ(FRAME_LEN, e->len);
		frame_make(frame, r, b);
		EXPECT_EQ(0, memcmp(vq_buf(mem, b), frame, FRAME_LEN))
			TH_LOG("round %d: buffer %d does not hold its frame",
			       r, b);
		tail = vq_buf(mem, b) + FRAME_PAGES * PAGE_SZ;
		for (unsigned long j = 0; j < PAGE_SZ; j++)
			ASSERT_EQ(VQ_OLD, tail[j]);
	}
}

/* Bring @shadow up to date with the pages logged in @bm. */
static void copy_logged(uint8_t *shadow, const uint8_t *mem,
			const uint64_t *bm)
{
	for (int i = 0; i < NPAGES; i++)
		if (bm_bit(bm, i))
			memcpy(shadow + i * PAGE_SZ, mem + i * PAGE_SZ,
			       PAGE_SZ);
}

/*
 * vhost-net's worker (a kthread on the VMM's mm on 6.1, a vhost task of
 * the VMM on 6.12) copies each frame the tap sends into the RX buffers
 * with copy_to_user() and then fills the used ring: write faults on the
 * VMM's mm, so .page_mkwrite logs every page it writes, and only those.
 * Two rounds into the same buffers, each re-armed by the harvest before;
 * a copy kept by harvest-and-copy must end equal to memory.
 */
TEST_F_TIMEOUT(paths, vhost_net_rx_writes_are_logged, 60)
{
	struct vnet_ring q = {
		.num = VQ_NUM,
		.desc = (void *)(self->mem + VQ_DESC * PAGE_SZ),
		.avail = (void *)(self->mem + VQ_AVAIL * PAGE_SZ),
		.used = (void *)(self->mem + VQ_USED * PAGE_SZ),
	};
	static uint8_t frame[FRAME_LEN];
	uint16_t avail = 0, used = 0;
	char why[256] = "";
	uint8_t *shadow;
	struct vnet v;
	int ret, bad = 0;

	ret = vnet_available(why, sizeof(why));
	if (ret == -ENODEV)
		SKIP(return, "no vhost-net over a tap: %s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
	memset(vq_buf(self->mem, 0), VQ_OLD, VQ_BUFS * VQ_PAGES * PAGE_SZ);
	ret = vnet_open(&v, self->mem, SIZE, &q, 4 * PAGE_SZ);
	ASSERT_EQ(0, ret) TH_LOG("vhost-net on a tap: %s", strerror(-ret));

	shadow = malloc(SIZE);
	ASSERT_NE(NULL, shadow);
	ASSERT_LE(0, harvest(self->fd, self->bm));
	ASSERT_EQ(0, harvest(self->fd, self->bm)) TH_LOG("nothing writes yet");
	memcpy(shadow, self->mem, SIZE);

	for (int r = 0; r < 2; r++) {
		for (int b = 0; b < VQ_BUFS; b++)
			vq_post(&q, self->mem, b, &avail);
		__atomic_store_n(&q.avail->idx, avail, __ATOMIC_RELEASE);
		ASSERT_EQ(0, vnet_kick(&v));
		for (int b = 0; b < VQ_BUFS; b++) {
			frame_make(frame, r, b);
			ret = vnet_send(&v, frame, FRAME_LEN);
			ASSERT_EQ(0, ret) TH_LOG("send out of the tap: %s",
						 strerror(-ret));
		}
		ret = vnet_wait_used(&v, &q, used + VQ_BUFS, 10000);
		ASSERT_EQ(0, ret) TH_LOG("round %d: used index %u, not %u, after 10 s",
					 r, q.used->idx, used + VQ_BUFS);

		ASSERT_LE(0, harvest(self->fd, self->bm));
		copy_logged(shadow, self->mem, self->bm);
		EXPECT_EQ(0, vq_log_wrong(_metadata, self->bm))
			TH_LOG("round %d: the log is not the pages written", r);
		vq_check_rx(_metadata, self->mem, &q, used, r);
		used += VQ_BUFS;
	}
	for (int i = 0; i < NPAGES; i++)
		bad += !!memcmp(shadow + i * PAGE_SZ, self->mem + i * PAGE_SZ,
				PAGE_SZ);
	EXPECT_EQ(0, bad) TH_LOG("%d pages differ from the harvested copy",
				 bad);
	free(shadow);
	vnet_close(&v);
}

#define BIG_PAGES	8192		/* 32 MiB */

/* Read the mapping for @ms, @ms / 8 on each CPU in turn. */
static uint64_t read_on_both_nodes(volatile uint8_t *mem, int ms)
{
	struct timespec t0, t;
	unsigned long i = 0;
	uint64_t sum = 0;
	cpu_set_t set;
	int slice, el;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (slice = 0; slice < 8; slice++) {
		CPU_ZERO(&set);
		CPU_SET(slice % 2, &set);
		sched_setaffinity(0, sizeof(set), &set);
		do {
			for (int n = 0; n < 1024; n++)
				sum += mem[(i++ * 7919 % BIG_PAGES) * PAGE_SZ];
			clock_gettime(CLOCK_MONOTONIC, &t);
			el = (t.tv_sec - t0.tv_sec) * 1000 +
			     (t.tv_nsec - t0.tv_nsec) / 1000000;
		} while (el < ms * (slice + 1) / 8);
	}
	return sum;
}

static int count_big(const uint64_t *bm)
{
	return bm_count(bm, BIG_PAGES / 64);
}

/*
 * task_numa_work() must skip kmig mappings: the pages cannot migrate, and
 * a hinting fault rebuilds the PTE behind the module's back (6.12 makes a
 * read-only dirty PTE writable even on a read). Harvested pages (PG_dirty
 * clear, which the scanner wants) are read from both nodes in turn while
 * the scanner runs every 10 ms: it may touch few of their PTEs, and a
 * write to every page afterwards is logged in full.
 */
TEST_F_TIMEOUT(paths, numa_balancing_skips_kmig_mappings, 120)
{
	static uint64_t bm[BIG_PAGES / 64];
	volatile uint8_t *big;
	long before, after, faults;
	int ret;

	ret = kmig_numa_balancing_fast();
	if (ret && !getenv("KMIG_BED"))
		SKIP(return, "NUMA balancing unavailable: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("the bed boots with two NUMA nodes");

	kmig_set_memslot(self->fd, 1, KMIG_SLOT_DIRTY_LOG, 1ULL << 32,
			 BIG_PAGES * PAGE_SZ);
	big = kmig_map(self->fd, 1, BIG_PAGES * PAGE_SZ);
	for (unsigned long i = 0; i < BIG_PAGES; i++)
		big[i * PAGE_SZ] = 1;
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	ASSERT_EQ(BIG_PAGES, count_big(bm));

	before = kmig_vmstat("numa_pte_updates");
	faults = kmig_vmstat("numa_hint_faults");
	ASSERT_LE(0, before);
	/* Every page holds 1 here. */
	EXPECT_LT(0, read_on_both_nodes(big, 4000));
	after = kmig_vmstat("numa_pte_updates");
	faults = kmig_vmstat("numa_hint_faults") - faults;
	kmig_numa_balancing_off();
	TH_LOG("%ld PTEs made PROT_NONE, %ld hinting faults", after - before,
	       faults);
	EXPECT_GT(BIG_PAGES / 8, after - before);

	for (unsigned long i = 0; i < BIG_PAGES; i++)
		big[i * PAGE_SZ] = 2;
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	EXPECT_EQ(BIG_PAGES, count_big(bm));
	munmap((void *)big, BIG_PAGES * PAGE_SZ);
}

TEST_HARNESS_MAIN
