/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SPIKE: what the memory-model spike programs share: the kinds of memory
 * they compare, repeated samples (median and range), the slow-GUP probe
 * count and smaps. Not part of kmig.
 */
#ifndef SPIKE_H
#define SPIKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPIKE_PAGE	4096ul
#define SPIKE_2M	(2ul << 20)
#define SPIKE_MAX_SAMPLES 64

/* Abort the spike with a message naming what failed (and errno). */
#define SPIKE_CHECK(cond, what)						\
	do {								\
		if (!(cond))						\
			spike_die(__FILE__, __LINE__, what);		\
	} while (0)

void spike_die(const char *file, int line, const char *what)
	__attribute__((noreturn));
uint64_t spike_now_ns(void);

/*
 * Guest memory to compare: private anonymous memory (4 KiB, or THP), the
 * spike module's page-cache guest view (4 KiB or 2 MiB folios), and a slot
 * of today's kmig (KMIG_SLOT_DIRTY_LOG).
 */
enum mem_kind { MEM_ANON, MEM_ANON_THP, MEM_VIEW, MEM_VIEW_HUGE, MEM_KMIG };

struct mem {
	enum mem_kind kind;
	uint8_t *p;
	size_t size;
	void *map;		/* what to munmap */
	size_t map_size;
	int fd;			/* /dev/kmig context or the view; -1 */
};

const char *mem_name(enum mem_kind kind);
/* Maps @size bytes of @kind (2 MiB aligned) and writes every page once. */
void mem_create(struct mem *m, enum mem_kind kind, size_t size);
void mem_destroy(struct mem *m);

/* Repeated measurements of one quantity. */
struct samples {
	double v[SPIKE_MAX_SAMPLES];
	unsigned int n;
};

void samples_add(struct samples *s, double v);
double samples_median(const struct samples *s);
double samples_min(const struct samples *s);
/* "median [min .. max] (n)" into @buf. */
const char *samples_fmt(const struct samples *s, char *buf, size_t len);

/*
 * The slow-GUP probe the run script sets (kprobe event "gup_slow" on
 * __get_user_pages): its hit count, or -1 when there is none.
 */
long gup_slow_hits(void);
/* Arm or disarm that probe: 0, or -errno (no probe). */
int gup_probe_enable(bool on);

/* A "Key:" of /proc/self/smaps for the VMA at @addr, in kB; -1: none. */
long smaps_kb(const void *addr, const char *key);

#endif /* SPIKE_H */
