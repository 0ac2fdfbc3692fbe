// SPDX-License-Identifier: GPL-2.0
/*
 * Guest pages: allocation, the shared mapping (fault, page_mkwrite), and
 * pread/pwrite on the context fd.
 *
 * Pages are order-0, owned by the module, charged to the memory cgroup of
 * the context's opener and never on the LRU. A slot's page pointer goes from
 * NULL to a page once; the page stays until the slot is freed.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/uio.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

/* A new page, zeroed if @zero; ERR_PTR(-ENOSPC) past the page limit. */
struct page *kmig_page_alloc(struct kmig_ctx *ctx, bool zero)
{
	long limit = atomic_long_read(&ctx->page_limit);
	struct mem_cgroup *old;
	struct page *page;
	gfp_t gfp = GFP_HIGHUSER | __GFP_ACCOUNT;

	if (atomic_long_inc_return(&ctx->nr_pages) > limit && limit) {
		atomic_long_dec(&ctx->nr_pages);
		return ERR_PTR(-ENOSPC);
	}
	if (zero)
		gfp |= __GFP_ZERO;
	old = set_active_memcg(ctx->memcg);
	page = alloc_page(gfp);
	set_active_memcg(old);
	if (!page) {
		atomic_long_dec(&ctx->nr_pages);
		return ERR_PTR(-ENOMEM);
	}
	atomic_long_inc(&kmig_objects.pages);
	return page;
}

void kmig_page_free(struct kmig_ctx *ctx, struct page *page)
{
	put_page(page);
	atomic_long_dec(&ctx->nr_pages);
	atomic_long_dec(&kmig_objects.pages);
}

/*
 * Make @page page @idx of @slot unless one is there already. Returns the
 * page now present; when it is not @page, @page was freed and *@raced set.
 */
struct page *kmig_slot_install(struct kmig_slot *slot, unsigned long idx,
			       struct page *page, bool *raced)
{
	struct page *old;

	old = cmpxchg(&slot->pages[idx], NULL, page);
	*raced = old;
	if (old) {
		kmig_page_free(slot->ctx, page);
		return old;
	}
	return page;
}

/*
 * Install page @idx of @slot: a new page gets @len bytes of @from at @off,
 * zeros elsewhere (all zeros if @from is NULL), and is published unless a
 * page is there already; then it is marked dirty, and a missing-mode page
 * has its request withdrawn, is counted and its waiters are woken (also
 * when it was found present). Returns 1 if installed, 0 if a page was
 * present (@from not advanced), or -errno (ENOSPC, ENOMEM, EFAULT).
 */
int kmig_page_install(struct kmig_slot *slot, unsigned long idx,
		      struct iov_iter *from, size_t off, size_t len)
{
	struct page *page;
	bool raced = true;
	size_t n;

	if (READ_ONCE(slot->pages[idx]))
		goto out;
	page = kmig_page_alloc(slot->ctx, !from || off || len < PAGE_SIZE);
	if (IS_ERR(page))
		return PTR_ERR(page);
	if (from) {
		n = copy_page_from_iter(page, off, len, from);
		if (n < len) {
			iov_iter_revert(from, n);
			kmig_page_free(slot->ctx, page);
			return -EFAULT;
		}
	}
	kmig_slot_install(slot, idx, page, &raced);
	if (raced && from)
		iov_iter_revert(from, len);
	if (!raced)
		kmig_dirty_mark(slot, idx);
out:
	if (test_bit(idx, slot->missing))
		kmig_fault_installed(slot, idx, !raced, !from);
	return !raced;
}

static vm_fault_t kmig_vm_fault(struct vm_fault *vmf)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - slot->pgoff;
	struct page *page;
	vm_fault_t ret;
	bool raced;

	if (idx >= slot->npages)
		return VM_FAULT_SIGBUS;
	page = READ_ONCE(slot->pages[idx]);
	if (!page && test_bit(idx, slot->missing)) {
		ret = kmig_fault_missing(vmf, slot, idx);
		if (ret)
			return ret;
		page = READ_ONCE(slot->pages[idx]);
	}
	if (!page) {
		page = kmig_page_alloc(slot->ctx, true);
		if (IS_ERR(page))
			return PTR_ERR(page) == -ENOMEM ? VM_FAULT_OOM :
							  VM_FAULT_SIGBUS;
		page = kmig_slot_install(slot, idx, page, &raced);
	}
	get_page(page);
	vmf->page = page;
	return 0;
}

/*
 * Every write fault on a kmig page comes here before the core installs a
 * writable PTE (do_shared_fault(), wp_page_shared()): the only way a PTE of
 * a re-armed page gets writable. The page stays locked until that PTE is
 * in; kmig_dirty_mark()'s barrier orders the lock before the bit, for the
 * harvest and the logging restart that wait out locked pages (dirty.c).
 */
static vm_fault_t kmig_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;

	lock_page(vmf->page);
	kmig_dirty_mark(slot, vmf->pgoff - slot->pgoff);
	/* Locked: the core requires it of pages without a mapping. */
	return VM_FAULT_LOCKED;
}

#ifdef CONFIG_NUMA
/* Without MPOL_F_MOF: NUMA balancing leaves kmig's VMAs alone. */
struct mempolicy kmig_no_mof_policy = {
	.refcnt = ATOMIC_INIT(1),
	.mode = MPOL_LOCAL,
	.home_node = NUMA_NO_NODE,
};
#endif

static void kmig_vm_open(struct vm_area_struct *vma)
{
	struct kmig_slot *slot = vma->vm_private_data;

	atomic_inc(&slot->nr_maps);
}

static void kmig_vm_close(struct vm_area_struct *vma)
{
	struct kmig_slot *slot = vma->vm_private_data;

	atomic_dec(&slot->nr_maps);
	kmig_fault_unmapped(slot);
}

/* A tracked view's VMA is also listed for re-arming (view.c). */
static void kmig_vm_tracked_open(struct vm_area_struct *vma)
{
	kmig_vm_open(vma);
	kmig_view_tracked_add(vma);
}

static void kmig_vm_tracked_close(struct vm_area_struct *vma)
{
	kmig_view_tracked_del(vma);
	kmig_vm_close(vma);
}

/* The tracked view: kmig logs writes through .page_mkwrite. */
static const struct vm_operations_struct kmig_vm_ops = {
	.open		= kmig_vm_tracked_open,
	.close		= kmig_vm_tracked_close,
	.fault		= kmig_vm_fault,
	.page_mkwrite	= kmig_vm_page_mkwrite,
#ifdef CONFIG_NUMA
	.get_policy	= kmig_vm_get_policy,
#endif
};

/*
 * The guest view, for KVM memslots of KMIG_SLOT_KVM_LOG slots: no
 * .page_mkwrite, so PTEs are writable from the first fault; KVM logs
 * the vCPUs' writes.
 */
static const struct vm_operations_struct kmig_guest_vm_ops = {
	.open		= kmig_vm_open,
	.close		= kmig_vm_close,
	.fault		= kmig_vm_fault,
#ifdef CONFIG_NUMA
	.get_policy	= kmig_vm_get_policy,
#endif
};

/* The slot at file page offset @pgoff, referenced, and the page index. */
static struct kmig_slot *slot_at(struct kmig_ctx *ctx, u64 pgoff,
				 unsigned long *idx)
{
	const unsigned int shift = KMIG_SLOT_SHIFT - PAGE_SHIFT;
	struct kmig_slot *slot;

	if (pgoff >> shift >= KMIG_MAX_SLOTS)
		return NULL;
	slot = kmig_slot_find(ctx, pgoff >> shift);
	*idx = pgoff & ((1ULL << shift) - 1);
	if (slot && *idx >= slot->npages) {
		kmig_slot_put(slot);
		return NULL;
	}
	return slot;
}

int kmig_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_mem_map(file->private_data, vma, false);
}

/* Map a slot of @ctx at @vma, as a guest view if @guest. */
int kmig_mem_map(struct kmig_ctx *ctx, struct vm_area_struct *vma, bool guest)
{
	const unsigned int shift = KMIG_SLOT_SHIFT - PAGE_SHIFT;
	unsigned long idx = vma->vm_pgoff & ((1UL << shift) - 1);
	u64 id = vma->vm_pgoff >> shift;
	struct kmig_slot *slot;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EOPNOTSUPP;
	/*
	 * Count the mapping under the slot lock: a slot is deleted only
	 * while unmapped, so it lives as long as this VMA.
	 */
	down_read(&ctx->lock);
	slot = id < KMIG_MAX_SLOTS ? xa_load(&ctx->slots, id) : NULL;
	if (!slot || idx >= slot->npages)
		ret = -ENXIO;
	else if (vma_pages(vma) > slot->npages - idx)
		ret = -ERANGE;
	else if (guest && !(slot->flags & KMIG_SLOT_KVM_LOG))
		ret = -EINVAL;	/* nobody would log its writes */
	else if (!atomic_inc_unless_negative(&slot->nr_maps))
		ret = -EBUSY;	/* KMIG_SET_MISSING is at work on it */
	up_read(&ctx->lock);
	if (ret)
		return ret;

	vma->vm_private_data = slot;
	if (!guest) {
		ret = kmig_view_tracked_add(vma);
		if (ret) {
			atomic_dec(&slot->nr_maps);
			return ret;
		}
	}
	vma->vm_ops = guest ? &kmig_guest_vm_ops : &kmig_vm_ops;
	vm_flags_set(vma, VM_DONTEXPAND);
	return 0;
}

/* Copy between a slot's pages and @iter, at most up to the slot end. */
static ssize_t mem_rw(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct kmig_ctx *ctx = iocb->ki_filp->private_data;
	unsigned long idx, off;
	struct kmig_slot *slot;
	ssize_t done = 0;
	size_t len, n;
	struct page *page;
	int ret;

	if (iocb->ki_pos < 0)
		return -ENXIO;
	slot = slot_at(ctx, iocb->ki_pos >> PAGE_SHIFT, &idx);
	if (!slot)
		return -ENXIO;
	off = offset_in_page(iocb->ki_pos);

	while (iov_iter_count(iter) && idx < slot->npages) {
		len = min_t(size_t, PAGE_SIZE - off, iov_iter_count(iter));
		page = READ_ONCE(slot->pages[idx]);
		if (!write) {
			n = page ? copy_page_to_iter(page, off, len, iter) :
				   iov_iter_zero(len, iter);
		} else if (page) {
			n = copy_page_from_iter(page, off, len, iter);
			kmig_dirty_mark(slot, idx);
		} else {
			/* A short copy installs nothing. */
			ret = kmig_page_install(slot, idx, iter, off, len);
			if (ret < 0) {
				if (!done)
					done = ret;
				break;
			}
			if (!ret)	/* a page came meanwhile: write to it */
				continue;
			n = len;
		}
		done += n;
		if (n < len) {
			if (!done)
				done = -EFAULT;
			break;
		}
		off = 0;
		idx++;
	}
	kmig_slot_put(slot);
	if (done > 0)
		iocb->ki_pos += done;
	return done;
}

ssize_t kmig_mem_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return mem_rw(iocb, to, false);
}

ssize_t kmig_mem_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return mem_rw(iocb, from, true);
}
