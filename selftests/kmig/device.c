// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kmig: the node exists, root opens it, anyone else is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define KMIG_DEV "/dev/kmig"

TEST(node_is_root_only_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(KMIG_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST(root_opens_and_closes)
{
	int fd = open(KMIG_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
}

TEST(unprivileged_open_is_refused)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (open(KMIG_DEV, O_RDWR) >= 0)
			_exit(11);
		_exit(errno == EACCES ? 0 : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
