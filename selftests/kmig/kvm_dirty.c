// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging with a real KVM guest whose RAM is a kmig slot: round after
 * round the guest writes a random set of pages, and kmig's bitmap for the
 * slot equals KVM_GET_DIRTY_LOG for the same slot (and the set the guest
 * was told to write). A write KVM makes itself, through a kernel mapping
 * (kvmclock, enabled by an MSR), is caught as well, and restarting the log
 * leaves it empty however much the guest wrote before. Writes KVM makes
 * for a nested guest are logged nowhere but in KVM: a guest on kmig memory
 * gets no VMX or SVM from kmig-vmm's CPUID.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <asm/kvm_para.h>

#include "cpuid.h"
#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"

#define GUEST_PAGES	64
#define GUEST_SIZE	(GUEST_PAGES * PAGE_SZ)
#define CODE_PAGE	1		/* code at 0x1000, page list at 0x1800 */
#define LIST		0x1800
#define PORT		0x10
#define ROUNDS		25
#define CLOCK_PAGE	40

/*
 * Real mode, at 0x1000, forever: for each segment in the list at 0x1800
 * (a count, then segments), write bl to es:0; then inc bl and exit to the
 * host with out 0x10.
 *	mov si, 0x1800; lodsw; mov cx, ax
 * n:	lodsw; mov es, ax; mov [es:0], bl; loop n
 *	inc bl; out 0x10, al; jmp 0x1000
 */
static const uint8_t guest_code[] = {
	0xbe, 0x00, 0x18,
	0xad,
	0x89, 0xc1,
	0xad,
	0x8e, 0xc0,
	0x26, 0x88, 0x1e, 0x00, 0x00,
	0xe2, 0xf6,
	0xfe, 0xc3,
	0xe6, PORT,
	0xeb, 0xea,
};

FIXTURE(kvm_dirty) {
	struct vm vm;
	struct vcpu vcpu;
	int fd;
	uint8_t *mem;
	uint8_t round;
};

FIXTURE_SETUP(kvm_dirty)
{
	int ret;

	ret = __vm_create(&self->vm);
	if (ret == -ENOENT && !getenv("KMIG_BED"))
		SKIP(return, "no /dev/kvm on this machine");
	ASSERT_EQ(0, ret);
	ASSERT_TRUE(kmig_objects_zero());

	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG, 0, GUEST_SIZE);
	self->mem = kmig_map(self->fd, 0, GUEST_SIZE);
	memcpy(self->mem + CODE_PAGE * PAGE_SZ, guest_code,
	       sizeof(guest_code));
	vm_set_memslot(&self->vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0, GUEST_SIZE,
		       self->mem);
	vcpu_create(&self->vcpu, &self->vm, CODE_PAGE * PAGE_SZ);
}

FIXTURE_TEARDOWN(kvm_dirty)
{
	if (!self->mem)
		return;
	vcpu_destroy(&self->vcpu);
	vm_destroy(&self->vm);
	munmap(self->mem, GUEST_SIZE);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

static uint64_t kvm_log(struct vm *vm)
{
	uint64_t bm = 0;
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = &bm };

	KVM_ASSERT(!ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log),
		   "KVM_GET_DIRTY_LOG");
	return bm;
}

static uint64_t kmig_log(int fd)
{
	uint64_t bm = 0;
	int ret = __kmig_dirty(fd, KMIG_GET_DIRTY_LOG, 0, KMIG_DIRTY_LOG_CLEAR,
			       0, 0, &bm);

	errno = -ret;
	KVM_ASSERT(!ret, "KMIG_GET_DIRTY_LOG");
	return bm;
}

/* Tell the guest which pages to write, and run it once round. */
static uint64_t guest_round(struct __test_metadata *_metadata,
			    FIXTURE_DATA(kvm_dirty) *self, unsigned int seed)
{
	uint16_t *list = (uint16_t *)(self->mem + LIST);
	int n = 1 + rand_r(&seed) % 40, i;
	uint64_t want = 0;
	unsigned int page;

	list[0] = n;
	for (i = 1; i <= n; i++) {
		page = 2 + rand_r(&seed) % (GUEST_PAGES - 2);
		if (page == CLOCK_PAGE)
			page++;
		list[i] = page * PAGE_SZ / 16;
		want |= 1ULL << page;
	}
	EXPECT_EQ(KVM_EXIT_IO, vcpu_run(&self->vcpu));
	EXPECT_EQ(PORT, self->vcpu.run->io.port);
	for (page = 0; page < GUEST_PAGES; page++)
		if (want >> page & 1)
			EXPECT_EQ(self->round, self->mem[page * PAGE_SZ]);
	self->round++;
	return want;
}

TEST_F(kvm_dirty, bitmap_equals_kvm_dirty_log_every_round)
{
	/*
	 * The host writes the page list into the code page each round: kmig
	 * logs that; KVM 6.1 logs the page too, 6.12 does not. Left out.
	 */
	const uint64_t host = 1ULL << CODE_PAGE;
	uint64_t want, kvm, kmig;
	int r;

	guest_round(_metadata, self, 1);
	kvm_log(&self->vm);
	kmig_log(self->fd);

	for (r = 0; r < ROUNDS; r++) {
		want = guest_round(_metadata, self, 100 + r);
		kvm = kvm_log(&self->vm);
		kmig = kmig_log(self->fd);
		EXPECT_EQ(kvm & ~host, kmig & ~host)
			TH_LOG("round %d: kvm %#llx kmig %#llx", r,
			       (unsigned long long)kvm,
			       (unsigned long long)kmig);
		EXPECT_EQ(want, kvm & ~host);
		EXPECT_TRUE(kmig & host);
	}
}

/*
 * kvmclock: KVM writes the guest's pvclock page itself, through a kernel
 * mapping of it (a pfn cache), never through a user PTE.
 */
TEST_F(kvm_dirty, kvmclock_write_by_kvm_is_caught)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = {
		.hdr.nmsrs = 1,
		.e.index = MSR_KVM_SYSTEM_TIME_NEW,
		.e.data = CLOCK_PAGE * PAGE_SZ | 1,
	};
	uint64_t kvm, kmig, want;
	uint32_t version;

	guest_round(_metadata, self, 1);
	kvm_log(&self->vm);
	kmig_log(self->fd);

	ASSERT_EQ(1, ioctl(self->vcpu.fd, KVM_SET_MSRS, &msrs));
	want = guest_round(_metadata, self, 7);
	kvm = kvm_log(&self->vm);
	kmig = kmig_log(self->fd);
	memcpy(&version, self->mem + CLOCK_PAGE * PAGE_SZ, 4);
	TH_LOG("kvm %#llx kmig %#llx, pvclock version %u",
	       (unsigned long long)kvm, (unsigned long long)kmig, version);
	EXPECT_NE(0, version);
	EXPECT_TRUE(kvm >> CLOCK_PAGE & 1);
	EXPECT_TRUE(kmig >> CLOCK_PAGE & 1);
	EXPECT_EQ(want | 1ULL << CLOCK_PAGE, kmig & ~(1ULL << CODE_PAGE));

	/* Later rounds still match, clock updates included. */
	for (int r = 0; r < 5; r++) {
		msrs.e.data = CLOCK_PAGE * PAGE_SZ | 1;
		if (r & 1)
			ASSERT_EQ(1, ioctl(self->vcpu.fd, KVM_SET_MSRS, &msrs));
		guest_round(_metadata, self, 50 + r);
		kvm = kvm_log(&self->vm);
		kmig = kmig_log(self->fd);
		EXPECT_EQ(kvm & ~(1ULL << CODE_PAGE),
			  kmig & ~(1ULL << CODE_PAGE))
			TH_LOG("round %d: kvm %#llx kmig %#llx", r,
			       (unsigned long long)kvm,
			       (unsigned long long)kmig);
	}
}

/*
 * A restart of logging write-protects the slot, and KVM, dropping the
 * guest's writable SPTEs, marks every page it had written PG_dirty: none
 * of that may show in the new log, or a migration sends the guest's whole
 * working set twice.
 */
TEST_F(kvm_dirty, restarted_log_starts_empty)
{
	struct kmig_dirty_logging on = {
		.slot = 0, .flags = KMIG_DIRTY_LOGGING_ON,
	};
	uint64_t want, kmig;

	want = guest_round(_metadata, self, 3);
	want |= guest_round(_metadata, self, 4);
	ASSERT_NE(0, want);
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &on));
	EXPECT_EQ(0, kmig_log(self->fd));

	want = guest_round(_metadata, self, 5);
	kmig = kmig_log(self->fd);
	EXPECT_EQ(want, kmig & ~(1ULL << CODE_PAGE))
		TH_LOG("kmig %#llx, guest wrote %#llx",
		       (unsigned long long)kmig, (unsigned long long)want);
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned int n;

	for (n = 64; n <= 4096; n *= 2) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		KVM_ASSERT(c, "calloc");
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		KVM_ASSERT(errno == E2BIG, "KVM_GET_SUPPORTED_CPUID");
		free(c);
	}
	KVM_ASSERT(0, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

static bool offers_nested(const struct kvm_cpuid2 *c)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1 &&
		    c->entries[i].ecx & CPUID_1_ECX_VMX)
			return true;
		if (c->entries[i].function == 0x80000001 &&
		    c->entries[i].ecx & CPUID_80000001_ECX_SVM)
			return true;
	}
	return false;
}

#define CPUID_CODE	0x3000
#define CPUID_OUT	0x2000

/*
 * Real mode, at 0x3000: store ECX of CPUID leaves 1 and 0x80000001 at
 * 0x2000 and 0x2004, then out 0x10.
 *	mov eax, 1; cpuid; mov [0x2000], ecx
 *	mov eax, 0x80000001; cpuid; mov [0x2004], ecx
 *	out 0x10, al; hlt
 */
static const uint8_t cpuid_code[] = {
	0x66, 0xb8, 0x01, 0x00, 0x00, 0x00,
	0x0f, 0xa2,
	0x66, 0x89, 0x0e, 0x00, 0x20,
	0x66, 0xb8, 0x01, 0x00, 0x00, 0x80,
	0x0f, 0xa2,
	0x66, 0x89, 0x0e, 0x04, 0x20,
	0xe6, PORT,
	0xf4,
};

/*
 * While an L2 guest runs, KVM writes L1 pages (vmcs12, the virtual-APIC
 * page, the posted-interrupt descriptor) through kernel mappings that
 * only KVM's own dirty log records. kmig-vmm hides VMX and SVM, so a
 * guest on kmig memory never runs one. On the bed KVM offers nested SVM:
 * the filter is what keeps it from the guest.
 */
TEST_F(kvm_dirty, guest_sees_no_nested_virtualization)
{
	struct kvm_regs regs = { .rip = CPUID_CODE, .rflags = 2 };
	struct kvm_cpuid2 *c = supported_cpuid(self->vm.kvm_fd);
	uint32_t ecx1, ecx8;

	TH_LOG("KVM offers %s", offers_nested(c) ? "VMX or SVM" :
		"no nested virtualization");
	if (getenv("KMIG_BED"))
		EXPECT_TRUE(offers_nested(c));
	vmm_cpuid_hide_nested(c);
	ASSERT_EQ(0, ioctl(self->vcpu.fd, KVM_SET_CPUID2, c));
	free(c);

	memcpy(self->mem + CPUID_CODE, cpuid_code, sizeof(cpuid_code));
	vcpu_set_regs(&self->vcpu, &regs);
	ASSERT_EQ(KVM_EXIT_IO, vcpu_run(&self->vcpu));
	ASSERT_EQ(PORT, self->vcpu.run->io.port);
	memcpy(&ecx1, self->mem + CPUID_OUT, 4);
	memcpy(&ecx8, self->mem + CPUID_OUT + 4, 4);
	TH_LOG("guest CPUID.1:ECX %#x, CPUID.80000001h:ECX %#x", ecx1, ecx8);
	EXPECT_NE(0, ecx1);
	EXPECT_EQ(0, ecx1 & CPUID_1_ECX_VMX);
	EXPECT_EQ(0, ecx8 & CPUID_80000001_ECX_SVM);
}

TEST_HARNESS_MAIN
