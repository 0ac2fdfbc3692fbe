// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal KVM library for kmig's selftests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"

void kvm_fail(const char *file, int line, const char *cond,
	      const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "%s:%d: assertion '%s' failed (errno %d: %s): ",
		file, line, cond, err, strerror(err));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int __vm_create(struct vm *vm)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		close(vm->kvm_fd);
		return ret < 0 ? -errno : -EPROTO;
	}
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		ret = -errno;
		close(vm->kvm_fd);
		return ret;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	return 0;
}

int kvm_usable(void)
{
	struct vm vm;
	int ret = __vm_create(&vm);

	if (!ret)
		vm_destroy(&vm);
	return ret;
}

void vm_create(struct vm *vm)
{
	int ret = __vm_create(vm);

	errno = -ret;
	KVM_ASSERT(!ret, "cannot create a VM");
}

void vm_destroy(struct vm *vm)
{
	close(vm->fd);
	close(vm->kvm_fd);
}

int __vm_set_memslot(struct vm *vm, uint32_t slot, uint32_t flags,
		     uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) ? -errno : 0;
}

void vm_set_memslot(struct vm *vm, uint32_t slot, uint32_t flags,
		    uint64_t gpa, uint64_t size, void *hva)
{
	KVM_ASSERT(!__vm_set_memslot(vm, slot, flags, gpa, size, hva),
		   "slot %u at %#llx", slot, (unsigned long long)gpa);
}

void vcpu_create(struct vcpu *vcpu, struct vm *vm, uint64_t rip)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = rip, .rflags = 2 };

	vcpu->vm = vm;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	KVM_ASSERT(vcpu->fd >= 0, "KVM_CREATE_VCPU");
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	KVM_ASSERT(vcpu->run != MAP_FAILED, "mmap kvm_run");

	KVM_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.cs;
	sregs.ds.type = sregs.es.type = sregs.fs.type = 3;
	sregs.gs.type = sregs.ss.type = 3;
	KVM_ASSERT(!ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
	KVM_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, &regs), "KVM_SET_REGS");
}

void vcpu_destroy(struct vcpu *vcpu)
{
	munmap(vcpu->run, vcpu->vm->run_size);
	close(vcpu->fd);
}

void vcpu_set_flat32(struct vcpu *vcpu)
{
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10,
		.type = 3, .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1,
	};
	struct kvm_sregs sregs;

	KVM_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	seg.type = 11;
	seg.selector = 0x08;
	sregs.cs = seg;
	sregs.cr0 |= 1;		/* PE */
	KVM_ASSERT(!ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
}

void vcpu_set_regs(struct vcpu *vcpu, const struct kvm_regs *regs)
{
	KVM_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, regs), "KVM_SET_REGS");
}

uint32_t vcpu_run(struct vcpu *vcpu)
{
	int ret;

	do {
		ret = ioctl(vcpu->fd, KVM_RUN, 0);
	} while (ret && errno == EINTR);
	KVM_ASSERT(!ret, "KVM_RUN");
	return vcpu->run->exit_reason;
}
