// SPDX-License-Identifier: GPL-2.0
/*
 * The VM: KVM fds, in-kernel irqchip (so the LAPIC state is KVM's and can
 * be saved), memory slots, the payload and its parameter page, and the
 * vCPUs in 32-bit protected mode at the payload's entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpuid.h"
#include "vmm.h"

extern const uint8_t vmm_payload[], vmm_payload_end[];

static int set_slots(struct vmm *vmm)
{
	struct kvm_userspace_memory_region r;
	unsigned int i;

	for (i = 0; i < vmm->mem.nslots; i++) {
		r = (struct kvm_userspace_memory_region) {
			.slot = vmm->mem.slot[i].id,
			.guest_phys_addr = vmm->mem.slot[i].gpa,
			.memory_size = vmm->mem.slot[i].size,
			.userspace_addr =
				(uintptr_t)vmm_mem_kvm_hva(&vmm->mem.slot[i]),
		};
		if (ioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
			return -errno;
	}
	return 0;
}

static int load_payload(struct vmm *vmm, const struct vmm_config *cfg)
{
	size_t len = vmm_payload_end - vmm_payload;
	struct guest_params *p;
	void *code;
	unsigned int i;

	code = vmm_mem_hva(&vmm->mem, GUEST_CODE_GPA, GUEST_CODE_MAX);
	p = vmm_mem_hva(&vmm->mem, GUEST_PARAMS_GPA, sizeof(*p));
	if (!code || !p || len > GUEST_CODE_MAX)
		return -EINVAL;
	memcpy(code, vmm_payload, len);
	memset(p, 0, sizeof(*p));
	p->magic = GUEST_PARAMS_MAGIC;
	p->nvcpus = cfg->nvcpus;
	p->ws_pages = (cfg->mem_size - GUEST_WS_GPA) / GUEST_PAGE_SIZE;
	p->pattern = cfg->pattern;
	p->batch = cfg->batch;
	p->hot_pages = cfg->hot_pages;
	p->net_every = cfg->net_if ? cfg->net_every : 0;
	p->net_frame = GUEST_NET_GPA;
	for (i = 0; i < GUEST_MAX_VCPUS; i++)
		p->vcpu[i].seed = 0x9e3779b9u * (i + 1);
	vmm->params = p;
	vmm->ws_pages = p->ws_pages;
	return 0;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned int n;

	for (n = 64; n <= 4096; n *= 2) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static int vcpu_setup(struct vmm_vcpu *v,
		      struct kvm_cpuid2 *cpuid)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_regs regs = {
		.rip = GUEST_CODE_GPA, .rax = v->index, .rflags = 2,
	};
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	unsigned int i;

	for (i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 1) {
			cpuid->entries[i].ebx &= 0x00ffffff;
			cpuid->entries[i].ebx |= v->index << 24;
		}
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) ||
	    ioctl(v->fd, KVM_GET_SREGS, &sregs))
		return -errno;
	data.selector = 16;
	data.type = 3;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr.type = 11;
	sregs.tr.present = 1;
	sregs.tr.limit = 0xffff;
	sregs.cr0 = 0x11;		/* PE, ET; paging off */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) ||
	    ioctl(v->fd, KVM_SET_REGS, &regs) ||
	    ioctl(v->fd, KVM_SET_MP_STATE, &mp))
		return -errno;
	return 0;
}

static int vcpu_create(struct vmm *vmm, unsigned int i,
		       struct kvm_cpuid2 *cpuid)
{
	struct vmm_vcpu *v = &vmm->vcpu[i];
	int ret;

	v->vmm = vmm;
	v->index = i;
	v->fd = ioctl(vmm->vm_fd, KVM_CREATE_VCPU, i);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, vmm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		goto err_mmap;
	}
	ret = vcpu_setup(v, cpuid);
	if (!ret)
		ret = vmm_dring_map(vmm, v);
	if (ret)
		goto err_setup;
	return 0;

err_setup:
	munmap(v->run, vmm->run_size);
err_mmap:
	close(v->fd);
	return ret;
}

static int vcpus_create(struct vmm *vmm)
{
	struct kvm_cpuid2 *cpuid = supported_cpuid(vmm->kvm_fd);
	unsigned int i;
	int ret = 0;

	if (!cpuid)
		return errno ? -errno : -ENOMEM;
	vmm_cpuid_hide_nested(cpuid);
	for (i = 0; i < vmm->nvcpus; i++) {
		ret = vcpu_create(vmm, i, cpuid);
		if (ret)
			break;
	}
	free(cpuid);
	if (!ret)
		return 0;
	while (i--) {
		vmm_dring_unmap(vmm, &vmm->vcpu[i]);
		munmap(vmm->vcpu[i].run, vmm->run_size);
		close(vmm->vcpu[i].fd);
	}
	return ret;
}

int vmm_vm_create(struct vmm *vmm, const struct vmm_config *cfg)
{
	int ret, n;

	vmm->nvcpus = cfg->nvcpus;
	vmm->rate = cfg->rate;
	vmm->dring_entries = cfg->dring_entries;
	vmm->state = cfg->incoming ? VMM_INCOMING : VMM_PAUSED;
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_cond_init(&vmm->cond, NULL);

	vmm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm->kvm_fd < 0)
		return -errno;
	ret = -ENOTSUP;
	if (ioctl(vmm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		goto err_kvm;
	n = ioctl(vmm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vmm->vm_fd = ioctl(vmm->kvm_fd, KVM_CREATE_VM, 0);
	if (n <= 0 || vmm->vm_fd < 0) {
		ret = -errno;
		goto err_kvm;
	}
	vmm->run_size = n;
	if (ioctl(vmm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) ||
	    ioctl(vmm->vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		ret = -errno;
		goto err_vm;
	}
	ret = vmm_mem_create(&vmm->mem, cfg->backend, cfg->mem_size,
			     cfg->nslots,
			     (cfg->kvm_log ? VMM_MEM_KVM_LOG : 0) |
			     (cfg->huge ? VMM_MEM_HUGE : 0));
	if (ret)
		goto err_vm;
	ret = set_slots(vmm);
	if (!ret && cfg->kvm_log)
		ret = vmm_kvmlog_start(vmm);
	if (!ret)
		ret = load_payload(vmm, cfg);
	if (!ret)
		ret = vcpus_create(vmm);
	if (ret)
		goto err_mem;
	return 0;

err_mem:
	vmm_kvmlog_stop(vmm);
	vmm_mem_destroy(&vmm->mem);
err_vm:
	close(vmm->vm_fd);
err_kvm:
	close(vmm->kvm_fd);
	return ret;
}

void vmm_vm_destroy(struct vmm *vmm)
{
	unsigned int i;

	vmm_kvmlog_stop(vmm);		/* its thread reaps the rings */
	for (i = 0; i < vmm->nvcpus; i++) {
		vmm_dring_unmap(vmm, &vmm->vcpu[i]);
		munmap(vmm->vcpu[i].run, vmm->run_size);
		close(vmm->vcpu[i].fd);
	}
	free(vmm->msrs);
	vmm_mem_destroy(&vmm->mem);
	close(vmm->vm_fd);
	close(vmm->kvm_fd);
}
