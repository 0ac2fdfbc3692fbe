/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the reference VMM and its guest payload agree on: the guest's
 * physical memory layout, its I/O ports and the parameter page.
 *
 * The payload runs in 32-bit protected mode, paging off, flat segments.
 * Everything the guest needs to continue after a migration (its counters,
 * its random seed, its position) lives in guest memory, in the parameter
 * page, so moving RAM and vCPU state moves the whole workload.
 *
 * Two ways to run it. Under kmig-vmm, the VMM loads the payload, fills the
 * parameter page and paces the guest at GUEST_PORT_TICK. Booted by any
 * other VMM (QEMU) with multiboot, the boot stub of boot.S/boot.c does
 * that setup from its command line and the guest paces itself with a
 * timer interrupt (clock_hz != 0): the same code dirties the same pages.
 *
 * Guest physical layout:
 *   0x00001000  payload code and data (up to 56 KiB)
 *   0x0000f000  parameter page (struct guest_params); a self-paced guest
 *               keeps its GDT and IDT at its end (boot.c)
 *   0x00010000  vCPU stacks, 8 KiB each
 *   0x00020000  the network device's frame buffer (struct guest_net_frame)
 *   0x00100000  working set: the pages the guest dirties, to the end of RAM
 */
#ifndef KMIG_VMM_GUEST_ABI_H
#define KMIG_VMM_GUEST_ABI_H

#define GUEST_CODE_GPA		0x1000u
#define GUEST_CODE_MAX		0xe000u
#define GUEST_PARAMS_GPA	0xf000u
#define GUEST_STACKS_GPA	0x10000u
#define GUEST_STACK_SIZE	0x2000u
#define GUEST_WS_GPA		0x100000u
#define GUEST_MAX_VCPUS		8
#define GUEST_PAGE_SIZE		4096u

/* Ports: OUT from the guest. */
#define GUEST_PORT_TICK		0x10	/* a batch is done (32-bit vCPU id) */
#define GUEST_PORT_CSUM		0x11	/* params.csum is ready */
#define GUEST_PORT_PANIC	0x12	/* the payload found bad parameters */
#define GUEST_PORT_YIELD	0x13	/* a long computation goes on */
#define GUEST_YIELD_PAGES	16	/* checksum pages between yields */
#define GUEST_PORT_NET		0x14	/* send the frame at this 32-bit GPA */

/*
 * The network device (Documentation/vmm.rst, "Network device"): vCPU 0
 * builds one Ethernet frame every params.net_every ticks in a struct
 * guest_net_frame at params.net_frame and OUTs that address to
 * GUEST_PORT_NET; the VMM sends the frame as it is. net_seq counts the
 * frames built; it is bumped before the OUT, so a checkpoint taken at any
 * instruction never repeats or skips a number.
 */
#define GUEST_NET_GPA		0x20000u
#define GUEST_NET_FRAME_MAX	1514u	/* Ethernet header and 1500 bytes */
#define GUEST_NET_FRAME_MIN	60u	/* Ethernet's minimum, without FCS */
#define GUEST_NET_ETHERTYPE	0x88b5u	/* IEEE 802 local experimental */
#define GUEST_NET_MAGIC		0x4e474d4bu	/* "KMGN" */
/* The guest's MAC, 02:6d:6b:6d:67:00 (locally administered): its six
 * bytes in wire order, little endian in a u64. Its frames come from it,
 * and the VMM's `announce` names it. */
#define GUEST_NET_MAC		0x00676d6b6d02ull
/* Payload after the 14-byte Ethernet header, little endian: magic u32,
 * vcpu u32, seq u64, writes u64, counter u64. */
#define GUEST_NET_PAYLOAD	32u

#define GUEST_PARAMS_MAGIC	0x6b6d6770u	/* "pgmk" */

/*
 * Write latency histogram (params.wlat): every page write of dirty() is
 * timed with RDTSC and counted in a bucket, four to an octave of TSC
 * cycles: bucket b < 4 holds b cycles; above, bucket 4 * (m - 1) + s holds
 * [(4 + s) << (m - 2), (5 + s) << (m - 2)), m the top bit's position, s
 * the two bits below it. The last bucket takes everything longer. Passive:
 * nothing in the guest reads it; a benchmark reads it from guest memory
 * (a write to a page the destination lacks in postcopy blocks until the
 * page is installed, and shows here).
 */
#define GUEST_WLAT_BUCKETS	192
#define GUEST_PARAMS_WLAT_OFF	0x130

/* Self-paced guests only: the timer interrupt's handler, at a fixed place
 * in the payload, bumps the ticks field of the parameter page. */
#define GUEST_ISR_GPA		(GUEST_CODE_GPA + 0x40)
#define GUEST_TIMER_VECTOR	0x20
#define GUEST_PARAMS_TICKS_OFF	0xf4
#define GUEST_GDT_GPA		0xfe00u
#define GUEST_IDT_GPA		0xfe40u	/* vectors 0..GUEST_TIMER_VECTOR */

#ifndef __ASSEMBLER__
#include <stdint.h>

enum guest_pattern {
	GUEST_PATTERN_NONE,	/* no writes: ticks only */
	GUEST_PATTERN_SEQ,	/* page after page, wrapping */
	GUEST_PATTERN_RANDOM,	/* uniform over the working set */
	GUEST_PATTERN_HOT,	/* 9 of 10 writes in the first hot_pages */
	GUEST_PATTERN_MAX,
};

struct guest_vcpu_state {
	uint64_t counter;	/* batches completed */
	uint64_t writes;	/* pages written */
	uint32_t seed;		/* xorshift32 state */
	uint32_t cursor;	/* next page of the sequential pattern */
};

struct guest_params {
	uint32_t magic;
	uint32_t nvcpus;
	uint32_t ws_pages;	/* working set pages from GUEST_WS_GPA */
	uint32_t pattern;	/* enum guest_pattern */
	uint32_t batch;		/* pages per tick */
	uint32_t hot_pages;
	uint32_t csum_req;	/* the VMM bumps it to ask for a checksum */
	uint32_t csum_done;	/* vCPU 0 copies csum_req when csum is set */
	uint64_t csum;
	struct guest_vcpu_state vcpu[GUEST_MAX_VCPUS];
	/* Self-paced guests only; kmig-vmm leaves them 0. */
	uint32_t clock_hz;	/* timer interrupts per second: wake-ups */
	uint32_t rate;		/* pages per second, 0: no limit */
	uint32_t after_fill;	/* pattern + 1 to take after one seq pass */
	uint32_t ticks;		/* timer interrupts so far */
	uint64_t tsc_hz;	/* the TSC's rate, measured at boot */
	uint64_t tsc_per_page;	/* at the rate */
	uint64_t tsc_late;	/* tsc_hz / 10 */
	uint64_t next_due;	/* TSC when the next page is due, 0: now */
	/* Network device; kmig-vmm sets net_every and net_frame at load. */
	uint64_t net_seq;	/* frames built so far: the last one's seq */
	uint32_t net_every;	/* ticks between frames, 0: none */
	uint32_t net_ticks;	/* ticks since the last frame */
	uint32_t net_frame;	/* GPA of the struct guest_net_frame */
	uint32_t net_pad;
	uint32_t wlat[GUEST_WLAT_BUCKETS];	/* write latency histogram */
};

struct guest_net_frame {
	uint32_t len;		/* bytes of data */
	uint8_t data[GUEST_NET_FRAME_MAX];
};

/* Checksum of the working set: fold every 64-bit word, in page order. */
static inline uint64_t guest_csum_step(uint64_t c, uint64_t word)
{
	return ((c << 7) | (c >> 57)) ^ word;
}

static inline uint64_t guest_csum_init(uint32_t ws_pages)
{
	return 0x6b6d6967ull ^ ws_pages;
}

#endif /* __ASSEMBLER__ */
#endif /* KMIG_VMM_GUEST_ABI_H */
