/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SPIKE, not kmig: the interface of spike_mm.ko, a throwaway module that
 * measures the page-cache model of Documentation/memory-model.rst (model
 * (b)) in the test bed. Nothing in kmig uses it.
 *
 * /dev/kmig_spike: SPIKE_MM_CREATE returns a new fd (O_CLOEXEC) on an
 * S_IFREG inode of its own, unevictable page cache, folios of order 0 or,
 * with SPIKE_MM_HUGE, of order 9 (PMD). mmap() of that fd is a "guest
 * view": .fault and .map_pages, no .page_mkwrite. Pages are zeroed at
 * first fault and live until the last reference to the inode goes.
 */
#ifndef SPIKE_MM_H
#define SPIKE_MM_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define SPIKE_MM_HUGE	_BITUL(0)	/* order-9 folios; size 2 MiB aligned */
#define SPIKE_MM_FLAGS	SPIKE_MM_HUGE

struct spike_mm_create {
	__u64 size;	/* bytes, page aligned, > 0 */
	__u32 flags;	/* SPIKE_MM_* */
	__u32 pad;	/* 0 */
};

#define SPIKE_MM_CREATE	_IOW('S', 0x00, struct spike_mm_create)

#endif /* SPIKE_MM_H */
