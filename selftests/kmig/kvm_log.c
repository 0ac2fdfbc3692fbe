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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "client.h"
#include "kvm.h"
#include "kvmlog.h"
#include "proc.h"

#define NPAGES	100			/* 2 bitmap words */
#define SIZE	(NPAGES * PAGE_SZ)
#define WORDS	((NPAGES + 63) / 64)
/* The huge slot of kvm_log_huge: two 2 MiB folios. */
#define HUGE_SZ	(2UL << 20)
#define HPAGES	(2 * HUGE_SZ / PAGE_SZ)
#define HWORDS	(HPAGES / 64)

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
	uint64_t bm[HWORDS];
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
		       uint32_t slot, uint32_t flags)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cmd = cmd;
	c->slot = slot;
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
	call_start(c, fd, KMIG_GET_DIRTY_LOG, 0, KMIG_DIRTY_LOG_CLEAR);
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
static int harvest_answered_n(int fd, int pfd, const uint64_t *kvm_bm,
			      struct call *c, unsigned int words)
{
	static const uint64_t none[HWORDS];
	struct kmig_log_request rq;
	int ret;

	harvest_start(c, fd);
	ret = next_request(pfd, &rq);
	if (!ret)
		ret = provide(pfd, rq.seq, 0, 1, kvm_bm ? kvm_bm : none,
			      words * sizeof(*none));
	return call_end(c) ?: ret;
}

static int harvest_answered(int fd, int pfd, const uint64_t *kvm_bm,
			    struct call *c)
{
	return harvest_answered_n(fd, pfd, kvm_bm, c, WORDS);
}

/* Start slot @slot's log through provider @pfd. */
static void start_slot(struct __test_metadata *_metadata, int fd, int pfd,
		       uint32_t slot)
{
	struct kmig_log_request rq;
	struct call c;

	call_start(&c, fd, KMIG_SET_DIRTY_LOGGING, slot,
		   KMIG_DIRTY_LOGGING_ON);
	EXPECT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_START, rq.op);
	EXPECT_EQ(1, rq.nslots);
	EXPECT_EQ(slot, rq.slots[0]);
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 0, NULL, 0));
	EXPECT_EQ(0, call_end(&c));
}

/* Attach a provider and start slot 0's log through it. */
static int start_logging(struct __test_metadata *_metadata, int fd)
{
	int pfd = provider_fd(fd);

	EXPECT_LE(0, pfd);
	start_slot(_metadata, fd, pfd, 0);
	return pfd;
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
	EXPECT_EQ(0, bm_count(bm, WORDS));
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
	EXPECT_EQ(3, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 3));
	EXPECT_TRUE(bm_bit(c.bm, 7));
	EXPECT_TRUE(bm_bit(c.bm, 70));

	/* A get without clear keeps KVM's bits in kmig's log. */
	memset(kvm_bm, 0, sizeof(kvm_bm));
	kvm_bm[0] = 1ULL << 20;
	call_start(&c, self->fd, KMIG_GET_DIRTY_LOG, 0, 0);
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	ASSERT_EQ(0, call_end(&c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 20));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 20));

	/* A provider error reaches the caller; kmig's bits wait. */
	self->tracked[4 * PAGE_SZ] = 1;
	harvest_start(&c, self->fd);
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(0, provide(pfd, rq.seq, -EIO, 0, NULL, 0));
	EXPECT_EQ(-EIO, call_end(&c));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 4));
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
	EXPECT_EQ(0, bm_count(c.bm, WORDS));
	/* A new provider: kmig's bit was kept through both failures. */
	pfd = provider_fd(self->fd);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 9));
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
	EXPECT_EQ(NPAGES, bm_count(c.bm, WORDS));
	for (i = 0; i < NPAGES; i++) {
		guest_mapped += pte_present(self->guest + i * PAGE_SZ);
		tracked_mapped += pte_present(self->tracked + i * PAGE_SZ);
	}
	EXPECT_EQ(NPAGES, guest_mapped);
	EXPECT_EQ(0, tracked_mapped);
	/* Re-armed: the next tracked write is logged again. */
	self->tracked[11 * PAGE_SZ] = 4;
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 11));
	close(pfd);
}

/* KMIG_GET_DIRTY_LOGS of @n entries @logs, from a thread of its own. */
struct set_call {
	int fd;
	struct kmig_dirty_logs a;
	pthread_t t;
	int ret;
};

static void *set_thread(void *arg)
{
	struct set_call *c = arg;

	c->ret = ioctl(c->fd, KMIG_GET_DIRTY_LOGS, &c->a) ? -errno : 0;
	return NULL;
}

static int get_logs(int fd, struct kmig_dirty_log *logs, uint32_t n,
		    uint32_t flags)
{
	struct kmig_dirty_logs a = {
		.count = n, .flags = flags, .logs = (uintptr_t)logs,
	};

	return ioctl(fd, KMIG_GET_DIRTY_LOGS, &a) ? -errno : 0;
}

/* A whole-slot entry of KMIG_GET_DIRTY_LOGS. */
static struct kmig_dirty_log entry(uint32_t slot, uint64_t *bm)
{
	return (struct kmig_dirty_log){
		.slot = slot, .num_pages = NPAGES, .bitmap = (uintptr_t)bm,
	};
}

/*
 * Three slots, two of them KVM_LOG and logging: one call, one provider
 * request naming both KVM_LOG slots in the call's order, and each
 * slot's bits (kmig's OR KVM's) in its own bitmap.
 */
TEST_F(kvm_log, harvest_set_asks_the_provider_once)
{
	uint64_t kvm_bm[2 * WORDS] = { 1ULL << 1, 0, 0, 1ULL << (99 - 64) };
	uint64_t bm[3][WORDS];
	struct kmig_dirty_log logs[3] = {
		entry(2, bm[0]), entry(1, bm[1]), entry(0, bm[2]),
	};
	struct pollfd p = { .events = POLLIN };
	struct kmig_log_request rq;
	struct set_call c = { .fd = self->fd };
	uint8_t *t2;
	int pfd;

	kmig_set_memslot(self->fd, 2, KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG,
			 2ULL << 32, SIZE);
	t2 = kmig_map(self->fd, 2, SIZE);
	pfd = start_logging(_metadata, self->fd);
	ASSERT_LE(0, pfd);
	start_slot(_metadata, self->fd, pfd, 2);
	self->tracked[3 * PAGE_SZ] = 1;		/* slot 0, kmig's */
	t2[40 * PAGE_SZ] = 1;			/* slot 2, kmig's */
	{
		uint8_t *t1 = kmig_map(self->fd, 1, SIZE);

		t1[50 * PAGE_SZ] = 1;		/* slot 1: no KVM log */
		munmap(t1, SIZE);
	}
	c.a = (struct kmig_dirty_logs){
		.count = 3, .flags = KMIG_DIRTY_LOG_CLEAR,
		.logs = (uintptr_t)logs,
	};
	ASSERT_EQ(0, pthread_create(&c.t, NULL, set_thread, &c));
	ASSERT_EQ(0, next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_HARVEST, rq.op);
	ASSERT_EQ(2, rq.nslots);
	EXPECT_EQ(2, rq.slots[0]);
	EXPECT_EQ(0, rq.slots[1]);
	/* One bitmap's worth for two slots is refused. */
	EXPECT_EQ(-EINVAL, provide(pfd, rq.seq, 0, 2, kvm_bm, 16));
	EXPECT_EQ(0, provide(pfd, rq.seq, 0, 2, kvm_bm, sizeof(kvm_bm)));
	pthread_join(c.t, NULL);
	ASSERT_EQ(0, c.ret);
	/* No second request. */
	p.fd = pfd;
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(2, bm_count(bm[0], WORDS));		/* slot 2: 40, KVM's 1 */
	EXPECT_TRUE(bm_bit(bm[0], 40));
	EXPECT_TRUE(bm_bit(bm[0], 1));
	EXPECT_EQ(1, bm_count(bm[1], WORDS));		/* slot 1: 50 */
	EXPECT_TRUE(bm_bit(bm[1], 50));
	EXPECT_EQ(2, bm_count(bm[2], WORDS));		/* slot 0: 3, KVM's 99 */
	EXPECT_TRUE(bm_bit(bm[2], 3));
	EXPECT_TRUE(bm_bit(bm[2], 99));
	close(pfd);
	munmap(t2, SIZE);
}

/*
 * Bad sets are refused whole before any log is touched or the provider
 * is asked: a page written before is still reported after.
 */
TEST_F(kvm_log, harvest_set_refuses_bad_input)
{
	uint64_t bm[2][WORDS];
	struct kmig_dirty_log logs[KMIG_LOG_MAX_SLOTS + 1];
	uint8_t *t1 = kmig_map(self->fd, 1, SIZE);
	struct pollfd p = { .events = POLLIN };
	unsigned int i;
	int pfd = start_logging(_metadata, self->fd);

	ASSERT_LE(0, pfd);
	p.fd = pfd;
	t1[5 * PAGE_SZ] = 1;
	logs[0] = entry(1, bm[0]);
	logs[1] = entry(0, bm[1]);
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 0, KMIG_DIRTY_LOG_CLEAR));
	for (i = 0; i <= KMIG_LOG_MAX_SLOTS; i++)
		logs[i] = entry(1, bm[0]);
	EXPECT_EQ(-E2BIG, get_logs(self->fd, logs, KMIG_LOG_MAX_SLOTS + 1,
				   KMIG_DIRTY_LOG_CLEAR));
	/* Twice the same slot. */
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 2, KMIG_DIRTY_LOG_CLEAR));
	logs[1] = entry(0, bm[1]);
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 2, 1 << 3));
	logs[1].slot = 9;			/* no such slot */
	EXPECT_EQ(-ENOENT, get_logs(self->fd, logs, 2, KMIG_DIRTY_LOG_CLEAR));
	logs[1] = entry(0, bm[1]);
	logs[1].flags = KMIG_DIRTY_LOG_CLEAR;	/* per-entry flags: none */
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 2, KMIG_DIRTY_LOG_CLEAR));
	logs[1] = entry(0, bm[1]);
	logs[1].num_pages = 64;			/* not the whole slot */
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 2, KMIG_DIRTY_LOG_CLEAR));
	logs[1] = entry(0, bm[1]);
	logs[1].first_page = 64;
	EXPECT_EQ(-EINVAL, get_logs(self->fd, logs, 2, KMIG_DIRTY_LOG_CLEAR));
	logs[1] = entry(0, bm[1]);
	EXPECT_EQ(-EFAULT, get_logs(self->fd, (void *)8, 2,
				    KMIG_DIRTY_LOG_CLEAR));
	{
		uint32_t s3 = 3;

		/* A slot without a dirty log. */
		kmig_set_memslot(self->fd, s3, 0, 3ULL << 32, SIZE);
		logs[1] = entry(s3, bm[1]);
		EXPECT_EQ(-ENODEV, get_logs(self->fd, logs, 2,
					    KMIG_DIRTY_LOG_CLEAR));
	}
	/* None of it reached the provider or the log. */
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 1,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm[0]));
	EXPECT_EQ(1, bm_count(bm[0], WORDS));
	EXPECT_TRUE(bm_bit(bm[0], 5));
	close(pfd);
	munmap(t1, SIZE);
}

/*
 * A KMIG_SLOT_HUGE slot (two 2 MiB folios) logged by KVM: the guest view
 * is mapped with PMDs, the tracked view logs every write it lets through.
 */
FIXTURE(kvm_log_huge) {
	int fd;
	uint8_t *tracked, *guest, *reserve;
};

FIXTURE_SETUP(kvm_log_huge)
{
	uintptr_t a;
	int g;

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG |
			 KMIG_SLOT_HUGE, 0, HPAGES * PAGE_SZ);
	/*
	 * The tracked view 2 MiB aligned, where the core could map it with
	 * PMDs: the case a tracked view must survive.
	 */
	self->reserve = mmap(NULL, (HPAGES * PAGE_SZ) + HUGE_SZ, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->reserve);
	a = ((uintptr_t)self->reserve + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
	self->tracked = mmap((void *)a, HPAGES * PAGE_SZ,
			     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			     self->fd, KMIG_SLOT_OFFSET(0));
	ASSERT_NE(MAP_FAILED, self->tracked);
	g = kmig_view(self->fd, KMIG_VIEW_GUEST);
	ASSERT_LE(0, g);
	self->guest = mmap(NULL, HPAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
			   MAP_SHARED, g, KMIG_SLOT_OFFSET(0));
	close(g);
	ASSERT_NE(MAP_FAILED, self->guest);
}

FIXTURE_TEARDOWN(kvm_log_huge)
{
	munmap(self->guest, HPAGES * PAGE_SZ);
	munmap(self->reserve, (HPAGES * PAGE_SZ) + HUGE_SZ);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/* kB of smaps field @name ("FilePmdMapped:") of the VMA at @addr, or -1. */
static long smaps_kb(const void *addr, const char *name)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (uintptr_t)addr;
			continue;
		}
		if (in && !strncmp(line, name, strlen(name))) {
			kb = strtol(line + strlen(name), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static uint64_t ctx_pages(int fd)
{
	struct kmig_ctx_stats st;

	kmig_stats(fd, &st);
	return st.pages;
}

/* Whether this kernel's do_set_pmd() honours VM_NOHUGEPAGE (6.12 on). */
static bool pmd_honours_nohugepage(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	return maj > 6 || (maj == 6 && min >= 12);
}

TEST_F(kvm_log_huge, refused_unless_aligned_and_logged_by_kvm)
{
	const uint32_t f = KMIG_SLOT_HUGE;

	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1, f, 1ULL << 32 |
					      PAGE_SZ, HUGE_SZ));
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1, f, 1ULL << 32,
					      HUGE_SZ + PAGE_SZ));
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1,
					      f | KMIG_SLOT_DIRTY_LOG,
					      1ULL << 32, HUGE_SZ));
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 1, f, 1ULL << 32,
					HUGE_SZ));
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 1, 0, 0, 0));
}

/*
 * Lost-write hazard: a write fault that lets the core map a whole 2 MiB
 * folio writable with one PMD must not log just the one page it hit.
 * Block 0 is read first (a read-only PMD where the core maps one), block
 * 1 first written; then each gets a second write elsewhere in it.
 */
TEST_F(kvm_log_huge, tracked_view_logs_every_write_guest_view_maps_2m)
{
	static const unsigned int written[] = { 3, 200, 512 + 5, 512 + 300 };
	volatile uint8_t v;
	struct call c;
	unsigned int i;
	int pfd = start_logging(_metadata, self->fd);

	ASSERT_LE(0, pfd);
	v = self->tracked[0];
	(void)v;
	for (i = 0; i < 4; i++)
		self->tracked[written[i] * PAGE_SZ] = 1;
	/* Two whole folios, from two faults. */
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
	ASSERT_EQ(0, harvest_answered_n(self->fd, pfd, NULL, &c, HWORDS));
	for (i = 0; i < 4; i++)
		EXPECT_TRUE(bm_bit(c.bm, written[i])) TH_LOG("page %u",
							  written[i]);
	TH_LOG("tracked writes logged: %d pages for 4 written",
	       bm_count(c.bm, HWORDS));
	/* Where the core keeps PTEs, the log is 4 KiB granular. */
	if (pmd_honours_nohugepage()) {
		EXPECT_EQ(4, bm_count(c.bm, HWORDS));
		EXPECT_EQ(0, smaps_kb(self->tracked, "FilePmdMapped:"));
	}

	/* Re-armed: writes after the harvest are logged too. */
	self->tracked[7 * PAGE_SZ] = 2;
	self->tracked[(512 + 301) * PAGE_SZ] = 2;
	ASSERT_EQ(0, harvest_answered_n(self->fd, pfd, NULL, &c, HWORDS));
	EXPECT_TRUE(bm_bit(c.bm, 7));
	EXPECT_TRUE(bm_bit(c.bm, 512 + 301));
	if (pmd_honours_nohugepage())
		EXPECT_EQ(2, bm_count(c.bm, HWORDS));

	/* The guest view: placed 2 MiB aligned, mapped with PMDs. */
	EXPECT_EQ(0, (uintptr_t)self->guest % HUGE_SZ);
	v = self->guest[9 * PAGE_SZ];
	self->guest[(512 + 9) * PAGE_SZ] = 3;
	EXPECT_EQ(2, self->tracked[(512 + 301) * PAGE_SZ]);
	EXPECT_EQ(3, self->tracked[(512 + 9) * PAGE_SZ]);
	EXPECT_EQ(2 * HUGE_SZ / 1024, smaps_kb(self->guest, "FilePmdMapped:"));
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
	close(pfd);
}

/* kB of FilePmdMapped over the VMAs of @pid whose line names @file. */
static long pid_pmd_kb(pid_t pid, const char *file)
{
	char path[64], line[256];
	bool in = false;
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = strstr(line, file);
		else if (in && !strncmp(line, "FilePmdMapped:", 14))
			kb += strtol(line + 14, NULL, 10);
	}
	fclose(f);
	return kb;
}

/* KVM's pages_2m, summed over the VMs of this machine, or -1. */
static long kvm_pages_2m(void)
{
	FILE *f = fopen("/sys/kernel/debug/kvm/pages_2m", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Poll KVM's pages_2m up to 10 s until @above (> 0) or == 0 (!@above). */
static long wait_pages_2m(bool above)
{
	long n = -1;
	int i;

	for (i = 0; i < 100; i++) {
		n = kvm_pages_2m();
		if (n >= 0 && (above ? n > 0 : n == 0))
			break;
		usleep(100 * 1000);
	}
	return n;
}

/*
 * kmig-vmm --huge runs a real guest on a huge slot: the VMM's guest view
 * is mapped with PMDs and KVM maps the guest with 2 MiB entries; while
 * kmig logs (KVM through the provider), KVM maps 4 KiB (it splits at
 * its clear, KVM_DIRTY_LOG_INITIALLY_SET, or at start), and once logging
 * stops it maps 2 MiB again.
 */
TEST(kvm_guest_on_huge_slots_is_mapped_2m)
{
	struct kmig_dirty_logging lg = { .slot = 0 };
	struct vmm_client_slot slots[1];
	uint64_t bm[16 << 20 >> 12 >> 6];
	struct vmm_client c;
	struct vmm_status st;
	struct vmm_proc v;
	long kb = 0, p2m;
	unsigned int n;
	int i, ctx;

	REQUIRE_BED();
	ASSERT_EQ(0, __vmm_startf(&v, vmm_sock("huge"), "/dev/null",
				  "--mem 16 --huge --pattern random --rate 20000"));
	ASSERT_EQ(0, __vmm_wait_counter(v.sock, 0, PROC_WAIT_MS, &st));
	/* The guest's writes fault its pages in as it goes. */
	for (i = 0; i < 100 && kb <= 0; i++) {
		usleep(100 * 1000);
		kb = pid_pmd_kb(v.pid, "kmig-guest-view");
	}
	p2m = wait_pages_2m(true);
	TH_LOG("guest view FilePmdMapped %ld kB, KVM pages_2m %ld", kb, p2m);
	EXPECT_LT(0, kb);
	EXPECT_LT(0, p2m);

	ASSERT_EQ(0, vmm_connect(&v, &c));
	ASSERT_EQ(0, vmm_client_ctx(&c, slots, 1, &n, &ctx));
	lg.flags = KMIG_DIRTY_LOGGING_ON;
	ASSERT_EQ(0, ioctl(ctx, KMIG_SET_DIRTY_LOGGING, &lg));
	ASSERT_EQ(0, __kmig_dirty(ctx, KMIG_GET_DIRTY_LOG, 0,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	p2m = wait_pages_2m(false);
	TH_LOG("logging: KVM pages_2m %ld", p2m);
	EXPECT_EQ(0, p2m);
	EXPECT_LT(0, pid_pmd_kb(v.pid, "kmig-guest-view"));
	lg.flags = 0;
	ASSERT_EQ(0, ioctl(ctx, KMIG_SET_DIRTY_LOGGING, &lg));
	p2m = wait_pages_2m(true);
	TH_LOG("logging stopped: KVM pages_2m %ld", p2m);
	EXPECT_LT(0, p2m);
	close(ctx);
	vmm_client_close(&c);
	vmm_stop(&v);
}

/*
 * KVM's log of a huge slot is 4 KiB grained, seen from a real guest: its
 * two folios are mapped by KVM with 2 MiB entries until kmig starts the
 * log (KVM through the provider thread of lib/kvmlog.c); then a guest
 * write of one chosen page (then of two) gives a harvest of exactly it.
 * The guest's code is in a KVM slot of its own, so that nothing else
 * writes the huge slot.
 */
TEST_F(kvm_log_huge, guest_write_of_one_page_harvests_that_page)
{
	/* 32-bit: 1: mov [ebx], al; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x88, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	const uint64_t code_gpa = 4 * HUGE_SZ;
	struct kmig_dirty_logging lg = { .slot = 0 };
	struct kvm_regs regs = { .rip = code_gpa, .rflags = 2 };
	uint64_t bm[HWORDS];
	struct kvmlog prov;
	struct vcpu vcpu;
	struct vm vm;
	uint8_t *low;

	REQUIRE_KVM();
	low = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, low);
	memcpy(low, code, sizeof(code));
	vm_create(&vm);
	ASSERT_EQ(0, kvmlog_start(&prov, self->fd, &vm));
	vm_set_memslot(&vm, 0, 0, 0, HPAGES * PAGE_SZ, self->guest);
	kvmlog_slot(&prov, 0, 0, HPAGES * PAGE_SZ, self->guest);
	vm_set_memslot(&vm, 1, 0, code_gpa, PAGE_SZ, low);
	vcpu_create(&vcpu, &vm, code_gpa);
	vcpu_set_flat32(&vcpu);

	/* One write in each folio: KVM maps both with 2 MiB. */
	regs.rax = 1;
	regs.rbx = 0;
	regs.rcx = 2;
	regs.rdx = HUGE_SZ;
	vcpu_set_regs(&vcpu, &regs);
	ASSERT_EQ(KVM_EXIT_HLT, vcpu_run(&vcpu));
	EXPECT_EQ(HPAGES, ctx_pages(self->fd));
	TH_LOG("before logging: KVM pages_2m %ld", kvm_pages_2m());
	EXPECT_EQ(2, kvm_pages_2m());

	lg.flags = KMIG_DIRTY_LOGGING_ON;
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &lg));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	EXPECT_EQ(0, bm_count(bm, HWORDS));

	/* One byte in the middle of page 512 + 77. */
	regs.rip = code_gpa;
	regs.rax = 2;
	regs.rbx = (512 + 77) * PAGE_SZ + 0x123;
	regs.rcx = 1;
	vcpu_set_regs(&vcpu, &regs);
	ASSERT_EQ(KVM_EXIT_HLT, vcpu_run(&vcpu));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	TH_LOG("one page written: %u logged, KVM pages_2m %ld",
	       bm_count(bm, HWORDS), kvm_pages_2m());
	EXPECT_EQ(1, bm_count(bm, HWORDS));
	EXPECT_TRUE(bm_bit(bm, 512 + 77));
	EXPECT_EQ(2, self->tracked[(512 + 77) * PAGE_SZ + 0x123]);

	/* Re-armed at 4 KiB: pages 3 and 511, the first folio's ends. */
	regs.rip = code_gpa;
	regs.rax = 3;
	regs.rbx = 3 * PAGE_SZ;
	regs.rcx = 2;
	regs.rdx = 508 * PAGE_SZ;
	vcpu_set_regs(&vcpu, &regs);
	ASSERT_EQ(KVM_EXIT_HLT, vcpu_run(&vcpu));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				  KMIG_DIRTY_LOG_CLEAR, 0, 0, bm));
	EXPECT_EQ(2, bm_count(bm, HWORDS));
	EXPECT_TRUE(bm_bit(bm, 3));
	EXPECT_TRUE(bm_bit(bm, 511));

	lg.flags = 0;
	EXPECT_EQ(0, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &lg));
	kvmlog_stop(&prov);
	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	munmap(low, PAGE_SZ);
}

TEST_HARNESS_MAIN
