/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshot files in selftests: whether a guest's memory is what a file
 * holds.
 */
#ifndef KMIG_TEST_SNAPFILE_H
#define KMIG_TEST_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "proc.h"

/*
 * Whether the guest memory of the VMM @v is the snapshot @path's, byte
 * for byte: 0, 1 when it differs, -errno when it cannot tell; what
 * differs or failed in @why.
 */
int snap_memory_differs(struct vmm_proc *v, const char *path, char *why,
			size_t n);

/* The memory context of a VMM, held apart from its control socket. */
#define SNAP_CTX_SLOTS	8
struct snap_ctx {
	int fd;
	unsigned int n;
	struct vmm_client_slot slots[SNAP_CTX_SLOTS];
};

/*
 * The context of the VMM @v (one request on its control socket, which
 * serves one client at a time: not while an agent is attached): 0 or
 * -errno. Closed by snap_ctx_close() either way.
 */
int snap_ctx_open(struct vmm_proc *v, struct snap_ctx *c);
void snap_ctx_close(struct snap_ctx *c);
/*
 * snap_memory_differs() of a context held, the memory read by pread or
 * (@mapped) through a mapping of each slot: then a page still missing
 * faults, and the read waits for its server to install it.
 */
int snap_ctx_differs(const struct snap_ctx *c, const char *path,
		     bool mapped, char *why, size_t n);

/* In a kselftest_harness test: the guest memory of @v is @path's. */
#define EXPECT_SAME_MEMORY(v, path)					\
	do {								\
		char __why[256];					\
		EXPECT_EQ(0, snap_memory_differs(v, path, __why,	\
						 sizeof(__why)))	\
			TH_LOG("%s", __why);				\
	} while (0)

/* The state of the VMM @v ("running", "incoming", ...), or "gone"
 * (static: valid until the next call). */
const char *snap_vmm_state(struct vmm_proc *v);

#endif /* KMIG_TEST_SNAPFILE_H */
