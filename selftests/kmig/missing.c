// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy: a touch of an absent page in missing mode blocks until the
 * page is installed; faults are read from the fault fd, once per page;
 * batched, zero and wake-only installs; present pages are reported, not
 * overwritten; a range is put in missing mode only while its slot is
 * unmapped, its stale pages discarded on request; a served fault traps
 * once and is retried once, the retry mapping its page alone; an install
 * checks its whole batch before it installs a page. What becomes of a
 * waiter that is killed, or whose server, mapping or context goes away:
 * missing_waiter.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "faultcount.h"
#include "kvm.h"
#include "missing_fixture.h"
#include "toucher.h"

#define NTHREADS 8

static void fill(uint8_t *buf, int pages, int seed)
{
	for (size_t i = 0; i < pages * PAGE_SZ; i++)
		buf[i] = (i * 31 + seed) >> 3;
}

TEST_F(missing, one_thread_blocks_until_install)
{
	static uint8_t buf[PAGE_SZ];
	struct kmig_ctx_stats st;
	struct kmig_fault rec;
	struct toucher t = {};
	uint64_t page = 3;
	uint32_t done;
	uint64_t lat = 0;

	toucher_start(&t, self->mem + 3 * PAGE_SZ + 10, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(1, rec.slot);
	EXPECT_EQ(3, rec.page);
	EXPECT_EQ(0, rec.flags);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	EXPECT_EQ(t.tid, rec.tid);
	usleep(50000);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 0));

	fill(buf, 1, 5);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1,
				    &done));
	EXPECT_EQ(1, done);
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[10], t.value);
	EXPECT_EQ(0, memcmp(self->mem + 3 * PAGE_SZ, buf, PAGE_SZ));

	kmig_stats(self->fd, &st);
	EXPECT_EQ(1, st.faults);
	EXPECT_EQ(1, st.installed_copy);
	EXPECT_EQ(0, st.installed_background);
	EXPECT_EQ(0, st.waiters);
	for (int i = 0; i < KMIG_LAT_BUCKETS; i++)
		lat += st.lat_us[i];
	EXPECT_EQ(1, lat);
	/* It waited at least 50 ms: 2^15 µs or more. */
	for (int i = 0; i < 15; i++)
		EXPECT_EQ(0, st.lat_us[i]);
}

/*
 * What one served fault costs the faulting thread: one trap, and two
 * entries into the core's fault handler, the fault and its one retry
 * (the wait drops the mmap or VMA lock, so the page cannot be returned
 * from the same call: Documentation/postcopy.rst). A present page takes
 * one entry. Read fault on page 5, present page 50, write fault on page
 * 30: none in another's fault-around window.
 */
struct counted {
	pthread_t thread;
	uint8_t *mem;
	int err;
	uint64_t traps[3], entries[3];
};

static void *touch_counted(void *arg)
{
	static const unsigned int page[3] = { 5, 50, 30 };
	struct counted *c = arg;
	uint64_t t0, e0, t1, e1;
	struct fault_count fc;
	volatile uint8_t *p;
	int i;

	c->err = fault_count_start(&fc);
	if (c->err)
		return NULL;
	for (i = 0; i < 3 && !c->err; i++) {
		p = c->mem + page[i] * PAGE_SZ;
		c->err = fault_count_read(&fc, &t0, &e0);
		if (i == 2)
			*p = 1;
		else
			(void)*p;
		if (!c->err)
			c->err = fault_count_read(&fc, &t1, &e1);
		c->traps[i] = t1 - t0;
		c->entries[i] = e1 - e0;
	}
	fault_count_stop(&fc);
	return NULL;
}

/*
 * Three touches, counted: page 5 read and page 30 written while missing,
 * each served once its record is read, and page 50, installed first.
 * Each traps once; a served fault enters handle_mm_fault() @entries
 * times (2: it dropped its lock and was retried).
 */
static void served_counted(struct __test_metadata *_metadata,
			   FIXTURE_DATA(missing) *self, uint64_t entries)
{
	static uint8_t buf[PAGE_SZ];
	struct counted c = { .mem = self->mem };
	struct fault_count probe;
	struct kmig_fault rec;
	uint64_t page;
	int ret;

	ret = fault_count_start(&probe);
	if (ret)
		SKIP(return, "no perf kprobe on handle_mm_fault: %s",
		     strerror(-ret));
	fault_count_stop(&probe);
	fill(buf, 1, 9);
	page = 50;
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1, NULL));

	KVM_ASSERT(!pthread_create(&c.thread, NULL, touch_counted, &c),
		   "thread");
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(5, rec.page);
	page = rec.page;
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1, NULL));
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(30, rec.page);
	EXPECT_EQ(KMIG_FAULT_WRITE, rec.flags);
	page = rec.page;
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1, NULL));
	pthread_join(c.thread, NULL);

	ASSERT_EQ(0, c.err);
	EXPECT_EQ(1, c.traps[0]);
	EXPECT_EQ(entries, c.entries[0]);
	EXPECT_EQ(1, c.traps[1]);
	EXPECT_EQ(1, c.entries[1]);
	EXPECT_EQ(1, c.traps[2]);
	EXPECT_EQ(entries, c.entries[2]);
	EXPECT_EQ(1, self->mem[30 * PAGE_SZ]);
	EXPECT_EQ(0, memcmp(self->mem + 5 * PAGE_SZ, buf, PAGE_SZ));
}

/* fault_hold_us 0: every fault drops its lock at once, as userfaultfd's. */
TEST_F(missing, a_served_fault_traps_once_and_is_retried_once)
{
	ASSERT_LE(0, kmig_fault_hold_us(0));
	served_counted(_metadata, self, 2);
}

/* A page served within fault_hold_us is mapped by the fault itself. */
TEST_F(missing, a_fault_served_within_the_hold_is_not_retried)
{
	ASSERT_LE(0, kmig_fault_hold_us(20 * 1000 * 1000));
	served_counted(_metadata, self, 1);
}

/*
 * A page served after fault_hold_us: the fault dropped its lock, so an
 * munmap (a writer of the mmap lock) done while it waits returns, and the
 * fault is retried once served.
 */
TEST_F(missing, past_the_hold_the_lock_is_dropped)
{
	static uint8_t buf[PAGE_SZ];
	uint64_t page = 7;
	struct kmig_fault rec;
	struct toucher t = {};
	void *other;

	ASSERT_LE(0, kmig_fault_hold_us(50 * 1000));
	other = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	toucher_start(&t, self->mem + page * PAGE_SZ, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(0, munmap(other, PAGE_SZ));
	EXPECT_TRUE(kmig_wait_waiters(self->fd, 1, 10));
	fill(buf, 1, 4);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1, NULL));
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[0], t.value);
}

/*
 * Fault-around and a served fault: its first call maps nothing (the page
 * is missing) and its retry maps its page alone, as userfaultfd maps one
 * page; present neighbours, installed but never touched, are mapped by
 * their own fault, whose fault-around maps the rest of its window. Page
 * 20 and two others of its 16-page window of the address space (the
 * default 64 KiB fault-around).
 */
TEST_F(missing, a_served_faults_retry_maps_its_page_alone)
{
	static uint8_t buf[PAGE_SZ];
	uint64_t f = 20, n = 0, m = 0, w, p;
	struct kmig_fault rec;
	struct toucher t = {};

	w = f - ((uintptr_t)self->mem / PAGE_SZ + f) % 16;
	for (p = w; p < w + 16 && !m; p++) {
		if (p == f)
			continue;
		if (n)
			m = p;
		else
			n = p;
	}
	fill(buf, 1, 3);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &n, buf, NULL, 1, NULL));
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &m, buf, NULL, 1, NULL));

	toucher_start(&t, self->mem + f * PAGE_SZ, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(f, rec.page);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &f, buf, NULL, 1, NULL));
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[0], t.value);
	EXPECT_TRUE(kmig_pte_present(self->mem + f * PAGE_SZ));
	EXPECT_FALSE(kmig_pte_present(self->mem + n * PAGE_SZ));
	EXPECT_FALSE(kmig_pte_present(self->mem + m * PAGE_SZ));

	/* A fault on a present page maps its window. */
	EXPECT_EQ(buf[0], self->mem[n * PAGE_SZ]);
	EXPECT_TRUE(kmig_pte_present(self->mem + m * PAGE_SZ));
}

TEST_F(missing, many_threads_on_one_page_all_wake_and_report_once)
{
	struct toucher t[NTHREADS] = {};
	struct kmig_fault rec[NTHREADS];
	struct kmig_ctx_stats st;
	uint64_t page = 5;
	int i;

	for (i = 0; i < NTHREADS; i++)
		toucher_start(&t[i], self->mem + 5 * PAGE_SZ + i, i & 1);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, NTHREADS, 5000));
	ASSERT_EQ(1, read(self->ffd, rec, sizeof(rec)) / sizeof(rec[0]));
	EXPECT_EQ(5, rec[0].page);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO, &page,
				    NULL, NULL, 1, NULL));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i].thread, NULL);
	for (i = 0; i < NTHREADS; i++)
		EXPECT_EQ(i & 1 ? 0x77 : 0, self->mem[5 * PAGE_SZ + i]);
	kmig_stats(self->fd, &st);
	EXPECT_EQ(1, st.faults);
	EXPECT_EQ(1, st.installed_zero);
}

TEST_F(missing, many_threads_on_many_pages_batched_install)
{
	static uint8_t buf[NTHREADS * PAGE_SZ];
	struct toucher t[NTHREADS] = {};
	struct kmig_fault rec[NTHREADS];
	uint64_t pages[NTHREADS];
	uint8_t status[NTHREADS];
	uint32_t done;
	int i;

	for (i = 0; i < NTHREADS; i++)
		toucher_start(&t[i], self->mem + (10 + 2 * i) * PAGE_SZ, true);
	/* All blocked: one read returns every record. */
	ASSERT_TRUE(kmig_wait_waiters(self->fd, NTHREADS, 5000));
	ASSERT_EQ(sizeof(rec), read(self->ffd, rec, sizeof(rec)));
	for (i = 0; i < NTHREADS; i++) {
		EXPECT_EQ(KMIG_FAULT_WRITE, rec[i].flags);
		EXPECT_EQ(0, (rec[i].page - 10) % 2);
		pages[i] = rec[i].page;
	}
	ASSERT_TRUE(kmig_wait_waiters(self->fd, NTHREADS, 5000));
	fill(buf, NTHREADS, 9);
	memset(status, 0xee, sizeof(status));
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, pages, buf, status,
				    NTHREADS, &done));
	EXPECT_EQ(NTHREADS, done);
	for (i = 0; i < NTHREADS; i++)
		EXPECT_EQ(KMIG_INSTALL_DONE, status[i]);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i].thread, NULL);
	for (i = 0; i < NTHREADS; i++) {
		uint8_t *p = self->mem + pages[i] * PAGE_SZ;

		EXPECT_EQ(0x77, p[0]);
		EXPECT_EQ(0, memcmp(p + 1, buf + i * PAGE_SZ + 1,
				    PAGE_SZ - 1));
	}
}

TEST_F(missing, install_of_a_present_page_reports_and_keeps_it)
{
	static uint8_t buf[2 * PAGE_SZ];
	struct kmig_ctx_stats st;
	uint64_t pages[2] = { 20, 21 };
	uint8_t status[2], b = 0x42;
	uint32_t done;

	ASSERT_EQ(1, pwrite(self->fd, &b, 1,
			    KMIG_SLOT_OFFSET(1) + 20 * PAGE_SZ));
	fill(buf, 2, 1);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, pages, buf, status, 2,
				    &done));
	EXPECT_EQ(1, done);
	EXPECT_EQ(KMIG_INSTALL_PRESENT, status[0]);
	EXPECT_EQ(KMIG_INSTALL_DONE, status[1]);
	EXPECT_EQ(0x42, self->mem[20 * PAGE_SZ]);
	EXPECT_EQ(0, self->mem[20 * PAGE_SZ + 1]);
	EXPECT_EQ(0, memcmp(self->mem + 21 * PAGE_SZ, buf + PAGE_SZ,
			    PAGE_SZ));
	kmig_stats(self->fd, &st);
	/* Nobody faulted: both installs were background ones. */
	EXPECT_EQ(2, st.installed_background);
	EXPECT_EQ(0, st.faults);
}

/* The agent writing a missing page with pwrite installs it too. */
TEST_F(missing, pwrite_installs_and_wakes)
{
	struct toucher t = {};
	struct kmig_fault rec;
	char small[8];

	toucher_start(&t, self->mem + 60 * PAGE_SZ + 3, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(-1, read(self->ffd, small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(4, pwrite(self->fd, "abcd", 4,
			    KMIG_SLOT_OFFSET(1) + 60 * PAGE_SZ));
	pthread_join(t.thread, NULL);
	EXPECT_EQ('d', t.value);
}

TEST_F(missing, install_bad_arguments)
{
	uint64_t page = NPAGES;
	uint32_t done;
	struct kmig_install a = { .slot = 1, .flags = 1U << 7 };

	EXPECT_EQ(-EINVAL, __kmig_install(self->fd, 1, 0, &page, NULL, NULL,
					  1, NULL));
	EXPECT_EQ(-ENOENT, __kmig_install(self->fd, 2, 0, &page, NULL, NULL,
					  1, NULL));
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_INSTALL, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 0;
	a.count = KMIG_INSTALL_MAX + 1;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_INSTALL, &a));
	EXPECT_EQ(EINVAL, errno);
	page = 0;
	EXPECT_EQ(-EFAULT, __kmig_install(self->fd, 1, 0, &page,
					  (void *)8, NULL, 1, NULL));
	/* No buffer is not zeros. */
	EXPECT_EQ(-EFAULT, __kmig_install(self->fd, 1, 0, &page, NULL, NULL,
					  1, &done));
	EXPECT_EQ(0, done);
	/* A second server is refused while the first is attached. */
	EXPECT_EQ(-EBUSY, __kmig_fault_fd(self->fd, 0));
	EXPECT_EQ(-EINVAL, __kmig_fault_fd(self->fd, 1U << 5));
}

TEST_F(missing, install_checks_the_whole_batch_first_and_takes_any_source)
{
	static uint8_t buf[3 * PAGE_SZ];
	uint64_t batch[3] = { 2, 4, NPAGES };
	struct kmig_ctx_stats st;
	uint32_t done = 7;

	fill(buf, 3, 4);
	/* A page past the slot anywhere in the batch: nothing installed. */
	EXPECT_EQ(-EINVAL, __kmig_install(self->fd, 1, 0, batch, buf, NULL,
					  3, &done));
	EXPECT_EQ(0, done);
	kmig_stats(self->fd, &st);
	EXPECT_EQ(0, st.installed_copy);

	/* The source is bytes: an unaligned one is copied as it is. */
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, batch, buf + 1, NULL, 2,
				    &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(0, memcmp(self->mem + 2 * PAGE_SZ, buf + 1, PAGE_SZ));
	EXPECT_EQ(0, memcmp(self->mem + 4 * PAGE_SZ, buf + 1 + PAGE_SZ,
			    PAGE_SZ));
	kmig_stats(self->fd, &st);
	EXPECT_EQ(2, st.installed_copy);
	EXPECT_EQ(0, st.faults);
}

TEST_F(missing, wake_only_refaults_and_keeps_waiting)
{
	struct kmig_range r = { .slot = 1, .first_page = 30, .num_pages = 1 };
	struct pollfd pfd = { .fd = self->ffd, .events = POLLIN };
	struct toucher t = {};
	struct kmig_fault rec;
	uint64_t page = 30;

	toucher_start(&t, self->mem + 30 * PAGE_SZ, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(0, ioctl(self->fd, KMIG_WAKE, &r));
	usleep(20000);
	/* Still absent: the thread is back waiting, not reported again. */
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	r.num_pages = NPAGES;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_WAKE, &r));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO, &page,
				    NULL, NULL, 1, NULL));
	pthread_join(t.thread, NULL);
}

/* A range of a normal slot can be put in missing mode. */
TEST_F(missing, missing_range_of_a_normal_slot)
{
	struct kmig_range r = { .slot = 2, .first_page = 4, .num_pages = 4 };
	struct toucher t = {};
	struct kmig_fault rec;
	uint64_t page = 6;
	uint8_t *p;

	kmig_set_memslot(self->fd, 2, 0, SIZE, 8 * PAGE_SZ);
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_MISSING, &r));
	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	p[0] = 1;
	p[3 * PAGE_SZ] = 1;
	toucher_start(&t, p + 6 * PAGE_SZ, true);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(2, rec.slot);
	EXPECT_EQ(6, rec.page);
	ASSERT_EQ(0, __kmig_install(self->fd, 2, KMIG_INSTALL_ZERO, &page,
				    NULL, NULL, 1, NULL));
	pthread_join(t.thread, NULL);
	EXPECT_EQ(0x77, p[6 * PAGE_SZ]);
	munmap(p, 8 * PAGE_SZ);
	r.num_pages = 5;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_SET_MISSING, &r));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * A page faulted in (zero-filled) before its range is put in missing mode
 * would keep its zeros: a later install finds it present. So a range is
 * put in missing mode only while its slot is not mapped, when no fault can
 * fill a page; pages written before (pwrite) stay as they are.
 */
TEST_F(missing, set_missing_is_refused_while_the_slot_is_mapped)
{
	struct kmig_range r = { .slot = 2, .first_page = 0, .num_pages = 8 };
	static uint8_t buf[PAGE_SZ];
	struct toucher t = {};
	struct kmig_fault rec;
	uint64_t page = 5;
	uint8_t status;
	uint8_t *p;

	kmig_set_memslot(self->fd, 2, 0, SIZE, 8 * PAGE_SZ);
	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	EXPECT_EQ(0, p[5 * PAGE_SZ]);
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_SET_MISSING, &r));
	EXPECT_EQ(EBUSY, errno);
	fill(buf, 1, 3);
	EXPECT_EQ(0, __kmig_install(self->fd, 2, 0, &page, buf, &status, 1,
				    NULL));
	EXPECT_EQ(KMIG_INSTALL_PRESENT, status);
	munmap(p, 8 * PAGE_SZ);

	/* Unmapped: allowed; the page written before keeps its data. */
	ASSERT_EQ(1, pwrite(self->fd, "w", 1, KMIG_SLOT_OFFSET(2) + PAGE_SZ));
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_MISSING, &r));
	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	EXPECT_EQ('w', p[PAGE_SZ]);
	toucher_start(&t, p + 6 * PAGE_SZ, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(6, rec.page);
	page = 6;
	ASSERT_EQ(0, __kmig_install(self->fd, 2, 0, &page, buf, &status, 1,
				    NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[0], t.value);
	munmap(p, 8 * PAGE_SZ);
}

/*
 * A postcopy destination's stale pages (received, then dirtied on the
 * source) are discarded into missing mode, so the guest's first touch
 * fetches them: their memory returns, a logging slot logs them, and the
 * pages kept and outside the range stay.
 */
TEST_F(missing, set_missing_discard_makes_stale_pages_missing)
{
	struct kmig_range r = { .slot = 2, .flags = KMIG_SET_MISSING_DISCARD,
				.first_page = 2, .num_pages = 4 };
	static uint8_t buf[PAGE_SZ];
	uint64_t log, before, page = 3;
	struct toucher t = {};
	struct kmig_fault rec;
	uint8_t *p;
	int i;

	kmig_set_memslot(self->fd, 2, KMIG_SLOT_DIRTY_LOG, SIZE, 8 * PAGE_SZ);
	for (i = 1; i < 4; i++)
		ASSERT_EQ(1, pwrite(self->fd, "s", 1,
				    KMIG_SLOT_OFFSET(2) + i * PAGE_SZ));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 2,
				  KMIG_DIRTY_LOG_CLEAR, 0, 8, &log));
	EXPECT_EQ(0xe, log);
	before = kmig_ctx_pages(self->fd);

	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_SET_MISSING, &r));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ('s', p[2 * PAGE_SZ]);
	munmap(p, 8 * PAGE_SZ);
	r.flags = KMIG_SET_MISSING_DISCARD << 1;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_SET_MISSING, &r));
	EXPECT_EQ(EINVAL, errno);
	r.flags = KMIG_SET_MISSING_DISCARD;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_WAKE, &r));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_MISSING, &r));
	EXPECT_EQ(before - 2, kmig_ctx_pages(self->fd));
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_DIRTY_LOG, 2,
				  KMIG_DIRTY_LOG_CLEAR, 0, 8, &log));
	EXPECT_EQ(0xc, log);

	p = kmig_map(self->fd, 2, 8 * PAGE_SZ);
	EXPECT_EQ('s', p[PAGE_SZ]);
	EXPECT_EQ(0, p[7 * PAGE_SZ]);
	toucher_start(&t, p + 3 * PAGE_SZ, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(2, rec.slot);
	EXPECT_EQ(3, rec.page);
	fill(buf, 1, 9);
	ASSERT_EQ(0, __kmig_install(self->fd, 2, 0, &page, buf, NULL, 1,
				    NULL));
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[0], t.value);
	munmap(p, 8 * PAGE_SZ);
}

/*
 * The status of page 1 cannot be written (PROT_NONE): the install fails
 * with EFAULT, but page 1 is installed and its waiter must wake; so must a
 * retry that finds the page present.
 */
TEST_F(missing, install_wakes_even_if_the_status_cannot_be_written)
{
	struct kmig_range r = { .slot = 1, .first_page = 25, .num_pages = 1 };
	static uint8_t buf[2 * PAGE_SZ];
	uint64_t pages[2] = { 24, 25 };
	struct toucher t = {};
	struct kmig_fault rec;
	uint8_t *st;
	uint32_t done;

	st = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	ASSERT_EQ(0, mprotect(st + PAGE_SZ, PAGE_SZ, PROT_NONE));
	toucher_start(&t, self->mem + 25 * PAGE_SZ + 1, false);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));

	fill(buf, 2, 4);
	EXPECT_EQ(-EFAULT, __kmig_install(self->fd, 1, 0, pages, buf,
					  st + PAGE_SZ - 1, 2, &done));
	EXPECT_EQ(2, done);
	EXPECT_TRUE(kmig_wait_waiters(self->fd, 0, 2000))
		TH_LOG("the waiter of the page whose status faulted sleeps on");
	EXPECT_EQ(0, __kmig_install(self->fd, 1, 0, pages, buf, st, 2,
				    &done));
	EXPECT_EQ(0, done);
	EXPECT_EQ(KMIG_INSTALL_PRESENT, st[0]);
	EXPECT_EQ(KMIG_INSTALL_PRESENT, st[1]);
	EXPECT_TRUE(kmig_wait_waiters(self->fd, 0, 2000))
		TH_LOG("a retried install that finds the page present wakes nobody");

	/* Whatever happened, let the thread go. */
	ASSERT_EQ(0, ioctl(self->fd, KMIG_WAKE, &r));
	pthread_join(t.thread, NULL);
	EXPECT_EQ(buf[PAGE_SZ + 1], t.value);
	munmap(st, 2 * PAGE_SZ);
}

/*
 * A read of the fault fd into memory it cannot write fails with EFAULT
 * and loses nothing: the records it took go back to the queue, and the
 * next read reports them (else their waiters would sleep on, unreported).
 */
TEST_F(missing, fault_read_into_a_bad_buffer_loses_no_record)
{
	struct kmig_fault recs[2];
	struct toucher t[2] = {};
	uint64_t pages[2] = { 30, 31 };
	uint8_t *ro;
	int i;

	ro = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	toucher_start(&t[0], self->mem + 30 * PAGE_SZ, false);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	toucher_start(&t[1], self->mem + 31 * PAGE_SZ, false);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 2, 2000));

	EXPECT_EQ(-1, read(self->ffd, ro, sizeof(recs)));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(2, kmig_read_faults(self->ffd, recs, 2))
		TH_LOG("the records of the failed read are lost");
	for (i = 0; i < 2; i++)
		EXPECT_EQ(pages[i], recs[i].page) TH_LOG("order kept");

	ASSERT_EQ(0, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO, pages,
				    NULL, NULL, 2, NULL));
	for (i = 0; i < 2; i++)
		pthread_join(t[i].thread, NULL);
	munmap(ro, PAGE_SZ);
}

/* The kernel touching memory for the process (read(2) into it) blocks too. */
TEST_F(missing, kernel_access_on_behalf_of_the_process_blocks)
{
	struct kmig_fault rec;
	uint64_t page = 40;
	int pfd[2];
	pid_t pid;
	int status;

	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(5, write(pfd[1], "hello", 5));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(self->ffd);
		_exit(read(pfd[0], self->mem + 40 * PAGE_SZ + 1, 5) == 5 ?
		      0 : 1);
	}
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(40, rec.page);
	EXPECT_EQ(KMIG_FAULT_WRITE, rec.flags);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO, &page,
				    NULL, NULL, 1, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, memcmp(self->mem + 40 * PAGE_SZ + 1, "hello", 5));
	close(pfd[0]);
	close(pfd[1]);
}

TEST_HARNESS_MAIN
