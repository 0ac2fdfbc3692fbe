// SPDX-License-Identifier: GPL-2.0
/*
 * The reference guest: dirties its working set in the configured pattern,
 * counts batches, and computes a checksum of the working set on request.
 * Freestanding: no libc, no 64-bit division (there is no libgcc here).
 */
#include <stdbool.h>
#include <stddef.h>

#include "abi.h"

_Static_assert(offsetof(struct guest_params, ticks) == GUEST_PARAMS_TICKS_OFF,
	       "start.S's timer handler bumps params.ticks");
_Static_assert(offsetof(struct guest_params, wlat) == GUEST_PARAMS_WLAT_OFF,
	       "benchmarks read params.wlat at its documented place");
_Static_assert(GUEST_PARAMS_GPA + sizeof(struct guest_params) <=
	       GUEST_GDT_GPA, "a self-paced guest's GDT follows the params");

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
		if (!v->cursor && p->after_fill) {
			p->pattern = p->after_fill - 1;
			p->after_fill = 0;
		}
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

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* The params.wlat bucket of @cycles (abi.h); no 64-bit division here. */
static uint32_t wlat_bucket(uint64_t cycles)
{
	uint32_t hi = (uint32_t)(cycles >> 32), m, b;

	if (cycles < 4)
		return (uint32_t)cycles;
	m = hi ? 63 - __builtin_clz(hi) : 31 - __builtin_clz((uint32_t)cycles);
	b = 4 * (m - 1) + ((uint32_t)(cycles >> (m - 2)) & 3);
	return b < GUEST_WLAT_BUCKETS ? b : GUEST_WLAT_BUCKETS - 1;
}

/* Write @count pages of the pattern, each write timed into params.wlat. */
static void dirty(volatile struct guest_params *p, uint32_t id,
		  uint32_t count)
{
	volatile struct guest_vcpu_state *v = &p->vcpu[id];
	volatile uint64_t *page;
	uint64_t w, t0, t1;
	uint32_t i;

	if (p->pattern == GUEST_PATTERN_NONE || !p->ws_pages)
		return;
	for (i = 0; i < count; i++) {
		page = (volatile uint64_t *)(GUEST_WS_GPA +
					     next_page(p, v) * GUEST_PAGE_SIZE);
		w = v->writes + 1;
		v->writes = w;
		t0 = rdtsc();
		page[0] = w << 8 | id;
		t1 = rdtsc();
		page[1 + ((uint32_t)w & 510)] = w;
		__atomic_fetch_add(&p->wlat[wlat_bucket(t1 - t0)], 1,
				   __ATOMIC_RELAXED);
	}
}

static void checksum(volatile struct guest_params *p)
{
	const volatile uint64_t *q = (const volatile uint64_t *)GUEST_WS_GPA;
	uint32_t i, words = p->ws_pages * (GUEST_PAGE_SIZE / 8);
	uint32_t req = p->csum_req;
	uint64_t c = guest_csum_init(p->ws_pages);

	/* Exit now and then: under emulation, a vCPU that stays in the
	 * guest for long holds up its host CPU. */
	for (i = 0; i < words; i++) {
		c = guest_csum_step(c, q[i]);
		if (!((i + 1) % (GUEST_YIELD_PAGES * (GUEST_PAGE_SIZE / 8))))
			outl(GUEST_PORT_YIELD, 0);
	}
	p->csum = c;
	p->csum_done = req;
	outl(GUEST_PORT_CSUM, 0);
}

static void put_le(volatile uint8_t *b, uint64_t v, uint32_t bytes)
{
	uint32_t i;

	for (i = 0; i < bytes; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/*
 * One frame to the network device (abi.h): broadcast, from a locally
 * administered address, the experimental ethertype, then magic, vCPU,
 * sequence number, writes and counter.
 */
static void net_send(volatile struct guest_params *p, uint32_t id)
{
	volatile struct guest_net_frame *f =
		(volatile struct guest_net_frame *)p->net_frame;
	volatile uint8_t *d = f->data;
	uint64_t seq = p->net_seq + 1;
	uint32_t i;

	for (i = 0; i < GUEST_NET_FRAME_MIN; i++)
		d[i] = i < 6 ? 0xff : 0;
	put_le(d + 6, GUEST_NET_MAC, 6);
	d[12] = GUEST_NET_ETHERTYPE >> 8;
	d[13] = GUEST_NET_ETHERTYPE & 0xff;
	put_le(d + 14, GUEST_NET_MAGIC, 4);
	put_le(d + 18, id, 4);
	put_le(d + 22, seq, 8);
	put_le(d + 30, p->vcpu[id].writes, 8);
	put_le(d + 38, p->vcpu[id].counter, 8);
	f->len = GUEST_NET_FRAME_MIN;
	p->net_seq = seq;
	outl(GUEST_PORT_NET, p->net_frame);
}

/* Sleep until the next timer interrupt (interrupts are off otherwise). */
static inline void wait_tick(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/*
 * Self-paced (one vCPU): how many pages to write now. The TSC says which
 * pages are due; the timer interrupt only wakes the guest to look. Like
 * kmig-vmm's pacing, it forgets what is over 1/10 s late: a guest that
 * was stopped does not catch up. Filling, or rate 0: a batch.
 */
static uint32_t pace(volatile struct guest_params *p)
{
	uint64_t now, due;
	uint32_t n = 0;

	if (p->after_fill || (!p->rate && p->pattern != GUEST_PATTERN_NONE))
		return p->batch;
	for (;;) {
		now = rdtsc();
		due = p->next_due;
		if (p->pattern == GUEST_PATTERN_NONE || !p->rate || !due ||
		    (now > due && now - due > p->tsc_late))
			due = now;
		while (due <= now && n < p->batch &&
		       p->pattern != GUEST_PATTERN_NONE) {
			due += p->tsc_per_page;
			n++;
		}
		p->next_due = due;
		if (n)
			return n;
		wait_tick();
	}
}

void guest_main(uint32_t id)
{
	volatile struct guest_params *p =
		(volatile struct guest_params *)GUEST_PARAMS_GPA;
	bool self_paced;

	if (p->magic != GUEST_PARAMS_MAGIC || id >= GUEST_MAX_VCPUS ||
	    p->pattern >= GUEST_PATTERN_MAX)
		outl(GUEST_PORT_PANIC, id);
	self_paced = p->clock_hz != 0;
	for (;;) {
		dirty(p, id, self_paced ? pace(p) : p->batch);
		p->vcpu[id].counter++;
		if (id == 0 && p->csum_req != p->csum_done)
			checksum(p);
		if (id == 0 && p->net_every && ++p->net_ticks >= p->net_every) {
			p->net_ticks = 0;
			net_send(p, id);
		}
		if (!self_paced)
			outl(GUEST_PORT_TICK, id);
	}
}
