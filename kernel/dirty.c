// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for slots created with KMIG_SLOT_DIRTY_LOG, and the bitmap
 * of present pages of any slot.
 *
 * Writes through a user mapping (the VMM, the agent, KVM's GUP for a vCPU)
 * first fault and go through .page_mkwrite, which sets the page's bit with
 * the page locked. pwrite and installs set it after the data is in. Pages
 * KVM writes through a kernel mapping and releases dirty get PG_dirty,
 * which the harvest folds in. A harvest that clears bits re-arms their
 * pages (rearm.c), so the next write is logged again.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

/*
 * Log a write to page @idx; called after the data is in, or with the page
 * locked before a writable PTE is installed. The barrier orders what came
 * before (the data, the page lock) before the look at @logging, against a
 * restart that turns logging on and then looks at pages: set_logging().
 */
void kmig_dirty_mark(struct kmig_slot *slot, unsigned long idx)
{
	if (!slot->dirty)
		return;
	/* Pairs with set_logging()'s: see there. */
	smp_mb();
	if (READ_ONCE(slot->logging))
		set_bit(idx, slot->dirty);
}

/*
 * A harvest (KMIG_GET_DIRTY_LOG, KMIG_GET_DIRTY_LOGS) of @n slots, each
 * named once and referenced, into the user's bitmaps.
 */
struct harvest {
	unsigned int n;
	struct kmig_slot *slot[KMIG_LOG_MAX_SLOTS];
	u64 __user *ubuf[KMIG_LOG_MAX_SLOTS];
	u64 *kbm[KMIG_LOG_MAX_SLOTS];	/* KVM's bits of slot[i], or NULL */
	/* The provider request: the slots of @slot asking KVM, and kbm. */
	struct kmig_slot *ask[KMIG_LOG_MAX_SLOTS];
	u64 *ask_bm[KMIG_LOG_MAX_SLOTS];
};

/* Add slot @id of @ctx, into @ubuf: -ENOENT, -ENODEV, -EINVAL (twice). */
static long harvest_add(struct harvest *h, struct kmig_ctx *ctx, u32 id,
			u64 __user *ubuf)
{
	struct kmig_slot *slot = kmig_slot_find(ctx, id);
	unsigned int i;

	if (!slot)
		return -ENOENT;
	for (i = 0; i < h->n; i++) {
		if (h->slot[i] == slot) {
			kmig_slot_put(slot);
			return -EINVAL;
		}
	}
	if (!slot->dirty) {
		kmig_slot_put(slot);
		return -ENODEV;
	}
	h->slot[h->n] = slot;
	h->ubuf[h->n] = ubuf;
	h->n++;
	return 0;
}

/*
 * A buffer for KVM's bits of @slot: the slot's spare one, else a new one.
 * A harvest of a large slot would otherwise take whole pages from the
 * page allocator, zeroed, and give them back every time (memory-model.rst,
 * "Per harvest, not per page"). Harvests running at once each get one:
 * only one takes the spare.
 */
static u64 *kvm_bits_get(struct kmig_slot *slot)
{
	u64 *bits = xchg(&slot->kvm_bits, NULL);

	return bits ?: kvmalloc_array(BITS_TO_LONGS(slot->npages),
				      sizeof(u64), GFP_KERNEL_ACCOUNT);
}

/* @bits back as @slot's spare, unless it has one: then freed. */
static void kvm_bits_put(struct kmig_slot *slot, u64 *bits)
{
	if (bits && cmpxchg(&slot->kvm_bits, NULL, bits))
		kvfree(bits);
}

static void harvest_free(struct harvest *h)
{
	unsigned int i;

	for (i = 0; i < h->n; i++) {
		kvm_bits_put(h->slot[i], h->kbm[i]);
		kmig_slot_put(h->slot[i]);
	}
	kfree(h);
}

/*
 * KVM's bits of the KVM_LOG slots of @h that are logging, in one provider
 * request, which gets and clears them, into buffers of their own
 * (@h->kbm; NULL for other slots). KVM re-armed their pages itself: the
 * harvest reports them beside kmig's own and re-arms only its own.
 * Nothing is touched unless the provider answered whole.
 */
static int kvm_log_fetch(struct harvest *h)
{
	unsigned int i, m = 0;
	struct kmig_slot *slot;
	int ret = 0;

	for (i = 0; i < h->n; i++) {
		slot = h->slot[i];
		if (!(slot->flags & KMIG_SLOT_KVM_LOG) ||
		    !READ_ONCE(slot->logging))
			continue;
		h->kbm[i] = kvm_bits_get(slot);
		if (!h->kbm[i]) {
			ret = -ENOMEM;
			goto out;
		}
		h->ask[m] = slot;
		h->ask_bm[m++] = h->kbm[i];
	}
	if (m)
		ret = kmig_provider_call(h->slot[0]->ctx, KMIG_LOG_HARVEST,
					 h->ask, m, h->ask_bm);
out:
	for (i = 0; ret && i < h->n; i++) {
		kvm_bits_put(h->slot[i], h->kbm[i]);
		h->kbm[i] = NULL;
	}
	return ret;
}

/* KVM's bits from word @first on, not reported: into kmig's log. */
static void kvm_log_keep(struct kmig_slot *slot, const u64 *kbm,
			 unsigned long first)
{
	unsigned long nwords = BITS_TO_LONGS(slot->npages), i;
	atomic64_t *words = (atomic64_t *)slot->dirty;

	for (i = first; kbm && i < nwords; i++) {
		if (kbm[i])
			atomic64_or(kbm[i], &words[i]);
		if (!(i % 4096))
			cond_resched();
	}
}

/*
 * Report @slot's log into @ubuf, OR KVM's bits @kbm (or NULL); on a
 * failure, what was not reported of @kbm goes into kmig's log.
 */
static long get_log(struct kmig_slot *slot, u64 __user *ubuf, bool clear,
		    const u64 *kbm)
{
	unsigned long nwords = BITS_TO_LONGS(slot->npages), c, j, n;
	atomic64_t *words = (atomic64_t *)slot->dirty;
	u64 *buf, *pgs, w, pg, kw;
	struct kmig_zap z;
	long ret = 0;

	/* A slab object, as the spans are (rearm.c: MAX_SPANS). */
	BUILD_BUG_ON(2 * KMIG_REARM_WORDS * sizeof(*buf) >
		     KMALLOC_MAX_CACHE_SIZE);
	kmig_rearm_begin(&z, slot);
	buf = kmalloc_array(2 * KMIG_REARM_WORDS, sizeof(*buf), GFP_KERNEL);
	if (!buf) {
		ret = -ENOMEM;
		c = 0;
		goto out;
	}
	pgs = buf + KMIG_REARM_WORDS;
	for (c = 0; c < nwords; c += n) {
		n = min(nwords - c, KMIG_REARM_WORDS);
		/*
		 * A bit is only cleared by a harvest, so one seen set is
		 * reported whatever its page's PG_dirty says.
		 */
		kmig_fold_pg_dirty(slot, c, n, pgs);
		for (j = 0; j < n; j++) {
			w = atomic64_read(&words[c + j]);
			pg = pgs[j];
			kw = kbm ? kbm[c + j] : 0;
			if (clear) {
				buf[j] = (w || pg) ?
					 pg | atomic64_xchg(&words[c + j], 0) :
					 0;
			} else {
				/* Kept until a harvest with clear. */
				if (pg | kw)
					atomic64_or(pg | kw, &words[c + j]);
				buf[j] = atomic64_read(&words[c + j]);
			}
		}
		if (clear) {
			kmig_rearm(&z, c * 64, buf, n);
			for (j = 0; kbm && j < n; j++)
				buf[j] |= kbm[c + j];
		}
		if (copy_to_user(ubuf + c, buf, n * sizeof(*buf))) {
			/* Nothing reached the caller: give the bits back. */
			for (j = 0; clear && j < n; j++)
				atomic64_or(buf[j], &words[c + j]);
			ret = -EFAULT;
			c += n;
			break;
		}
		cond_resched();
	}
out:
	if (ret)
		kvm_log_keep(slot, kbm, c);
	kfree(buf);
	kmig_rearm_end(&z);
	return ret;
}

/*
 * Harvest every slot of @h: one provider request for KVM's bits, then
 * each slot's log in order. After a failure the later slots keep
 * KVM's bits in kmig's log.
 */
static long harvest_run(struct harvest *h, bool clear)
{
	unsigned int i;
	long ret;

	ret = kvm_log_fetch(h);
	if (ret)
		return ret;
	for (i = 0; i < h->n; i++) {
		if (!ret)
			ret = get_log(h->slot[i], h->ubuf[i], clear, h->kbm[i]);
		else
			kvm_log_keep(h->slot[i], h->kbm[i], 0);
	}
	return ret;
}

/* KMIG_GET_DIRTY_LOG: a harvest of one slot. */
static long get_one(struct kmig_ctx *ctx, const struct kmig_dirty_log *a)
{
	struct harvest *h = kzalloc(sizeof(*h), GFP_KERNEL);
	long ret;

	if (!h)
		return -ENOMEM;
	ret = harvest_add(h, ctx, a->slot, u64_to_user_ptr(a->bitmap));
	if (!ret)
		ret = harvest_run(h, a->flags & KMIG_DIRTY_LOG_CLEAR);
	harvest_free(h);
	return ret;
}

/* KMIG_GET_DIRTY_LOGS: every entry checked, then one harvest. */
static long get_set(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_dirty_log __user *ue;
	struct kmig_dirty_logs a;
	struct kmig_dirty_log e;
	struct harvest *h;
	unsigned int i;
	long ret = 0;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~KMIG_DIRTY_LOG_CLEAR || !a.count)
		return -EINVAL;
	if (a.count > KMIG_LOG_MAX_SLOTS)
		return -E2BIG;
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	ue = u64_to_user_ptr(a.logs);
	for (i = 0; i < a.count && !ret; i++) {
		if (copy_from_user(&e, &ue[i], sizeof(e))) {
			ret = -EFAULT;
			break;
		}
		if (e.flags || e.first_page) {
			ret = -EINVAL;
			break;
		}
		ret = harvest_add(h, ctx, e.slot, u64_to_user_ptr(e.bitmap));
		if (!ret && e.num_pages != h->slot[h->n - 1]->npages)
			ret = -EINVAL;
	}
	if (!ret)
		ret = harvest_run(h, a.flags & KMIG_DIRTY_LOG_CLEAR);
	harvest_free(h);
	return ret;
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

/*
 * A buffer of up to KMIG_REARM_WORDS words for a range range_ok() accepts, in
 * *@buf; NULL there for an empty range.
 */
static long range_buf(struct kmig_slot *slot, const struct kmig_dirty_log *a,
		      u64 **buf)
{
	unsigned long nwords = DIV_ROUND_UP(a->num_pages, 64);
	long ret = range_ok(slot, a);

	*buf = NULL;
	if (ret || !nwords)
		return ret;
	*buf = kmalloc_array(min(nwords, KMIG_REARM_WORDS), sizeof(**buf),
			     GFP_KERNEL);
	return *buf ? 0 : -ENOMEM;
}

/*
 * Clear (and re-arm) or merge back the bits in the user bitmap, a chunk at
 * a time, so a large clear protects merged spans, not word by word.
 */
static long apply_log(struct kmig_slot *slot, const struct kmig_dirty_log *a,
		      bool merge)
{
	u64 __user *ubuf = u64_to_user_ptr(a->bitmap);
	unsigned long i, c, n, nwords = DIV_ROUND_UP(a->num_pages, 64);
	unsigned long w0 = a->first_page / 64;
	struct kmig_zap z;
	atomic64_t *word;
	u64 *buf, tail;
	long ret;

	ret = range_buf(slot, a, &buf);
	if (ret || !buf)
		return ret;
	kmig_rearm_begin(&z, slot);
	for (c = 0; c < nwords; c += n) {
		n = min(nwords - c, KMIG_REARM_WORDS);
		if (copy_from_user(buf, ubuf + c, n * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		tail = a->num_pages - (c + n - 1) * 64;
		if (tail < 64)
			buf[n - 1] &= (1ULL << tail) - 1;
		for (i = 0; i < n; i++) {
			if (!buf[i])
				continue;
			word = (atomic64_t *)&slot->dirty[w0 + c + i];
			if (merge)
				atomic64_or(buf[i], word);
			else
				buf[i] &= atomic64_fetch_andnot(buf[i], word);
		}
		if (!merge)
			kmig_rearm(&z, (w0 + c) * 64, buf, n);
		cond_resched();
	}
	kmig_rearm_end(&z);
	kfree(buf);
	return ret;
}

/* Empty the log, a word at a time: writers set bits meanwhile. */
static void log_clear(struct kmig_slot *slot)
{
	unsigned long i, nwords = BITS_TO_LONGS(slot->npages);
	atomic64_t *words = (atomic64_t *)slot->dirty;

	for (i = 0; i < nwords; i++) {
		atomic64_set(&words[i], 0);
		if (!(i % 4096))
			cond_resched();
	}
}

/*
 * Stop logging, or restart it from an empty log. A restart turns logging
 * on, empties the log, then waits out every .page_mkwrite still in flight
 * and zaps the whole slot. A .page_mkwrite either locked its page before
 * we looked, and its PTE is zapped after it unlocks (whatever it read of
 * @logging, whatever bit the clear wiped), or it reads @logging true and
 * sets its bit after the clear: kmig_dirty_mark()'s smp_mb() pairs with
 * ours. Writes before the call returns are the caller's to copy (a
 * migration copies every page after starting the log). PG_dirty, which
 * the core sets on every write fault and KVM on pages it wrote, is folded
 * in only while logging, and cleared on a restart.
 */
static long set_logging(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_dirty_logging a;
	struct kmig_slot *slot;
	bool on;
	long ret = 0;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~KMIG_DIRTY_LOGGING_ON)
		return -EINVAL;
	on = a.flags & KMIG_DIRTY_LOGGING_ON;
	slot = kmig_slot_find(ctx, a.slot);
	if (!slot)
		return -ENOENT;
	if (!slot->dirty) {
		ret = -ENODEV;
		goto out;
	}
	/*
	 * KVM's log first: a slot logs only once both logs do. A stop
	 * without a provider has nothing to stop.
	 */
	if (slot->flags & KMIG_SLOT_KVM_LOG) {
		ret = kmig_provider_call(ctx, on ? KMIG_LOG_START :
					 KMIG_LOG_STOP, &slot, 1, NULL);
		if (!on && ret == -EPIPE)
			ret = 0;
		if (ret)
			goto out;
	}
	WRITE_ONCE(slot->logging, on);
	log_clear(slot);
	if (on) {
		/* Logging on and the log empty before any page is looked at. */
		smp_mb();
		kmig_rearm_all(slot);
	}
out:
	kmig_slot_put(slot);
	return ret;
}

/* kmig_present_bits()'s: bit 0 of @bits is page @base, up to @end. */
struct present {
	struct kmig_slot *slot;
	unsigned long base, first, end;
	u64 *bits;
};

/* Set the bits of the pages of @folio, if present, within @arg's range. */
static void mark_folio(struct folio *folio, void *arg)
{
	struct present *pr = arg;
	pgoff_t off = pr->slot->pgoff, i, end;

	if (!kmig_folio_present(folio))
		return;

	i = max_t(pgoff_t, folio->index, off + pr->first) - off;
	end = min_t(pgoff_t, folio_next_index(folio), off + pr->end) - off;
	for (; i < end; i++)
		pr->bits[(i - pr->base) / 64] |= 1ULL << ((i - pr->base) % 64);
}

/*
 * The present pages among pages @first to @end - 1 of @slot, in @bits,
 * whose bit 0 is page @base (@base <= @first); its words up to page @end
 * are written. May sleep.
 */
void kmig_present_bits(struct kmig_slot *slot, unsigned long base,
		       unsigned long first, unsigned long end, u64 *bits)
{
	struct present pr = {
		.slot = slot, .base = base, .first = first, .end = end,
		.bits = bits,
	};

	memset(bits, 0, DIV_ROUND_UP(end - base, 64) * sizeof(*bits));
	kmig_walk_folios(slot, first, end, mark_folio, &pr);
}

/*
 * Log the pages set in @bits (@nwords words from page @base, a multiple
 * of 64), written before the call: kmig_dirty_mark() for a bitmap.
 */
void kmig_dirty_mark_bits(struct kmig_slot *slot, unsigned long base,
			  const u64 *bits, unsigned long nwords)
{
	atomic64_t *words = (atomic64_t *)slot->dirty + base / 64;
	unsigned long i;

	if (!slot->dirty)
		return;
	/* Pairs with set_logging()'s, as kmig_dirty_mark()'s does. */
	smp_mb();
	if (!READ_ONCE(slot->logging))
		return;
	for (i = 0; i < nwords; i++)
		if (bits[i])
			atomic64_or(bits[i], &words[i]);
}

/* KMIG_GET_PRESENT_BITMAP: a chunk of words at a time, like get_log(). */
static long present_log(struct kmig_slot *slot, const struct kmig_dirty_log *a)
{
	u64 __user *ubuf = u64_to_user_ptr(a->bitmap);
	unsigned long c, n, p, nwords = DIV_ROUND_UP(a->num_pages, 64);
	long ret;
	u64 *buf;

	ret = range_buf(slot, a, &buf);
	if (ret || !buf)
		return ret;
	for (c = 0; c < nwords; c += n) {
		n = min(nwords - c, KMIG_REARM_WORDS);
		/* Pages p .. p + n * 64 - 1, cut at the range end. */
		p = a->first_page + c * 64;
		kmig_present_bits(slot, p, p, min(p + n * 64, a->first_page +
						  a->num_pages), buf);
		if (copy_to_user(ubuf + c, buf, n * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		cond_resched();
	}
	kfree(buf);
	return ret;
}

long kmig_dirty_ioctl(struct kmig_ctx *ctx, unsigned int cmd,
		      void __user *argp)
{
	struct kmig_dirty_log a;
	struct kmig_slot *slot;
	long ret;

	if (cmd == KMIG_SET_DIRTY_LOGGING)
		return set_logging(ctx, argp);
	if (cmd == KMIG_GET_DIRTY_LOGS)
		return get_set(ctx, argp);
	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if (cmd == KMIG_GET_DIRTY_LOG ? a.flags & ~KMIG_DIRTY_LOG_CLEAR :
					a.flags)
		return -EINVAL;
	if (cmd == KMIG_GET_DIRTY_LOG)
		return get_one(ctx, &a);
	slot = kmig_slot_find(ctx, a.slot);
	if (!slot)
		return -ENOENT;
	if (cmd == KMIG_GET_PRESENT_BITMAP)
		ret = present_log(slot, &a);
	else if (!slot->dirty)
		ret = -ENODEV;
	else
		ret = apply_log(slot, &a, cmd == KMIG_MERGE_DIRTY_LOG);
	kmig_slot_put(slot);
	return ret;
}
