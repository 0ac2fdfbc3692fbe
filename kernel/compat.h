/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels kmig supports (6.1 to 7.2), in one place.
 * Code elsewhere uses the newest interface; this header provides it on older
 * kernels.
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/mm.h>
#include <linux/pagemap.h>
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

/* Zap the PTEs of [@addr, @addr + @size) in @vma; 6.3 renamed the export. */
static inline void kmig_zap_vma_range(struct vm_area_struct *vma,
				      unsigned long addr, unsigned long size)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	zap_page_range(vma, addr, size);
#else
	zap_page_range_single(vma, addr, size, NULL);
#endif
}

/*
 * Whether the core may map the large folio of the write fault @vmf with
 * one writable PMD once .page_mkwrite returns: finish_fault() calls
 * do_set_pmd() whenever the PMD is empty, and do_set_pmd() refuses a
 * VM_NOHUGEPAGE VMA only from 6.12 on (before, it checks the VMA's
 * alignment alone), and madvise(MADV_HUGEPAGE) can clear the flag. The
 * fault holds the mmap lock (6.1: file faults have no VMA lock) against
 * anything that would empty the PMD before finish_fault() looks again;
 * on 6.12 the flag, stable under the VMA lock, decides.
 */
static inline bool kmig_fault_may_map_pmd(struct vm_fault *vmf)
{
	if (!pmd_none(READ_ONCE(*vmf->pmd)))
		return false;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	if (vmf->vma->vm_flags & VM_NOHUGEPAGE)
		return false;
#endif
	return true;
}

/*
 * The folio at @index of @mapping, referenced, or NULL if there is none:
 * 6.3 made __filemap_get_folio() return ERR_PTR(-ENOENT) instead of NULL.
 */
static inline struct folio *kmig_filemap_lookup(struct address_space *mapping,
						pgoff_t index)
{
	struct folio *folio = filemap_get_folio(mapping, index);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	if (IS_ERR(folio))
		return NULL;
#endif
	return folio;
}

/*
 * Whether a writer may hold @folio (cached in kmig's mapping: not
 * anonymous, no swap cache, no PG_private; referenced @held times by the
 * caller) for a write that has not landed yet. 6.12's O_DIRECT pins its
 * pages (FOLL_PIN, BIO_PAGE_PINNED): folio_maybe_dma_pinned(). 6.1's
 * takes plain references (FOLL_GET, put_page() at completion), so there
 * any reference beyond the cache's (one per page), the page tables' (one
 * per PTE or PMD mapping), the caller's and a per-CPU LRU batch's (a
 * folio not on the LRU may sit in one) counts; it sees a pin too, so
 * every kernel before 6.6 uses it. A false positive costs a resend. On
 * 6.1 a file folio's PMD mappings are counted in each page's _mapcount
 * as well as in the entire count: subtracted for all pages but one.
 * folio_mapcount() is not exported there; a large folio costs one read
 * per page, and only when its count exceeds what a folio mapped nowhere
 * would hold.
 */
static inline bool kmig_folio_maybe_pinned(struct folio *folio, int held)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return folio_maybe_dma_pinned(folio);
#else
	long nr = folio_nr_pages(folio), i, maps;
	long base = nr + held + !folio_test_lru(folio);
	long refs = folio_ref_count(folio);

	if (refs <= base)
		return false;
	if (!folio_test_large(folio))
		return refs > base + atomic_read(&folio->_mapcount) + 1;
	maps = (long)folio_entire_mapcount(folio) * (1 - nr);
	for (i = 0; i < nr; i++)
		maps += atomic_read(&folio_page(folio, i)->_mapcount) + 1;
	return refs > base + maps;
#endif
}

/*
 * The address_space_operations member that memory failure calls on a
 * poisoned page-cache folio took a page until 6.8, a folio since; so did
 * the generic one that removes the folio from the cache.
 */
int kmig_error_remove_folio(struct address_space *mapping,
			    struct folio *folio);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
static inline int kmig_error_remove_page(struct address_space *mapping,
					 struct page *page)
{
	return kmig_error_remove_folio(mapping, page_folio(page));
}

static inline int generic_error_remove_folio(struct address_space *mapping,
					     struct folio *folio)
{
	return generic_error_remove_page(mapping, &folio->page);
}

#define KMIG_AOPS_ERROR_REMOVE	.error_remove_page = kmig_error_remove_page
#else
#define KMIG_AOPS_ERROR_REMOVE	.error_remove_folio = kmig_error_remove_folio
#endif

#ifdef CONFIG_NUMA
/*
 * vm_operations_struct.get_policy: 6.7 added the interleave index, which
 * kmig leaves at 0 (the core adds the page offset for interleaving).
 * kmig_policy_get() is in policy.c.
 */
struct mempolicy *kmig_policy_get(struct vm_area_struct *vma);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline struct mempolicy *kmig_vm_get_policy(struct vm_area_struct *vma,
						   unsigned long addr)
{
	return kmig_policy_get(vma);
}
#else
static inline struct mempolicy *kmig_vm_get_policy(struct vm_area_struct *vma,
						   unsigned long addr,
						   pgoff_t *ilx)
{
	return kmig_policy_get(vma);
}
#endif
#endif

/*
 * Multicast groups got a permission flag in 6.7, backported to 6.1.66:
 * without it the "events" group would be open to every user.
 */
#if defined(__NET_GENERIC_NETLINK_H) && !defined(GENL_MCAST_CAP_NET_ADMIN)
#error "kmig needs GENL_MCAST_CAP_NET_ADMIN (Linux 6.1.66, 6.6.5, 6.7 or later)"
#endif

#endif /* _KMIG_COMPAT_H */
