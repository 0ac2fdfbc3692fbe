// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "faultcount.h"

#define KPROBE_TYPE	"/sys/bus/event_source/devices/kprobe/type"

static int perf_open(struct perf_event_attr *attr)
{
	int fd;

	attr->size = sizeof(*attr);
	/* This thread only, on any CPU, kernel included. */
	fd = syscall(SYS_perf_event_open, attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int kprobe_type(void)
{
	FILE *f = fopen(KPROBE_TYPE, "r");
	int type = -ENOENT;

	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -ENOENT;
		fclose(f);
	}
	return type;
}

int fault_count_start(struct fault_count *fc)
{
	struct perf_event_attr sw = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_PAGE_FAULTS,
	};
	struct perf_event_attr kp = {
		.kprobe_func = (uintptr_t)"handle_mm_fault",
	};
	int type = kprobe_type();

	if (type < 0)
		return type;
	kp.type = type;
	fc->traps = perf_open(&sw);
	if (fc->traps < 0)
		return fc->traps;
	fc->entries = perf_open(&kp);
	if (fc->entries < 0) {
		close(fc->traps);
		return fc->entries;
	}
	return 0;
}

static int counter(int fd, uint64_t *v)
{
	ssize_t n = read(fd, v, sizeof(*v));

	if (n == sizeof(*v))
		return 0;
	return n < 0 ? -errno : -EIO;
}

int fault_count_read(const struct fault_count *fc, uint64_t *traps,
		     uint64_t *entries)
{
	int ret = counter(fc->traps, traps);

	return ret ? ret : counter(fc->entries, entries);
}

void fault_count_stop(struct fault_count *fc)
{
	close(fc->traps);
	close(fc->entries);
}
