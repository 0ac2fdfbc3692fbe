/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPUID a guest on kmig memory may see. Header-only, so the selftests
 * check a real guest against the very filter kmig-vmm applies.
 */
#ifndef KMIG_VMM_CPUID_H
#define KMIG_VMM_CPUID_H

#include <linux/kvm.h>

#define CPUID_1_ECX_VMX		(1u << 5)
#define CPUID_80000001_ECX_SVM	(1u << 2)

/*
 * No nested virtualization: while an L2 guest runs, KVM writes L1 pages
 * (vmcs12, the virtual-APIC page, the posted-interrupt descriptor) through
 * kvm_vcpu_map() and logs them only in its own dirty log, never in kmig's.
 * A guest without VMX and SVM cannot run an L2. See design.rst.
 */
static inline void vmm_cpuid_hide_nested(struct kvm_cpuid2 *c)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1)
			c->entries[i].ecx &= ~CPUID_1_ECX_VMX;
		if (c->entries[i].function == 0x80000001)
			c->entries[i].ecx &= ~CPUID_80000001_ECX_SVM;
	}
}

#endif /* KMIG_VMM_CPUID_H */
