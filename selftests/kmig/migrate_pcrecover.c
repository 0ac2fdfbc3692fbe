// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy recovery (Documentation/postcopy.rst "Recovery") between two
 * hosts (selftests/qemu/hosts.sh): a postcopy migration whose guest runs
 * on the destination with pages still missing loses its link or one of
 * its agents right after RUN; both sides stop, the guest paused at the
 * source and blocked where it touches a missing page at the destination;
 * then `kmig postcopy-recover` and `kmig migrate --resume`, new
 * processes, finish it over a new port.
 *
 * Precopy is capped at 2 MiB/s, so that its one round lasts seconds and
 * the guest dirties hundreds of pages meanwhile; the postcopy push of
 * those waits for the destination guest's first fault
 * (KMIG_PUSH_AFTER_FAULT=1), which its agent, held right after RESUMED,
 * does not request: on a kernel of any speed, pages are still missing at
 * the cut.
 *
 * The silent variant drops every packet (netem loss 100%): no RST, no
 * FIN, so each side can tell the link is dead only by its silence, and
 * must within its --io-timeout. The fail_once variant kills the first
 * recovery's source midway, and the destination's recovery says so; the
 * second one completes.
 *
 * Checked at the end: both recovery agents succeed, the guest's counter
 * advances at the destination, and its memory there equals the source's
 * (paused since the switch, kept) in every page not written at the
 * destination since RUN: every page not in the destination's dirty log
 * (restarted at the resume: it names installs and the guest's writes)
 * is equal, and the logged ones differ no more often than the guest
 * wrote.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "ctx.h"
#include "kvm.h"
#include "pages.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	300
#define PAGE		4096u
#define OTHER_PAGES	8
#define RUN_DIR		"/run/kmig-pcrecover"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"

FIXTURE(recover) {
	pid_t vmm_a, vmm_b, incoming, migrate, recover, resume;
};

FIXTURE_SETUP(recover)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	run_dir_clean(RUN_DIR, VMM_A, VMM_B);
	memset(self, 0, sizeof(*self));
}

FIXTURE_TEARDOWN(recover)
{
	proc_stop(&self->resume);
	proc_stop(&self->recover);
	proc_stop(&self->migrate);
	proc_stop(&self->incoming);
	proc_stop(&self->vmm_b);
	proc_stop(&self->vmm_a);
	ASSERT_EQ(0, hosts_sh("hosts_down"));
}

FIXTURE_VARIANT(recover) {
	const char *fault;	/* silent link, or the agent killed */
	bool fail_once;		/* the first recovery's source is killed */
	int mig_exit, in_exit;
};

FIXTURE_VARIANT_ADD(recover, silent_link) {
	.fault = "silent", .mig_exit = 3, .in_exit = 3,
};

FIXTURE_VARIANT_ADD(recover, destination_agent_killed) {
	.fault = "incoming", .mig_exit = 3, .in_exit = 128 + SIGKILL,
};

FIXTURE_VARIANT_ADD(recover, source_agent_killed) {
	.fault = "migrate", .mig_exit = 128 + SIGKILL, .in_exit = 3,
};

FIXTURE_VARIANT_ADD(recover, recovery_fails_once) {
	.fault = "silent", .fail_once = true, .mig_exit = 3, .in_exit = 3,
};

/* Start a recovery on @port: the destination's, then the source's. */
static void start_recovery(FIXTURE_DATA(recover) *self, unsigned int port,
			   bool stop_source)
{
	self->recover = proc_spawnf("kmig-b", "recover.log",
				    "%s postcopy-recover --vmm %s --listen 198.18.0.2:%u --timeout 60 --io-timeout 5 --json",
				    proc_bin("kmig"), VMM_B, port);
	if (stop_source)
		setenv("KMIG_STOP_AT", "resume", 1);
	self->resume = proc_spawnf("kmig-a", "resume.log",
				   "%s migrate --resume --vmm %s --to 198.18.0.2:%u --io-timeout 5 --json",
				   proc_bin("kmig"), VMM_A, port);
	unsetenv("KMIG_STOP_AT");
}

TEST_F_TIMEOUT(recover, after_run_byte_exact, TEST_TIMEOUT)
{
	const char *vmm_a[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_A,
				"--mem", "16", "--pattern", "random", "--batch",
				"4", "--rate", "20000", NULL };
	const char *vmm_b[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_B,
				"--mem", "16", "--incoming", "--rate", "100",
				NULL };
	const char *inc[] = { proc_bin("kmig"), "incoming", "--vmm", VMM_B,
			      "--listen", "198.18.0.2:4470", "--timeout", "60",
			      "--io-timeout", "5", NULL };
	const char *mig[] = { proc_bin("kmig"), "migrate", "--vmm", VMM_A,
			      "--to", "198.18.0.2:4470", "--timeout", "60",
			      "--io-timeout", "5", "--channels", "2",
			      "--bandwidth", "2", "--postcopy",
			      "--postcopy-bandwidth", "1", NULL };
	struct vmm_status st, sa, sb;
	struct vmm_client c = { .fd = -1 };
	struct pages_vmm ref;
	uint64_t t0, t_mig, t_in;
	long diff, unlogged;
	char *rs, *rd, why[256] = "";
	size_t len;
	int status;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	ASSERT_EQ(0, hosts_sh("hosts_down && hosts_up"));
	self->vmm_a = proc_spawn("kmig-a", "vmm-a.log", vmm_a);
	self->vmm_b = proc_spawn("kmig-b", "vmm-b.log", vmm_b);
	ASSERT_EQ(0, __vmm_wait_counter(VMM_A, 0, PROC_WAIT_MS, &st));
	ASSERT_EQ(0, vmm_client_connect(&c, VMM_B, 5000));
	ASSERT_EQ(0, vmm_client_cmd(&c, "dirtylog at-resume")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	setenv("KMIG_STOP_AT", "postcopy", 1);
	self->incoming = proc_spawn("kmig-b", "incoming.log", inc);
	unsetenv("KMIG_STOP_AT");
	usleep(500 * 1000);
	setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	self->migrate = proc_spawn("kmig-a", "migrate.log", mig);
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	ASSERT_TRUE(proc_stopped(self->incoming, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("incoming.log"));
	ASSERT_EQ(-ETIMEDOUT, proc_wait_exit(self->migrate, 0))
		TH_LOG("postcopy ended too soon: %s", file_text("migrate.log"));

	/* The loss after RUN: both stop, each within its I/O timeout. */
	t0 = kmig_now_ns();
	if (!strcmp(variant->fault, "silent")) {
		ASSERT_EQ(0, hosts_sh("netem loss 100%"));
	} else {
		kill(!strcmp(variant->fault, "incoming") ? self->incoming :
		     self->migrate, SIGKILL);
	}
	kill(self->incoming, SIGCONT);
	EXPECT_EQ(variant->mig_exit, proc_wait_exit(self->migrate, 45000))
		TH_LOG("%s", file_text("migrate.log"));
	t_mig = (kmig_now_ns() - t0) / 1000000;
	self->migrate = 0;
	EXPECT_EQ(variant->in_exit, proc_wait_exit(self->incoming, 45000))
		TH_LOG("%s", file_text("incoming.log"));
	t_in = (kmig_now_ns() - t0) / 1000000;
	self->incoming = 0;
	TH_LOG("%s: the source stopped after %llu ms, the destination after %llu ms",
	       variant->fault, (unsigned long long)t_mig,
	       (unsigned long long)t_in);
	if (!strcmp(variant->fault, "silent")) {
		/* --io-timeout 5, TCP_USER_TIMEOUT 10 s: well within 20 s */
		EXPECT_GT(20000, t_mig);
		EXPECT_GT(20000, t_in);
		ASSERT_EQ(0, hosts_sh("hosts_heal"));
	}
	ASSERT_EQ(0, vmm_status_of(VMM_A, &sa));
	ASSERT_STREQ("migrated", sa.state);

	if (variant->fail_once) {
		start_recovery(self, 4471, true);
		ASSERT_TRUE(proc_stopped(self->resume, &status, PROC_WAIT_MS))
			TH_LOG("%s", file_text("resume.log"));
		kill(self->resume, SIGKILL);
		EXPECT_EQ(128 + SIGKILL, proc_wait_exit(self->resume, 5000));
		self->resume = 0;
		EXPECT_EQ(3, proc_wait_exit(self->recover, 30000))
			TH_LOG("%s", file_text("recover.log"));
		self->recover = 0;
		EXPECT_TRUE(file_has("recover.log", "run the recovery again"))
			TH_LOG("%s", file_text("recover.log"));
	}

	/* The recovery: every missing page arrives. */
	start_recovery(self, 4472, false);
	EXPECT_EQ(0, proc_wait_exit(self->resume, 90000))
		TH_LOG("%s", file_text("resume.log"));
	self->resume = 0;
	EXPECT_EQ(0, proc_wait_exit(self->recover, 30000))
		TH_LOG("%s", file_text("recover.log"));
	self->recover = 0;
	rs = file_read("resume.log", &len);
	rd = file_read("recover.log", &len);
	ASSERT_NE(NULL, rs);
	ASSERT_NE(NULL, rd);
	TH_LOG("recovery: source sent %llu pages (%llu zero), answered %llu requests in %llu ms; destination requested %llu",
	       (unsigned long long)json_u64(rs, "memory_normal"),
	       (unsigned long long)json_u64(rs, "memory_constant"),
	       (unsigned long long)json_u64(rs, "postcopy_requests"),
	       (unsigned long long)json_u64(rs, "time_elapsed"),
	       (unsigned long long)json_u64(rd, "postcopy_requests"));
	free(rs);
	free(rd);
	EXPECT_TRUE(file_has("resume.log", "\"status\": \"completed\""));
	EXPECT_TRUE(file_has("recover.log", "\"status\": \"completed\""));

	/* The guest goes on at the destination only, its memory whole. */
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("migrated", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(VMM_B, 0, PROC_WAIT_MS, &st));
	ASSERT_EQ(0, __vmm_wait_counter(VMM_B, st.counter, PROC_WAIT_MS, &st));
	ASSERT_EQ(0, pages_vmm_open(&ref, VMM_A, why, sizeof(why)))
		TH_LOG("%s", why);
	diff = pages_differ(VMM_B, pages_ref_vmm, &ref, &sb, &unlogged, why,
			    sizeof(why));
	pages_vmm_close(&ref);
	ASSERT_LE(0, diff) TH_LOG("%s", why);
	ASSERT_LE(sa.writes, sb.writes);
	TH_LOG("%ld pages differ (%ld not logged since RUN); the guest wrote %llu since RUN",
	       diff, unlogged, (unsigned long long)(sb.writes - sa.writes));
	EXPECT_EQ(0, unlogged);
	EXPECT_LE((uint64_t)diff, sb.writes - sa.writes + OTHER_PAGES);
}

TEST_HARNESS_MAIN
