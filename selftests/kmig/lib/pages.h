/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Byte-exact checks of a migrated guest: the pages of a VMM's memory that
 * differ from a reference, and of those the ones its dirty log does not
 * explain (written by the guest since the log restarted, e.g. at RUN).
 */
#ifndef KMIG_TEST_PAGES_H
#define KMIG_TEST_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define PAGES_PAGE	4096u

/* Page @off of slot @slot (@size bytes) of the reference into @buf:
 * 0, or -errno with why in @why. */
typedef int (*pages_ref_fn)(void *opaque, uint32_t slot, uint64_t size,
			    uint64_t off, void *buf, char *why, size_t n);

/*
 * Pause the VMM on @sock (its status then in *@st) and count the pages
 * of its memory that differ from @ref: the count, or -errno with why in
 * @why. Those not in its dirty log go to *@unlogged.
 */
long pages_differ(const char *sock, pages_ref_fn ref, void *opaque,
		  struct vmm_status *st, long *unlogged, char *why, size_t n);

/* References: the images DIR/slot-ID.bin (@opaque: DIR) ... */
int pages_ref_images(void *opaque, uint32_t slot, uint64_t size, uint64_t off,
		     void *buf, char *why, size_t n);

/* ... and another VMM's memory, kept (a source after its migration). */
struct pages_vmm {
	struct vmm_client c;
	struct vmm_client_slot slot[8];
	unsigned int nslots;
	int ctx;
};

int pages_vmm_open(struct pages_vmm *v, const char *sock, char *why,
		   size_t n);
void pages_vmm_close(struct pages_vmm *v);
/* @opaque: a struct pages_vmm. */
int pages_ref_vmm(void *opaque, uint32_t slot, uint64_t size, uint64_t off,
		  void *buf, char *why, size_t n);

/*
 * In a kselftest_harness test, after a postcopy whose source's guest had
 * written @writes_a pages at the pause: the memory of the VMM on @sock
 * (paused here, its status in *@sb) equals @ref in every page but those
 * its guest wrote since RUN, which its dirty log names and its writes
 * counter bounds (plus @other pages of parameters and stacks).
 */
#define EXPECT_SAME_BUT_WRITTEN_SINCE_RUN(sock, ref, opaque, writes_a, sb, \
					  other)			\
	do {								\
		char __why[256] = "";					\
		long __diff, __unlogged;				\
									\
		__diff = pages_differ(sock, ref, opaque, sb, &__unlogged, \
				      __why, sizeof(__why));		\
		ASSERT_LE(0, __diff) TH_LOG("%s", __why);		\
		ASSERT_LE(writes_a, (sb)->writes);			\
		TH_LOG("%ld pages differ (%ld not logged since RUN); the guest wrote %llu since RUN", \
		       __diff, __unlogged,				\
		       (unsigned long long)((sb)->writes - (writes_a))); \
		EXPECT_EQ(0, __unlogged);				\
		EXPECT_LE((uint64_t)__diff,				\
			  (sb)->writes - (writes_a) + (other));		\
	} while (0)

#endif /* KMIG_TEST_PAGES_H */
