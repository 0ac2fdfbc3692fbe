/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal KVM library for kmig's selftests, in the style of the kernel's
 * KVM selftests: vm_*() and vcpu_*() helpers that assert success, and
 * __vm_*() variants that return -errno for tests that expect failure.
 */
#ifndef KMIG_TEST_KVM_H
#define KMIG_TEST_KVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

struct vm {
	int kvm_fd;
	int fd;
	size_t run_size;
};

struct vcpu {
	struct vm *vm;
	int fd;
	struct kvm_run *run;
};

/* 0, or -errno when this machine has no usable KVM. */
int __vm_create(struct vm *vm);
int kvm_usable(void);

/*
 * In a kselftest_harness test: skip without KVM, except in the test bed,
 * where KVM must work.
 */
#define REQUIRE_KVM()							\
	do {								\
		int __r = kvm_usable();					\
		if (__r && !getenv("KMIG_BED"))				\
			SKIP(return, "no usable KVM on this machine (%s)", \
			     strerror(-__r));				\
		ASSERT_EQ(0, __r);					\
	} while (0)
void vm_create(struct vm *vm);
void vm_destroy(struct vm *vm);

int __vm_set_memslot(struct vm *vm, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, void *hva);
void vm_set_memslot(struct vm *vm, uint32_t slot, uint32_t flags,
		    uint64_t gpa, uint64_t size, void *hva);

/* A vCPU in real mode, flat segments, starting at @rip. */
void vcpu_create(struct vcpu *vcpu, struct vm *vm, uint64_t rip);
void vcpu_destroy(struct vcpu *vcpu);
/*
 * Switch a vCPU to 32-bit protected mode with flat 4 GiB segments and no
 * paging, so guest code can address all memory below 4 GiB directly.
 */
void vcpu_set_flat32(struct vcpu *vcpu);
void vcpu_set_regs(struct vcpu *vcpu, const struct kvm_regs *regs);
/* KVM_RUN once; returns the exit reason. */
uint32_t vcpu_run(struct vcpu *vcpu);

/* Abort the test with file, line and errno when @cond is false. */
#define KVM_ASSERT(cond, fmt, ...)					\
	do {								\
		if (!(cond))						\
			kvm_fail(__FILE__, __LINE__, #cond, fmt,	\
				 ##__VA_ARGS__);			\
	} while (0)

void kvm_fail(const char *file, int line, const char *cond,
	      const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

#endif /* KMIG_TEST_KVM_H */
