/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test helpers for the snapshot tests (snap_io.c, snap_merge.c): memory
 * standing in for a slot's, pages of data among runs of zero pages, and
 * a file's bytes with what differs between two saves of the same memory
 * (creation time, CRCs over it) zeroed, and a live writer's last pass
 * (its asserts are kselftest_harness.h's: include that first).
 */
#ifndef KMIG_TEST_SNAP_FILES_H
#define KMIG_TEST_SNAP_FILES_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snap.h"

/*
 * @npages pages of private memory: a page has data (a few random bytes)
 * when rand_r() % 5 > 1 or @data(@p) says so, and is zero otherwise, so
 * that runs of zero pages come in any length. NULL if mmap fails.
 */
static inline uint8_t *snap_test_mem(uint64_t npages, unsigned int *seed,
				     bool (*data)(uint64_t p))
{
	const size_t page = KMIG_SNAP_PAGE_SIZE;
	uint8_t *m = mmap(NULL, npages * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t p;

	if (m == MAP_FAILED)
		return NULL;
	for (p = 0; p < npages; p++)
		if (rand_r(seed) % 5 > 1 || (data && data(p)))
			memset(m + p * page + rand_r(seed) % page,
			       rand_r(seed) | 1, 1 + rand_r(seed) % 64);
	return m;
}

/* A bitmap of @npages pages (calloc'd), page p set when p % @every < @have. */
static inline uint64_t *snap_test_present(uint64_t npages, uint64_t every,
					  uint64_t have)
{
	uint64_t *bm = calloc((npages + 63) / 64, 8), p;

	for (p = 0; bm && p < npages; p++)
		if (p % every < have)
			bm[p / 64] |= 1ull << (p % 64);
	return bm;
}

/* @fd's bytes (malloc'd, *@len of them), its creation time and CRCs zeroed. */
static inline uint8_t *snap_test_contents(int fd, uint64_t *len)
{
	struct stat st;
	uint8_t *b;

	if (fstat(fd, &st))
		abort();
	*len = st.st_size;
	b = malloc(*len);
	if (!b || pread(fd, b, *len, 0) != (ssize_t)*len)
		abort();
	memset(b + 24, 0, 8);				/* created */
	memset(b + KMIG_SNAP_HEADER_SIZE - 4, 0, 4);	/* header CRC */
	memset(b + *len - KMIG_SNAP_TRAILER_SIZE + 16, 0, 4);	/* meta CRC */
	memset(b + *len - 4, 0, 4);			/* trailer CRC */
	return b;
}

/*
 * A live writer's last pass: the pages of @dirty written again, then the
 * state and the trailer; @w freed.
 */
static inline void snap_test_finish(struct __test_metadata *_metadata,
				    struct kmig_snap_writer *w,
				    uint64_t *const *dirty, const void *state,
				    size_t state_len, char *err, size_t errlen)
{
	ASSERT_EQ(0, kmig_snap_writer_update(w, (const uint64_t *const *)dirty,
					     err, errlen))
		TH_LOG("%s", err);
	ASSERT_EQ(0, kmig_snap_writer_finish(w, state, state_len, false, err,
					     errlen))
		TH_LOG("%s", err);
	kmig_snap_writer_free(w);
}

#endif /* KMIG_TEST_SNAP_FILES_H */
