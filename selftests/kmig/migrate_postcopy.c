// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy live migration end to end on one machine
 * (Documentation/postcopy.rst): a source kmig-vmm whose guest keeps
 * dirtying memory, a destination kmig-vmm started --incoming, and
 * `kmig incoming` / `kmig migrate --postcopy` between them over
 * 127.0.0.1, with one and with four page channels.
 *
 * The guest writes random pages, and the push after the switch waits for
 * the destination guest's first fault (KMIG_PUSH_AFTER_FAULT=1), then is
 * capped (--postcopy-bandwidth 1): the destination's guest, running
 * meanwhile, faults on pages that have not arrived, and those are
 * requested. Without the wait, a slow kernel (the debug bed) fetches the
 * stale pages for longer than the whole push takes, and the guest runs
 * only once every page is there.
 *
 * Checked: both agents succeed; the source's VMM stays "migrated"; the
 * destination's guest faulted, and the source had requests after RESUMED;
 * the guest's counter advances on the destination; and its memory there,
 * once paused, equals the source's at the pause in every page but those
 * its guest wrote since RUN. Every page
 * not in its dirty log since the resume (precopy's pages, and the stale
 * ones fetched before RUN) must be equal; the logged ones (installed or
 * written since) may differ no more often than the guest wrote, which the
 * pace of the destination's VMM keeps low.
 *
 * The same with the two races of RUN against the listening side made to
 * happen (KMIG_DELAY_AT): every page arrived before the destination
 * listens (no fault), and faults raised before the fault thread reads.
 *
 * Then a failure before RUN: a destination whose VMM refuses the vCPU
 * state (it has another number of vCPUs) says FAILED, and the source runs
 * the guest again. And a link cut or either agent killed right after RUN
 * (two network namespaces): the guest runs at the destination and never
 * again at the source, each surviving agent says so (exit status 3), and
 * both VMMs are there for the recovery (migrate_pcrecover.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
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
#include "postcopy_cut.h"
#include "proc.h"

#define TEST_TIMEOUT	180
#define PAGE		4096u
/* Pages a guest writes besides its working set: parameters, stacks. */
#define OTHER_PAGES	8

FIXTURE(postcopy) {
	struct vmm_proc a, b;
	char dir[128];
};

FIXTURE_VARIANT(postcopy) {
	unsigned int channels;
	unsigned int port;
};

FIXTURE_VARIANT_ADD(postcopy, one_channel) {
	.channels = 1, .port = 24601,
};

FIXTURE_VARIANT_ADD(postcopy, four_channels) {
	.channels = 4, .port = 24602,
};

FIXTURE_SETUP(postcopy)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	snprintf(self->dir, sizeof(self->dir), "%spostcopy-%u-%d",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/",
		 variant->channels, getpid());
}

FIXTURE_TEARDOWN(postcopy)
{
	char cmd[256];

	vmm_stop(&self->a);
	vmm_stop(&self->b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/*
 * One postcopy of the dirtying guest over @channels page channels, the
 * destination's agent with $KMIG_DELAY_AT @delay (or none). The push
 * waits for the guest's first fault, so that postcopy lasts; with
 * @push_now it does not (nor is it slowed), and all of it has arrived
 * before the delayed RUN lets the guest run: no fault.
 */
static void live(struct __test_metadata *_metadata,
		 FIXTURE_DATA(postcopy) *self, unsigned int channels,
		 unsigned int port, const char *delay, bool push_now)
{
	char mig_args[PATH_MAX + 128], src[PATH_MAX];
	struct vmm_status st, sa, sb;
	struct vmm_client c = { .fd = -1 };
	struct agents r;
	uint64_t counter;

	REQUIRE_BED();
	snprintf(src, sizeof(src), "%s/src", self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, mkdir(src, 0755));

	vmm_startf(&self->a, vmm_sock("pc-a"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --pattern random --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	/* paced: the guest writes few pages here after RUN */
	vmm_startf(&self->b, vmm_sock("pc-b"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --incoming --rate 400");
	/* from the resume on, its log names every page installed or written */
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "dirtylog at-resume"));
	vmm_client_close(&c);
	usleep(300 * 1000);

	snprintf(mig_args, sizeof(mig_args),
		 "--channels %u --postcopy%s --timeout 60 --json --save-at-switchover %s",
		 channels, push_now ? "" : " --postcopy-bandwidth 1", src);
	if (!push_now)
		setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	if (delay)
		setenv("KMIG_DELAY_AT", delay, 1);
	run_agents(&self->a, &self->b, port, "--timeout 60 --json",
		   mig_args, 100, &r);
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	unsetenv("KMIG_DELAY_AT");
	if (r.mig_ret || r.in_ret) {
		TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
		TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	}
	ASSERT_EQ(0, r.mig_ret);
	ASSERT_EQ(0, r.in_ret);
	EXPECT_NE(NULL, strstr(r.mig_out, "\"status\": \"completed\""));
	EXPECT_NE(NULL, strstr(r.in_out, "\"status\": \"completed\""));
	EXPECT_LT(0, json_u64(r.mig_out, "postcopy_discarded"))
		TH_LOG("%s", r.mig_out);
	if (push_now) {
		EXPECT_EQ(0, json_u64(r.in_out, "postcopy_faults"))
			TH_LOG("%s", r.in_out);
	} else {
		EXPECT_LT(0, json_u64(r.in_out, "postcopy_faults"))
			TH_LOG("%s", r.in_out);
		/* requested, not only met by the push, which waited */
		EXPECT_LT(0, json_u64(r.mig_out, "postcopy_fault_requests"))
			TH_LOG("%s", r.mig_out);
	}
	EXPECT_LE(json_u64(r.in_out, "postcopy_faults"),
		  json_u64(r.in_out, "postcopy_requests"));
	TH_LOG("%u channel(s): faults %llu, fault to install p50 < %llu us, p99 < %llu us",
	       channels,
	       (unsigned long long)json_u64(r.in_out, "postcopy_faults"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_fault_latency_p50_us"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_fault_latency_p99_us"));
	TH_LOG("%u channel(s): total %llu ms, run after %llu ms, %llu discarded, %llu stale, %llu requests, %llu pushed",
	       channels,
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"),
	       (unsigned long long)json_u64(r.in_out, "downtime"),
	       (unsigned long long)json_u64(r.mig_out, "postcopy_discarded"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_stale"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_requests"),
	       (unsigned long long)json_u64(r.mig_out, "postcopy_pushed"));
	agents_free(&r);

	/* The source stays paused for good; the guest goes on there. */
	ASSERT_EQ(0, vmm_status(&self->a, &sa));
	EXPECT_STREQ("migrated", sa.state);
	counter = sa.counter;
	vmm_wait_counter(&self->b, counter, &st);
	vmm_wait_counter(&self->b, st.counter, &st);

	/* Memory: the source's at the pause, but for the pages written since. */
	EXPECT_SAME_BUT_WRITTEN_SINCE_RUN(self->b.sock, pages_ref_images, src,
					  sa.writes, &sb, OTHER_PAGES);
}

TEST_F_TIMEOUT(postcopy, live, TEST_TIMEOUT)
{
	live(_metadata, self, variant->channels, variant->port, NULL, false);
}

/*
 * The two races of RUN against the listening side, made to happen: the
 * destination's runner held after POSTCOPY_RUN while the page channels
 * go on, so that every page has arrived before it listens; and its fault
 * thread held, so that the guest faults before anyone reads the faults,
 * which wait for it.
 */
FIXTURE(race) {
	FIXTURE_DATA(postcopy) p;
};

FIXTURE_VARIANT(race) {
	const char *delay;
	bool push_now;
	unsigned int port;
};

FIXTURE_VARIANT_ADD(race, pages_before_listen) {
	.delay = "pc-listen:6000", .push_now = true, .port = 24651,
};

FIXTURE_VARIANT_ADD(race, faults_before_their_server) {
	.delay = "pc-faults:2000", .port = 24652,
};

FIXTURE_SETUP(race)
{
	memset(&self->p, 0, sizeof(self->p));
	snprintf(self->p.dir, sizeof(self->p.dir), "%spostcopy-race-%d",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", getpid());
}

FIXTURE_TEARDOWN(race)
{
	char cmd[256];

	vmm_stop(&self->p.a);
	vmm_stop(&self->p.b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->p.dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->p.dir);
}

TEST_F_TIMEOUT(race, run_and_listen, TEST_TIMEOUT)
{
	live(_metadata, &self->p, 4, variant->port, variant->delay,
	     variant->push_now);
}

/* The destination refuses the vCPU state: the guest runs at the source. */
TEST_F_TIMEOUT(postcopy, failure_before_run_resumes_the_source, TEST_TIMEOUT)
{
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("pc-fa"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --pattern seq --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("pc-fb"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 1 --incoming");

	run_agents(&self->a, &self->b, variant->port + 10, "--timeout 60",
		   "--channels 2 --postcopy --timeout 60", 100, &r);
	TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
	TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	EXPECT_EQ(1, r.mig_ret);
	EXPECT_EQ(1, r.in_ret);
	EXPECT_NE(NULL, strstr(r.mig_out, "vCPU"));
	agents_free(&r);

	vmm_expect_stayed(&self->a, &self->b);
}

/*
 * kmig-vmm's unmap and map (postcopy's listen step): only while incoming,
 * only with kmig memory; meanwhile nothing reads guest RAM, and the
 * context's pages can be put in missing mode, which a mapping forbids.
 */
TEST_F_TIMEOUT(postcopy, vmm_unmaps_guest_ram_only_while_incoming, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 }, m = { .fd = -1 };
	struct vmm_client_slot slots[8];
	struct vmm_status st;
	unsigned int n;
	int ctx;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("pc-ua"), "/dev/null",
		   "--mem 4 --pattern none --rate 100");
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "unmap")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);

	vmm_startf(&self->b, vmm_sock("pc-ub"), "/dev/null",
		   "--mem 4 --incoming");
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_ctx(&c, slots, 8, &n, &ctx)) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EBUSY, kmig_ctx_set_missing(ctx, slots[0].id, 0, 1));
	EXPECT_EQ(-EALREADY, vmm_client_cmd(&c, "map")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, vmm_client_cmd(&c, "unmap")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EALREADY, vmm_client_cmd(&c, "unmap"));
	EXPECT_EQ(0, kmig_ctx_set_missing(ctx, slots[0].id,
					  slots[0].size / PAGE - 1, 1));
	ASSERT_EQ(0, vmm_client_status(&c, &st));
	EXPECT_STREQ("incoming", st.state);
	EXPECT_EQ(0, st.counter);
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "resume"));
	EXPECT_NE(NULL, strstr(c.reply, "'map' first")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "pattern seq"));
	ASSERT_EQ(0, vmm_client_cmd(&c, "map")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, vmm_client_status(&c, &st));
	EXPECT_EQ(-EBUSY, kmig_ctx_set_missing(ctx, slots[0].id, 0, 1));
	close(ctx);
	vmm_client_close(&c);

	/* memfd memory has no missing mode: nothing to unmap it for */
	vmm_stop(&self->a);
	vmm_startf(&self->a, vmm_sock("pc-uc"), "/dev/null",
		   "--mem 4 --incoming --backend memfd");
	ASSERT_EQ(0, vmm_connect(&self->a, &m));
	EXPECT_EQ(-EOPNOTSUPP, vmm_client_cmd(&m, "unmap")) TH_LOG("%s", m.reply);
	vmm_client_close(&m);
}

#define RUN_DIR		"/run/kmig-postcopy"

/* Two hosts, a VMM and an agent on each (postcopy_cut.h). */
FIXTURE(cut) {
	struct pc_cut cut;
};

FIXTURE_SETUP(cut)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	pc_cut_init(&self->cut, RUN_DIR);
}

FIXTURE_TEARDOWN(cut)
{
	ASSERT_EQ(0, pc_cut_stop(&self->cut));
}

/* What breaks right after RUN, and how each agent ends. */
FIXTURE_VARIANT(cut) {
	const char *fault;		/* link_cut, or the agent killed (pc_cut_break) */
	int mig_exit, in_exit;
};

FIXTURE_VARIANT_ADD(cut, link_cut) {
	.fault = "link_cut", .mig_exit = 3, .in_exit = 3,
};

FIXTURE_VARIANT_ADD(cut, destination_agent_killed) {
	.fault = "incoming", .mig_exit = 3, .in_exit = 128 + SIGKILL,
};

FIXTURE_VARIANT_ADD(cut, source_agent_killed) {
	.fault = "migrate", .mig_exit = 128 + SIGKILL, .in_exit = 3,
};

TEST_F_TIMEOUT(cut, after_run_the_guest_runs_once, TEST_TIMEOUT)
{
	const struct pc_cut_cfg cfg = { .rate_a = "2000", .rate_b = "200" };
	struct pc_cut *cut = &self->cut;
	struct vmm_status st;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	pc_cut_start(cut, &cfg);
	pc_cut_break(cut, variant->fault);

	/* Each may have it running there: neither resumes it here. */
	EXPECT_EQ(variant->mig_exit, proc_wait_exit(cut->migrate, 45000))
		TH_LOG("%s", file_text("migrate.log"));
	cut->migrate = 0;
	EXPECT_EQ(variant->in_exit, proc_wait_exit(cut->incoming, 45000))
		TH_LOG("%s", file_text("incoming.log"));
	cut->incoming = 0;
	if (variant->in_exit == 3)
		EXPECT_TRUE(file_has("incoming.log", "the guest may run here"))
			TH_LOG("%s", file_text("incoming.log"));
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
	ASSERT_EQ(0, vmm_status_of(cut->sock_b, &st));
	EXPECT_STREQ("running", st.state);
}

TEST_HARNESS_MAIN
