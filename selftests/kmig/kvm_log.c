// SPDX-License-Identifier: GPL-2.0
/*
 * Model (b)'s uapi (memory-model.rst, section 4): views, KVM_LOG slots and
 * the KVM log provider, with this thread as the provider and a second
 * thread as kmig's caller. A harvest reports kmig's bits OR the
 * provider's; without a provider, or after it closed, it fails EPIPE and
 * loses nothing; bad answers are refused; re-arming the tracked view
 * leaves the guest view mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "kvmlog.h"

#define NPAGES	100			/* 2 bitmap words */
#define SIZE	(NPAGES * PAGE_SZ)
#define WORDS	((NPAGES + 63) / 64)

FIXTURE(kvm_log) {
	int fd;
	uint8_t *tracked, *guest;
};

FIXTURE_SETUP(kvm_log)
{
	int g;

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG,
			 0, SIZE);
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_DIRTY_LOG, 1ULL << 32, SIZE);
	self->tracked = kmig_map(self->fd, 0, SIZE);
	g = kmig_view(self->fd, KMIG_VIEW_GUEST);
	ASSERT_LE(0, g);
	self->guest = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g,
			   KMIG_SLOT_OFFSET(0));
	close(g);
	ASSERT_NE(MAP_FAILED, self->guest);
}

FIXTURE_TEARDOWN(kvm_log)
{
	munmap(self->guest, SIZE);
	munmap(self->tracked, SIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/* A kmig call made from a thread of its own, as the agent would. */
struct call {
	int fd;
	unsigned long cmd;
	uint32_t slot, flags;
	uint64_t bm[WORDS];
	pthread_t t;
	int ret;
};

static void *call_thread(void *arg)
{
	struct call *c = arg;

	if (c->cmd == KMIG_SET_DIRTY_LOGGING) {
		struct kmig_dirty_logging a = {
			.slot = c->slot, .flags = c->flags,
		};

		c->ret = ioctl(c->fd, c->cmd, &a) ? -errno : 0;
	} else {
		c->ret = __kmig_dirty(c->fd, c->cmd, c->slot, c->flags, 0, 0,
				      c->bm);
	}
	return NULL;
}

static void call_start(struct call *c, int fd, unsigned long cmd,
		       uint32_t flags)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cmd = cmd;
	c->flags = flags;
	pthread_create(&c->t, NULL, call_thread, c);
}

static int call_end(struct call *c)
{
	pthread_join(c->t, NULL);
	return c->ret;
}

static int harvest_start(struct call *c, int fd)
{
	call_start(c, fd, KMIG_GET_DIRTY_LOG, KMIG_DIRTY_LOG_CLEAR);
	return 0;
}

/* The next request, waiting up to 10 s for it. */
static int next_request(int pfd, struct kmig_log_request *rq)
{
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return -ETIMEDOUT;
	return read(pfd, rq, sizeof(*rq)) == sizeof(*rq) ? 0 : -errno;
}

static int provide(int pfd, uint64_t seq, int status, uint32_t nslots,
		   const uint64_t *bm, uint64_t size)
{
	struct kmig_log_provided a = {
		.seq = seq, .status = status, .nslots = nslots,
		.bitmaps = (uintptr_t)bm, .size = size,
	};

	return ioctl(pfd, KMIG_LOG_PROVIDED, &a) ? -errno : 0;
}

static int provider_fd(int fd)
{
	struct kmig_log_provider lp = { 0 };
	int pfd = ioctl(fd, KMIG_LOG_PROVIDER_FD, &lp);

	return pfd < 0 ? -errno : pfd;
}

/*
 * A harvest of slot 0 with clear, answered by provider @pfd with KVM's
 * bits @kvm_bm (NULL: none): the bits in @c->bm, 0 or -errno.
 */
static int harvest_answered(int fd, int pfd, const uint64_t *kvm_bm,
			    struct call *c)
{
	static const uint64_t none[WORDS];
	struct kmig_log_request rq;
	int ret;

	harvest_start(c, fd);
	ret = next_request(pfd, &rq);
	if (!ret)
		ret = provide(pfd, rq.seq, 0, 1, kvm_bm ? kvm_bm : none,
			      sizeof(none));
	return call_end(c) ?: ret;
}

/* Attach a provider and start slot 0's log through it. */
static int start_logging(struct __test_metadata *_metadata, int fd)
{
	struct kmig_log_request rq;
	struct call c;
	int pfd = provider_fd(fd);

	EXPECT_LE(0, pfd);
	call_start(&c, fd, KMIG_SET_DIRTY_LOGGING, KMIG_DIRTY_LOGGING_ON);
	EXPECT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_START, rq.op);
	EXPECT_EQ(1, rq.nslots);
	EXPECT_EQ(0, rq.slots[0]);
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 0, NULL, 0));
	EXPECT_EQ(0, call_end(&c));
	return pfd;
}

static bool bit(const uint64_t *bm, unsigned int i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static int count(const uint64_t *bm)
{
	int n = 0;

	for (int i = 0; i < WORDS; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

TEST_F(kvm_log, bad_flags_refused)
{
	struct kmig_view v = { .flags = 0 };

	EXPECT_EQ(-1, ioctl(self->fd, KMIG_VIEW_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	v.flags = KMIG_VIEW_GUEST | KMIG_VIEW_TRACKED;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_VIEW_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	v.flags = 1 << 5;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_VIEW_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	v.flags = KMIG_VIEW_TRACKED;
	v.pad = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_VIEW_FD, &v));
	EXPECT_EQ(EINVAL, errno);
	/* KVM_LOG needs a dirty log to OR into. */
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 2, KMIG_SLOT_KVM_LOG,
					      2ULL << 32, SIZE));
	{
		struct kmig_log_provider lp = { .flags = 1 };

		EXPECT_EQ(-1, ioctl(self->fd, KMIG_LOG_PROVIDER_FD, &lp));
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(kvm_log, guest_view_only_on_kvm_log_slots)
{
	int g = kmig_view(self->fd, KMIG_VIEW_GUEST);
	int t = kmig_view(self->fd, KMIG_VIEW_TRACKED);
	void *p;

	ASSERT_LE(0, g);
	ASSERT_LE(0, t);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g,
		 KMIG_SLOT_OFFSET(1));
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* A tracked view of the same slot is fine, and sees the same pages. */
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t,
		 KMIG_SLOT_OFFSET(0));
	ASSERT_NE(MAP_FAILED, p);
	self->guest[7 * PAGE_SZ] = 0x5a;
	EXPECT_EQ(0x5a, ((uint8_t *)p)[7 * PAGE_SZ]);
	EXPECT_EQ(0x5a, self->tracked[7 * PAGE_SZ]);
	munmap(p, SIZE);
	close(g);
	close(t);
}

TEST_F(kvm_log, no_provider_fails_epipe)
{
	struct kmig_dirty_logging on = { .slot = 0,
					 .flags = KMIG_DIRTY_LOGGING_ON };
	uint64_t bm[WORDS];

	EXPECT_EQ(-1, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &on));
	EXPECT_EQ(EPIPE, errno);
	/* Not logging: kmig's own (empty) log, no provider asked. */
	EXPECT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	EXPECT_EQ(0, count(bm));
}

TEST_F(kvm_log, harvest_reports_both_logs)
{
	uint64_t kvm_bm[WORDS] = { 1ULL << 7, 1ULL << (70 - 64) };
	struct kmig_log_request rq;
	struct call c;
	int pfd = start_logging(_metadata, self->fd);

	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EBUSY, provider_fd(self->fd));
	self->tracked[3 * PAGE_SZ] = 1;	/* kmig logs it */
	self->guest[5 * PAGE_SZ] = 1;	/* KVM's to log: not kmig's */
	harvest_start(&c, self->fd);
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_HARVEST, rq.op);
	EXPECT_EQ(1, rq.nslots);
	EXPECT_EQ(0, rq.slots[0]);
	/* Bad answers are refused and the request stays open. */
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq + 1, 0, 1, kvm_bm, 16));
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq, 0, 1, kvm_bm, 8));
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq, 0, 2, kvm_bm, 16));
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq, 1, 1, kvm_bm, 16));
	EXPECT_EQ(-EFAULT, provide(pfd, rq.seq, 0, 1, (void *)8, 16));
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	/* Answered once: a second answer has no request. */
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	ASSERT_EQ(0, call_end(&c));
	EXPECT_EQ(3, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 3));
	EXPECT_TRUE(bit(c.bm, 7));
	EXPECT_TRUE(bit(c.bm, 70));

	/* A get without clear keeps KVM's bits in kmig's log. */
	memset(kvm_bm, 0, sizeof(kvm_bm));
	kvm_bm[0] = 1ULL << 20;
	call_start(&c, self->fd, KMIG_GET_DIRTY_LOG, 0);
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	ASSERT_EQ(0, call_end(&c));
	EXPECT_EQ(1, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 20));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 20));

	/* A provider error reaches the caller; kmig's bits wait. */
	self->tracked[4 * PAGE_SZ] = 1;
	harvest_start(&c, self->fd);
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(0, provide(pfd, rq.seq, -EIO, 0, NULL, 0));
	EXPECT_EQ(-EIO, call_end(&c));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 4));
	close(pfd);
}

TEST_F(kvm_log, provider_closing_fails_harvest_whole)
{
	struct kmig_log_request rq;
	struct call c;
	int pfd = start_logging(_metadata, self->fd);

	ASSERT_LE(0, pfd);
	self->tracked[9 * PAGE_SZ] = 1;
	harvest_start(&c, self->fd);
	ASSERT_EQ(0, next_request(pfd, &rq));
	close(pfd);			/* the VMM died mid-request */
	EXPECT_EQ(-EPIPE, call_end(&c));
	/* Later harvests fail at once, and return nothing. */
	memset(c.bm, 0, sizeof(c.bm));
	EXPECT_EQ(-EPIPE, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				       KMIG_DIRTY_LOG_CLEAR, 0, 0, c.bm));
	EXPECT_EQ(0, count(c.bm));
	/* A new provider: kmig's bit was kept through both failures. */
	pfd = provider_fd(self->fd);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 9));
	close(pfd);
}

/* True when the PTE of @addr is present (/proc/self/pagemap bit 63). */
static bool pte_present(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	pread(fd, &e, 8, (uintptr_t)addr / PAGE_SZ * 8);
	close(fd);
	return e >> 63;
}

TEST_F(kvm_log, rearm_spares_the_guest_view)
{
	int i, guest_mapped = 0, tracked_mapped = 0;
	struct call c;
	int pfd = start_logging(_metadata, self->fd);

	ASSERT_LE(0, pfd);
	for (i = 0; i < NPAGES; i++) {
		self->tracked[i * PAGE_SZ] = 2;
		self->guest[i * PAGE_SZ + 1] = 3;
	}
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(NPAGES, count(c.bm));
	for (i = 0; i < NPAGES; i++) {
		guest_mapped += pte_present(self->guest + i * PAGE_SZ);
		tracked_mapped += pte_present(self->tracked + i * PAGE_SZ);
	}
	EXPECT_EQ(NPAGES, guest_mapped);
	EXPECT_EQ(0, tracked_mapped);
	/* Re-armed: the next tracked write is logged again. */
	self->tracked[11 * PAGE_SZ] = 4;
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, count(c.bm));
	EXPECT_TRUE(bit(c.bm, 11));
	close(pfd);
}

TEST_HARNESS_MAIN
