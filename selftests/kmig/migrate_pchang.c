// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy with a destination that lives but never says COMPLETE
 * (Documentation/postcopy.rst, the failure table), on the fixture of the
 * cut tests (postcopy_cut.h).
 *
 * The push runs at full speed from RUN, so every page reaches B; then
 * B's agent holds its last step: it joins its watch thread, which looks
 * at the VMM only after $KMIG_DELAY_AT=pc-watch:600000, ten minutes.
 * Meanwhile its keepalive goes on, so the return path is never silent:
 * the source cannot tell this destination from a slow one by the
 * connection, as with an agent whose VMM hangs. It must not wait for it
 * for ever: once B has taken every byte of the stream, B has the
 * source's --io-timeout (5 s here) to say COMPLETE. Then the source
 * gives up with status 3, names what it waited for and how long, and
 * says where the guest is: it runs at B (RESUMED came), so the source
 * keeps its copy paused ("migrated") and does not run it; B's agent,
 * still held then, is stopped, and B's guest runs on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "postcopy_cut.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	300
#define RUN_DIR		"/run/kmig-pchang"
/*
 * The source's bound is 5 s once B took the stream; B drains 8 MiB at
 * most (TCG, loaded bed: a few seconds), and the source needs a moment
 * to end: 45 s, as the cut tests allow an agent's end.
 */
#define GIVE_UP_MS	45000

FIXTURE(pchang) {
	struct pc_cut cut;
};

FIXTURE_SETUP(pchang)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	pc_cut_init(&self->cut, RUN_DIR);
}

FIXTURE_TEARDOWN(pchang)
{
	EXPECT_EQ(0, pc_cut_stop(&self->cut));
}

/* Every page pushed at once; B's agent held before COMPLETE, 10 min. */
static const struct pc_cut_cfg cfg_held_at_complete = {
	.rate_a = "2000", .rate_b = "200",
	.push_now = true, .delay_b = "pc-watch:600000",
};

TEST_F_TIMEOUT(pchang, destination_never_completes, TEST_TIMEOUT)
{
	struct pc_cut *cut = &self->cut;
	struct vmm_status st;
	uint64_t t0;
	int status;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	pc_cut_start(cut, &cfg_held_at_complete);
	/* B's agent goes on from RESUMED, to its hold before COMPLETE */
	ASSERT_EQ(0, kill(cut->incoming, SIGCONT));
	t0 = kmig_now_ns();

	status = proc_wait_exit(cut->migrate, GIVE_UP_MS);
	if (status == -ETIMEDOUT)
		TH_LOG("the source still waits after %d s: %s", GIVE_UP_MS / 1000,
		       proc_where(cut->migrate));
	ASSERT_EQ(3, status) TH_LOG("%s", file_text("migrate.log"));
	cut->migrate = 0;
	TH_LOG("the source gave up %.1f s after B went on",
	       (kmig_now_ns() - t0) / 1e9);
	TH_LOG("%s", file_text("migrate.log"));
	EXPECT_TRUE(file_has("migrate.log", "COMPLETE"));
	EXPECT_TRUE(file_has("migrate.log", "--io-timeout, 5 s"));
	EXPECT_TRUE(file_has("migrate.log", "the guest runs at the destination"));

	/* B's agent still holds, alive: the source did not wait for it */
	EXPECT_EQ(-ETIMEDOUT, proc_wait_exit(cut->incoming, 0))
		TH_LOG("%s", file_text("incoming.log"));
	/*
	 * The guest is B's: A keeps its copy paused, B runs it, once B's
	 * agent, which holds B's VMM's one control connection, is stopped
	 * (as a user would stop a hung one).
	 */
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
	proc_stop(&cut->incoming);
	ASSERT_EQ(0, vmm_status_of(cut->sock_b, &st));
	EXPECT_STREQ("running", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(cut->sock_b, st.counter, PROC_WAIT_MS,
					&st));
}

TEST_HARNESS_MAIN
