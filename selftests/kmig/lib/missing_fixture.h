/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the missing-mode selftests (missing.c, missing_waiter.c):
 * a context whose slot 1, NPAGES pages, is all in missing mode, mapped at
 * self->mem, with a fault fd (no flags) in self->ffd; at the end no kmig
 * object is left, and the module's fault_hold_us is what it was. A test
 * may close and clear self->ffd, self->mem or self->fd itself. Included
 * after kselftest_harness.h.
 */
#ifndef KMIG_TEST_MISSING_FIXTURE_H
#define KMIG_TEST_MISSING_FIXTURE_H

#include <sys/mman.h>
#include <unistd.h>

#include "kmig.h"

#define NPAGES	64
#define SIZE	(NPAGES * PAGE_SZ)

FIXTURE(missing) {
	int fd;
	int ffd;
	uint8_t *mem;
	long hold_us;		/* fault_hold_us, put back at the end */
};

FIXTURE_SETUP(missing)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->hold_us = kmig_fault_hold_us(-1);
	ASSERT_LE(0, self->hold_us);
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 1, KMIG_SLOT_MISSING, 0, SIZE);
	self->mem = kmig_map(self->fd, 1, SIZE);
	self->ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, self->ffd);
}

FIXTURE_TEARDOWN(missing)
{
	if (self->mem)
		munmap(self->mem, SIZE);
	if (self->ffd >= 0)
		close(self->ffd);
	close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
	EXPECT_EQ(0, kmig_fault_hold_us(self->hold_us) < 0);
}

#endif /* KMIG_TEST_MISSING_FIXTURE_H */
