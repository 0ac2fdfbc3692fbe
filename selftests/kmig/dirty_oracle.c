// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty log checked the way a migration uses it. Writer threads on
 * both CPUs and a real KVM vCPU write random pages with changing content
 * (mostly a hot set, now and then a cold page of a larger slot, which a
 * lost write then leaves stale to the end) while this thread harvests with
 * clear and copies every reported page into a shadow, as a migration
 * source does; mprotect cycles, logging
 * restarts (each followed by a full copy, as the restart's contract asks)
 * and, when the machine has two nodes, NUMA balancing run in between. When
 * the writers stop, one last harvest and copy must leave the shadow equal
 * to memory, byte for byte. Variant kvm_log runs the same with the guest's
 * slot in model (b) (KMIG_SLOT_KVM_LOG): the vCPU writes through a guest
 * view, KVM logs them, a provider thread hands KVM's log to kmig.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "kvmlog.h"

/* Slot 0 is the guest's, slot 1 the threads'; the shadow holds both. */
#define GPAGES		256		/* 1 MiB: real mode reaches it all */
#define NPAGES		4096		/* both slots */
#define SIZE		(NPAGES * PAGE_SZ)
#define WORDS		(NPAGES / 64)
#define FIRST		2		/* pages 0, 1: guest code and list */
#define HOT		64		/* pages of slot 1 written most */
#define COLD_ONE_IN	1024		/* writes that go to any page */
#define CODE		0x1000
#define LIST		0x1800
#define PORT		0x10
#define WRITERS		2

/*
 * Real mode, at 0x1000, forever: for each segment in the list at 0x1800
 * (a count, then segments), write bl to es:0; then inc bl and exit to the
 * host with out 0x10 (the guest of kvm_dirty.c).
 */
static const uint8_t guest_code[] = {
	0xbe, 0x00, 0x18, 0xad, 0x89, 0xc1, 0xad, 0x8e, 0xc0,
	0x26, 0x88, 0x1e, 0x00, 0x00, 0xe2, 0xf6, 0xfe, 0xc3,
	0xe6, PORT, 0xeb, 0xea,
};

struct oracle {
	int fd;
	uint8_t *mem;			/* slot 0, then slot 1 */
	uint8_t *shadow;
	uint64_t bm[WORDS];
	/* Writers hold it shared; held exclusively, nothing writes. */
	pthread_rwlock_t quiet;
	volatile bool stop;
	unsigned int seed;
	uint64_t writes, guest_runs, copies, rounds;
	struct vm vm;
	struct vcpu vcpu;
	bool kvm;
	uint8_t *gview;			/* kvm_log: slot 0's guest view */
	struct kvmlog prov;
	bool narrow;			/* writers too stay in slot 0 */
};

FIXTURE(oracle) {
	struct oracle o;
};

FIXTURE_VARIANT(oracle) {
	bool kvm_log;
};

FIXTURE_VARIANT_ADD(oracle, kmig_log) {
	.kvm_log = false,
};

FIXTURE_VARIANT_ADD(oracle, kvm_log) {
	.kvm_log = true,
};

FIXTURE_SETUP(oracle)
{
	struct oracle *o = &self->o;
	pthread_rwlockattr_t attr;

	ASSERT_TRUE(kmig_objects_zero());
	o->fd = kmig_open();
	kmig_set_memslot(o->fd, 0, KMIG_SLOT_DIRTY_LOG |
			 (variant->kvm_log ? KMIG_SLOT_KVM_LOG : 0), 0,
			 GPAGES * PAGE_SZ);
	kmig_set_memslot(o->fd, 1, KMIG_SLOT_DIRTY_LOG, 1ULL << 32,
			 (NPAGES - GPAGES) * PAGE_SZ);
	/* Both slots mapped back to back, in room reserved for them. */
	o->mem = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	ASSERT_NE(MAP_FAILED, o->mem);
	ASSERT_EQ(o->mem, mmap(o->mem, GPAGES * PAGE_SZ,
			       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       o->fd, KMIG_SLOT_OFFSET(0)));
	ASSERT_EQ(o->mem + GPAGES * PAGE_SZ,
		  mmap(o->mem + GPAGES * PAGE_SZ, (NPAGES - GPAGES) * PAGE_SZ,
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, o->fd,
		       KMIG_SLOT_OFFSET(1)));
	o->shadow = malloc(SIZE);
	ASSERT_NE(NULL, o->shadow);
	/* Readers come back at once: let a waiting writer in first. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&o->quiet, &attr);
	memcpy(o->mem + CODE, guest_code, sizeof(guest_code));
	o->kvm = !__vm_create(&o->vm);
	if (!o->kvm && getenv("KMIG_BED"))
		ASSERT_TRUE(o->kvm) TH_LOG("the bed has KVM");
	if (variant->kvm_log && !o->kvm)
		SKIP(return, "model (b) needs KVM");
	if (variant->kvm_log) {
		int g = kmig_view(o->fd, KMIG_VIEW_GUEST);

		ASSERT_LE(0, g);
		o->gview = mmap(NULL, GPAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
				MAP_SHARED, g, KMIG_SLOT_OFFSET(0));
		close(g);
		ASSERT_NE(MAP_FAILED, o->gview);
		ASSERT_EQ(0, kvmlog_start(&o->prov, o->fd, &o->vm));
		kvmlog_slot(&o->prov, 0, 0, GPAGES * PAGE_SZ, o->gview);
	}
	if (o->kvm) {
		vm_set_memslot(&o->vm, 0, 0, 0, GPAGES * PAGE_SZ,
			       o->gview ? o->gview : o->mem);
		vcpu_create(&o->vcpu, &o->vm, CODE);
	}
}

FIXTURE_TEARDOWN(oracle)
{
	struct oracle *o = &self->o;

	if (o->gview)
		kvmlog_stop(&o->prov);
	if (o->kvm) {
		vcpu_destroy(&o->vcpu);
		vm_destroy(&o->vm);
	}
	if (o->gview)
		munmap(o->gview, GPAGES * PAGE_SZ);
	kmig_numa_balancing_off();
	munmap(o->mem, SIZE);
	close(o->fd);
	free(o->shadow);
	EXPECT_TRUE(kmig_objects_zero());
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % 2, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *writer(void *arg)
{
	struct oracle *o = arg;
	unsigned int seed = __atomic_fetch_add(&o->seed, 1, __ATOMIC_RELAXED);
	uint64_t *p, n = 0;
	unsigned int page;

	pin(seed);
	while (!o->stop) {
		pthread_rwlock_rdlock(&o->quiet);
		for (int i = 0; i < 256; i++, n++) {
			if (o->narrow)
				page = FIRST + rand_r(&seed) % (GPAGES - FIRST);
			else if (rand_r(&seed) % COLD_ONE_IN)
				page = GPAGES + rand_r(&seed) % HOT;
			else
				page = GPAGES + rand_r(&seed) % (NPAGES - GPAGES);
			p = (uint64_t *)(o->mem + page * PAGE_SZ);
			p[rand_r(&seed) % (PAGE_SZ / 8)] =
				(uint64_t)rand_r(&seed) << 32 | n;
		}
		pthread_rwlock_unlock(&o->quiet);
	}
	__atomic_add_fetch(&o->writes, n, __ATOMIC_RELAXED);
	return NULL;
}

/* The vCPU writes up to 40 random pages a run, a new value each run. */
static void *guest(void *arg)
{
	struct oracle *o = arg;
	uint16_t *list = (uint16_t *)(o->mem + LIST);
	unsigned int seed = 77;
	uint32_t exit;
	int n;

	while (!o->stop) {
		pthread_rwlock_rdlock(&o->quiet);
		n = 1 + rand_r(&seed) % 40;
		list[0] = n;
		for (int i = 1; i <= n; i++)
			list[i] = (FIRST + rand_r(&seed) % (GPAGES - FIRST)) *
				  PAGE_SZ / 16;
		exit = vcpu_run(&o->vcpu);
		pthread_rwlock_unlock(&o->quiet);
		KVM_ASSERT(exit == KVM_EXIT_IO && o->vcpu.run->io.port == PORT,
			   "guest exit %u", exit);
		o->guest_runs++;
	}
	return NULL;
}

static int set_logging_on(int fd, uint32_t slot)
{
	struct kmig_dirty_logging a = {
		.slot = slot, .flags = KMIG_DIRTY_LOGGING_ON,
	};

	return ioctl(fd, KMIG_SET_DIRTY_LOGGING, &a) ? -errno : 0;
}

/* One migration round: harvest each slot with clear, copy what it reports. */
static int round_copy(struct oracle *o)
{
	int ret = __kmig_dirty(o->fd, KMIG_GET_DIRTY_LOG, 0,
			       KMIG_DIRTY_LOG_CLEAR, 0, 0, o->bm);

	if (!ret)
		ret = __kmig_dirty(o->fd, KMIG_GET_DIRTY_LOG, 1,
				   KMIG_DIRTY_LOG_CLEAR, 0, 0,
				   o->bm + GPAGES / 64);
	if (ret)
		return ret;
	for (int i = 0; i < NPAGES; i++) {
		if (!bm_bit(o->bm, i))
			continue;
		/* Alternate the copy path: mapping and pread. */
		if (o->rounds & 1)
			memcpy(o->shadow + i * PAGE_SZ, o->mem + i * PAGE_SZ,
			       PAGE_SZ);
		else if (pread(o->fd, o->shadow + i * PAGE_SZ, PAGE_SZ,
			       i < GPAGES ? i * PAGE_SZ :
			       KMIG_SLOT_OFFSET(1) + (i - GPAGES) * PAGE_SZ) !=
			 PAGE_SZ)
			return -EIO;
		o->copies++;
	}
	o->rounds++;
	return 0;
}

/* Restart a slot's log; everything written before that is copied. */
static int restart_slot(struct oracle *o, uint32_t slot)
{
	size_t off = slot ? GPAGES * PAGE_SZ : 0;
	size_t len = slot ? (NPAGES - GPAGES) * PAGE_SZ : GPAGES * PAGE_SZ;
	int ret = set_logging_on(o->fd, slot);

	if (!ret && pread(o->fd, o->shadow + off, len,
			  KMIG_SLOT_OFFSET(slot)) != (ssize_t)len)
		ret = -EIO;
	return ret;
}

static int restart_copy(struct oracle *o)
{
	int ret = restart_slot(o, 0);

	return ret ? ret : restart_slot(o, 1);
}

/* Writers paused: a mapping read-only and back, as a VMM might. */
static int mprotect_cycle(struct oracle *o)
{
	int ret = 0;

	pthread_rwlock_wrlock(&o->quiet);
	if (mprotect(o->mem, SIZE, PROT_READ) ||
	    mprotect(o->mem, SIZE, PROT_READ | PROT_WRITE))
		ret = -errno;
	pthread_rwlock_unlock(&o->quiet);
	return ret;
}

/* Pages where the shadow differs from memory, logged. */
static int compare(struct __test_metadata *_metadata, struct oracle *o,
		   int npages)
{
	int bad = 0;

	for (int i = 0; i < npages; i++) {
		if (!memcmp(o->shadow + i * PAGE_SZ, o->mem + i * PAGE_SZ,
			    PAGE_SZ))
			continue;
		if (bad++ < 8)
			TH_LOG("page %d differs", i);
	}
	return bad;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Busy for @ms: a sleeping vCPU of the emulated bed wakes late. */
static void spin(double ms)
{
	double until = now() + ms / 1000;

	while (now() < until)
		sched_yield();
}

static void start(struct __test_metadata *_metadata, struct oracle *o,
		  pthread_t *t)
{
	memset(o->mem + FIRST * PAGE_SZ, 0x3c, SIZE - FIRST * PAGE_SZ);
	ASSERT_EQ(0, restart_copy(o));
	for (int i = 0; i < WRITERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, writer, o));
	if (o->kvm)
		ASSERT_EQ(0, pthread_create(&t[WRITERS], NULL, guest, o));
}

static void finish(struct oracle *o, pthread_t *t)
{
	o->stop = true;
	for (int i = 0; i < WRITERS + o->kvm; i++)
		pthread_join(t[i], NULL);
}

/*
 * Until the run has seen what it is there for, however fast or slow the
 * machine: MIN_ROUNDS rounds, every ~2 ms (every 75 to 350 ms on the
 * emulated bed), with an mprotect cycle every 10th round and a logging
 * restart every 25th; MIN_GUEST_RUNS runs of the vCPU; MIN_COPIES pages
 * the log reported and the shadow took; and MIN_SECONDS of NUMA
 * balancing (a scan every 10 to 20 ms) when the machine has two nodes.
 * A machine that cannot see all that before MAX_SECONDS fails, saying so.
 */
#define MIN_SECONDS	8
#define MIN_ROUNDS	100		/* 10 mprotect cycles, 4 restarts */
#define MIN_GUEST_RUNS	2000
#define MIN_COPIES	40000
#define ORACLE_TIMEOUT	180
#define MAX_SECONDS	(ORACLE_TIMEOUT - 30)	/* room for setup and compare */

/* The run has not seen enough yet. */
static bool more(const struct oracle *o, double secs)
{
	return secs < MIN_SECONDS || o->rounds < MIN_ROUNDS ||
	       (o->kvm && o->guest_runs < MIN_GUEST_RUNS) ||
	       o->copies < MIN_COPIES;
}

TEST_F_TIMEOUT(oracle, shadow_equals_memory, ORACLE_TIMEOUT)
{
	struct oracle *o = &self->o;
	pthread_t t[WRITERS + 1];
	uint64_t mprotects = 0, restarts = 0;
	double begin, secs;
	int numa;

	numa = kmig_numa_balancing_fast();
	if (getenv("KMIG_BED"))
		ASSERT_EQ(0, numa) TH_LOG("the bed boots with two NUMA nodes");
	start(_metadata, o, t);
	begin = now();
	while (more(o, now() - begin) && now() < begin + MAX_SECONDS) {
		spin(2);
		ASSERT_EQ(0, round_copy(o));
		if (o->rounds % 10 == 0) {
			ASSERT_EQ(0, mprotect_cycle(o));
			mprotects++;
		}
		if (o->rounds % 25 == 0) {
			ASSERT_EQ(0, restart_copy(o));
			restarts++;
		}
	}
	secs = now() - begin;
	finish(o, t);
	ASSERT_EQ(0, round_copy(o));
	TH_LOG("%.1f s: %llu writes, %llu guest runs, %llu rounds, %llu copies, %llu mprotect cycles, %llu restarts, NUMA balancing %s",
	       secs, (unsigned long long)o->writes,
	       (unsigned long long)o->guest_runs,
	       (unsigned long long)o->rounds, (unsigned long long)o->copies,
	       (unsigned long long)mprotects, (unsigned long long)restarts,
	       numa ? "off" : "on");
	EXPECT_FALSE(more(o, secs))
		TH_LOG("too slow: in %d s, fewer than %d rounds (for the mprotect cycles and restarts to count), %d guest runs or %d copies",
		       MAX_SECONDS, MIN_ROUNDS, MIN_GUEST_RUNS, MIN_COPIES);
	EXPECT_EQ(0, compare(_metadata, o, NPAGES));
}

/*
 * Restarts racing write faults: the writers and the guest all write slot
 * 0 (1 MiB, cheap to copy), and each restart of its log comes while they
 * fault on freshly re-armed pages, and is checked on its own: full copy,
 * writes for a while, writers paused, a last round, compare. A
 * .page_mkwrite that the restart does not wait out leaves a writable PTE
 * without a bit. Probabilistic: the race needs a vCPU switch inside it.
 */
TEST_F_TIMEOUT(oracle, restarts_racing_writes_lose_nothing, 60)
{
	struct oracle *o = &self->o;
	pthread_t t[WRITERS + 1];
	int restarts = 0, bad = 0;
	double end;

	o->narrow = true;
	pin(1);
	start(_metadata, o, t);
	end = now() + 15;
	while (now() < end && !bad) {
		ASSERT_EQ(0, restart_slot(o, 0));
		spin(0.5);
		pthread_rwlock_wrlock(&o->quiet);
		ASSERT_EQ(0, round_copy(o));
		bad = compare(_metadata, o, GPAGES);
		pthread_rwlock_unlock(&o->quiet);
		restarts++;
	}
	finish(o, t);
	TH_LOG("%d restarts, %llu writes, %llu guest runs", restarts,
	       (unsigned long long)o->writes,
	       (unsigned long long)o->guest_runs);
	EXPECT_EQ(0, bad) TH_LOG("after restart %d", restarts);
}

TEST_HARNESS_MAIN
