/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The calling thread's page faults, counted two ways: exceptions taken
 * (the software event PERF_COUNT_SW_PAGE_FAULTS, one per trap into the
 * fault handler) and entries into the core fault handler
 * (handle_mm_fault(), through a perf kprobe), which also counts every
 * retry of a fault and every fault GUP takes for the thread. Their
 * difference is the retries.
 */
#ifndef KMIG_FAULTCOUNT_H
#define KMIG_FAULTCOUNT_H

#include <stdint.h>

struct fault_count {
	int traps;		/* perf fd: exceptions */
	int entries;		/* perf fd: handle_mm_fault() calls */
};

/*
 * Start counting for the calling thread: 0, or -errno (-ENOENT: this
 * kernel has no kprobe PMU).
 */
int fault_count_start(struct fault_count *fc);
/* The counts so far: 0 or -errno. */
int fault_count_read(const struct fault_count *fc, uint64_t *traps,
		     uint64_t *entries);
void fault_count_stop(struct fault_count *fc);

#endif /* KMIG_FAULTCOUNT_H */
