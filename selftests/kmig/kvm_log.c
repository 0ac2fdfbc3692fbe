// SPDX-License-Identifier: GPL-2.0
/*
 * Model (b)'s uapi (memory-model.rst, section 4): views, KVM_LOG slots and
 * the KVM log provider, with this thread as the provider and a second
 * thread as kmig's caller (lib/logprov.h). A harvest reports kmig's bits
 * OR the provider's; without a provider, or after it closed, it fails
 * EPIPE and loses nothing; bad answers are refused; re-arming the tracked
 * view leaves the guest view mapped. Huge slots logged by KVM:
 * kvm_log_huge.c.
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
#include "kvmlog.h"
#include "logprov.h"

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
/* A harvest of slot 0 answered by provider @pfd (log_harvest_answered). */
static int harvest_answered(int fd, int pfd, const uint64_t *kvm_bm,
			    struct log_call *c)
{
	return log_harvest_answered(fd, pfd, kvm_bm, c, WORDS);
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
	struct log_call c;
	int pfd = log_start_logging(self->fd);

	ASSERT_LE(0, pfd);
	EXPECT_EQ(-EBUSY, log_provider_fd(self->fd));
	self->tracked[3 * PAGE_SZ] = 1;	/* kmig logs it */
	self->guest[5 * PAGE_SZ] = 1;	/* KVM's to log: not kmig's */
	log_harvest_start(&c, self->fd);
	ASSERT_EQ(0, log_next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_HARVEST, rq.op);
	EXPECT_EQ(1, rq.nslots);
	EXPECT_EQ(0, rq.slots[0]);
	/* Bad answers are refused and the request stays open. */
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq + 1, 0, 1, kvm_bm, 16));
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq, 0, 1, kvm_bm, 8));
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq, 0, 2, kvm_bm, 16));
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq, 1, 1, kvm_bm, 16));
	EXPECT_EQ(-EFAULT, log_provide(pfd, rq.seq, 0, 1, (void *)8, 16));
	EXPECT_EQ(0, log_provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	/* Answered once: a second answer has no request. */
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	ASSERT_EQ(0, log_call_end(&c));
	EXPECT_EQ(3, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 3));
	EXPECT_TRUE(bm_bit(c.bm, 7));
	EXPECT_TRUE(bm_bit(c.bm, 70));

	/* A get without clear keeps KVM's bits in kmig's log. */
	memset(kvm_bm, 0, sizeof(kvm_bm));
	kvm_bm[0] = 1ULL << 20;
	log_call_start(&c, self->fd, KMIG_GET_DIRTY_LOG, 0, 0);
	ASSERT_EQ(0, log_next_request(pfd, &rq));
	EXPECT_EQ(0, log_provide(pfd, rq.seq, 0, 1, kvm_bm, 16));
	ASSERT_EQ(0, log_call_end(&c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 20));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 20));

	/* A provider error reaches the caller; kmig's bits wait. */
	self->tracked[4 * PAGE_SZ] = 1;
	log_harvest_start(&c, self->fd);
	ASSERT_EQ(0, log_next_request(pfd, &rq));
	EXPECT_EQ(0, log_provide(pfd, rq.seq, -EIO, 0, NULL, 0));
	EXPECT_EQ(-EIO, log_call_end(&c));
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 4));
	close(pfd);
}

TEST_F(kvm_log, provider_closing_fails_harvest_whole)
{
	struct kmig_log_request rq;
	struct log_call c;
	int pfd = log_start_logging(self->fd);

	ASSERT_LE(0, pfd);
	self->tracked[9 * PAGE_SZ] = 1;
	log_harvest_start(&c, self->fd);
	ASSERT_EQ(0, log_next_request(pfd, &rq));
	close(pfd);			/* the VMM died mid-request */
	EXPECT_EQ(-EPIPE, log_call_end(&c));
	/* Later harvests fail at once, and return nothing. */
	memset(c.bm, 0, sizeof(c.bm));
	EXPECT_EQ(-EPIPE, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 0,
				       KMIG_DIRTY_LOG_CLEAR, 0, 0, c.bm));
	EXPECT_EQ(0, bm_count(c.bm, WORDS));
	/* A new provider: kmig's bit was kept through both failures. */
	pfd = log_provider_fd(self->fd);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(1, bm_count(c.bm, WORDS));
	EXPECT_TRUE(bm_bit(c.bm, 9));
	close(pfd);
}

TEST_F(kvm_log, rearm_spares_the_guest_view)
{
	int i, guest_mapped = 0, tracked_mapped = 0;
	struct log_call c;
	int pfd = log_start_logging(self->fd);

	ASSERT_LE(0, pfd);
	for (i = 0; i < NPAGES; i++) {
		self->tracked[i * PAGE_SZ] = 2;
		self->guest[i * PAGE_SZ + 1] = 3;
	}
	ASSERT_EQ(0, harvest_answered(self->fd, pfd, NULL, &c));
	EXPECT_EQ(NPAGES, bm_count(c.bm, WORDS));
	for (i = 0; i < NPAGES; i++) {
		guest_mapped += kmig_pte_present(self->guest + i * PAGE_SZ);
		tracked_mapped += kmig_pte_present(self->tracked + i * PAGE_SZ);
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
	pfd = log_start_logging(self->fd);
	ASSERT_LE(0, pfd);
	EXPECT_EQ(0, log_start_slot(self->fd, pfd, 2));
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
	ASSERT_EQ(0, log_next_request(pfd, &rq));
	EXPECT_EQ(KMIG_LOG_HARVEST, rq.op);
	ASSERT_EQ(2, rq.nslots);
	EXPECT_EQ(2, rq.slots[0]);
	EXPECT_EQ(0, rq.slots[1]);
	/* One bitmap's worth for two slots is refused. */
	EXPECT_EQ(-EINVAL, log_provide(pfd, rq.seq, 0, 2, kvm_bm, 16));
	EXPECT_EQ(0, log_provide(pfd, rq.seq, 0, 2, kvm_bm, sizeof(kvm_bm)));
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
	int pfd = log_start_logging(self->fd);

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

TEST_HARNESS_MAIN
