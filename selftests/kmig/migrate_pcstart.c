// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig postcopy-start` against a running `kmig migrate --postcopy-after
 * start --ctl SOCK` (Documentation/postcopy.rst): a guest that dirties
 * memory faster than the link carries it (4 MiB/s, no throttle) stays in
 * precopy until the command comes, then switches to postcopy and
 * completes. The source waits 4 s after its first pass
 * (KMIG_DELAY_AT=rounds:4000), where the command comes: a guest starved
 * of CPU by a loaded host could write nothing for a round, and precopy
 * would converge before it. A second command is refused (it came
 * already), and so is one to a migration started without
 * --postcopy-after start.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "proc.h"

#define TEST_TIMEOUT	180

FIXTURE(pcstart) {
	struct vmm_proc a, b;
	pid_t helper;
};

FIXTURE_VARIANT(pcstart) {
	bool armed;		/* --postcopy-after start */
	unsigned int port;
};

FIXTURE_VARIANT_ADD(pcstart, armed) {
	.armed = true, .port = 24621,
};

FIXTURE_VARIANT_ADD(pcstart, not_armed) {
	.armed = false, .port = 24622,
};

FIXTURE_SETUP(pcstart)
{
	memset(self, 0, sizeof(*self));
}

FIXTURE_TEARDOWN(pcstart)
{
	proc_stop(&self->helper);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
}

/*
 * Once the migration's control socket is up (a loaded bed may take
 * seconds to start `kmig migrate`), 2 s more of precopy, then `kmig
 * postcopy-start` twice: exits with the first's status times 10 plus
 * the second's, or 100 if the socket never came.
 */
static pid_t ask_later(const char *ctl)
{
	struct vmm_client c;
	char cmd[512];
	pid_t pid = fork();
	int first, second;

	if (pid)
		return pid;
	if (vmm_client_connect(&c, ctl, 60000))
		_exit(100);
	vmm_client_close(&c);
	sleep(2);
	snprintf(cmd, sizeof(cmd), "%s postcopy-start --ctl %s 2>>pcstart.log",
		 proc_bin("kmig"), ctl);
	first = system(cmd);
	second = system(cmd);
	_exit(WEXITSTATUS(first) * 10 + WEXITSTATUS(second));
}

TEST_F_TIMEOUT(pcstart, switches_when_asked, TEST_TIMEOUT)
{
	char ctl[64], mig_args[256], addr[32];
	struct vmm_status st;
	struct agents r;
	int status;

	REQUIRE_BED();
	unlink("pcstart.log");
	snprintf(ctl, sizeof(ctl), "@kmig-pcstart-%d", getpid());
	vmm_startf(&self->a, vmm_sock("pcs-a"), "/dev/null",
		   "--mem 16 --pattern random --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("pcs-b"), "/dev/null",
		   "--mem 16 --incoming");
	snprintf(mig_args, sizeof(mig_args),
		 "--channels 2 --ctl %s --bandwidth 4 --max-downtime 1 --max-throttle 0 --timeout %u --json%s",
		 ctl, variant->armed ? 60 : 8,
		 variant->armed ? " --postcopy-after start" : "");
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", variant->port);
	agents_listen(&r, &self->b, addr, "--timeout 60 --json");
	self->helper = ask_later(ctl);
	if (variant->armed)
		setenv("KMIG_DELAY_AT", "rounds:4000", 1);
	agents_migrate(&r, &self->a, addr, mig_args, 90);
	unsetenv("KMIG_DELAY_AT");
	ASSERT_EQ(self->helper, waitpid(self->helper, &status, 0));
	self->helper = 0;
	TH_LOG("postcopy-start: %s", file_text("pcstart.log"));
	if (!variant->armed) {
		/*
		 * Refused both times, and the migration stays precopy: it
		 * times out where the guest outruns the link, or converges
		 * where this kernel's nested guest writes more slowly (the
		 * debug kernel's does); the guest runs where it ended.
		 */
		EXPECT_EQ(11, WEXITSTATUS(status));
		EXPECT_TRUE(file_has("pcstart.log", "not started with --postcopy-after start"));
		EXPECT_EQ(NULL, strstr(r.mig_out, "postcopy_pushed"));
		EXPECT_TRUE(r.mig_ret == 0 || r.mig_ret == 1)
			TH_LOG("%s", r.mig_out);
		TH_LOG("precopy %s", r.mig_ret ? "timed out" : "converged");
		ASSERT_EQ(0, vmm_status(r.mig_ret ? &self->a : &self->b, &st));
		EXPECT_STREQ("running", st.state);
		agents_free(&r);
		return;
	}
	/* the first asks, the second is refused: it came already, or the
	 * migration it asked ended meanwhile */
	EXPECT_EQ(1, WEXITSTATUS(status));
	EXPECT_TRUE(file_has("pcstart.log", "came already") ||
		    file_has("pcstart.log", "Connection refused"));
	ASSERT_EQ(0, r.mig_ret) TH_LOG("%s", r.mig_out);
	ASSERT_EQ(0, r.in_ret) TH_LOG("%s", r.in_out);
	/* it switched in postcopy, once asked */
	EXPECT_NE(NULL, strstr(r.mig_out, "\"postcopy_pushed\""));
	EXPECT_LE(2000, json_u64(r.mig_out, "time_elapsed"));
	TH_LOG("switched after %llu rounds, %llu ms in",
	       (unsigned long long)json_u64(r.mig_out, "memory_iteration"),
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"));
	agents_free(&r);
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("migrated", st.state);
	vmm_wait_counter(&self->b, 0, &st);
}

TEST_HARNESS_MAIN
