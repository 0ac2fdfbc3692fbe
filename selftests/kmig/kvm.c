// SPDX-License-Identifier: GPL-2.0
/*
 * A real KVM guest runs on this machine: one memslot, one vCPU in real mode
 * that writes a byte to an I/O port and halts. Every later KVM test stands
 * on this one; on the test bed it must run, not skip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "kvm.h"

#define GUEST_SIZE	0x10000
#define GUEST_ENTRY	0x1000
#define GUEST_PORT	0x10

TEST(guest_runs_to_hlt)
{
	/* mov al, 0x42; out 0x10, al; hlt */
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, GUEST_PORT, 0xf4 };
	struct vcpu vcpu;
	struct vm vm;
	uint8_t *mem;
	int ret;

	ret = __vm_create(&vm);
	if (ret == -ENOENT && !getenv("KMIG_BED"))
		SKIP(return, "no /dev/kvm on this machine");
	ASSERT_EQ(0, ret);

	mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memcpy(mem + GUEST_ENTRY, code, sizeof(code));
	vm_set_memslot(&vm, 0, 0, 0, GUEST_SIZE, mem);
	vcpu_create(&vcpu, &vm, GUEST_ENTRY);

	ASSERT_EQ(KVM_EXIT_IO, vcpu_run(&vcpu));
	EXPECT_EQ(KVM_EXIT_IO_OUT, vcpu.run->io.direction);
	EXPECT_EQ(GUEST_PORT, vcpu.run->io.port);
	EXPECT_EQ(1, vcpu.run->io.size);
	EXPECT_EQ(0x42, *((uint8_t *)vcpu.run + vcpu.run->io.data_offset));

	ASSERT_EQ(KVM_EXIT_HLT, vcpu_run(&vcpu));

	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	munmap(mem, GUEST_SIZE);
}

TEST_HARNESS_MAIN
