// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for slots created with KMIG_SLOT_DIRTY_LOG.
 *
 * Writes through a user mapping (the VMM, the agent, KVM's GUP for a vCPU)
 * first hit a write-protected PTE and go through .page_mkwrite, which sets
 * the page's bit with the page locked. pwrite and installs set it after the
 * data is in. Pages KVM writes through a kernel mapping and releases dirty
 * get PG_dirty, which the harvest folds in.
 *
 * Clearing a bit re-arms its page: the bit is cleared first, then the
 * page's user PTEs are zapped (KVM's MMU notifier drops its SPTEs with
 * them), so the next write faults and sets the bit again. A write racing
 * the harvest either went through before the zap, and the caller copies
 * the page after the harvest returns, or faults after it and is in the next
 * round. Locking the page once between clear and zap waits for a
 * .page_mkwrite that set the bit but has not installed its PTE yet.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "context.h"
#include "kmig.h"

void kmig_dirty_mark(struct kmig_slot *slot, unsigned long idx)
{
	if (slot->dirty)
		set_bit(idx, slot->dirty);
}

/*
 * Re-arm the pages in @mask (pages base .. base + 63), whose bits the caller
 * has cleared and reports: zap their user PTEs and clear PG_dirty.
 */
static void rearm(struct kmig_slot *slot, unsigned long base, u64 mask)
{
	struct address_space *mapping = slot->ctx->inode->i_mapping;
	unsigned int first, len;
	struct page *page;
	u64 m, keep = mask;

	for (m = mask; m; m &= m - 1) {
		page = READ_ONCE(slot->pages[base + __ffs64(m)]);
		if (page) {
			lock_page(page);
			unlock_page(page);
		}
	}
	while (mask) {
		first = __ffs64(mask);
		len = ~mask >> first ? __ffs64(~mask >> first) : 64 - first;
		unmap_mapping_range(mapping,
				    (loff_t)(slot->pgoff + base + first)
					<< PAGE_SHIFT,
				    (loff_t)len << PAGE_SHIFT, 0);
		mask &= len + first >= 64 ? 0 : ~0ULL << (first + len);
	}
	/* Zapping dirty PTEs set PG_dirty: these pages are in this round. */
	for (m = keep; m; m &= m - 1) {
		page = READ_ONCE(slot->pages[base + __ffs64(m)]);
		if (page)
			ClearPageDirty(page);
	}
}

/* Fold PG_dirty of the present pages base .. base + 63 into a bit mask. */
static u64 fold_pg_dirty(struct kmig_slot *slot, unsigned long base)
{
	unsigned long i, end = min(base + 64, slot->npages);
	struct page *page;
	u64 mask = 0;

	for (i = base; i < end; i++) {
		page = READ_ONCE(slot->pages[i]);
		if (page && PageDirty(page) && TestClearPageDirty(page))
			mask |= 1ULL << (i - base);
	}
	return mask;
}

static long get_log(struct kmig_slot *slot, u64 __user *ubuf, bool clear)
{
	unsigned long nwords = BITS_TO_LONGS(slot->npages), i;
	unsigned long *words = slot->dirty;
	u64 w, folded;

	for (i = 0; i < nwords; i++) {
		folded = fold_pg_dirty(slot, i * 64);
		if (!clear) {
			if (folded)
				atomic64_or(folded,
					    (atomic64_t *)&words[i]);
			w = READ_ONCE(words[i]);
		} else {
			w = xchg(&words[i], 0) | folded;
			if (w)
				rearm(slot, i * 64, w);
		}
		if (put_user(w, ubuf + i)) {
			if (clear && w)
				atomic64_or(w, (atomic64_t *)&words[i]);
			return -EFAULT;
		}
	}
	return 0;
}

static long range_ok(struct kmig_slot *slot, const struct kmig_dirty_log *a)
{
	if (a->first_page % 64 || a->first_page > slot->npages ||
	    a->num_pages > slot->npages - a->first_page)
		return -EINVAL;
	if (a->num_pages % 64 && a->first_page + a->num_pages != slot->npages)
		return -EINVAL;
	return 0;
}

/* Clear (and re-arm) or merge back the bits in the user bitmap. */
static long apply_log(struct kmig_slot *slot, const struct kmig_dirty_log *a,
		      bool merge)
{
	u64 __user *ubuf = u64_to_user_ptr(a->bitmap);
	unsigned long i, nwords = DIV_ROUND_UP(a->num_pages, 64);
	unsigned long w0 = a->first_page / 64;
	atomic64_t *word;
	u64 m, tail;
	long ret;

	ret = range_ok(slot, a);
	if (ret)
		return ret;
	for (i = 0; i < nwords; i++) {
		if (get_user(m, ubuf + i))
			return -EFAULT;
		tail = a->num_pages - i * 64;
		if (tail < 64)
			m &= (1ULL << tail) - 1;
		if (!m)
			continue;
		word = (atomic64_t *)&slot->dirty[w0 + i];
		if (merge) {
			atomic64_or(m, word);
			continue;
		}
		m &= atomic64_fetch_andnot(m, word);
		if (m)
			rearm(slot, (w0 + i) * 64, m);
	}
	return 0;
}

long kmig_dirty_ioctl(struct kmig_ctx *ctx, unsigned int cmd,
		      void __user *argp)
{
	struct kmig_dirty_log a;
	struct kmig_slot *slot;
	long ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (cmd == KMIG_GET_DIRTY_LOG ? a.flags & ~KMIG_DIRTY_LOG_CLEAR :
					a.flags)
		return -EINVAL;
	slot = kmig_slot_find(ctx, a.slot);
	if (!slot)
		return -ENOENT;
	if (!slot->dirty)
		ret = -ENODEV;
	else if (cmd == KMIG_GET_DIRTY_LOG)
		ret = get_log(slot, u64_to_user_ptr(a.bitmap),
			      a.flags & KMIG_DIRTY_LOG_CLEAR);
	else
		ret = apply_log(slot, &a, cmd == KMIG_MERGE_DIRTY_LOG);
	kmig_slot_put(slot);
	return ret;
}
