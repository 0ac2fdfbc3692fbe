/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy blocktime on the destination (Documentation/postcopy.rst,
 * "What users see"): how long each fault the agent read kept its thread
 * waiting, by vCPU, and the faults of other threads (the VMM loading a
 * device, KVM's async-PF worker) apart.
 *
 * The clock runs from the fault record's read (mig_bt_fault(), on the
 * fault thread) to the first install of that page after it
 * (mig_bt_installed(), on whichever channel installed it). It misses the
 * time the record waited in the module before the read, and a page that
 * several threads faulted is reported once, for the first: the others'
 * wait is not counted. A thread is a vCPU when its id is one of the
 * VMM's vCPU threads (mig_bt_set_vcpus()).
 *
 * Locking: ->lock protects everything but ->open and the flag bitmaps,
 * which are atomic: an install looks at them without the lock and takes
 * it only for a page whose fault is open.
 */
#ifndef KMIG_BLOCKTIME_H
#define KMIG_BLOCKTIME_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "engine.h"

#define MIG_BT_MAX_VCPUS	64
/* Latency histograms: bucket i holds [2^i, 2^(i+1)) µs, 0 and 1 in 0. */
#define MIG_LAT_BUCKETS		32

/* Count @us in the histogram @h. */
void mig_lat_add(__u64 *h, uint64_t us);
/*
 * The upper end (µs) of the bucket of @h (@n buckets, as above) that
 * holds the @pct-th percentile of its counts, 0 for none.
 */
uint64_t mig_lat_percentile(const __u64 *h, unsigned int n,
			    unsigned int pct);

/* What the job info shows; times in µs. */
struct mig_bt_stats {
	unsigned int nvcpus;			/* 0: the VMM named none */
	uint64_t vcpu_faults[MIG_BT_MAX_VCPUS];
	uint64_t vcpu_us[MIG_BT_MAX_VCPUS];	/* each vCPU's blocktime */
	uint64_t vcpu_total_us;			/* their sum */
	uint64_t all_us;			/* every vCPU blocked at once */
	uint64_t other_faults, other_us;	/* threads that are no vCPU */
	uint64_t resolved;			/* faults whose page came */
	uint64_t max_us;			/* the longest of them */
	__u64 lat_us[MIG_LAT_BUCKETS];		/* each one's, read to install */
};

/* A fault read and not yet met by an install. */
struct mig_bt_open {
	unsigned int slot;			/* index in the VM's slots */
	uint64_t page;
	int vcpu;				/* -1: no vCPU */
	uint64_t read_ns;
};

struct mig_blocktime {
	pthread_mutex_t lock;
	const struct mig_vm *vm;
	uint64_t *flag[MIG_MAX_SLOTS];		/* pages with an open fault */
	uint64_t open;				/* atomic: faults open */
	struct mig_bt_open *opens;
	size_t nopen, cap;
	pid_t tids[MIG_BT_MAX_VCPUS];
	unsigned int vcpu_open[MIG_BT_MAX_VCPUS];
	unsigned int blocked;			/* vCPUs with an open fault */
	uint64_t all_since_ns;
	struct mig_bt_stats st;
};

/* For @vm's slots: 0 or -ENOMEM. */
int mig_bt_init(struct mig_blocktime *bt, const struct mig_vm *vm);
void mig_bt_free(struct mig_blocktime *bt);
/* The VMM's vCPU threads, by vCPU index: 0, or -E2BIG past the limit. */
int mig_bt_set_vcpus(struct mig_blocktime *bt, const pid_t *tids,
		     unsigned int n);
/*
 * Ask the VMM behind @c for its vCPU threads (`vcpus`) and set them; a
 * VMM that cannot name them leaves every fault a non-vCPU one, and
 * `kmig @cmd` says so on stderr.
 */
void mig_bt_ask_vcpus(struct mig_blocktime *bt, struct vmm_client *c,
		      const char *cmd);
/*
 * Parse kmig-vmm's `vcpus` reply ("ok vcpus=N tids=T0,T1,...") into
 * @tids: the number of vCPUs, or -EBADMSG.
 */
int mig_bt_parse_vcpus(const char *reply, pid_t *tids, unsigned int max);
/* The fault thread read a record: page @page of slot id @slot, by @tid. */
void mig_bt_fault(struct mig_blocktime *bt, uint32_t slot, uint64_t page,
		  uint32_t tid);
/* Pages @pages[0..@n) of the @slot-th slot were installed just now. */
void mig_bt_installed(struct mig_blocktime *bt, unsigned int slot,
		      const uint64_t *pages, unsigned int n);
/* What was counted so far (faults still open not included). */
void mig_bt_stats(struct mig_blocktime *bt, struct mig_bt_stats *st);

#endif /* KMIG_BLOCKTIME_H */
