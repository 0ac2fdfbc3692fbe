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
 *
 * Then the destination's ways around its write fault a page, against the
 * plain fill: on a 4 KiB slot, MADV_POPULATE_WRITE of each batch before
 * the copy (the faults without their exceptions); on a KMIG_SLOT_HUGE
 * slot (2 MiB folios, what kmig-vmm --huge has), the plain mapping
 * against kmig_ctx_map_huge()'s, one writable PMD a folio.
 */
#include <fcntl.h>
#include <linux/kmig.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "ctx.h"

#define PAGE		4096ul
#define MEM		(64ul << 20)
#define NPAGES		(MEM / PAGE)
#define BATCH		64u
#define REPS		5

static uint8_t buf[BATCH * PAGE] __attribute__((aligned(4096)));

/* A context of one MEM slot with @flags (KMIG_SLOT_*), and its fd. */
static int context(uint32_t flags)
{
	struct kmig_memslot ms = {
		.slot = 0, .flags = flags, .memory_size = MEM,
	};
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

/* Every page of @mem filled; with @fd, installed zero first, and with
 * @populate prefaulted writable (MADV_POPULATE_WRITE) before the copy. */
static double write_all(uint8_t *mem, int fd, bool populate)
{
	uint64_t t = bench_now_ns(), p;

	for (p = 0; p < NPAGES; p += BATCH) {
		if (fd >= 0)
			install_zero(fd, p);
		if (populate)
			BENCH_CHECK(!madvise(mem + p * PAGE, sizeof(buf),
					     MADV_POPULATE_WRITE),
				    "MADV_POPULATE_WRITE");
		memcpy(mem + p * PAGE, buf, sizeof(buf));
	}
	return (bench_now_ns() - t) / 1e3 / NPAGES;
}

/* A fresh context of @flags filled through a mapping of @huge's kind. */
static double fill_fresh(uint32_t flags, bool huge, bool populate)
{
	int fd = context(flags);
	uint8_t *m = huge ? kmig_ctx_map_huge(fd, 0, MEM, PROT_READ | PROT_WRITE) :
			    map_ctx(fd, PROT_READ | PROT_WRITE);
	double us;

	BENCH_CHECK(m, "mmap the context");
	us = write_all(m, fd, populate);
	munmap(m, MEM);
	close(fd);
	return us;
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
	double dst_pw[REPS], hot[REPS], pop[REPS], h_plain[REPS], h_pmd[REPS];
	unsigned int r;
	uint8_t *m, *a;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	for (r = 0; r < REPS; r++) {
		/* destination: a fresh context filled, then read by the
		 * source's own fresh mapping of it */
		fd = context(0);
		m = map_ctx(fd, PROT_READ | PROT_WRITE);
		dst_k[r] = write_all(m, fd, false);
		munmap(m, MEM);
		m = map_ctx(fd, PROT_READ);
		src_k[r] = read_all(m);
		hot[r] = read_all(m);
		munmap(m, MEM);
		close(fd);
		fd = context(0);
		dst_pw[r] = pwrite_all(fd);
		close(fd);
		pop[r] = fill_fresh(0, false, true);
		h_plain[r] = fill_fresh(KMIG_SLOT_HUGE, false, false);
		h_pmd[r] = fill_fresh(KMIG_SLOT_HUGE, true, false);
		/* QEMU's: fresh anonymous memory filled, read where it is */
		a = map_anon();
		dst_q[r] = write_all(a, -1, false);
		src_q[r] = read_all(a);
		munmap(a, MEM);
	}
	const struct {
		const char *what, *base_name;
		double *kmig, *base;
	} rows[] = {
		{ "source: read through a fresh mapping",
		  "anon, mapped already", src_k, src_q },
		{ "destination: install zero + copy in", "anon, fresh",
		  dst_k, dst_q },
		{ "destination: pwrite into a fresh slot", "anon, fresh",
		  dst_pw, dst_q },
		{ "source: read through a populated mapping",
		  "anon, mapped already", hot, src_q },
		{ "destination: install zero + populate + copy in",
		  "no populate", pop, dst_k },
		{ "destination, huge slot: kmig_ctx_map_huge()",
		  "plain mapping", h_pmd, h_plain },
		{ "destination, huge slot: plain mapping", "anon, fresh",
		  h_plain, dst_q },
	};

	bench_header("Guest memory as the agents reach it: kmig context vs anonymous memory (us per 4 KiB page)");
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		bench_row(rows[r].what, "us/page", median(rows[r].kmig),
			  median(rows[r].base), rows[r].base_name);
	return 0;
}
