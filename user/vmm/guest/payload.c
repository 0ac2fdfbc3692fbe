// SPDX-License-Identifier: GPL-2.0
/*
 * The reference guest: dirties its working set in the configured pattern,
 * counts batches, and computes a checksum of the working set on request.
 * Freestanding: no libc, no 64-bit division (there is no libgcc here).
 */
#include "abi.h"

void guest_main(uint32_t id);

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static uint32_t xorshift(volatile struct guest_vcpu_state *v)
{
	uint32_t x = v->seed;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	v->seed = x;
	return x;
}

static uint32_t next_page(volatile struct guest_params *p,
			  volatile struct guest_vcpu_state *v)
{
	uint32_t n = p->ws_pages, r, page;

	switch (p->pattern) {
	case GUEST_PATTERN_SEQ:
		page = v->cursor;
		v->cursor = page + 1 >= n ? 0 : page + 1;
		return page;
	case GUEST_PATTERN_HOT:
		r = xorshift(v);
		if (r % 10 && p->hot_pages && p->hot_pages <= n)
			return xorshift(v) % p->hot_pages;
		return xorshift(v) % n;
	default:
		return xorshift(v) % n;
	}
}

static void dirty(volatile struct guest_params *p, uint32_t id)
{
	volatile struct guest_vcpu_state *v = &p->vcpu[id];
	volatile uint64_t *page;
	uint32_t i, batch = p->batch;
	uint64_t w;

	if (p->pattern == GUEST_PATTERN_NONE || !p->ws_pages)
		return;
	for (i = 0; i < batch; i++) {
		page = (volatile uint64_t *)(GUEST_WS_GPA +
					     next_page(p, v) * GUEST_PAGE_SIZE);
		w = v->writes + 1;
		v->writes = w;
		page[0] = w << 8 | id;
		page[1 + ((uint32_t)w & 510)] = w;
	}
}

static void checksum(volatile struct guest_params *p)
{
	const volatile uint64_t *q = (const volatile uint64_t *)GUEST_WS_GPA;
	uint32_t i, words = p->ws_pages * (GUEST_PAGE_SIZE / 8);
	uint32_t req = p->csum_req;
	uint64_t c = guest_csum_init(p->ws_pages);

	for (i = 0; i < words; i++)
		c = guest_csum_step(c, q[i]);
	p->csum = c;
	p->csum_done = req;
	outl(GUEST_PORT_CSUM, 0);
}

void guest_main(uint32_t id)
{
	volatile struct guest_params *p =
		(volatile struct guest_params *)GUEST_PARAMS_GPA;

	if (p->magic != GUEST_PARAMS_MAGIC || id >= GUEST_MAX_VCPUS ||
	    p->pattern >= GUEST_PATTERN_MAX)
		outl(GUEST_PORT_PANIC, id);
	for (;;) {
		dirty(p, id);
		p->vcpu[id].counter++;
		if (id == 0 && p->csum_req != p->csum_done)
			checksum(p);
		outl(GUEST_PORT_TICK, id);
	}
}
