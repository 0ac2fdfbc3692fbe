// SPDX-License-Identifier: GPL-2.0
/*
 * Guest pages through the context fd rather than a mapping: discards
 * (KMIG_SET_MISSING_DISCARD), hole punching (fallocate, MADV_REMOVE) and
 * pread/pwrite, each at the file offset of a slot's page.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/uio.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

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

/*
 * Whether pages [@first, @end) of @slot hold a page that has not arrived:
 * absent in missing mode, and not taken by memory failure.
 */
static bool range_awaits_pages(struct kmig_slot *slot, unsigned long first,
			       unsigned long end)
{
	unsigned long i = first;

	for_each_set_bit_from(i, slot->missing, end) {
		if (!kmig_page_present(slot, i) && !kmig_page_poisoned(slot, i))
			return true;
		cond_resched();
	}
	return false;
}

/* Pages a punch removes per step: one bitmap of PUNCH_CHUNK bits. */
#define PUNCH_CHUNK	(64 * 512)

/*
 * Remove pages [@first, @end) of @slot from the cache, unmapping them
 * everywhere, a step at a time. With @bits (a logging slot's), the pages
 * that were present are logged once gone, so a harvest that copies the
 * page copies the hole.
 */
static void punch_range(struct kmig_slot *slot, unsigned long first,
			unsigned long end, u64 *bits)
{
	struct inode *inode = slot->ctx->inode;
	unsigned long c, s, e;

	for (c = round_down(first, 64); c < end; c += PUNCH_CHUNK) {
		s = max(c, first);
		e = min(c + PUNCH_CHUNK, end);
		if (bits)
			kmig_present_bits(slot, c, s, e, bits);
		truncate_pagecache_range(inode,
					 (loff_t)(slot->pgoff + s) << PAGE_SHIFT,
					 ((loff_t)(slot->pgoff + e) << PAGE_SHIFT)
					 - 1);
		if (bits)
			kmig_dirty_mark_bits(slot, c, bits,
					     DIV_ROUND_UP(e - c, 64));
		cond_resched();
	}
}

/*
 * Remove pages [@first, @end) of @slot from the cache; a logging slot
 * logs those that were present. With @to_missing they enter missing mode
 * (KMIG_SET_MISSING_DISCARD; the caller made itself the only writer of
 * @missing, the slot unmapped). Without, a page of the range that has not
 * arrived in missing mode fails the call with EBUSY, nothing removed: its
 * waiters must get the page, not zeros; present missing-mode pages leave
 * missing mode, so their later faults allocate zeros. The caller holds
 * off KMIG_SET_MISSING (a map count).
 */
int kmig_mem_discard(struct kmig_slot *slot, unsigned long first,
		     unsigned long end, bool to_missing)
{
	struct inode *inode = slot->ctx->inode;
	unsigned long i = first;
	u64 *bits = NULL;
	int ret = 0;

	if (slot->dirty) {
		bits = kmalloc(PUNCH_CHUNK / 8, GFP_KERNEL);
		if (!bits)
			return -ENOMEM;
	}
	inode_lock(inode);
	if (to_missing) {
		bitmap_set(slot->missing, first, end - first);
	} else if (range_awaits_pages(slot, first, end)) {
		ret = -EBUSY;
		goto out;
	} else {
		/* Only present pages have bits left: none is waited for. */
		for_each_set_bit_from(i, slot->missing, end)
			clear_bit(i, slot->missing);
	}
	punch_range(slot, first, end, bits);
out:
	inode_unlock(inode);
	kfree(bits);
	return ret;
}

/*
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on a view of
 * @ctx, and so MADV_REMOVE on its mappings: page-aligned bytes @off to
 * @off + @len of one slot leave the cache, their memory and charge
 * return, later accesses find zeros: kmig_mem_discard().
 */
int kmig_mem_punch(struct kmig_ctx *ctx, loff_t off, loff_t len)
{
	struct kmig_slot *slot;
	unsigned long idx, n;
	int ret;

	if (!PAGE_ALIGNED(off) || !PAGE_ALIGNED(len) || off < 0 || len <= 0)
		return -EINVAL;
	slot = slot_at(ctx, off >> PAGE_SHIFT, &idx);
	if (!slot)
		return -EINVAL;
	n = len >> PAGE_SHIFT;
	if (n > slot->npages - idx)
		ret = -EINVAL;
	else if (!atomic_inc_unless_negative(&slot->nr_maps))
		ret = -EBUSY;	/* KMIG_SET_MISSING is at work on it */
	else
		ret = 0;
	if (!ret) {
		ret = kmig_mem_discard(slot, idx, idx + n, false);
		atomic_dec(&slot->nr_maps);
	}
	kmig_slot_put(slot);
	return ret;
}

/* Copy between a slot's pages and @iter, at most up to the slot end. */
static ssize_t mem_rw(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct kmig_ctx *ctx = iocb->ki_filp->private_data;
	unsigned long idx, off;
	struct kmig_slot *slot;
	struct folio *folio;
	struct page *page;
	ssize_t done = 0;
	size_t len, n;
	int ret;

	if (iocb->ki_pos < 0)
		return -ENXIO;
	slot = slot_at(ctx, iocb->ki_pos >> PAGE_SHIFT, &idx);
	if (!slot)
		return -ENXIO;
	off = offset_in_page(iocb->ki_pos);

	while (iov_iter_count(iter) && idx < slot->npages) {
		len = min_t(size_t, PAGE_SIZE - off, iov_iter_count(iter));
		folio = kmig_folio_get(slot, idx);
		page = folio ? folio_file_page(folio, slot->pgoff + idx) :
			       NULL;
		if (page ? PageHWPoison(page) : kmig_page_poisoned(slot, idx)) {
			if (folio)
				folio_put(folio);
			if (!done)
				done = -EIO;
			break;
		}
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
		if (folio)
			folio_put(folio);
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
