/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The destination's log of torn pages: pages that arrived not matching
 * their CRC, because the source read them while its guest wrote them
 * (stream-format.rst, "Torn pages"). Such a write came after the harvest
 * that put the page in its round, so the source's dirty log has it for
 * the next round: a page torn in round R must arrive again in round
 * R + 1 (torn again, if the guest keeps writing it: then round R + 2 owes
 * it). The log keeps the pages of the round being received and those of
 * the round before, still owed; a round that ends owing one fails the
 * migration, as does the end of the stream with any left.
 *
 * Marks come from every channel's thread at once (atomics); a round's end
 * comes when every channel has synced it, so no mark is on its way.
 *
 * A page in postcopy's discard list is owed no more: it is fetched again.
 * The main channel reads that list while a page channel may still be
 * reading the last precopy round, so a torn copy of a discarded page can
 * come after its discard; the log remembers the discards (->discarded)
 * and takes such a copy for the stale one it is.
 */
#ifndef KMIG_TORN_H
#define KMIG_TORN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct mig_torn {
	struct {
		uint64_t *bits[MIG_MAX_SLOTS];
		uint64_t count;		/* bits set */
	} log[2];
	uint64_t *discarded[MIG_MAX_SLOTS];
	unsigned int cur;		/* log[cur]: this round's */
	const struct mig_vm *vm;
	uint64_t pages;			/* how many arrived torn */
};

/* 0 or -ENOMEM. */
int mig_torn_init(struct mig_torn *t, const struct mig_vm *vm);
void mig_torn_free(struct mig_torn *t);
/* Page @page of the slot vm->slots[@i] arrived torn, or (!@torn) whole. */
void mig_torn_mark(struct mig_torn *t, unsigned int i, uint64_t page,
		   bool torn);
/*
 * Page @page of slot index @i is in postcopy's discard list: its copies
 * so far are stale, it is fetched again, a torn one is owed no more.
 */
void mig_torn_discard(struct mig_torn *t, unsigned int i, uint64_t page);
/*
 * Round @round is all in: 0, or -EBADMSG when a page torn in the round
 * before did not come again in it (the message in @err).
 */
int mig_torn_round_end(struct mig_torn *t, uint64_t round, char *err,
		       size_t n);
/* At the stream's end: true, with the message in @err, if one is left. */
bool mig_torn_left(const struct mig_torn *t, char *err, size_t n);

#endif /* KMIG_TORN_H */
