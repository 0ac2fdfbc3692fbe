/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels kmig supports (6.1 to 6.12), in one place.
 * Code elsewhere uses the newest interface; this header provides it on older
 * kernels.
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
/* 6.3 made vm_flags read-only outside these helpers. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
/* Before per-VMA locks reached file faults, a fault held the mmap lock. */
static inline void release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

/*
 * Write-protect the user PTEs of a file range, with the MMU notifier call
 * and TLB flush. 6.15 has mapping_wrprotect_range(); before, kernels with
 * CONFIG_MAPPING_DIRTY_HELPERS (x86 distributions: DRM_VMWGFX selects it)
 * export wp_shared_mapping_range(). Without either, zap the PTEs: the next
 * access faults them in again, which costs more but re-arms as well.
 */
#if IS_ENABLED(CONFIG_MAPPING_DIRTY_HELPERS)
static inline void kmig_wrprotect_range(struct address_space *mapping,
					pgoff_t first, pgoff_t nr)
{
	wp_shared_mapping_range(mapping, first, nr);
}
#else
static inline void kmig_wrprotect_range(struct address_space *mapping,
					pgoff_t first, pgoff_t nr)
{
	unmap_mapping_range(mapping, (loff_t)first << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
}
#endif

/*
 * Multicast groups got a permission flag in 6.7, backported to 6.1.66:
 * without it the "events" group would be open to every user.
 */
#if defined(__NET_GENERIC_NETLINK_H) && !defined(GENL_MCAST_CAP_NET_ADMIN)
#error "kmig needs GENL_MCAST_CAP_NET_ADMIN (Linux 6.1.66, 6.6.5, 6.7 or later)"
#endif

#endif /* _KMIG_COMPAT_H */
