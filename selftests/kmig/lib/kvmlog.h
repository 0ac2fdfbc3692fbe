/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A KVM log provider for selftests (model (b), memory-model.rst): a thread
 * that answers a context's KMIG_LOG_* requests with KVM's dirty log of the
 * VM's memslots, as kmig-vmm's does. KVM slot ids equal kmig's.
 */
#ifndef KMIG_TEST_KVMLOG_H
#define KMIG_TEST_KVMLOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"

#define KVMLOG_SLOTS	4

struct kvmlog {
	int fd;				/* the provider fd */
	struct vm *vm;
	struct {
		uint64_t gpa, size;
		void *hva;		/* the guest view */
	} slot[KVMLOG_SLOTS];
	pthread_t thread;
	volatile bool stop;
	uint64_t requests;
};

/*
 * Enable manual-protect dirty logging on @vm (before any memslot has
 * KVM_MEM_LOG_DIRTY_PAGES), attach a provider to context @ctx and start
 * its thread; 0 or -errno.
 */
int kvmlog_start(struct kvmlog *p, int ctx, struct vm *vm);
/* Declare KVM slot @slot (already set in @vm, not logging). */
void kvmlog_slot(struct kvmlog *p, uint32_t slot, uint64_t gpa,
		 uint64_t size, void *hva);
/* Stop the thread and close the provider fd. */
void kvmlog_stop(struct kvmlog *p);

/* A view fd of context @ctx (KMIG_VIEW_*), or -errno. */
int kmig_view(int ctx, uint32_t flags);
/*
 * A shared mapping of @size bytes of slot @slot through a new view of
 * context @ctx (KMIG_VIEW_*), or MAP_FAILED with errno set.
 */
void *kmig_view_map(int ctx, uint32_t flags, uint32_t slot, uint64_t size);

#endif /* KMIG_TEST_KVMLOG_H */
