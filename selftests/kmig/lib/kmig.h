/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for kmig's guest memory selftests: contexts, slots, mappings, the
 * fault fd, and the module's object counters. __x() returns -errno, x()
 * asserts success (see kvm.h for the assertion).
 */
#ifndef KMIG_TEST_KMIG_H
#define KMIG_TEST_KMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/kmig.h>

#include "netlink.h"

#define PAGE_SZ 4096UL

/* Bit @i of a bitmap in KVM's layout (64-bit words, bit i = page i). */
static inline bool bm_bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* The bits set in the first @nwords words of @bm. */
static inline unsigned int bm_count(const uint64_t *bm, size_t nwords)
{
	unsigned int n = 0;

	while (nwords--)
		n += __builtin_popcountll(*bm++);
	return n;
}

/* A /dev/kmig context. */
int kmig_open(void);

int __kmig_set_memslot(int fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		       uint64_t size);
void kmig_set_memslot(int fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size);
/* MAP_SHARED mapping of @size bytes of @slot, from its first page. */
void *kmig_map(int fd, uint32_t slot, uint64_t size);

int __kmig_fault_fd(int fd, uint32_t flags);
int __kmig_install(int fd, uint32_t slot, uint32_t flags,
		   const uint64_t *pages, const void *buf, uint8_t *status,
		   uint32_t count, uint32_t *installed);
void kmig_stats(int fd, struct kmig_ctx_stats *st);
/* The pages the context holds (its statistics' pages). */
uint64_t kmig_ctx_pages(int fd);

int __kmig_dirty(int fd, unsigned long cmd, uint32_t slot, uint32_t flags,
		 uint64_t first, uint64_t num, uint64_t *bitmap);

/* The module's live object counters (files, contexts, ...). */
void kmig_objects(struct kmig_info *info);
struct kmig_info kmig_objects_now(void);
/* True when every counter is zero; logs the ones that are not. */
bool kmig_objects_zero(void);

/*
 * Read records of fault fd @ffd into @recs until @n arrived or 5 s
 * passed: how many, or -1 for a bad read.
 */
int kmig_read_faults(int ffd, struct kmig_fault *recs, int n);

/*
 * The module parameter fault_hold_us (how long a fault waits with its
 * lock held): set to @us unless @us is negative; returns the value before,
 * or -errno.
 */
long kmig_fault_hold_us(long us);

/* Wait up to @ms for the context's blocked-thread count to reach @n. */
bool kmig_wait_waiters(int fd, uint64_t n, int ms);

/* Whether this process maps the page at @p (/proc/self/pagemap bit 63). */
bool kmig_pte_present(const void *p);

/*
 * Turn NUMA balancing on with scans every 10 ms: 0, or -ENODEV on a
 * machine with one node, or -errno when a knob cannot be set.
 */
int kmig_numa_balancing_fast(void);
void kmig_numa_balancing_off(void);
/* A counter of /proc/vmstat, -1 when it has none of that name. */
long kmig_vmstat(const char *name);
/* kB of FilePmdMapped (smaps) of this process's VMA at @addr, or -1. */
long kmig_pmd_kb(const void *addr);
/* Counter @name of a "name value" file (memory.stat), -1 if none. */
long kmig_file_counter(const char *path, const char *name);
/* Write @val to the file at @path (sysfs, procfs, cgroupfs): 0 or -errno. */
int kmig_write_str(const char *path, const char *val);

/*
 * The context of the VMM with process id @pid, through netlink in that
 * process's network namespace (a context shows only in its opener's):
 * all of it; at most @limit pages; whether it logs dirty pages (1, 0, or
 * -errno).
 */
int ctx_of(pid_t pid, struct kmig_nl_ctx *out);
/* Its statistics as well (faults, waiters: threads blocked on a page). */
int ctx_stats_of(pid_t pid, struct kmig_nl_ctx *ctx, struct kmig_nl_stats *st);
int ctx_page_limit_of(pid_t pid, uint64_t limit);
int ctx_tracking_of(pid_t pid);

#endif /* KMIG_TEST_KMIG_H */
