// SPDX-License-Identifier: GPL-2.0
/*
 * Boot stub of the self-paced guest (abi.h): what kmig-vmm does before it
 * runs the payload, done by the guest itself after a multiboot load. The
 * command line sets the workload, words of the form KEY=VALUE:
 *
 *   pattern=none|seq|random|hot   (default random)
 *   rate=N      pages per second, 0: no limit (default 0)
 *   batch=N     largest write burst, pages (default 64)
 *   hot=N       hot set of the hot pattern (default 1/16 of the set)
 *   hz=N        timer interrupts per second (default 1000)
 *   pages=N     working set pages (default: all RAM above 1 MiB that the
 *               loader reports, which may keep the top few back)
 *   fill=1      write every page once first (seq), then take the pattern
 *
 * The TSC's
 * rate is measured against the RTC's seconds (1 to 2 s at boot); the
 * payload paces itself with the TSC and sleeps in HLT between timer
 * interrupts of the 8254, through the 8259. Runs once, from boot.S; the stub lives in the working
 * set and is overwritten once the guest writes there.
 */
#include <stdint.h>

#include "abi.h"

#define MB_BOOT_MAGIC	0x2badb002u
#define MB_INFO_MEM	(1u << 0)
#define MB_INFO_CMDLINE	(1u << 2)
#define PIT_HZ		1193182u

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;	/* KiB */
	uint32_t mem_upper;	/* KiB above 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
};

extern const uint8_t boot_payload[], boot_payload_end[];
void boot_main(uint32_t magic, const struct mb_info *mbi);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* @n / @d without libgcc: shift and subtract. */
static uint64_t div64(uint64_t n, uint32_t d)
{
	uint64_t q = 0, r = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		r = r << 1 | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	return q;
}

static uint8_t rtc_seconds(void)
{
	outb(0x70, 0x00);
	return inb(0x71);
}

/* TSC ticks in one second of the RTC, from one seconds edge to the next. */
static uint64_t tsc_hz(void)
{
	uint8_t s = rtc_seconds();
	uint64_t t0;

	while (rtc_seconds() == s)
		;
	t0 = rdtsc();
	s = rtc_seconds();
	while (rtc_seconds() == s)
		;
	return rdtsc() - t0;
}

static void stop(void)
{
	outb(0xf4, 1);	/* isa-debug-exit, where there is one */
	for (;;)
		__asm__ volatile("cli; hlt");
}

static int word_is(const char *w, const char *key, const char **val)
{
	while (*key && *w == *key) {
		w++;
		key++;
	}
	if (*key || *w != '=')
		return 0;
	*val = w + 1;
	return 1;
}

static uint32_t number(const char *s)
{
	uint32_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	return v;
}

/* Does the word at @w (up to a space) equal @name? */
static int word_eq(const char *w, const char *name)
{
	while (*name && *w == *name) {
		w++;
		name++;
	}
	return !*name && (*w == ' ' || !*w);
}

static uint32_t pattern(const char *s)
{
	static const char *const names[GUEST_PATTERN_MAX] = {
		"none", "seq", "random", "hot",
	};
	uint32_t i;

	for (i = 0; i < GUEST_PATTERN_MAX; i++)
		if (word_eq(s, names[i]))
			return i;
	return GUEST_PATTERN_MAX;	/* the payload refuses it */
}

static void parse(volatile struct guest_params *p, const char *c, int *fill)
{
	const char *v;

	while (*c) {
		while (*c == ' ')
			c++;
		if (word_is(c, "pattern", &v))
			p->pattern = pattern(v);
		else if (word_is(c, "rate", &v))
			p->rate = number(v);
		else if (word_is(c, "batch", &v))
			p->batch = number(v);
		else if (word_is(c, "hot", &v))
			p->hot_pages = number(v);
		else if (word_is(c, "hz", &v))
			p->clock_hz = number(v);
		else if (word_is(c, "pages", &v))
			p->ws_pages = number(v);
		else if (word_is(c, "fill", &v))
			*fill = number(v) != 0;
		while (*c && *c != ' ')
			c++;
	}
}

static void params(volatile struct guest_params *p,
		   const struct mb_info *mbi)
{
	volatile uint8_t *b = (volatile uint8_t *)p;
	uint32_t i;
	int fill = 0;

	for (i = 0; i < sizeof(*p); i++)
		b[i] = 0;
	p->magic = GUEST_PARAMS_MAGIC;
	p->nvcpus = 1;
	p->ws_pages = mbi->mem_upper / (GUEST_PAGE_SIZE / 1024);
	p->pattern = GUEST_PATTERN_RANDOM;
	p->batch = 64;
	p->hot_pages = p->ws_pages / 16;
	p->clock_hz = 1000;
	p->vcpu[0].seed = 0x9e3779b9u;
	if (mbi->flags & MB_INFO_CMDLINE)
		parse(p, (const char *)mbi->cmdline, &fill);
	if (!p->clock_hz || p->clock_hz > PIT_HZ / 2 || !p->batch)
		stop();
	if (fill) {
		p->after_fill = p->pattern + 1;
		p->pattern = GUEST_PATTERN_SEQ;
	}
	p->tsc_hz = tsc_hz();
	p->tsc_late = div64(p->tsc_hz, 10);
	if (p->rate)
		p->tsc_per_page = div64(p->tsc_hz, p->rate);
}

/* Flat 4 GiB code (selector 8) and data (16), as kmig-vmm sets them. */
static void tables(void)
{
	volatile uint32_t *gdt = (volatile uint32_t *)GUEST_GDT_GPA;
	volatile uint32_t *idt = (volatile uint32_t *)GUEST_IDT_GPA;
	uint32_t i;

	gdt[0] = gdt[1] = 0;
	gdt[2] = 0x0000ffff;
	gdt[3] = 0x00cf9a00;
	gdt[4] = 0x0000ffff;
	gdt[5] = 0x00cf9200;
	/* Only the timer's gate is present: any exception shuts down. */
	for (i = 0; i <= GUEST_TIMER_VECTOR; i++)
		idt[2 * i] = idt[2 * i + 1] = 0;
	idt[2 * GUEST_TIMER_VECTOR] = (8u << 16) | (GUEST_ISR_GPA & 0xffff);
	idt[2 * GUEST_TIMER_VECTOR + 1] = (GUEST_ISR_GPA & 0xffff0000u) |
					  0x8e00;	/* present, int gate */
}

/* 8259s: master at GUEST_TIMER_VECTOR, only IRQ 0; 8254 channel 0. */
static void timer(uint32_t hz)
{
	uint32_t div = (PIT_HZ + hz / 2) / hz;

	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	outb(0x20, 0x11);
	outb(0x21, GUEST_TIMER_VECTOR);
	outb(0x21, 0x04);
	outb(0x21, 0x01);
	outb(0xa0, 0x11);
	outb(0xa1, GUEST_TIMER_VECTOR + 8);
	outb(0xa1, 0x02);
	outb(0xa1, 0x01);
	outb(0xa1, 0xff);
	outb(0x21, 0xfe);
	outb(0x43, 0x34);	/* channel 0, lo/hi byte, rate generator */
	outb(0x40, div & 0xff);
	outb(0x40, div >> 8);
}

void boot_main(uint32_t magic, const struct mb_info *mbi)
{
	volatile struct guest_params *p =
		(volatile struct guest_params *)GUEST_PARAMS_GPA;
	volatile uint8_t *code = (volatile uint8_t *)GUEST_CODE_GPA;
	uint32_t i, len = boot_payload_end - boot_payload;

	if (magic != MB_BOOT_MAGIC || !(mbi->flags & MB_INFO_MEM) ||
	    len > GUEST_CODE_MAX)
		stop();
	for (i = 0; i < len; i++)
		code[i] = boot_payload[i];
	params(p, mbi);
	tables();
	timer(p->clock_hz);
}
