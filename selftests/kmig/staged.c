// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy postcopy install (KMIG_FEATURE_STAGED_INSTALL): the agent
 * writes an absent missing-mode page through a staging view and
 * KMIG_INSTALL_STAGED hands that very page over. Until then the page is
 * absent to everyone else: the guest view neither maps it nor reads it,
 * pread reads zeros, the present bitmap has no bit for it, a fault on it
 * waits and is woken by the install with the agent's bytes; afterwards
 * the staging view can no longer reach it. Every bad input has its error
 * or status; a hole punched over a staged page is refused, a discard
 * drops it; a staging view closed with pages staged leaves them staged,
 * and a context closed with pages staged frees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "kvmlog.h"

#define NPAGES	64
#define SIZE	(NPAGES * PAGE_SZ)
#define PUNCH	(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

FIXTURE(staged) {
	int fd, ffd;
	int sfd;		/* the staging view */
	uint8_t *guest;		/* a guest view of slot 1 */
	uint8_t *stage;		/* a staging view of slot 1 */
};

/*
 * A mapping of @size bytes of @slot through view @fd, 2 MiB aligned so
 * that fault-around windows (aligned in the address space) are aligned
 * in the slot too; NULL on failure.
 */
static void *map_view(int fd, uint32_t slot, uint64_t size)
{
	const size_t align = 2UL << 20;
	uint8_t *area, *p;

	area = mmap(NULL, size + align, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)area + align - 1) & ~(align - 1));
	if (p > area)
		munmap(area, p - area);
	munmap(p + size, area + align - p);
	if (mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 KMIG_SLOT_OFFSET(slot)) != p) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

FIXTURE_SETUP(staged)
{
	int g;

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	/* Logged by KVM, as a guest view needs; logging stays stopped. */
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_MISSING | KMIG_SLOT_DIRTY_LOG |
			 KMIG_SLOT_KVM_LOG, 0, SIZE);
	g = kmig_view(self->fd, KMIG_VIEW_GUEST);
	ASSERT_LE(0, g);
	self->guest = map_view(g, 1, SIZE);
	close(g);
	ASSERT_NE(NULL, self->guest);
	self->sfd = kmig_view(self->fd, KMIG_VIEW_STAGING);
	ASSERT_LE(0, self->sfd);
	self->stage = map_view(self->sfd, 1, SIZE);
	ASSERT_NE(NULL, self->stage);
	self->ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, self->ffd);
}

FIXTURE_TEARDOWN(staged)
{
	if (self->stage)
		munmap(self->stage, SIZE);
	if (self->guest)
		munmap(self->guest, SIZE);
	if (self->sfd >= 0)
		close(self->sfd);
	if (self->ffd >= 0)
		close(self->ffd);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

/* The byte the agent writes at offset @o of page @p. */
static uint8_t byte_of(uint64_t p, size_t o)
{
	return (uint8_t)(p * 13 + o / 8 + 1);
}

/* Write page @p's bytes through the staging view at @stage. */
static void stage_page(uint8_t *stage, uint64_t p)
{
	for (size_t o = 0; o < PAGE_SZ; o++)
		stage[p * PAGE_SZ + o] = byte_of(p, o);
}

/* Whether @mem holds page @p's bytes. */
static bool holds_page(const uint8_t *mem, uint64_t p)
{
	for (size_t o = 0; o < PAGE_SZ; o++)
		if (mem[o] != byte_of(p, o))
			return false;
	return true;
}

static bool all_zero(const uint8_t *mem, size_t len)
{
	while (len--)
		if (*mem++)
			return false;
	return true;
}

/* KMIG_INSTALL_STAGED of @n pages: 0 or -errno, statuses in @status. */
static int install_staged(int fd, uint32_t slot, const uint64_t *pages,
			  uint8_t *status, uint32_t n, uint32_t *installed)
{
	return __kmig_install(fd, slot, KMIG_INSTALL_STAGED, pages, NULL,
			      status, n, installed);
}

/* The signal a child dies of touching @p (writing if @write), or 0. */
static int touch_in_child(volatile uint8_t *p, bool write)
{
	int status;
	pid_t pid = fork();

	if (!pid) {
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/*
 * Whether page @p of slot @slot, of @npages (at most 64), is in the
 * present bitmap.
 */
static bool present_bit_of(int fd, uint32_t slot, uint64_t npages,
			   uint64_t p)
{
	uint64_t bm[1] = {};

	if (__kmig_dirty(fd, KMIG_GET_PRESENT_BITMAP, slot, 0, 0, npages, bm))
		return true;	/* fails the caller's check either way */
	return bm_bit(bm, p);
}

static bool present_bit(int fd, uint32_t slot, uint64_t p)
{
	return present_bit_of(fd, slot, NPAGES, p);
}

struct reader {
	pthread_t thread;
	volatile uint8_t *addr;
	uint8_t copy[PAGE_SZ];
};

static void *read_page(void *arg)
{
	struct reader *r = arg;

	memcpy(r->copy, (const void *)r->addr, PAGE_SZ);
	return NULL;
}

TEST_F(staged, written_pages_reach_the_guest_only_at_install)
{
	static uint8_t buf[PAGE_SZ];
	struct kmig_ctx_stats st;
	struct reader r = { .addr = self->guest + 3 * PAGE_SZ };
	struct kmig_fault rec;
	uint64_t page = 3;
	uint32_t installed;
	uint8_t status;

	stage_page(self->stage, 3);
	/* Staged, not installed: absent to pread and the present bitmap. */
	ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ,
				 KMIG_SLOT_OFFSET(1) + 3 * PAGE_SZ));
	EXPECT_TRUE(all_zero(buf, PAGE_SZ));
	EXPECT_FALSE(present_bit(self->fd, 1, 3));
	EXPECT_FALSE(kmig_pte_present(self->guest + 3 * PAGE_SZ));

	/* A guest access waits for it, reported once. */
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, read_page, &r));
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(1, rec.slot);
	EXPECT_EQ(3, rec.page);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	usleep(20000);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 0));

	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1,
				    &installed));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
	EXPECT_EQ(1, installed);
	pthread_join(r.thread, NULL);
	EXPECT_TRUE(holds_page(r.copy, 3));
	EXPECT_TRUE(holds_page(self->guest + 3 * PAGE_SZ, 3));
	ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ,
				 KMIG_SLOT_OFFSET(1) + 3 * PAGE_SZ));
	EXPECT_TRUE(holds_page(buf, 3));
	EXPECT_TRUE(present_bit(self->fd, 1, 3));
	kmig_stats(self->fd, &st);
	EXPECT_EQ(1, st.faults);
	EXPECT_EQ(1, st.installed_copy);
	EXPECT_EQ(0, st.installed_background);
	EXPECT_EQ(0, st.waiters);

	/* Handed over: the staging view reaches it no more. */
	EXPECT_FALSE(kmig_pte_present(self->stage + 3 * PAGE_SZ));
	EXPECT_EQ(SIGBUS, touch_in_child(self->stage + 3 * PAGE_SZ, true));
	EXPECT_EQ(SIGBUS, touch_in_child(self->stage + 3 * PAGE_SZ, false));
	/* Installed twice: present. */
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1,
				    &installed));
	EXPECT_EQ(KMIG_INSTALL_PRESENT, status);
	EXPECT_EQ(0, installed);
}

/* What the agent means to do: recv() from its socket into the page. */
TEST_F(staged, a_page_received_in_place_is_installed)
{
	uint8_t *src = malloc(2 * PAGE_SZ);
	uint64_t pages[2] = { 41, 40 };
	uint32_t installed;
	uint8_t status[2];
	int sv[2];

	ASSERT_NE(NULL, src);
	for (size_t o = 0; o < PAGE_SZ; o++) {
		src[o] = byte_of(40, o);
		src[PAGE_SZ + o] = byte_of(41, o);
	}
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(2 * PAGE_SZ, write(sv[0], src, 2 * PAGE_SZ));
	ASSERT_EQ(2 * PAGE_SZ, recv(sv[1], self->stage + 40 * PAGE_SZ,
				    2 * PAGE_SZ, MSG_WAITALL));
	close(sv[0]);
	close(sv[1]);
	free(src);
	ASSERT_EQ(0, install_staged(self->fd, 1, pages, status, 2,
				    &installed));
	EXPECT_EQ(2, installed);
	EXPECT_EQ(KMIG_INSTALL_DONE, status[0]);
	EXPECT_EQ(KMIG_INSTALL_DONE, status[1]);
	EXPECT_TRUE(holds_page(self->guest + 40 * PAGE_SZ, 40));
	EXPECT_TRUE(holds_page(self->guest + 41 * PAGE_SZ, 41));
}

/*
 * One call hands over runs of consecutive pages together (64 at most a
 * run): a batch of the whole slot, one page in it never staged and one
 * present already, then two pages of it again, each page with its own
 * status; a thread blocked on a page of the batch wakes with its bytes.
 */
TEST_F(staged, a_batch_of_the_whole_slot_gets_one_status_a_page)
{
	struct reader r = { .addr = self->guest + 45 * PAGE_SZ };
	uint64_t pages[NPAGES + 2], bm[1] = {};
	static uint8_t buf[PAGE_SZ];
	uint8_t status[NPAGES + 2];
	struct kmig_fault rec;
	uint32_t installed;
	uint64_t p;

	for (p = 0; p < NPAGES; p++) {
		pages[p] = p;
		if (p != 10 && p != 30)
			stage_page(self->stage, p);
	}
	pages[NPAGES] = NPAGES - 1;
	pages[NPAGES + 1] = 0;
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &pages[30], buf, NULL, 1,
				    NULL));
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, read_page, &r));
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(45, rec.page);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));

	ASSERT_EQ(0, install_staged(self->fd, 1, pages, status, NPAGES + 2,
				    &installed));
	EXPECT_EQ(NPAGES - 2, installed);
	for (p = 0; p < NPAGES + 2; p++) {
		uint8_t want = p == 10 ? KMIG_INSTALL_NOT_STAGED :
			       p == 30 || p >= NPAGES ? KMIG_INSTALL_PRESENT :
			       KMIG_INSTALL_DONE;

		EXPECT_EQ(want, status[p]) TH_LOG("entry %llu",
						  (unsigned long long)p);
	}
	pthread_join(r.thread, NULL);
	EXPECT_TRUE(holds_page(r.copy, 45));
	for (p = 0; p < NPAGES; p++) {
		if (p == 10 || p == 30)
			continue;
		EXPECT_TRUE(holds_page(self->guest + p * PAGE_SZ, p))
			TH_LOG("page %llu", (unsigned long long)p);
		EXPECT_FALSE(kmig_pte_present(self->stage + p * PAGE_SZ));
	}
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 1, 0, 0,
				  NPAGES, bm));
	EXPECT_EQ(~(1ULL << 10), bm[0]);
}

/*
 * Fault-around maps the guest view's cached neighbours of a faulting
 * page without asking kmig: it must skip the staged ones. Pages 16 to 31
 * are one fault-around window (64 KiB, the default); 16 and 20 are
 * installed by copy, the others staged. A read of 16 maps 20 (the
 * window was looked at) and no staged page.
 */
TEST_F(staged, the_guest_view_never_maps_a_staged_page)
{
	static uint8_t buf[2 * PAGE_SZ];
	uint64_t pages[2] = { 16, 20 };
	uint64_t bm[1] = {};
	uint64_t p;

	for (p = 16; p < 32; p++)
		if (p != 16 && p != 20)
			stage_page(self->stage, p);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, pages, buf, NULL, 2,
				    NULL));
	EXPECT_EQ(0x5a, self->guest[16 * PAGE_SZ]);
	EXPECT_TRUE(kmig_pte_present(self->guest + 16 * PAGE_SZ));
	EXPECT_TRUE(kmig_pte_present(self->guest + 20 * PAGE_SZ));
	for (p = 16; p < 32; p++) {
		if (p == 16 || p == 20)
			continue;
		EXPECT_FALSE(kmig_pte_present(self->guest + p * PAGE_SZ))
			TH_LOG("page %llu mapped", (unsigned long long)p);
		EXPECT_TRUE(kmig_pte_present(self->stage + p * PAGE_SZ));
	}
	ASSERT_EQ(0, __kmig_dirty(self->fd, KMIG_GET_PRESENT_BITMAP, 1, 0, 0,
				  NPAGES, bm));
	EXPECT_EQ(1ULL << 16 | 1ULL << 20, bm[0]);
	/* The whole window by pread: zeros but for the two pages. */
	for (p = 17; p < 32; p++) {
		ASSERT_EQ(PAGE_SZ, pread(self->fd, buf, PAGE_SZ,
					 KMIG_SLOT_OFFSET(1) + p * PAGE_SZ));
		EXPECT_EQ(p == 20, !all_zero(buf, PAGE_SZ));
	}
}

TEST_F(staged, bad_input_gets_its_error)
{
	static uint8_t buf[PAGE_SZ];
	uint64_t pages[4] = { 5, 6, 7, NPAGES };
	uint32_t installed = 99;
	uint8_t status[4];
	struct kmig_view v = {
		.flags = KMIG_VIEW_STAGING | KMIG_VIEW_TRACKED,
	};
	uint8_t *other;
	int sfd2;

	/* The view kind alone. */
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_VIEW_FD, &v));
	EXPECT_EQ(EINVAL, errno);

	stage_page(self->stage, 7);
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &pages[1], buf, NULL, 1,
				    NULL));
	/* STAGED takes no buffer and no ZERO; flags unknown; no slot. */
	EXPECT_EQ(-EINVAL, __kmig_install(self->fd, 1, KMIG_INSTALL_STAGED,
					  &pages[2], buf, NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, __kmig_install(self->fd, 1, KMIG_INSTALL_STAGED |
					  KMIG_INSTALL_ZERO, &pages[2], NULL,
					  NULL, 1, NULL));
	EXPECT_EQ(-EINVAL, __kmig_install(self->fd, 1, 1 << 2, &pages[2],
					  NULL, NULL, 1, NULL));
	EXPECT_EQ(-ENOENT, install_staged(self->fd, 9, &pages[2], NULL, 1,
					  NULL));
	/* A page past the slot fails the call before any page is touched. */
	EXPECT_EQ(-EINVAL, install_staged(self->fd, 1, pages, status, 4,
					  &installed));
	EXPECT_EQ(0, installed);
	EXPECT_FALSE(present_bit(self->fd, 1, 7));

	/* Not staged, present, staged: one status each. */
	ASSERT_EQ(0, install_staged(self->fd, 1, pages, status, 3,
				    &installed));
	EXPECT_EQ(1, installed);
	EXPECT_EQ(KMIG_INSTALL_NOT_STAGED, status[0]);
	EXPECT_EQ(KMIG_INSTALL_PRESENT, status[1]);
	EXPECT_EQ(KMIG_INSTALL_DONE, status[2]);
	EXPECT_FALSE(present_bit(self->fd, 1, 5));
	EXPECT_TRUE(holds_page(self->guest + 7 * PAGE_SZ, 7));

	/* A staged page is installed by STAGED alone: copy, zero, pwrite. */
	stage_page(self->stage, 9);
	pages[0] = 9;
	EXPECT_EQ(-EBUSY, __kmig_install(self->fd, 1, 0, pages, buf, NULL, 1,
					 &installed));
	EXPECT_EQ(0, installed);
	EXPECT_EQ(-EBUSY, __kmig_install(self->fd, 1, KMIG_INSTALL_ZERO, pages,
					 NULL, NULL, 1, NULL));
	EXPECT_EQ(-1, pwrite(self->fd, buf, 16,
			     KMIG_SLOT_OFFSET(1) + 9 * PAGE_SZ + 8));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, install_staged(self->fd, 1, pages, status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status[0]);
	EXPECT_TRUE(holds_page(self->guest + 9 * PAGE_SZ, 9));

	/* The staging view maps only absent missing-mode pages. */
	EXPECT_EQ(SIGBUS, touch_in_child(self->stage + 6 * PAGE_SZ, false));
	EXPECT_EQ(SIGBUS, touch_in_child(self->stage + 6 * PAGE_SZ, true));
	kmig_set_memslot(self->fd, 2, 0, SIZE, 4 * PAGE_SZ);
	sfd2 = kmig_view(self->fd, KMIG_VIEW_STAGING);
	ASSERT_LE(0, sfd2);
	other = map_view(sfd2, 2, 4 * PAGE_SZ);
	close(sfd2);
	ASSERT_NE(NULL, other);
	EXPECT_EQ(SIGBUS, touch_in_child(other, true));
	EXPECT_EQ(SIGBUS, touch_in_child(other + PAGE_SZ, false));
	munmap(other, 4 * PAGE_SZ);
	/* Nothing was cached for those faults. */
	EXPECT_FALSE(present_bit_of(self->fd, 2, 4, 0));
	pages[0] = 0;
	ASSERT_EQ(0, install_staged(self->fd, 2, pages, status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_NOT_STAGED, status[0]);
}

/*
 * A hole punched over a staged page is refused, like one over any page
 * a fault may be waiting for; KMIG_SET_MISSING_DISCARD drops it, its
 * memory with it, and the page is staged afresh, zeroed.
 */
TEST_F(staged, punch_and_discard_of_a_staged_page)
{
	struct kmig_range r = { .slot = 1, .flags = KMIG_SET_MISSING_DISCARD,
				.first_page = 10, .num_pages = 2 };
	struct kmig_ctx_stats before, after;
	uint64_t page = 4;
	uint8_t status;

	stage_page(self->stage, 4);
	EXPECT_EQ(-1, fallocate(self->sfd, PUNCH,
				KMIG_SLOT_OFFSET(1) + 4 * PAGE_SZ,
				2 * PAGE_SZ));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(-1, madvise(self->stage + 4 * PAGE_SZ, PAGE_SZ,
			      MADV_REMOVE));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_TRUE(holds_page(self->stage + 4 * PAGE_SZ, 4));
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
	EXPECT_TRUE(holds_page(self->guest + 4 * PAGE_SZ, 4));
	/* Present now: punched like any page, it reads zeros. */
	ASSERT_EQ(0, fallocate(self->sfd, PUNCH,
			       KMIG_SLOT_OFFSET(1) + 4 * PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(0, self->guest[4 * PAGE_SZ + 100]);

	/* Discard: only while the slot is unmapped. */
	stage_page(self->stage, 10);
	kmig_stats(self->fd, &before);
	munmap(self->stage, SIZE);
	munmap(self->guest, SIZE);
	self->guest = NULL;
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_MISSING, &r));
	kmig_stats(self->fd, &after);
	EXPECT_EQ(before.pages - 1, after.pages);
	page = 10;
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_NOT_STAGED, status);
	self->stage = map_view(self->sfd, 1, SIZE);
	ASSERT_NE(NULL, self->stage);
	EXPECT_TRUE(all_zero(self->stage + 10 * PAGE_SZ, PAGE_SZ));
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
}

/*
 * A staged page belongs to the slot, not to the view: unmapped and
 * closed, the view leaves it staged for the install. Pages still staged
 * when the context closes are freed with it (the teardown counts them).
 */
TEST_F(staged, closing_the_staging_view_keeps_what_it_staged)
{
	uint64_t page = 12;
	struct reader r = { .addr = self->guest + 13 * PAGE_SZ };
	struct kmig_fault rec;
	uint8_t status;

	stage_page(self->stage, 12);
	stage_page(self->stage, 13);
	stage_page(self->stage, 50);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, read_page, &r));
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(13, rec.page);
	munmap(self->stage, SIZE);
	self->stage = NULL;
	close(self->sfd);
	self->sfd = -1;
	/* The reader woke at the unmap, and waits again. */
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
	EXPECT_TRUE(holds_page(self->guest + 12 * PAGE_SZ, 12));
	page = 13;
	ASSERT_EQ(0, install_staged(self->fd, 1, &page, &status, 1, NULL));
	EXPECT_EQ(KMIG_INSTALL_DONE, status);
	pthread_join(r.thread, NULL);
	EXPECT_TRUE(holds_page(r.copy, 13));
	/* Page 50 stays staged until the context goes. */
	EXPECT_FALSE(present_bit(self->fd, 1, 50));
}

TEST_HARNESS_MAIN
