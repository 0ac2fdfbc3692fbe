// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's log of torn pages (torn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "torn.h"
#include "util.h"

int mig_torn_init(struct mig_torn *t, const struct mig_vm *vm)
{
	unsigned int i;
	size_t words;

	t->vm = vm;
	for (i = 0; i < vm->nslots; i++) {
		words = kmig_bitmap_words(vm->slots[i].npages);
		t->log[0].bits[i] = calloc(words, sizeof(uint64_t));
		t->log[1].bits[i] = calloc(words, sizeof(uint64_t));
		t->discarded[i] = calloc(words, sizeof(uint64_t));
		if (!t->log[0].bits[i] || !t->log[1].bits[i] ||
		    !t->discarded[i])
			return -ENOMEM;
	}
	return 0;
}

void mig_torn_free(struct mig_torn *t)
{
	unsigned int i;

	for (i = 0; i < MIG_MAX_SLOTS; i++) {
		free(t->log[0].bits[i]);
		free(t->log[1].bits[i]);
		free(t->discarded[i]);
		t->log[0].bits[i] = t->log[1].bits[i] = NULL;
		t->discarded[i] = NULL;
	}
}

/* Set or clear @page of slot index @i in log @k. */
static void set(struct mig_torn *t, unsigned int k, unsigned int i,
		uint64_t page, bool on)
{
	uint64_t *word = &t->log[k].bits[i][page / 64];
	uint64_t bit = 1ull << (page % 64);

	if (on) {
		if (!(__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit))
			__atomic_fetch_add(&t->log[k].count, 1,
					   __ATOMIC_RELAXED);
		return;
	}
	/* Almost always clear already: look before writing the word. */
	if ((__atomic_load_n(word, __ATOMIC_RELAXED) & bit) &&
	    (__atomic_fetch_and(word, ~bit, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_sub(&t->log[k].count, 1, __ATOMIC_RELAXED);
}

static bool discarded(const struct mig_torn *t, unsigned int i,
		      uint64_t page)
{
	return __atomic_load_n(&t->discarded[i][page / 64], __ATOMIC_RELAXED) &
	       (1ull << (page % 64));
}

void mig_torn_mark(struct mig_torn *t, unsigned int i, uint64_t page,
		   bool torn)
{
	/* Come again, torn or not: the round before is owed it no more. */
	set(t, !t->cur, i, page, false);
	set(t, t->cur, i, page, torn);
	if (!torn)
		return;
	__atomic_fetch_add(&t->pages, 1, __ATOMIC_RELAXED);
	/*
	 * A copy older than the page's discard: stale, not owed. The fences
	 * pair with mig_torn_discard()'s: either this sees its bit, or it
	 * clears the bit set above.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (discarded(t, i, page))
		set(t, t->cur, i, page, false);
}

void mig_torn_discard(struct mig_torn *t, unsigned int i, uint64_t page)
{
	__atomic_fetch_or(&t->discarded[i][page / 64], 1ull << (page % 64),
			  __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* mig_torn_mark()'s */
	set(t, 0, i, page, false);
	set(t, 1, i, page, false);
}

/* The first page in log @k, in slot index *@i: false if none. */
static bool first(const struct mig_torn *t, unsigned int k, unsigned int *i,
		  uint64_t *page)
{
	const uint64_t *bits;
	uint64_t w, words;

	if (!__atomic_load_n(&t->log[k].count, __ATOMIC_RELAXED))
		return false;
	for (*i = 0; *i < t->vm->nslots; (*i)++) {
		bits = t->log[k].bits[*i];
		words = kmig_bitmap_words(t->vm->slots[*i].npages);
		for (w = 0; w < words; w++)
			if (bits[w]) {
				*page = w * 64 + __builtin_ctzll(bits[w]);
				return true;
			}
	}
	return false;
}

int mig_torn_round_end(struct mig_torn *t, uint64_t round, char *err,
		       size_t n)
{
	unsigned int i;
	uint64_t page;

	if (round && first(t, !t->cur, &i, &page)) {
		snprintf(err, n, "CRC mismatch: page %llu of slot %u arrived torn in round %llu and did not come again in round %llu (damaged on the way?)",
			 (unsigned long long)page, t->vm->slots[i].id,
			 (unsigned long long)round - 1,
			 (unsigned long long)round);
		return -EBADMSG;
	}
	t->cur = !t->cur;
	return 0;
}

bool mig_torn_left(const struct mig_torn *t, char *err, size_t n)
{
	unsigned int k, i;
	uint64_t page;

	for (k = 0; k < 2; k++)
		if (first(t, k, &i, &page)) {
			snprintf(err, n, "CRC mismatch: page %llu of slot %u arrived torn and did not come again before the end (damaged on the way?)",
				 (unsigned long long)page, t->vm->slots[i].id);
			return true;
		}
	return false;
}
