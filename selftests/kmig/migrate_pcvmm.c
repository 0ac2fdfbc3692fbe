// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy with a VMM killed right after RUN (Documentation/postcopy.rst,
 * the failure table), on the fixture of the cut tests (postcopy_cut.h):
 * the destination's guest runs with pages still missing when one of the
 * two kmig-vmm processes gets SIGKILL.
 *
 * The destination's VMM: the guest's execution since RUN is lost with
 * it. Its agent must not report the migration done, the source must not
 * end as if it were: both say the guest is lost there, the source keeps
 * its paused copy (migrated), and `kmig resume --force` runs that copy,
 * the guest as it was at the pause. So too when every page arrived
 * before the agent looked at its VMM (destination_after_every_page).
 *
 * The source's VMM: its agent holds the guest's memory (the context fd
 * it was given), so postcopy completes without it, and the guest goes
 * on at the destination with every page.
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

#define TEST_TIMEOUT	300
#define RUN_DIR		"/run/kmig-pcvmm"

FIXTURE(vmm_killed) {
	struct pc_cut cut;
};

FIXTURE_SETUP(vmm_killed)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	pc_cut_init(&self->cut, RUN_DIR);
}

FIXTURE_TEARDOWN(vmm_killed)
{
	EXPECT_EQ(0, pc_cut_stop(&self->cut));
}

static const struct pc_cut_cfg cfg_held = {
	.rate_a = "2000", .rate_b = "200",
};

/*
 * B's agent looks at its VMM only 5 s after RUN, and the push, at full
 * speed from RUN on, may bring every page before: the agent must look
 * once more before it says COMPLETE.
 */
static const struct pc_cut_cfg cfg_unwatched = {
	.rate_a = "2000", .rate_b = "200",
	.push_now = true, .delay_b = "pc-watch:5000",
};

/* Right after RUN, the VMM @which (pc_cut_break()) gets SIGKILL. */
static void kill_vmm_after_run(struct __test_metadata *_metadata,
			       struct pc_cut *cut, const struct pc_cut_cfg *cfg,
			       const char *which)
{
	pid_t *vmm = !strcmp(which, "vmm_a") ? &cut->vmm_a : &cut->vmm_b;

	pc_cut_start(cut, cfg);
	pc_cut_break(cut, which);
	ASSERT_EQ(128 + SIGKILL, proc_wait_exit(*vmm, PROC_WAIT_MS));
	*vmm = 0;
}

static void destination_lost(struct __test_metadata *_metadata,
			     struct pc_cut *cut, const struct pc_cut_cfg *cfg)
{
	kill_vmm_after_run(_metadata, cut, cfg, "vmm_b");

	/* neither agent calls it done */
	EXPECT_EQ(1, proc_wait_exit(cut->incoming, 45000))
		TH_LOG("%s", file_text("incoming.log"));
	cut->incoming = 0;
	EXPECT_TRUE(file_has("incoming.log", "VMM is gone after RUN"))
		TH_LOG("%s", file_text("incoming.log"));
	EXPECT_EQ(3, proc_wait_exit(cut->migrate, 45000))
		TH_LOG("%s", file_text("migrate.log"));
	cut->migrate = 0;
	EXPECT_TRUE(file_has("migrate.log", "the guest is lost at the destination"))
		TH_LOG("%s", file_text("migrate.log"));

	/* the source's copy, as it was at the pause, runs again by hand */
	pc_cut_force_a(cut);
}

TEST_F_TIMEOUT(vmm_killed, destination, TEST_TIMEOUT)
{
	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	destination_lost(_metadata, &self->cut, &cfg_held);
}

TEST_F_TIMEOUT(vmm_killed, destination_after_every_page, TEST_TIMEOUT)
{
	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	destination_lost(_metadata, &self->cut, &cfg_unwatched);
}

TEST_F_TIMEOUT(vmm_killed, source, TEST_TIMEOUT)
{
	struct pc_cut *cut = &self->cut;
	struct vmm_status st;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	kill_vmm_after_run(_metadata, cut, &cfg_held, "vmm_a");

	EXPECT_EQ(0, proc_wait_exit(cut->migrate, 90000))
		TH_LOG("%s", file_text("migrate.log"));
	cut->migrate = 0;
	EXPECT_EQ(0, proc_wait_exit(cut->incoming, 90000))
		TH_LOG("%s", file_text("incoming.log"));
	cut->incoming = 0;
	TH_LOG("%s", file_text("migrate.log"));
	ASSERT_EQ(0, vmm_status_of(cut->sock_b, &st));
	EXPECT_STREQ("running", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(cut->sock_b, st.counter, PROC_WAIT_MS,
					&st));
}

TEST_HARNESS_MAIN
