// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle: objects are counted while open and gone once closed, an
 * open file pins the module, and unload -> load leaves a working module with
 * nothing left over. Needs KMIG_KO, the module file the test bed loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "netlink.h"

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

static long module_refcnt(void)
{
	long refcnt = -1;
	FILE *f;

	f = fopen("/sys/module/kmig/refcnt", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &refcnt) != 1)
		refcnt = -1;
	fclose(f);
	return refcnt;
}

static uint64_t open_files(struct __test_metadata *_metadata)
{
	struct kmig_info info;
	struct kmig_nl nl;

	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_get_info(&nl, &info));
	kmig_nl_close(&nl);
	return info.obj_files;
}

TEST(open_files_are_counted)
{
	int fd[3], i;

	ASSERT_EQ(0, open_files(_metadata));
	for (i = 0; i < 3; i++) {
		fd[i] = open("/dev/kmig", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd[i]);
	}
	EXPECT_EQ(3, open_files(_metadata));
	for (i = 0; i < 3; i++)
		close(fd[i]);
	EXPECT_EQ(0, open_files(_metadata));
}

TEST(unload_load_leaves_nothing_behind)
{
	const char *ko = getenv("KMIG_KO");
	struct kmig_nl nl;
	struct stat st;
	int fd;

	if (!ko)
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	/* The program before this one in the bed may still be letting go
	 * of its files (a VMM's exit on a loaded bed): wait for them. */
	for (int i = 0; i < 100 && module_refcnt() > 0; i++)
		usleep(100000);
	ASSERT_EQ(0, module_refcnt()) TH_LOG("someone else holds kmig");

	/* An open file pins the module. */
	fd = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, delete_module("kmig"));
	close(fd);
	EXPECT_EQ(0, module_refcnt());

	ASSERT_EQ(0, delete_module("kmig"));
	EXPECT_EQ(-1, stat("/dev/kmig", &st));
	EXPECT_EQ(-ENOENT, kmig_nl_open(&nl));

	ASSERT_EQ(0, load_module(ko));
	EXPECT_EQ(0, module_refcnt());
	EXPECT_EQ(0, stat("/dev/kmig", &st));
	EXPECT_EQ(0, open_files(_metadata));
}

TEST_HARNESS_MAIN
