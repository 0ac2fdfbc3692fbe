// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of kmig's benchmarks.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "bench.h"
#include "kvm.h"

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
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

double bench_guest_write(struct vcpu *vcpu, uint64_t gpa, unsigned long npages,
			 unsigned int step, uint8_t value)
{
	struct kvm_regs regs = {
		.rip = 0x1000, .rflags = 2, .rax = value, .rbx = gpa,
		.rcx = npages / step, .rdx = 4096ul * step,
	};
	uint64_t t0;

	vcpu_set_regs(vcpu, &regs);
	t0 = bench_now_ns();
	BENCH_CHECK(vcpu_run(vcpu) == KVM_EXIT_HLT, "guest writes to HLT");
	return (double)(bench_now_ns() - t0) / (npages / step);
}

void bench_kvm_harvest(int vm_fd, uint32_t slot, uint64_t npages,
		       uint64_t *bitmap)
{
	struct kvm_dirty_log get = { .slot = slot, .dirty_bitmap = bitmap };
	struct kvm_clear_dirty_log clear = {
		.slot = slot, .num_pages = npages, .dirty_bitmap = bitmap,
	};

	BENCH_CHECK(!ioctl(vm_fd, KVM_GET_DIRTY_LOG, &get),
		    "KVM_GET_DIRTY_LOG");
	BENCH_CHECK(!ioctl(vm_fd, KVM_CLEAR_DIRTY_LOG, &clear),
		    "KVM_CLEAR_DIRTY_LOG");
}

size_t bench_popcount(const uint64_t *map, size_t words)
{
	size_t i, n = 0;

	for (i = 0; i < words; i++)
		n += __builtin_popcountll(map[i]);
	return n;
}
