// SPDX-License-Identifier: GPL-2.0
/*
 * What a migration's agents pay to reach guest memory, per 4 KiB page:
 * kmig's context against the anonymous memory QEMU's guest RAM is.
 *
 * The source's agent reads every page through a mapping of its own,
 * fresh at the first round; the destination's allocates each page and
 * fills it (KMIG_INSTALL_ZERO, then the socket's copy into the mapping).
 * QEMU reads its guest's RAM through the mapping the guest wrote it by,
 * and receives into fresh anonymous memory (transparent huge pages where
 * the system has them on). The rows time the copy alone in each case, a
 * memcpy of 64 pages at a time, so that what differs is the memory's
 * own cost: faults, zeroing, page-table work. Medians of REPS runs.
 */
#include <fcntl.h>
#include <linux/kmig.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define PAGE		4096ul
#define MEM		(64ul << 20)
#define NPAGES		(MEM / PAGE)
#define BATCH		64u
#define REPS		5

static uint8_t buf[BATCH * PAGE] __attribute__((aligned(4096)));

/* A context of one MEM slot, and its fd. */
static int context(void)
{
	struct kmig_memslot ms = { .slot = 0, .memory_size = MEM };
	int fd = open("/dev/kmig", O_RDWR | O_CLOEXEC);

	BENCH_CHECK(fd >= 0, "open /dev/kmig");
	BENCH_CHECK(!ioctl(fd, KMIG_SET_MEMSLOT, &ms), "KMIG_SET_MEMSLOT");
	return fd;
}

static uint8_t *map_ctx(int fd, int prot)
{
	void *p = mmap(NULL, MEM, prot, MAP_SHARED, fd, KMIG_SLOT_OFFSET(0));

	BENCH_CHECK(p != MAP_FAILED, "mmap the context");
	return p;
}

static uint8_t *map_anon(void)
{
	void *p = mmap(NULL, MEM, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	BENCH_CHECK(p != MAP_FAILED, "mmap anonymous memory");
	return p;
}

static void install_zero(int fd, uint64_t first)
{
	uint64_t pages[BATCH];
	struct kmig_install in = {
		.slot = 0, .flags = KMIG_INSTALL_ZERO,
		.pages = (uintptr_t)pages, .count = BATCH,
	};
	unsigned int i;

	for (i = 0; i < BATCH; i++)
		pages[i] = first + i;
	BENCH_CHECK(!ioctl(fd, KMIG_INSTALL, &in), "KMIG_INSTALL_ZERO");
}

/* Every page copied out of @mem: µs per page. */
static double read_all(const uint8_t *mem)
{
	uint64_t t = bench_now_ns(), p;

	for (p = 0; p < NPAGES; p += BATCH)
		memcpy(buf, mem + p * PAGE, sizeof(buf));
	return (bench_now_ns() - t) / 1e3 / NPAGES;
}

/* Every page of @mem filled; with @fd, installed zero first. */
static double write_all(uint8_t *mem, int fd)
{
	uint64_t t = bench_now_ns(), p;

	for (p = 0; p < NPAGES; p += BATCH) {
		if (fd >= 0)
			install_zero(fd, p);
		memcpy(mem + p * PAGE, buf, sizeof(buf));
	}
	return (bench_now_ns() - t) / 1e3 / NPAGES;
}

/* Every page written with pwrite() into a fresh context: µs per page. */
static double pwrite_all(int fd)
{
	uint64_t t = bench_now_ns(), p;

	for (p = 0; p < NPAGES; p += BATCH)
		BENCH_CHECK(pwrite(fd, buf, sizeof(buf), KMIG_SLOT_OFFSET(0) +
				   p * PAGE) == (ssize_t)sizeof(buf), "pwrite");
	return (bench_now_ns() - t) / 1e3 / NPAGES;
}

static double median(double *v)
{
	bench_sort(v, REPS);
	return v[REPS / 2];
}

int main(void)
{
	double src_k[REPS], src_q[REPS], dst_k[REPS], dst_q[REPS];
	double dst_pw[REPS], hot[REPS];
	unsigned int r;
	uint8_t *m, *a;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	for (r = 0; r < REPS; r++) {
		/* destination: a fresh context filled, then read by the
		 * source's own fresh mapping of it */
		fd = context();
		m = map_ctx(fd, PROT_READ | PROT_WRITE);
		dst_k[r] = write_all(m, fd);
		munmap(m, MEM);
		m = map_ctx(fd, PROT_READ);
		src_k[r] = read_all(m);
		hot[r] = read_all(m);
		munmap(m, MEM);
		close(fd);
		fd = context();
		dst_pw[r] = pwrite_all(fd);
		close(fd);
		/* QEMU's: fresh anonymous memory filled, read where it is */
		a = map_anon();
		dst_q[r] = write_all(a, -1);
		src_q[r] = read_all(a);
		munmap(a, MEM);
	}
	bench_header("Guest memory as the agents reach it: kmig context vs anonymous memory (us per 4 KiB page)");
	bench_row("source: read through a fresh mapping", "us/page",
		  median(src_k), median(src_q), "anon, mapped already");
	bench_row("destination: install zero + copy in", "us/page",
		  median(dst_k), median(dst_q), "anon, fresh");
	bench_row("destination: pwrite into a fresh slot", "us/page",
		  median(dst_pw), median(dst_q), "anon, fresh");
	bench_row("source: read through a populated mapping", "us/page",
		  median(hot), median(src_q), "anon, mapped already");
	return 0;
}
