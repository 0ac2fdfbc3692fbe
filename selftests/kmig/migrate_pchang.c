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
 *
 * The same one step earlier: B's agent held before it loads the package
 * ($KMIG_DELAY_AT=pc-load:25000), as if its VMM hung loading the
 * devices' state, does not say RESUMED in time. The source gives up as
 * above, but B may run the guest (it was told to), so A's copy stays
 * paused too. B's agent, its hold over, must not run it either: its
 * link failed (it told the source so), so it fails, its VMM not
 * resumed, and A's copy runs by hand.
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

/*
 * Every page pushed at once; B's agent stopped once its runner is to
 * load the package (devices, the VMM's vCPU state), then held there
 * HOLD_MS, as if its VMM hung loading it: RESUMED does not come before
 * the source's bound (5 s once B took the stream), and when B goes on
 * the source has given up.
 */
#define HOLD_MS		25000
static const struct pc_cut_cfg cfg_held_at_load = {
	.rate_a = "2000", .rate_b = "200",
	.push_now = true, .stop_b = "pc-load", .delay_b = "pc-load:25000",
};

/*
 * B's agent, stopped by @cfg, goes on into its hold: the source must give
 * up on it within GIVE_UP_MS with status 3, saying it waited --io-timeout
 * for @what and where the guest is (@where), its copy paused, while B's
 * agent still holds.
 */
static void give_up(struct __test_metadata *_metadata, struct pc_cut *cut,
		    const struct pc_cut_cfg *cfg, const char *what,
		    const char *where)
{
	struct vmm_status st;
	uint64_t t0;
	int status;

	pc_cut_start(cut, cfg);
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
	EXPECT_TRUE(file_has("migrate.log", what));
	EXPECT_TRUE(file_has("migrate.log", "--io-timeout, 5 s"));
	EXPECT_TRUE(file_has("migrate.log", where));

	/* B's agent still holds, alive: the source did not wait for it */
	EXPECT_EQ(-ETIMEDOUT, proc_wait_exit(cut->incoming, 0))
		TH_LOG("%s", file_text("incoming.log"));
	/* the guest may be B's: A never runs its own copy */
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
}

TEST_F_TIMEOUT(pchang, destination_never_completes, TEST_TIMEOUT)
{
	struct pc_cut *cut = &self->cut;
	struct vmm_status st;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	give_up(_metadata, cut, &cfg_held_at_complete, "COMPLETE",
		"the guest runs at the destination");
	/*
	 * The guest is B's (it said RESUMED): B runs it, once B's agent,
	 * which holds B's VMM's one control connection, is stopped (as a
	 * user would stop a hung one).
	 */
	proc_stop(&cut->incoming);
	ASSERT_EQ(0, vmm_status_of(cut->sock_b, &st));
	EXPECT_STREQ("running", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(cut->sock_b, st.counter, PROC_WAIT_MS,
					&st));
}

TEST_F_TIMEOUT(pchang, destination_never_resumes, TEST_TIMEOUT)
{
	struct pc_cut *cut = &self->cut;
	struct vmm_status st;
	int status;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	give_up(_metadata, cut, &cfg_held_at_load, "RESUMED",
		"was told to run the guest and may run it");
	/*
	 * Its hold over, B's agent loads the guest, finds its link gone
	 * (it said FAILED when the source shut it) and does not run it: it
	 * fails, B's VMM never resumed. Then A's copy, paused with every
	 * page, is run by hand.
	 */
	status = proc_wait_exit(cut->incoming, HOLD_MS + PROC_WAIT_MS);
	EXPECT_NE(0, status) TH_LOG("%s", file_text("incoming.log"));
	EXPECT_NE(-ETIMEDOUT, status) TH_LOG("%s", proc_where(cut->incoming));
	if (status != -ETIMEDOUT)
		cut->incoming = 0;
	TH_LOG("%s", file_text("incoming.log"));
	ASSERT_EQ(0, vmm_status_of(cut->sock_b, &st));
	EXPECT_STRNE("running", st.state);
	pc_cut_force_a(cut);
}

TEST_HARNESS_MAIN
