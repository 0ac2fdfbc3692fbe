// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's command line: usage, help, unknown commands, and a clear word
 * when the module is not there. Runs the agent named by $KMIG_AGENT.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

struct run {
	int status;
	char out[4096];
	char err[4096];
};

static void drain(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
}

/* Run the agent with @args (NULL-terminated); collect exit code and output. */
static int agent(struct run *run, const char *const args[])
{
	const char *path = getenv("KMIG_AGENT") ?: "build/kmig";
	char *argv[16] = { (char *)path };
	int out[2], err[2], i;
	pid_t pid;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	if (pipe(out) || pipe(err))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	drain(out[0], run->out, sizeof(run->out));
	drain(err[0], run->err, sizeof(run->err));
	close(out[0]);
	close(err[0]);
	if (waitpid(pid, &run->status, 0) != pid || !WIFEXITED(run->status))
		return -1;
	run->status = WEXITSTATUS(run->status);
	return 0;
}

TEST(no_command_prints_usage_and_fails)
{
	const char *const args[] = { NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "Usage: kmig"));
}

TEST(help_lists_every_command)
{
	const char *const args[] = { "--help", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(0, run.status);
	EXPECT_NE(NULL, strstr(run.out, "version"));
}

TEST(unknown_command_is_named)
{
	const char *const args[] = { "frobnicate", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "unknown command 'frobnicate'"));
}

TEST(version_rejects_extra_arguments)
{
	const char *const args[] = { "version", "--bogus", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "unexpected argument '--bogus'"));
}

TEST(version_without_module_says_so)
{
	const char *const args[] = { "version", NULL };
	struct run run;
	struct stat st;

	if (!stat("/sys/module/kmig", &st))
		SKIP(return, "the kmig module is loaded on this machine");
	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(1, run.status);
	EXPECT_NE(NULL, strstr(run.out, "kmig agent"));
	EXPECT_NE(NULL, strstr(run.err, "the kmig module is not loaded"));
}

TEST_HARNESS_MAIN
