// SPDX-License-Identifier: GPL-2.0
/*
 * The page-cache side of dirty logging (dirty.c): re-arming the pages a
 * harvest reports, and folding the PG_dirty of pages KVM wrote through
 * a kernel mapping.
 *
 * Clearing a bit re-arms its page: the bit is cleared first, then the
 * page's user PTEs are zapped (KVM's MMU notifier drops its SPTEs with
 * them), so the next access faults again and the next write goes through
 * .page_mkwrite. A write racing the harvest either went through before
 * the zap, and the caller copies the page after the harvest returns, or
 * faults after it and is in the next round. Waiting for a locked page
 * between clear and zap waits for a .page_mkwrite that set the bit but has
 * not installed its writable PTE yet.
 *
 * Zapping, not write-protecting: a write-protected PTE keeps its dirty bit,
 * and the core turns a read-only dirty PTE of a shared mapping writable
 * without a fault (mprotect, userfaultfd unprotect, NUMA hinting faults:
 * can_change_pte_writable()). Cleaning and write-protecting in two page
 * walks leaves that window open between them; with no PTE left there is
 * nothing to upgrade. Documentation/design.rst lists every path.
 *
 * A write pinned through a user mapping (O_DIRECT) is logged at its GUP
 * write fault and lands later, through a kernel mapping, possibly after
 * a harvest reported the page; the block layer then sets PG_dirty, and
 * the fold reports it again. KVM_LOG slots fold nothing: there a reported
 * page whose folio is pinned stays in the log until it is not.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/slab.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

/* Pages closer than this are zapped in one go, with those between. */
#define SPAN_GAP	64

/*
 * Most spans one re-arm step collects: spans are SPAN_GAP clear pages
 * apart at least, so a step of KMIG_REARM_WORDS words has fewer. Their
 * array is a slab object (8 KiB): a byte more than KMALLOC_MAX_CACHE_SIZE
 * and each harvest of a KVM_LOG slot took its pages from the page
 * allocator, 30 to 90 us in the test bed.
 */
#define MAX_SPANS	(KMIG_REARM_WORDS * 64 / SPAN_GAP)

static void zap_flush(struct kmig_zap *z)
{
	kmig_view_zap_tracked(z->slot, z->spans, z->n);
	z->n = 0;
}

/* Remove the user PTEs of pages first .. end - 1 of the slot. */
static void zap(struct kmig_zap *z, unsigned long first, unsigned long end)
{
	struct kmig_slot *slot = z->slot;

	if (!z->spans) {
		unmap_mapping_range(slot->ctx->inode->i_mapping,
				    (loff_t)(slot->pgoff + first) << PAGE_SHIFT,
				    (loff_t)(end - first) << PAGE_SHIFT, 0);
		return;
	}
	if (z->n == MAX_SPANS)
		zap_flush(z);
	z->spans[z->n].first = first;
	z->spans[z->n].end = end;
	z->n++;
}

/*
 * Start collecting spans for @slot. Without memory for them a KVM_LOG
 * slot zaps every mapping: correct, only dearer for KVM.
 */
void kmig_rearm_begin(struct kmig_zap *z, struct kmig_slot *slot)
{
	z->slot = slot;
	z->n = 0;
	z->spans = NULL;
	BUILD_BUG_ON(MAX_SPANS * sizeof(*z->spans) > KMALLOC_MAX_CACHE_SIZE);
	if (slot->flags & KMIG_SLOT_KVM_LOG)
		z->spans = kmalloc_array(MAX_SPANS, sizeof(*z->spans),
					 GFP_KERNEL);
}

/* Zap what was collected: every page zapped so far has no user PTE. */
static void zap_sync(struct kmig_zap *z)
{
	if (z->spans && z->n)
		zap_flush(z);
}

void kmig_rearm_end(struct kmig_zap *z)
{
	if (z->spans)
		zap_flush(z);
	kfree(z->spans);
}

/* Wait for a .page_mkwrite that holds @folio locked to finish. */
static void folio_wait_unlocked(struct folio *folio)
{
	if (folio_test_locked(folio)) {
		folio_lock(folio);
		folio_unlock(folio);
	}
}

/*
 * Call @fn(@folio, @arg) on every folio cached at pages @first .. @end - 1
 * of @slot, referenced, a batch at a time; a large folio once, whole even
 * if it reaches past the range. May sleep.
 */
void kmig_walk_folios(struct kmig_slot *slot, unsigned long first,
		      unsigned long end,
		      void (*fn)(struct folio *folio, void *arg), void *arg)
{
	struct address_space *mapping = kmig_slot_mapping(slot);
	pgoff_t index = slot->pgoff + first, last = slot->pgoff + end - 1;
	struct folio_batch fbatch;
	unsigned int i;

	if (first >= end)
		return;
	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, last, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++)
			fn(fbatch.folios[i], arg);
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * The next span of set bits in @bits (@nbits bits) from bit *@i on: bits
 * *@first .. *@end - 1, set bits closer than SPAN_GAP joined with those
 * between. Returns false when there is none.
 */
static bool next_span(const unsigned long *bits, unsigned long nbits,
		      unsigned long *i, unsigned long *first,
		      unsigned long *end)
{
	unsigned long n = find_next_bit(bits, nbits, *i);

	if (n >= nbits)
		return false;
	*first = n;
	do {
		*end = n + 1;
		n = find_next_bit(bits, nbits, *end);
	} while (n < nbits && n < *end + SPAN_GAP);
	*i = n;
	return true;
}

/*
 * A reference on @folio, just found by @xas under RCU, if it is still
 * cached there; false: the walk must xas_reset() and look again.
 */
static bool peek_get(struct xa_state *xas, struct folio *folio)
{
	if (!folio_try_get(folio))
		return false;
	if (unlikely(folio != xas_reload(xas))) {
		folio_put(folio);
		return false;
	}
	return true;
}

/* What peek_span() does to a folio it picks. */
enum peek {
	PEEK_WAIT,	/* wait out a .page_mkwrite that holds it locked */
	PEEK_CLEAN,	/* clear its PG_dirty */
	PEEK_PINNED,	/* put its reported pages back in the log if pinned */
};

/* Whether peek_span() picks @folio, unreferenced, for @what. */
static bool peek_picks(struct folio *folio, enum peek what)
{
	switch (what) {
	case PEEK_WAIT:
		return folio_test_locked(folio);
	case PEEK_CLEAN:
		return folio_test_dirty(folio);
	default:
		/* A staged page is absent: nothing of it to log. */
		return kmig_folio_present(folio) &&
		       kmig_folio_maybe_pinned(folio, 0);
	}
}

/*
 * Set again in @slot's log the pages @s .. @e - 1 whose bits are set in
 * @bits (bit 0: page @base): a harvest reports them, and the next one
 * will too.
 */
static void keep_bits(struct kmig_slot *slot, unsigned long base,
		      const unsigned long *bits, unsigned long s,
		      unsigned long e)
{
	unsigned long p = find_next_bit(bits, e - base, s - base);

	for (; p < e - base; p = find_next_bit(bits, e - base, p + 1))
		set_bit(base + p, slot->dirty);
}

/*
 * Do @what to every folio cached at pages @first .. @end - 1 of @slot
 * with a page whose bit is set in @bits (bit 0: page @base). The walk is
 * lockless and references only a folio that is locked (PEEK_WAIT), dirty
 * (PEEK_CLEAN) or maybe pinned (PEEK_PINNED): one pass over the span, no
 * cache lookup per page. A large folio is picked if any of its pages in
 * the span has its bit; PEEK_PINNED keeps all those pages (which page a
 * pin holds, the folio does not say).
 */
static void peek_span(struct kmig_slot *slot, unsigned long base,
		      const unsigned long *bits, unsigned long first,
		      unsigned long end, enum peek what)
{
	struct address_space *mapping = kmig_slot_mapping(slot);
	XA_STATE(xas, &mapping->i_pages, slot->pgoff + first);
	unsigned long s, e;
	struct folio *folio;

	rcu_read_lock();
	xas_for_each(&xas, folio, slot->pgoff + end - 1) {
		if (xas_retry(&xas, folio) || xa_is_value(folio))
			continue;
		if (!peek_picks(folio, what))
			continue;
		if (!peek_get(&xas, folio))
			goto again;
		/* Referenced and still cached: its index and size hold. */
		s = max_t(pgoff_t, folio->index, slot->pgoff + first) -
		    slot->pgoff;
		e = min_t(pgoff_t, folio_next_index(folio), slot->pgoff + end) -
		    slot->pgoff;
		if (find_next_bit(bits, e - base, s - base) >= e - base) {
			folio_put(folio);
			continue;
		}
		if (what == PEEK_CLEAN) {
			folio_clear_dirty(folio);
			folio_put(folio);
			continue;
		}
		if (what == PEEK_PINNED) {
			if (kmig_folio_maybe_pinned(folio, 1))
				keep_bits(slot, base, bits, s, e);
			folio_put(folio);
			continue;
		}
		xas_pause(&xas);
		rcu_read_unlock();
		folio_wait_unlocked(folio);
		folio_put(folio);
		cond_resched();
		rcu_read_lock();
		continue;
again:
		xas_reset(&xas);
	}
	rcu_read_unlock();
}

/*
 * Re-arm the pages whose bits are set in @bits (@nwords words from page
 * @base), bits the caller has cleared and reports: wait out in-flight
 * .page_mkwrite calls, zap the user PTEs, and clear the PG_dirty that KVM
 * set when its notifier dropped writable SPTEs (and that zapping a dirty
 * PTE sets). Zapping extra clean pages is harmless, and one call for a
 * span costs far less than many small ones: every call is an MMU notifier
 * round trip with a TLB flush. Each step walks the cache once per span.
 *
 * A .page_mkwrite that set a bit the caller cleared holds the page lock
 * until its writable PTE is in. The caller's atomic clear of the word
 * ordered that bit before our look at PG_locked, so an unlocked page has
 * no such call in flight: only a locked page needs waiting for.
 *
 * A KVM_LOG slot does not fold PG_dirty, so a write pinned through a
 * tracked view (O_DIRECT) that lands after this report would be in no
 * log: a reported page whose folio is pinned is set again, and reported
 * until a harvest finds it unpinned. The look comes after the zap: a pin
 * taken later must fault first, and its .page_mkwrite logs the page.
 */
void kmig_rearm(struct kmig_zap *z, unsigned long base, const u64 *bits,
		unsigned long nwords)
{
	const unsigned long *b = (const unsigned long *)bits;
	unsigned long nbits = nwords * 64, i, first, end;
	struct kmig_slot *slot = z->slot;

	nbits = min(nbits, slot->npages - base);
	for (i = 0; next_span(b, nbits, &i, &first, &end);)
		peek_span(slot, base, b, base + first, base + end, PEEK_WAIT);
	/* An unlock seen above comes before its PTE is zapped. */
	smp_rmb();
	for (i = 0; next_span(b, nbits, &i, &first, &end);)
		zap(z, base + first, base + end);
	/* KVM_LOG: PG_dirty is not read, and the guest view sets it freely. */
	if (slot->flags & KMIG_SLOT_KVM_LOG) {
		zap_sync(z);
		for (i = 0; next_span(b, nbits, &i, &first, &end);)
			peek_span(slot, base, b, base + first, base + end,
				  PEEK_PINNED);
		return;
	}
	for (i = 0; next_span(b, nbits, &i, &first, &end);)
		peek_span(slot, base, b, base + first, base + end, PEEK_CLEAN);
}

/*
 * Fold PG_dirty of the present pages of words @w0 .. @w0 + @n - 1 of the
 * log into @pg, skipping pages whose log bit is set: they are reported
 * anyway, and re-arming them clears their PG_dirty. The walk is lockless
 * and takes a folio reference only to clear a flag, so it costs one
 * cache lookup per present page, no atomic operation on a clean one.
 */
void kmig_fold_pg_dirty(struct kmig_slot *slot, unsigned long w0,
			unsigned long n, u64 *pg)
{
	unsigned long first = w0 * 64, end = min(slot->npages, (w0 + n) * 64);
	struct address_space *mapping = kmig_slot_mapping(slot);
	XA_STATE(xas, &mapping->i_pages, slot->pgoff + first);
	struct folio *folio;
	unsigned long p;

	memset(pg, 0, n * sizeof(*pg));
	/* KVM logs its kernel-mapping writes of a KVM_LOG slot itself. */
	if (!READ_ONCE(slot->logging) || slot->flags & KMIG_SLOT_KVM_LOG ||
	    first >= end)
		return;
	rcu_read_lock();
	xas_for_each(&xas, folio, slot->pgoff + end - 1) {
		if (xas_retry(&xas, folio) || xa_is_value(folio))
			continue;
		p = xas.xa_index - slot->pgoff;
		if (!folio_test_dirty(folio) || !kmig_folio_present(folio) ||
		    test_bit(p, slot->dirty))
			continue;
		if (!peek_get(&xas, folio))
			goto again;
		/* Order 0: the folio is page @p. */
		if (folio_test_clear_dirty(folio))
			pg[p / 64 - w0] |= 1ULL << (p % 64);
		folio_put(folio);
		continue;
again:
		xas_reset(&xas);
	}
	rcu_read_unlock();
}

static void wait_unlocked_fn(struct folio *folio, void *arg)
{
	folio_wait_unlocked(folio);
}

static void clear_dirty_fn(struct folio *folio, void *arg)
{
	folio_clear_dirty(folio);
}

/* Log every page of @arg's slot in @folio, referenced, if it is pinned. */
static void keep_pinned_fn(struct folio *folio, void *arg)
{
	struct kmig_slot *slot = arg;
	pgoff_t i, end;

	if (!kmig_folio_present(folio) || !kmig_folio_maybe_pinned(folio, 1))
		return;
	i = max_t(pgoff_t, folio->index, slot->pgoff) - slot->pgoff;
	end = min_t(pgoff_t, folio_next_index(folio),
		    slot->pgoff + slot->npages) - slot->pgoff;
	for (; i < end; i++)
		set_bit(i, slot->dirty);
}

/*
 * Every page of @slot re-armed after a restart: in-flight .page_mkwrite
 * calls waited out, every user PTE zapped, PG_dirty cleared; on a
 * KVM_LOG slot, which has no PG_dirty to fold, every page of a pinned
 * folio logged instead (a pinned write may land after the caller's copy),
 * after the zap as in kmig_rearm().
 */
void kmig_rearm_all(struct kmig_slot *slot)
{
	struct kmig_zap z;

	kmig_walk_folios(slot, 0, slot->npages, wait_unlocked_fn, NULL);
	/* An unlock seen above comes before its PTE is zapped. */
	smp_rmb();
	kmig_rearm_begin(&z, slot);
	zap(&z, 0, slot->npages);
	kmig_rearm_end(&z);
	if (slot->flags & KMIG_SLOT_KVM_LOG) {
		kmig_walk_folios(slot, 0, slot->npages, keep_pinned_fn, slot);
		return;
	}
	/*
	 * Only now: KVM's notifier, dropping its writable SPTEs above,
	 * marked every page the guest had written dirty.
	 */
	kmig_walk_folios(slot, 0, slot->npages, clear_dirty_fn, NULL);
}
