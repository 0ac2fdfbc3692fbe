/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the sending and receiving engines (sender.h, receiver.h) share:
 * guest memory as they see it, and the layout of a migration's streams.
 *
 * Wire layout (Documentation/kmig.8, Documentation/stream-format.rst):
 * channel 0 (main) carries a hello, then one stream: CAPS, CHANNELS (when
 * page channels exist), OPEN_RETURN_PATH, per round a RAM section part
 * (pages only without page channels), device parts, ROUND_SYNC; then
 * SWITCHOVER, the final RAM part, one VCPU section per vCPU, the final
 * device parts, END_OF_STREAM. Page channel i (1..N) carries a hello and
 * its own stream of RAM section parts, each followed by ROUND_SYNC.
 * The main connection also carries the return path from the
 * destination and, after END_OF_STREAM, the switchover handshake
 * (handshake.h).
 */
#ifndef KMIG_ENGINE_H
#define KMIG_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

#define MIG_PAGE		4096u
#define MIG_MAX_SLOTS		16
#define MIG_MAX_CHANNELS	16	/* page channels */
#define MIG_RAM_SECTION		1000u	/* + channel */
#define MIG_DEV_SECTION		2000u	/* + device index */
#define MIG_DISCARD_SECTION	3000u	/* postcopy: the discard list */
#define MIG_URGENT_SECTION	3001u	/* postcopy: requested pages */
/* Pages per unit of work a sender takes from the round's cursor. */
#define MIG_CHUNK_PAGES		256u
/* A huge slot's block: one 2 MiB folio (KMIG_HUGE_SIZE), aligned. */
#define MIG_BLOCK_PAGES		512u
/* Default --io-timeout. */
#define MIG_IO_TIMEOUT_S	30

struct mig_slot {
	uint32_t id;
	uint64_t gpa, size, npages;
	bool huge;			/* KMIG_SLOT_HUGE: in aligned blocks of
					 * MIG_BLOCK_PAGES (2 MiB folios) */
	uint8_t *map;			/* source: the slot, read only */
	uint64_t *bitmap;		/* source: this round's pages */
	uint64_t *present;		/* source, round 0: pages with memory */
	uint64_t *written;		/* destination: pages not zero */
	/* destination, postcopy: the discard list; every page of it is in
	 * missing mode from the listen on, the stale ones (present here
	 * before) discarded */
	uint64_t *discard;
};

/*
 * Pages per sender's chunk of @sl: on a huge slot a whole block, so that
 * one channel carries it, in order (postcopy installs it in one call).
 */
static inline uint64_t mig_slot_chunk(const struct mig_slot *sl)
{
	return sl->huge ? MIG_BLOCK_PAGES : MIG_CHUNK_PAGES;
}

/*
 * A VM's memory: its context's fd (ctx.h) and its slots, mapped. With
 * @plain, ctx_fd is an ordinary file standing in for a context (a memfd
 * in benches and host tests; slot 0, at offset 0): every page has memory
 * already, and nothing is asked of the module.
 */
struct mig_vm {
	struct vmm_client vmm;
	int ctx_fd;
	bool plain;
	unsigned int nslots;
	struct mig_slot slots[MIG_MAX_SLOTS];
	uint64_t mem_size;
};

/* The index in @vm->slots of slot @id, or -1 when it has none. */
static inline int mig_vm_slot_index(const struct mig_vm *vm, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++)
		if (vm->slots[i].id == id)
			return i;
	return -1;
}

#endif /* KMIG_ENGINE_H */
