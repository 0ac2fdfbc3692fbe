// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of kmig's benchmarks.
 */
#include <errno.h>
#include <string.h>

#include "bench.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double bench_percentile_us(uint64_t *lat, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	i = (size_t)(p / 100.0 * (n - 1) + 0.5);
	return lat[i] / 1000.0;
}

void bench_die(const char *file, int line, const char *what)
{
	fprintf(stderr, "bench: %s:%d: %s failed: %s\n", file, line, what,
		strerror(errno));
	exit(1);
}

void bench_header(const char *title)
{
	printf("\n%s\n", title);
	printf("%-44s %14s %14s  %-22s %s\n", "measure", "kmig", "baseline",
	       "baseline is", "kmig/baseline");
}

void bench_row(const char *what, const char *unit, double kmig,
	       double baseline, const char *baseline_name)
{
	char label[96];

	snprintf(label, sizeof(label), "%s (%s)", what, unit);
	printf("%-44s %14.1f %14.1f  %-22s %.2fx\n", label, kmig, baseline,
	       baseline_name, baseline ? kmig / baseline : 0.0);
	fflush(stdout);
}
