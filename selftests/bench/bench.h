/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of kmig's benchmarks: clocks, latency percentiles and the
 * result table. Benchmarks compare kmig with a baseline measured in the same
 * run and print ratios, since absolute numbers on a shared, emulated machine
 * mean little.
 */
#ifndef KMIG_BENCH_H
#define KMIG_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Latencies in ns; sorts @lat in place and returns percentile @p in µs. */
double bench_percentile_us(uint64_t *lat, size_t n, double p);
/* Sorts @v (@n values) in place, smallest first. */
void bench_sort(double *v, size_t n);

/* Abort the benchmark with a message naming what failed (and errno). */
#define BENCH_CHECK(cond, what)						\
	do {								\
		if (!(cond))						\
			bench_die(__FILE__, __LINE__, what);		\
	} while (0)

void bench_die(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* One table row: "what | kmig | baseline | ratio (kmig/baseline)". */
void bench_row(const char *what, const char *unit, double kmig,
	       double baseline, const char *baseline_name);
void bench_header(const char *title);

struct vcpu;
/*
 * Run @vcpu's stride writer at 0x1000 (32-bit: "1: mov [ebx], al; add
 * ebx, edx; dec ecx; jnz 1b; hlt") over @npages pages from @gpa: every
 * @step-th page gets @value once. Returns ns per page written.
 */
double bench_guest_write(struct vcpu *vcpu, uint64_t gpa, unsigned long npages,
			 unsigned int step, uint8_t value);
/* KVM's manual-protect log of @slot into @bitmap, then cleared. */
void bench_kvm_harvest(int vm_fd, uint32_t slot, uint64_t npages,
		       uint64_t *bitmap);
/* The bits set in the @words 64-bit words of @map. */
size_t bench_popcount(const uint64_t *map, size_t words);

#endif /* KMIG_BENCH_H */
