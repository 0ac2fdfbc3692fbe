// SPDX-License-Identifier: GPL-2.0
/*
 * SPIKE: shared helpers of the memory-model spike programs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "spike.h"
#include "spike_mm.h"

void spike_die(const char *file, int line, const char *what)
{
	fprintf(stderr, "spike: %s:%d: %s failed: %s\n", file, line, what,
		strerror(errno));
	exit(1);
}

uint64_t spike_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *mem_name(enum mem_kind kind)
{
	static const char *const names[] = {
		[MEM_ANON] = "anon-4k", [MEM_ANON_THP] = "anon-thp",
		[MEM_VIEW] = "view-4k", [MEM_VIEW_HUGE] = "view-2m",
		[MEM_KMIG] = "kmig-today",
	};

	return names[kind];
}

static void anon_create(struct mem *m, bool thp)
{
	uintptr_t start;

	m->map_size = m->size + SPIKE_2M;
	m->map = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	SPIKE_CHECK(m->map != MAP_FAILED, "mmap anonymous memory");
	start = ((uintptr_t)m->map + SPIKE_2M - 1) & ~(SPIKE_2M - 1);
	m->p = (uint8_t *)start;
	SPIKE_CHECK(!madvise(m->p, m->size,
			     thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE),
		    "madvise THP setting");
}

static void view_create(struct mem *m, bool huge)
{
	struct spike_mm_create args = {
		.size = m->size, .flags = huge ? SPIKE_MM_HUGE : 0,
	};
	int dev = open("/dev/kmig_spike", O_RDWR | O_CLOEXEC);

	SPIKE_CHECK(dev >= 0, "open /dev/kmig_spike");
	m->fd = ioctl(dev, SPIKE_MM_CREATE, &args);
	SPIKE_CHECK(m->fd >= 0, "SPIKE_MM_CREATE");
	close(dev);
	m->map_size = m->size;
	m->map = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      m->fd, 0);
	SPIKE_CHECK(m->map != MAP_FAILED, "mmap the guest view");
	SPIKE_CHECK(!huge || !((uintptr_t)m->map & (SPIKE_2M - 1)),
		    "2 MiB aligned guest view");
	m->p = m->map;
}

static void kmig_create(struct mem *m)
{
	struct kmig_memslot ms = {
		.slot = 0, .flags = KMIG_SLOT_DIRTY_LOG,
		.guest_phys_addr = 0x10000000ul, .memory_size = m->size,
	};

	m->fd = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	SPIKE_CHECK(m->fd >= 0, "open /dev/kmig");
	SPIKE_CHECK(!ioctl(m->fd, KMIG_SET_MEMSLOT, &ms), "KMIG_SET_MEMSLOT");
	m->map_size = m->size;
	m->map = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      m->fd, ms.offset);
	SPIKE_CHECK(m->map != MAP_FAILED, "mmap kmig slot");
	m->p = m->map;
}

void mem_create(struct mem *m, enum mem_kind kind, size_t size)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->size = size;
	m->fd = -1;
	switch (kind) {
	case MEM_ANON:
	case MEM_ANON_THP:
		anon_create(m, kind == MEM_ANON_THP);
		break;
	case MEM_VIEW:
	case MEM_VIEW_HUGE:
		view_create(m, kind == MEM_VIEW_HUGE);
		break;
	case MEM_KMIG:
		kmig_create(m);
		break;
	}
	memset(m->p, 1, size);
}

void mem_destroy(struct mem *m)
{
	munmap(m->map, m->map_size);
	if (m->fd >= 0)
		close(m->fd);
}

void samples_add(struct samples *s, double v)
{
	if (s->n < SPIKE_MAX_SAMPLES)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double samples_median(const struct samples *s)
{
	double v[SPIKE_MAX_SAMPLES];

	if (!s->n)
		return 0;
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n & 1 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

double samples_min(const struct samples *s)
{
	double lo = s->n ? s->v[0] : 0;
	unsigned int i;

	for (i = 1; i < s->n; i++)
		lo = s->v[i] < lo ? s->v[i] : lo;
	return lo;
}

const char *samples_fmt(const struct samples *s, char *buf, size_t len)
{
	double lo = s->n ? s->v[0] : 0, hi = lo;
	unsigned int i;

	for (i = 1; i < s->n; i++) {
		lo = s->v[i] < lo ? s->v[i] : lo;
		hi = s->v[i] > hi ? s->v[i] : hi;
	}
	snprintf(buf, len, "%10.1f [%.1f .. %.1f] (n=%u)",
		 samples_median(s), lo, hi, s->n);
	return buf;
}

#define GUP_PROBE "/sys/kernel/tracing/events/kprobes/gup_slow/enable"

int gup_probe_enable(bool on)
{
	int fd = open(GUP_PROBE, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, on ? "1" : "0", 1);
	close(fd);
	return n == 1 ? 0 : -EIO;
}

long gup_slow_hits(void)
{
	FILE *f = fopen("/sys/kernel/tracing/kprobe_profile", "r");
	char name[128];
	long hits, misses, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %ld %ld", name, &hits, &misses) == 3)
		if (!strcmp(name, "gup_slow"))
			found = hits;
	fclose(f);
	return found;
}

long smaps_kb(const void *addr, const char *key)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)addr, lo, hi;
	bool inside = false;
	char line[256];
	size_t klen = strlen(key);
	long kb = -1;

	SPIKE_CHECK(f, "open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = a >= lo && a < hi;
			continue;
		}
		if (inside && !strncmp(line, key, klen) && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}
