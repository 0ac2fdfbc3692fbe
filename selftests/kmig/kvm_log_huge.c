// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_SLOT_HUGE slots logged by KVM (memory-model.rst): the guest view
 * is mapped with PMDs while the tracked view logs every write it lets
 * through, 4 KiB grained; a real guest on such a slot is mapped 2 MiB by
 * KVM except while kmig logs, and its writes harvest exactly the pages
 * they hit. The provider is this thread (lib/logprov.h) or KVM's own log
 * (lib/kvmlog.h). The uapi of KVM_LOG slots: kvm_log.c.
 */
#include <errno.h>
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
#include "ctx.h"
#include "kvm.h"
#include "kvmlog.h"
#include "logprov.h"
#include "proc.h"

/* The huge slot: two 2 MiB folios. */
#define HUGE_SZ	(2UL << 20)
#define HPAGES	(2 * HUGE_SZ / PAGE_SZ)
#define HWORDS	(HPAGES / 64)

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
	struct log_call c;
	unsigned int i;
	int pfd = log_start_logging(self->fd);

	ASSERT_LE(0, pfd);
	v = self->tracked[0];
	(void)v;
	for (i = 0; i < 4; i++)
		self->tracked[written[i] * PAGE_SZ] = 1;
	/* Two whole folios, from two faults. */
	EXPECT_EQ(HPAGES, kmig_ctx_pages(self->fd));
	ASSERT_EQ(0, log_harvest_answered(self->fd, pfd, NULL, &c, HWORDS));
	for (i = 0; i < 4; i++)
		EXPECT_TRUE(bm_bit(c.bm, written[i])) TH_LOG("page %u",
							  written[i]);
	TH_LOG("tracked writes logged: %d pages for 4 written",
	       bm_count(c.bm, HWORDS));
	/* Where the core keeps PTEs, the log is 4 KiB granular. */
	if (pmd_honours_nohugepage()) {
		EXPECT_EQ(4, bm_count(c.bm, HWORDS));
		EXPECT_EQ(0, kmig_pmd_kb(self->tracked));
	}

	/* Re-armed: writes after the harvest are logged too. */
	self->tracked[7 * PAGE_SZ] = 2;
	self->tracked[(512 + 301) * PAGE_SZ] = 2;
	ASSERT_EQ(0, log_harvest_answered(self->fd, pfd, NULL, &c, HWORDS));
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
	EXPECT_EQ(2 * HUGE_SZ / 1024, kmig_pmd_kb(self->guest));
	EXPECT_EQ(HPAGES, kmig_ctx_pages(self->fd));
	close(pfd);
}

/*
 * The agent's writable map of a huge slot (kmig_ctx_map_huge(), the
 * destination's): 2 MiB aligned, MADV_HUGEPAGE, so the first write to a
 * folio maps all of it with one writable PMD, on 6.12 too. The write then
 * logs the whole folio: over-reporting, never losing, and again after the
 * harvest's re-arm.
 */
TEST_F(kvm_log_huge, huge_map_writes_2m_and_logs_whole_folios)
{
	uint8_t *m = kmig_ctx_map_huge(self->fd, 0, HPAGES * PAGE_SZ,
				       PROT_READ | PROT_WRITE);
	struct log_call c;
	unsigned int i;
	int pfd = log_start_logging(self->fd);

	ASSERT_LE(0, pfd);
	ASSERT_NE(NULL, m);
	EXPECT_EQ(0, (uintptr_t)m % HUGE_SZ);
	m[3 * PAGE_SZ] = 1;
	m[(512 + 300) * PAGE_SZ] = 1;
	EXPECT_EQ(HPAGES, kmig_ctx_pages(self->fd));
	EXPECT_EQ(2 * HUGE_SZ / 1024, kmig_pmd_kb(m));
	ASSERT_EQ(0, log_harvest_answered(self->fd, pfd, NULL, &c, HWORDS));
	EXPECT_EQ(HPAGES, bm_count(c.bm, HWORDS));

	/* Re-armed: the PMDs went, a write maps and logs its folio again
	 * (and the harvest takes its PMD away again). */
	m[7 * PAGE_SZ] = 2;
	EXPECT_EQ(HUGE_SZ / 1024, kmig_pmd_kb(m));
	ASSERT_EQ(0, log_harvest_answered(self->fd, pfd, NULL, &c, HWORDS));
	EXPECT_EQ(512, bm_count(c.bm, HWORDS));
	for (i = 0; i < 512; i++)
		EXPECT_TRUE(bm_bit(c.bm, i)) TH_LOG("page %u", i);
	/* Every view sees the writes. */
	EXPECT_EQ(2, self->tracked[7 * PAGE_SZ]);
	EXPECT_EQ(1, self->guest[(512 + 300) * PAGE_SZ]);
	ASSERT_EQ(0, log_harvest_answered(self->fd, pfd, NULL, &c, HWORDS));
	EXPECT_EQ(0, bm_count(c.bm, HWORDS));
	munmap(m, HPAGES * PAGE_SZ);
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
	EXPECT_EQ(HPAGES, kmig_ctx_pages(self->fd));
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