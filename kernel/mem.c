// SPDX-License-Identifier: GPL-2.0
/*
 * Guest pages: allocation, install, and the shared mapping (fault,
 * page_mkwrite, the views); discards and pread/pwrite: mem_io.c.
 *
 * Pages are order-0 folios in the page cache of the context's inode
 * (S_IFREG, unevictable), charged to the memory cgroup of the context's
 * opener. Being page cache gives them GUP-fast, fault-around, migration
 * and memory-failure handling through the kernel's own paths.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/uio.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

/*
 * Whether page @idx of @slot is cached, as a present page (@staged false)
 * or a staged one (true); a hint, no reference. The folio's flags are
 * read under RCU: its struct page outlives it.
 */
static bool page_cached(struct kmig_slot *slot, unsigned long idx,
			bool staged)
{
	void *entry;
	bool ret;

	rcu_read_lock();
	entry = xa_load(&kmig_slot_mapping(slot)->i_pages, slot->pgoff + idx);
	ret = entry && !xa_is_value(entry) &&
	      kmig_folio_present(entry) != staged;
	rcu_read_unlock();
	return ret;
}

/* Whether page @idx of @slot is present; a hint, no reference. */
bool kmig_page_present(struct kmig_slot *slot, unsigned long idx)
{
	return page_cached(slot, idx, false);
}

/* Whether memory failure took page @idx of @slot away. */
bool kmig_page_poisoned(struct kmig_slot *slot, unsigned long idx)
{
	return xa_load(&slot->ctx->poison, slot->pgoff + idx);
}

/*
 * The folio holding page @idx of @slot, present or staged, referenced, or
 * NULL if there is none.
 */
static struct folio *folio_lookup(struct kmig_slot *slot, unsigned long idx)
{
	return kmig_filemap_lookup(kmig_slot_mapping(slot), slot->pgoff + idx);
}

/*
 * The folio holding page @idx of @slot, referenced, or NULL if absent
 * (staged pages are). A present folio stays uptodate while referenced.
 */
struct folio *kmig_folio_get(struct kmig_slot *slot, unsigned long idx)
{
	struct folio *folio = folio_lookup(slot, idx);

	if (folio && !kmig_folio_present(folio)) {
		folio_put(folio);
		return NULL;
	}
	return folio;
}

/*
 * A new folio of @order for page @idx of @slot (its first page), faulted
 * through @vmf or written (NULL), on the node its NUMA policy decides
 * (policy.c), zeroed if @zero, counted against the page limit until
 * folio_add() caches it; ERR_PTR(-ENOSPC) past the limit. The limit
 * counts cached pages and those being added, so it is never exceeded.
 * A huge folio is only tried: no retry, no warning.
 */
static struct folio *folio_new(struct kmig_slot *slot, unsigned long idx,
			       unsigned int order, struct vm_fault *vmf,
			       bool zero)
{
	struct kmig_ctx *ctx = slot->ctx;
	long limit = atomic_long_read(&ctx->page_limit);
	gfp_t gfp = GFP_HIGHUSER_MOVABLE;
	long nr = 1L << order;
	struct folio *folio;
	long n = atomic_long_add_return(nr, &ctx->allocating);

	if (limit && n + kmig_ctx_pages(ctx) > limit) {
		atomic_long_sub(nr, &ctx->allocating);
		return ERR_PTR(-ENOSPC);
	}
	if (zero)
		gfp |= __GFP_ZERO;
	if (order)
		gfp |= __GFP_NORETRY | __GFP_NOWARN;
	folio = kmig_policy_alloc(slot, idx, order, vmf, gfp);
	if (!folio) {
		atomic_long_sub(nr, &ctx->allocating);
		return ERR_PTR(-ENOMEM);
	}
	return folio;
}

/* Free a folio of folio_new() that never reached the cache. */
static void folio_drop(struct kmig_ctx *ctx, struct folio *folio)
{
	atomic_long_sub(folio_nr_pages(folio), &ctx->allocating);
	folio_put(folio);
}

/*
 * Cache @folio as pages @idx on of @slot, charged to the context's memory
 * cgroup. Returns 0 with @folio locked (the caller's reference is still
 * the caller's), -EEXIST if a page of its range is there already, or
 * -ENOMEM; on failure @folio is freed.
 */
static int folio_cache(struct kmig_slot *slot, unsigned long idx,
		       struct folio *folio)
{
	struct kmig_ctx *ctx = slot->ctx;
	long nr = folio_nr_pages(folio);
	struct mem_cgroup *old;
	int ret;

	old = set_active_memcg(ctx->memcg);
	ret = filemap_add_folio(kmig_slot_mapping(slot), folio,
				slot->pgoff + idx, GFP_KERNEL);
	set_active_memcg(old);
	if (ret) {
		folio_drop(ctx, folio);
		return ret;
	}
	/* Counted before the unlock lets truncation free it. */
	atomic_long_add(nr, &kmig_objects.pages);
	atomic_long_sub(nr, &ctx->allocating);
	return 0;
}

/*
 * Cache @folio, its data in, as present pages @idx on of @slot: as
 * folio_cache(), but @folio is left unlocked and unreferenced.
 *
 * A large folio is cached dirty and stays so (nothing clears PG_dirty of
 * a huge slot, which is never logged by kmig's PG_dirty fold): punching
 * part of it, truncate_inode_partial_folio() splits it, or if it cannot
 * split zeroes the punched range and keeps it; a clean one that cannot
 * split it would drop whole, with the data of the pages not punched.
 */
static int folio_add(struct kmig_slot *slot, unsigned long idx,
		     struct folio *folio)
{
	int ret;

	__folio_mark_uptodate(folio);
	if (folio_test_large(folio))
		folio_set_dirty(folio);
	ret = folio_cache(slot, idx, folio);
	if (ret)
		return ret;
	folio_unlock(folio);
	folio_put(folio);
	return 0;
}

/*
 * Whether the block of KMIG_HUGE_NR pages from @first (aligned) of @slot
 * may be one huge folio: a KMIG_SLOT_HUGE slot, no page of the block in
 * missing mode (those arrive one at a time and must not be preempted by
 * zeros), none taken by memory failure, and none cached (a split folio's
 * pages, a punch's survivors): the cache would refuse the folio only
 * after it was allocated and zeroed, for each hole. A page cached after
 * the look (a race) still makes folio_add() fail with -EEXIST.
 */
static bool huge_block_ok(struct kmig_slot *slot, unsigned long first)
{
	unsigned long end = first + KMIG_HUGE_NR;
	unsigned long index = slot->pgoff + first;
	loff_t pos = (loff_t)index << PAGE_SHIFT;

	if (!(slot->flags & KMIG_SLOT_HUGE))
		return false;
	if (find_next_bit(slot->missing, end, first) < end)
		return false;
	if (xa_find(&slot->ctx->poison, &index, slot->pgoff + end - 1,
		    XA_PRESENT))
		return false;
	return !filemap_range_has_page(kmig_slot_mapping(slot), pos,
				       pos + (KMIG_HUGE_NR << PAGE_SHIFT) - 1);
}

/*
 * Cache a new folio holding page @idx of @slot: on a huge slot the
 * block's whole huge folio, zeroed, when huge_block_ok() and it can be
 * had, else the one page. The page gets @len bytes of @from at @off
 * (NULL: none) and zeros elsewhere. Returns 0, -EEXIST if page @idx is
 * present already (@from not advanced), or -errno (ENOSPC, ENOMEM,
 * EFAULT).
 */
static int folio_create(struct kmig_slot *slot, unsigned long idx,
			struct vm_fault *vmf, struct iov_iter *from,
			size_t off, size_t len)
{
	unsigned long first = round_down(idx, KMIG_HUGE_NR);
	bool huge = huge_block_ok(slot, first);
	struct folio *folio;
	size_t n;
	int ret;

	for (;;) {
		folio = ERR_PTR(-ENOMEM);
		if (huge)
			folio = folio_new(slot, first, KMIG_HUGE_ORDER, vmf,
					  true);
		if (IS_ERR(folio)) {
			/* Too little memory in one piece: one page will do. */
			huge = false;
			first = idx;
			folio = folio_new(slot, idx, 0, vmf,
					  !from || off || len < PAGE_SIZE);
			if (IS_ERR(folio))
				return PTR_ERR(folio);
		}
		if (from) {
			n = copy_page_from_iter(folio_page(folio, idx - first),
						off, len, from);
			if (n < len) {
				iov_iter_revert(from, n);
				folio_drop(slot->ctx, folio);
				return -EFAULT;
			}
		}
		ret = folio_add(slot, first, folio);
		if (ret && from)
			iov_iter_revert(from, len);
		if (ret != -EEXIST || !huge)
			return ret;
		/* Pages of the block came one at a time: so does this one. */
		huge = false;
		first = idx;
	}
}

/* a_ops->free_folio: a folio left the cache. */
static void kmig_free_folio(struct folio *folio)
{
	atomic_long_sub(folio_nr_pages(folio), &kmig_objects.pages);
}

/*
 * a_ops->error_remove_folio: memory failure found @folio poisoned, has
 * unmapped it and signalled the accessors. Its offsets are remembered, so
 * faults get VM_FAULT_HWPOISON (SIGBUS, BUS_MCEERR_AR; KVM forwards it to
 * the guest) and pread/pwrite EIO, and the folio leaves the cache. Kept
 * cached as shmem does, it would count as still referenced and the error
 * as not recovered (mm/memory-failure.c: has_extra_refcount() spares only
 * shmem), which kills the accessor on a machine check.
 */
int kmig_error_remove_folio(struct address_space *mapping,
			    struct folio *folio)
{
	struct kmig_ctx *ctx = mapping->host->i_private;
	pgoff_t i;
	int ret;

	for (i = folio->index; i < folio_next_index(folio); i++) {
		ret = xa_err(xa_store(&ctx->poison, i, xa_mk_value(1),
				      GFP_NOIO));
		if (ret)
			return ret;
	}
	return generic_error_remove_folio(mapping, folio);
}

const struct address_space_operations kmig_aops = {
	.dirty_folio	= noop_dirty_folio,
	.free_folio	= kmig_free_folio,
	.migrate_folio	= filemap_migrate_folio,
	KMIG_AOPS_ERROR_REMOVE,
};

/*
 * Install page @idx of @slot: a new page gets @len bytes of @from at @off,
 * zeros elsewhere (all zeros if @from is NULL), and is cached unless a
 * page is there already; then it is marked dirty, and a missing-mode page
 * has its request withdrawn, is counted and its waiters are woken (also
 * when it was found present). Returns 1 if installed, 0 if a page was
 * present (@from not advanced), or -errno (ENOSPC, ENOMEM, EFAULT, EIO;
 * EBUSY if the page is staged: only KMIG_INSTALL_STAGED installs it).
 */
int kmig_page_install(struct kmig_slot *slot, unsigned long idx,
		      struct iov_iter *from, size_t off, size_t len)
{
	bool raced = true;
	int ret;

	if (kmig_page_present(slot, idx))
		goto out;
	if (kmig_page_poisoned(slot, idx))
		return -EIO;
	ret = folio_create(slot, idx, NULL, from, off, len);
	if (ret == -EEXIST && page_cached(slot, idx, true))
		return -EBUSY;
	if (ret && ret != -EEXIST)
		return ret;
	raced = ret;
	if (!raced)
		kmig_dirty_mark(slot, idx);
out:
	if (test_bit(idx, slot->missing))
		kmig_fault_installed(slot, idx, !raced, !from);
	return !raced;
}

/* Log every page of the huge slot's block from page @first (aligned). */
static void mark_block(struct kmig_slot *slot, unsigned long first)
{
	static const u64 all[KMIG_HUGE_NR / 64] = {
		[0 ... KMIG_HUGE_NR / 64 - 1] = ~0ULL,
	};

	kmig_dirty_mark_bits(slot, first, all, ARRAY_SIZE(all));
}

/* Whether a page of the block from @first (aligned) is cached or poisoned. */
static bool block_used(struct kmig_slot *slot, unsigned long first)
{
	unsigned long index = slot->pgoff + first;
	unsigned long last = index + KMIG_HUGE_NR - 1;
	void *entry;

	rcu_read_lock();
	entry = xa_find(&kmig_slot_mapping(slot)->i_pages, &index, last,
			XA_PRESENT);
	rcu_read_unlock();
	if (entry)
		return true;
	index = slot->pgoff + first;
	return xa_find(&slot->ctx->poison, &index, last, XA_PRESENT);
}

/*
 * Install the block of KMIG_HUGE_NR pages from @first (aligned) of a huge
 * slot as one folio: @src's KMIG_HUGE_NR pages (user memory), or zeros if
 * NULL. Only while no page of the block is cached or poisoned, and only if
 * a huge folio can be had. Then, as kmig_page_install() for each page:
 * logged, and in missing mode its request withdrawn, counted, its waiters
 * woken. Returns 1 if installed, 0 if not (the caller installs a page at
 * a time, which says why not), -EFAULT for a bad @src.
 */
int kmig_block_install(struct kmig_slot *slot, unsigned long first,
		       const char __user *src)
{
	struct iov_iter iter;
	struct folio *folio;
	unsigned long i;

	if (!(slot->flags & KMIG_SLOT_HUGE) || first % KMIG_HUGE_NR ||
	    first + KMIG_HUGE_NR > slot->npages || block_used(slot, first))
		return 0;
	folio = folio_new(slot, first, KMIG_HUGE_ORDER, NULL, !src);
	if (IS_ERR(folio))
		return 0;
	if (src) {
		iov_iter_ubuf(&iter, ITER_SOURCE, (void __user *)src,
			      KMIG_HUGE_NR * PAGE_SIZE);
		for (i = 0; i < KMIG_HUGE_NR; i++) {
			if (copy_page_from_iter(folio_page(folio, i), 0,
						PAGE_SIZE, &iter) < PAGE_SIZE) {
				folio_drop(slot->ctx, folio);
				return -EFAULT;
			}
			if (!(i % 64))
				cond_resched();
		}
	}
	/* A page cached meanwhile, or no charge: a page at a time. */
	if (folio_add(slot, first, folio))
		return 0;
	mark_block(slot, first);
	for (i = first; i < first + KMIG_HUGE_NR; i++)
		if (test_bit(i, slot->missing))
			kmig_fault_installed(slot, i, true, !src);
	return 1;
}

/*
 * The folio of page @idx of @slot, present or staged, locked and still in
 * the cache, or NULL if there is none; a folio removed while we waited
 * for its lock is looked up again. With @killable, a fatal signal ends
 * the wait for the lock: ERR_PTR(-EINTR).
 */
static struct folio *folio_get_locked(struct kmig_slot *slot,
				      unsigned long idx, bool killable)
{
	struct address_space *mapping = kmig_slot_mapping(slot);
	struct folio *folio;

	for (;;) {
		folio = folio_lookup(slot, idx);
		if (!folio)
			return NULL;
		if (!killable) {
			folio_lock(folio);
		} else if (folio_lock_killable(folio)) {
			folio_put(folio);
			return ERR_PTR(-EINTR);
		}
		if (folio->mapping == mapping)
			return folio;
		folio_unlock(folio);
		folio_put(folio);
	}
}

/* Zap the PTEs of pages @first .. @end - 1 of @slot, in every view. */
static void zap_pages(struct kmig_slot *slot, unsigned long first,
		      unsigned long end)
{
	unmap_mapping_range(kmig_slot_mapping(slot),
			    (loff_t)(slot->pgoff + first) << PAGE_SHIFT,
			    (loff_t)(end - first) << PAGE_SHIFT, 0);
}

/*
 * Hand over pages @first .. @first + @n - 1 of @slot (@n at most
 * KMIG_STAGED_RUN), staged by faults in a staging view, and put each
 * page's KMIG_INSTALL_* status in @st: DONE, PRESENT (its waiters woken
 * as by a copy install) or NOT_STAGED. Returns how many pages it did (at
 * least one), or for page @first -EIO if memory failure took it, -EINTR
 * if a fatal signal came while waiting for its lock; a run stops before
 * such a page.
 *
 * The folios are locked in ascending order, as truncation locks a batch,
 * and every fault that would map one takes its lock first: with all of
 * them held, each run of staged pages loses its PTEs in one zap, which
 * takes only the staging views' (no other view maps a folio that is not
 * uptodate: filemap_map_pages() and kmig_vm_fault() skip it), so the
 * agent writes no more. Then folio_mark_uptodate() publishes what it
 * wrote (its barrier) and makes the page present; as kmig_page_install():
 * logged, and in missing mode its request withdrawn, counted, its
 * waiters woken.
 */
int kmig_staged_install(struct kmig_slot *slot, unsigned long first,
			unsigned int n, u8 *st)
{
	struct folio *folios[KMIG_STAGED_RUN];
	unsigned int i, s;
	int err = -EIO;

	for (i = 0; i < n; i++) {
		folios[i] = folio_get_locked(slot, first + i, true);
		if (IS_ERR(folios[i])) {
			err = PTR_ERR(folios[i]);
			break;
		}
		if (!folios[i] && kmig_page_poisoned(slot, first + i))
			break;
		st[i] = !folios[i] ? KMIG_INSTALL_NOT_STAGED :
			kmig_folio_present(folios[i]) ? KMIG_INSTALL_PRESENT :
							KMIG_INSTALL_DONE;
		if (st[i] == KMIG_INSTALL_PRESENT) {
			folio_unlock(folios[i]);
			folio_put(folios[i]);
		}
	}
	n = i;
	for (i = 0; i < n; i = s) {
		for (s = i; s < n && st[s] == KMIG_INSTALL_DONE; s++)
			;
		if (s > i)
			zap_pages(slot, first + i, first + s);
		else
			s++;
	}
	for (i = 0; i < n; i++) {
		if (st[i] == KMIG_INSTALL_DONE) {
			folio_mark_uptodate(folios[i]);
			folio_unlock(folios[i]);
			folio_put(folios[i]);
			kmig_dirty_mark(slot, first + i);
		}
		if (st[i] != KMIG_INSTALL_NOT_STAGED &&
		    test_bit(first + i, slot->missing))
			kmig_fault_installed(slot, first + i,
					     st[i] == KMIG_INSTALL_DONE, false);
	}
	return n ? n : err;
}

/*
 * A fault the core could not map from the cache itself (.map_pages): an
 * absent page is waited for in missing mode, else allocated zeroed. The
 * page is returned locked, as the core would lock it anyway. A staged
 * page is absent; only missing-mode pages are staged (a discard leaves
 * missing mode only for present pages), so it is waited for.
 */
static vm_fault_t kmig_vm_fault(struct vm_fault *vmf)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - slot->pgoff;
	struct folio *folio;
	struct page *page;
	vm_fault_t ret;
	bool staged;
	int err;

	if (idx >= slot->npages)
		return VM_FAULT_SIGBUS;
	for (;;) {
		folio = folio_get_locked(slot, idx, false);
		if (folio && kmig_folio_present(folio))
			break;
		staged = folio;
		if (staged) {
			folio_unlock(folio);
			folio_put(folio);
		}
		if (kmig_page_poisoned(slot, idx))
			return VM_FAULT_HWPOISON;
		if (test_bit(idx, slot->missing)) {
			ret = kmig_fault_missing(vmf, slot, idx);
			if (ret)
				return ret;
			continue;
		}
		if (WARN_ON_ONCE(staged))
			return VM_FAULT_SIGBUS;	/* staged, not missing */
		err = folio_create(slot, idx, vmf, NULL, 0, 0);
		if (err == -ENOMEM)
			return VM_FAULT_OOM;
		if (err && err != -EEXIST)
			return VM_FAULT_SIGBUS;
	}
	page = folio_file_page(folio, vmf->pgoff);
	if (PageHWPoison(page)) {
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_HWPOISON;
	}
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * A fault in a staging view (KMIG_VIEW_STAGING): the staged page of @idx,
 * made by the first fault on it while it is absent in missing mode: a
 * zeroed order-0 folio cached not uptodate, so that nothing but a staging
 * view maps it (kmig_folio_present()) until KMIG_INSTALL_STAGED marks it
 * uptodate. The agent has no business with any other page here: SIGBUS.
 * Returned locked, as kmig_vm_fault() returns a page.
 */
static vm_fault_t kmig_vm_staging_fault(struct vm_fault *vmf)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - slot->pgoff;
	struct folio *folio;
	int err;

	if (idx >= slot->npages)
		return VM_FAULT_SIGBUS;
	for (;;) {
		folio = folio_get_locked(slot, idx, false);
		if (folio) {
			if (kmig_folio_present(folio)) {
				folio_unlock(folio);
				folio_put(folio);
				return VM_FAULT_SIGBUS;
			}
			break;
		}
		if (!test_bit(idx, slot->missing) ||
		    kmig_page_poisoned(slot, idx))
			return VM_FAULT_SIGBUS;
		folio = folio_new(slot, idx, 0, vmf, true);
		if (IS_ERR(folio))
			return PTR_ERR(folio) == -ENOMEM ? VM_FAULT_OOM :
							   VM_FAULT_SIGBUS;
		err = folio_cache(slot, idx, folio);
		if (!err)
			break;
		if (err != -EEXIST)
			return VM_FAULT_OOM;
	}
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

/*
 * Log every page of @folio, a huge slot's (KMIG_HUGE_NR pages, aligned),
 * locked and in @slot's range: the core is about to map it writable with
 * one PMD.
 */
static void mark_huge_folio(struct kmig_slot *slot, struct folio *folio)
{
	mark_block(slot, folio->index - slot->pgoff);
}

/*
 * Every write fault on a kmig page comes here before the core installs a
 * writable PTE (do_shared_fault(), wp_page_shared()): the only way a PTE of
 * a re-armed page gets writable. The folio stays locked until that PTE is
 * in; kmig_dirty_mark()'s barrier orders the lock before the bit, for the
 * harvest and the logging restart that wait out locked folios (dirty.c).
 *
 * A huge folio is mapped with PTEs in a tracked view (VM_NOHUGEPAGE), one
 * page logged per write fault; where the core would map it with one
 * writable PMD all the same (compat.h), all of its pages are logged.
 */
static vm_fault_t kmig_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;
	struct folio *folio = page_folio(vmf->page);

	folio_lock(folio);
	if (folio->mapping != vmf->vma->vm_file->f_mapping) {
		/* Removed from the cache meanwhile: fault again. */
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;
	}
	kmig_dirty_mark(slot, vmf->pgoff - slot->pgoff);
	if (folio_test_large(folio) && kmig_fault_may_map_pmd(vmf))
		mark_huge_folio(slot, folio);
	return VM_FAULT_LOCKED;
}

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

/* Every view's NUMA policy follows mbind() (policy.c). */
#ifdef CONFIG_NUMA
#define VM_POLICY_OPS	.set_policy = kmig_policy_set,	\
			.get_policy = kmig_vm_get_policy,
#else
#define VM_POLICY_OPS
#endif

/* The tracked view: kmig logs writes through .page_mkwrite. */
static const struct vm_operations_struct kmig_vm_ops = {
	.open		= kmig_vm_tracked_open,
	.close		= kmig_vm_tracked_close,
	.fault		= kmig_vm_fault,
	.map_pages	= kmig_fault_map_pages,
	.page_mkwrite	= kmig_vm_page_mkwrite,
	VM_POLICY_OPS
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
	.map_pages	= kmig_fault_map_pages,
	VM_POLICY_OPS
};

/*
 * Fault-around in a staging view maps nothing: filemap_map_pages() would
 * map present pages there, writable. Having a .map_pages at all lets
 * 6.12 run .fault under the VMA lock (mm/memory.c: vmf_can_call_fault()),
 * which kmig_vm_staging_fault() never drops, instead of retrying it
 * under the mmap lock.
 */
static vm_fault_t kmig_vm_staging_map_pages(struct vm_fault *vmf,
					    pgoff_t start, pgoff_t end)
{
	return 0;
}

/*
 * The staging view, the agent's: it maps staged pages only, written
 * without logging (KMIG_INSTALL_STAGED logs each page it hands over).
 */
static const struct vm_operations_struct kmig_staging_vm_ops = {
	.open		= kmig_vm_open,
	.close		= kmig_vm_close,
	.fault		= kmig_vm_staging_fault,
	.map_pages	= kmig_vm_staging_map_pages,
	VM_POLICY_OPS
};

int kmig_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_mem_map(file->private_data, vma, KMIG_MAP_TRACKED);
}

/* Map a slot of @ctx at @vma, as a view of @kind. */
int kmig_mem_map(struct kmig_ctx *ctx, struct vm_area_struct *vma,
		 enum kmig_map_kind kind)
{
	static const struct vm_operations_struct *const ops[] = {
		[KMIG_MAP_TRACKED] = &kmig_vm_ops,
		[KMIG_MAP_GUEST] = &kmig_guest_vm_ops,
		[KMIG_MAP_STAGING] = &kmig_staging_vm_ops,
	};
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
	else if (kind == KMIG_MAP_GUEST && !(slot->flags & KMIG_SLOT_KVM_LOG))
		ret = -EINVAL;	/* nobody would log its writes */
	else if (!atomic_inc_unless_negative(&slot->nr_maps))
		ret = -EBUSY;	/* KMIG_SET_MISSING is at work on it */
	up_read(&ctx->lock);
	if (ret)
		return ret;

	vma->vm_private_data = slot;
	if (kind == KMIG_MAP_TRACKED) {
		ret = kmig_view_tracked_add(vma);
		if (ret) {
			atomic_dec(&slot->nr_maps);
			return ret;
		}
	}
	vma->vm_ops = ops[kind];
	/*
	 * VM_DONTEXPAND: no mremap() growth, and no merging (see view.c on
	 * ->close). VM_NOHUGEPAGE: .page_mkwrite logs one PTE, so no
	 * writable PMD in a tracked view; a staging view maps order-0 pages.
	 */
	vm_flags_set(vma, VM_DONTEXPAND |
		     (kind == KMIG_MAP_GUEST ? 0 : VM_NOHUGEPAGE));
	return 0;
}
