/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the device region's selftests (device_region.c,
 * device_list.c): kmig-sample with instances 1 and 2, instance 1's region
 * open in self->fd; at the end no device and no device file is left.
 * Included after kselftest_harness.h.
 */
#ifndef KMIG_TEST_SAMPLE_FIXTURE_H
#define KMIG_TEST_SAMPLE_FIXTURE_H

#include <stdlib.h>

#include "kdev.h"
#include "kmig.h"

FIXTURE(region) {
	int fd;
	uint64_t data_max;
};

FIXTURE_SETUP(region)
{
	self->fd = -1;
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	self->fd = sample_pair_up(&self->data_max);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(region)
{
	struct kmig_info after;

	if (!getenv("KMIG_KO"))
		return;
	EXPECT_EQ(0, sample_pair_down(self->fd));
	kmig_objects(&after);
	EXPECT_EQ(0, after.obj_devices);
	EXPECT_EQ(0, after.obj_device_files);
}

#endif /* KMIG_TEST_SAMPLE_FIXTURE_H */
