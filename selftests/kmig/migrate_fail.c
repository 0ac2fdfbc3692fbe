// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations that go wrong: the link is cut, the stream is corrupted on the
 * way, or one of the agents is killed. Whatever happens, the source guest
 * keeps running untouched, the destination never resumes a half-loaded
 * guest, and both agents end with a clear error instead of hanging.
 *
 * Then the switchover handshake (MIG_HS_* in user/kmig/mig.h), broken at
 * each step: the guest never runs on both hosts, and when neither side
 * can know whether it runs on the other, it stays paused on the source,
 * intact, until someone resumes it there.
 *
 * The link cut runs between two network namespaces joined by veth
 * (selftests/qemu/hosts.sh); the other cases run over loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "kselftest_harness.h"
#include "kmig.h"
#include "proc.h"

#define RUN_DIR		"/run/kmig-migrate-fail"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"

/*
 * Wait until the network namespace of process @pid has a TCP socket
 * listening on the port of @addr ("[IPV4:]PORT"): 0, -ETIMEDOUT, or
 * -errno once the process is gone.
 */
static int wait_listening(pid_t pid, const char *addr)
{
	const char *colon = strrchr(addr, ':');
	unsigned int port = atoi(colon ? colon + 1 : addr), lport, state;
	char path[64], line[256];
	int ms;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	for (ms = 0; ms < PROC_WAIT_MS; ms += 50) {
		f = fopen(path, "r");
		if (!f)
			return -errno;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %*u: %*x:%x %*x:%*x %x", &lport,
				   &state) == 2 && lport == port && state == 0x0A) {
				fclose(f);
				return 0;
			}
		fclose(f);
		usleep(50000);
	}
	return -ETIMEDOUT;
}

FIXTURE(fail) {
	pid_t vmm_a, vmm_b, incoming, migrate, proxy;
	bool netns;
};

FIXTURE_SETUP(fail)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	run_dir_clean(RUN_DIR, VMM_A, VMM_B);
	memset(self, 0, sizeof(*self));
}

FIXTURE_TEARDOWN(fail)
{
	proc_stop(&self->migrate);
	proc_stop(&self->incoming);
	proc_stop(&self->proxy);
	proc_stop(&self->vmm_a);
	proc_stop(&self->vmm_b);
	/* Not ASSERT: after a failed one in the test it would rerun this
	 * teardown forever (migrate_pcrecover.c). */
	if (self->netns)
		EXPECT_EQ(0, hosts_sh("hosts_down"));
}

/*
 * A source guest of @mem MiB dirtying @rate pages/s, a destination of
 * @vcpus_b vCPUs waiting, an incoming agent on @listen and a migration to
 * @to, capped at @bandwidth MiB/s unless NULL.
 */
struct setup {
	const char *ns_a, *ns_b;
	const char *mem, *rate, *vcpus_b, *bandwidth;
	const char *pattern;		/* the guest's, or NULL: random */
	bool then_quiet;		/* pattern none once all is written */
	const char *listen, *to;
	const char *channels;		/* --channels, or NULL */
	const char *fault_b;		/* KMIG_VMM_FAULT of the destination */
	uint64_t page_limit_b;		/* pages the destination may have */
};

/* The source guest, once it wrote all its memory, writes none. */
static void quiet_after_a_while(struct __test_metadata *_metadata)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;

	ASSERT_EQ(0, vmm_wait_written(VMM_A, PROC_WAIT_MS, &st))
		TH_LOG("%llu of %u pages written", (unsigned long long)st.writes,
		       st.ws_pages);
	ASSERT_EQ(0, vmm_client_connect(&c, VMM_A, 5000));
	ASSERT_EQ(0, vmm_client_cmd(&c, "pattern none"));
	vmm_client_close(&c);
}

static void start(struct __test_metadata *_metadata, FIXTURE_DATA(fail) *self,
		  const struct setup *u)
{
	const char *vmm_a[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_A,
				"--mem", u->mem, "--pattern",
				u->pattern ? u->pattern : "random",
				"--rate", u->rate, NULL };
	const char *vmm_b[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_B,
				"--mem", u->mem, "--vcpus", u->vcpus_b,
				"--incoming", NULL };
	const char *inc[] = { proc_bin("kmig"), "incoming", "--vmm", VMM_B,
			      "--listen", u->listen, "--timeout", "60", NULL };
	const char *mig[] = { proc_bin("kmig"), "migrate", "--vmm", VMM_A,
			      "--to", u->to, "--timeout", "60",
			      "--channels", u->channels ? u->channels : "1",
			      u->bandwidth ? "--bandwidth" : NULL, u->bandwidth,
			      NULL };
	struct vmm_status st;

	self->vmm_a = proc_spawn(u->ns_a, "vmm-a.log", vmm_a);
	if (u->fault_b)
		setenv("KMIG_VMM_FAULT", u->fault_b, 1);
	self->vmm_b = proc_spawn(u->ns_b, "vmm-b.log", vmm_b);
	unsetenv("KMIG_VMM_FAULT");
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	ASSERT_STREQ("running", st.state);
	if (u->then_quiet)
		quiet_after_a_while(_metadata);
	ASSERT_EQ(0, vmm_status_of(VMM_B, &st));
	ASSERT_STREQ("incoming", st.state);
	if (u->page_limit_b)
		ASSERT_EQ(0, ctx_page_limit_of(self->vmm_b, u->page_limit_b));
	self->incoming = proc_spawn(u->ns_b, "incoming.log", inc);
	ASSERT_EQ(0, wait_listening(self->incoming, u->listen))
		TH_LOG("kmig incoming does not listen on %s: %s", u->listen,
		       file_text("incoming.log"));
	self->migrate = proc_spawn(u->ns_a, "migrate.log", mig);
}

/*
 * A migration capped at 1 MiB/s of a guest dirtying memory fast, so that
 * precopy lasts well beyond the moment the test breaks something.
 */
static void start_migration(struct __test_metadata *_metadata,
			    FIXTURE_DATA(fail) *self, const char *ns_a,
			    const char *ns_b, const char *listen,
			    const char *to)
{
	const struct setup u = {
		.ns_a = ns_a, .ns_b = ns_b, .mem = "32", .rate = "20000",
		.vcpus_b = "1", .bandwidth = "1", .listen = listen, .to = to,
	};
	struct kmig_nl_ctx ctx = { 0 };
	uint64_t before;
	int ms;

	start(_metadata, self, &u);
	/*
	 * Under way: the destination holds more pages than its VMM wrote
	 * itself (a fixed pause is not enough on a slow kernel, where the
	 * source may not even have connected yet), and at 1 MiB/s of 32 MiB,
	 * still in precopy.
	 */
	ASSERT_EQ(0, ctx_of(self->vmm_b, &ctx));
	before = ctx.pages;
	for (ms = 0; ms < PROC_WAIT_MS && ctx.pages <= before; ms += 100) {
		usleep(100000);
		ASSERT_EQ(0, ctx_of(self->vmm_b, &ctx));
	}
	ASSERT_LT(before, ctx.pages) TH_LOG("no page reached the destination");
	ASSERT_EQ(-ETIMEDOUT, proc_wait_exit(self->migrate, 0));
}

/*
 * Both agents end: the source with @mig_status, the destination with 1,
 * each within @secs seconds and saying @mig_says and @in_says (if given).
 */
static void agents_end(struct __test_metadata *_metadata,
		       FIXTURE_DATA(fail) *self, int mig_status, int secs,
		       const char *mig_says, const char *in_says)
{
	EXPECT_EQ(mig_status, proc_wait_exit(self->migrate, secs * 1000));
	self->migrate = 0;
	EXPECT_EQ(1, proc_wait_exit(self->incoming, secs * 1000));
	self->incoming = 0;
	if (mig_says)
		EXPECT_TRUE(file_has("migrate.log", mig_says))
			TH_LOG("kmig migrate did not say '%s': %s", mig_says,
			       file_text("migrate.log"));
	if (in_says)
		EXPECT_TRUE(file_has("incoming.log", in_says))
			TH_LOG("kmig incoming did not say '%s': %s", in_says,
			       file_text("incoming.log"));
}

/* Exit status of `kmig resume --vmm @sock [@opt]`, its output in
 * resume.log. */
static int kmig_resume_opt(const char *sock, const char *opt)
{
	const char *argv[] = { proc_bin("kmig"), "resume", "--vmm", sock, opt,
			       NULL };

	return proc_wait_exit(proc_spawn(NULL, "resume.log", argv), 30000);
}

static int kmig_resume(const char *sock)
{
	return kmig_resume_opt(sock, NULL);
}

/* The source guest still runs on its own, with dirty tracking off. */
static void source_untouched(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fail) *self, bool tracking_off)
{
	struct vmm_status st;
	uint64_t c1;

	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("running", st.state);
	c1 = st.counter;
	/* its counter moves on (running, within 5 s) */
	EXPECT_EQ(0, __vmm_wait_counter(VMM_A, c1, 5000, &st))
		TH_LOG("%s, counter %llu", st.state,
		       (unsigned long long)st.counter);
	if (tracking_off)
		EXPECT_EQ(0, ctx_tracking_of(self->vmm_a));
}

/* The destination never resumed a half-loaded guest. */
static void destination_not_resumed(struct __test_metadata *_metadata)
{
	struct vmm_status st;

	ASSERT_EQ(0, vmm_status_of(VMM_B, &st));
	EXPECT_STREQ("incoming", st.state);
}

TEST_F_TIMEOUT(fail, link_cut_during_precopy, 240)
{
	self->netns = true;
	ASSERT_EQ(0, hosts_sh("hosts_down && hosts_up"));
	start_migration(_metadata, self, "kmig-a", "kmig-b",
			"198.18.0.2:4450", "198.18.0.2:4450");

	ASSERT_EQ(0, hosts_sh("link_cut"));
	agents_end(_metadata, self, 1, 45, "kmig migrate: ", "kmig incoming: ");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * tools/tcpproxy on @port to 127.0.0.1:@target_port, listening before
 * this returns: it inverts the byte @flip ([CONN@]OFFSET, "-1": none)
 * and cuts the handshake at @cut (NULL: never).
 */
static void start_proxy(struct __test_metadata *_metadata,
			FIXTURE_DATA(fail) *self, const char *port,
			const char *target_port, const char *flip,
			const char *cut)
{
	const char *proxy[] = { proc_bin("tools/tcpproxy"), port, "127.0.0.1",
				target_port, flip, cut, NULL };

	self->proxy = proc_spawn(NULL, "proxy.log", proxy);
	ASSERT_EQ(0, wait_listening(self->proxy, port));
}

/*
 * A byte of the main channel's CAPS record flipped (after the 64-byte
 * hello and the 16-byte stream header): refused at that record.
 */
TEST_F_TIMEOUT(fail, corrupt_stream_is_refused, 240)
{
	const struct setup u = {
		.mem = "32", .rate = "20000", .vcpus_b = "1", .bandwidth = "1",
		.listen = "127.0.0.1:4451", .to = "127.0.0.1:4452",
	};

	start_proxy(_metadata, self, "4452", "4451", "100", NULL);
	start(_metadata, self, &u);

	/* The source hears the destination's cause on the return path. */
	agents_end(_metadata, self, 1, 45, "CRC mismatch", "record #");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * A page's bytes on page channel 1 corrupted on the way, in round 0: it
 * looks torn, as if the guest had written it while it was sent. The
 * guest wrote all its memory and then writes none, so round 1 does not
 * bring the page again: at round 1's end the destination names it as the
 * cause, and so does the source, having heard it on the return path (not
 * after its I/O timeout, with an error of its own).
 */
TEST_F_TIMEOUT(fail, corrupt_page_is_the_cause_on_both_sides, 240)
{
	const struct setup u = {
		.mem = "16", .rate = "8000", .vcpus_b = "1", .channels = "2",
		.pattern = "seq", .then_quiet = true,
		.listen = "127.0.0.1:4463", .to = "127.0.0.1:4462",
	};
	const char *says = "arrived torn in round 0 and did not come again in round 1";

	start_proxy(_metadata, self, "4462", "4463", "1@300000", NULL);
	start(_metadata, self, &u);
	agents_end(_metadata, self, 1, 15, says, says);
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * SIGKILL for one agent, *@victim, in precopy: the other, *@survivor,
 * ends with 1 and says why in @log.
 */
static void kill_agent(struct __test_metadata *_metadata, pid_t *victim,
		       pid_t *survivor, const char *log, const char *says)
{
	kill(*victim, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, proc_wait_exit(*victim, 5000));
	*victim = 0;
	EXPECT_EQ(1, proc_wait_exit(*survivor, 30000))
		TH_LOG("still waits in:%s", proc_where(*survivor));
	proc_stop(survivor);
	EXPECT_TRUE(file_has(log, says)) TH_LOG("%s", file_text(log));
}

TEST_F_TIMEOUT(fail, source_agent_killed, 240)
{
	start_migration(_metadata, self, NULL, NULL, "127.0.0.1:4453",
			"127.0.0.1:4453");

	kill_agent(_metadata, &self->migrate, &self->incoming, "incoming.log",
		   "kmig incoming: ");
	/* Tracking is left on: nobody was there to turn it off. */
	source_untouched(_metadata, self, false);
	destination_not_resumed(_metadata);
}

TEST_F_TIMEOUT(fail, destination_agent_killed, 240)
{
	start_migration(_metadata, self, NULL, NULL, "127.0.0.1:4454",
			"127.0.0.1:4454");

	kill_agent(_metadata, &self->incoming, &self->migrate, "migrate.log",
		   "kmig migrate: ");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * A migration that completes quickly unless something breaks it: a small
 * guest, no bandwidth cap. @vcpus_b vCPUs on the destination.
 */
static void start_switchover(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fail) *self, const char *listen,
			     const char *to, const char *vcpus_b)
{
	const struct setup u = {
		.mem = "16", .rate = "2000", .vcpus_b = vcpus_b,
		.listen = listen, .to = to,
	};

	start(_metadata, self, &u);
}

/*
 * The destination may have 256 pages of the guest's 4096: installing the
 * rest fails with a clear error, and the source takes its guest back.
 */
TEST_F_TIMEOUT(fail, destination_out_of_memory_refuses_cleanly, 240)
{
	const struct setup u = {
		.mem = "16", .rate = "2000", .vcpus_b = "1",
		.listen = "127.0.0.1:4461", .to = "127.0.0.1:4461",
		.page_limit_b = 256,
	};

	start(_metadata, self, &u);
	agents_end(_metadata, self, 1, 60, "kmig migrate: ",
		   "No space left on device");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/* LOADED never reaches the source: it takes its guest back. */
TEST_F_TIMEOUT(fail, lost_loaded_resumes_the_source, 240)
{
	start_proxy(_metadata, self, "4456", "4457", "-1", "before-reply");
	start_switchover(_metadata, self, "127.0.0.1:4457", "127.0.0.1:4456",
			 "1");

	agents_end(_metadata, self, 1, 90,
		   "the destination did not load the guest",
		   "no go-ahead from the source");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * The source sent GO, which never arrived: the guest may run on the
 * destination as far as the source can tell, so it stays paused there,
 * its VMM marked as migrated away; the destination never got GO, so it
 * does not run there either. Nothing is lost: once the user has checked
 * the destination, kmig resume --force runs the source guest again.
 */
TEST_F_TIMEOUT(fail, lost_go_leaves_the_guest_paused_and_whole, 240)
{
	struct vmm_status st;
	uint64_t c1;

	start_proxy(_metadata, self, "4458", "4459", "-1", "after-reply");
	start_switchover(_metadata, self, "127.0.0.1:4459", "127.0.0.1:4458",
			 "1");

	agents_end(_metadata, self, 3, 90, "stays paused here",
		   "no go-ahead from the source");
	destination_not_resumed(_metadata);
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("migrated", st.state);
	EXPECT_EQ(0, ctx_tracking_of(self->vmm_a));
	c1 = st.counter;
	usleep(300000);
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_EQ(c1, st.counter);

	/*
	 * kmig resume refuses a VMM with no guest, and ours unless forced:
	 * it may run on the destination as far as the source knows.
	 */
	EXPECT_EQ(1, kmig_resume(VMM_B));
	EXPECT_TRUE(file_has("resume.log", "is incoming: it has no guest to resume"))
		TH_LOG("%s", file_text("resume.log"));
	EXPECT_EQ(1, kmig_resume(VMM_A));
	EXPECT_TRUE(file_has("resume.log", "--force"))
		TH_LOG("%s", file_text("resume.log"));
	EXPECT_EQ(0, kmig_resume_opt(VMM_A, "--force"));
	EXPECT_TRUE(file_has("resume.log", "the guest runs here"))
		TH_LOG("%s", file_text("resume.log"));
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * A completed migration: the source's VMM knows its guest migrated away,
 * and kmig resume refuses to run it there again, unless forced.
 */
TEST_F_TIMEOUT(fail, migrated_guest_is_not_resumed_at_the_source, 240)
{
	struct vmm_status st;

	start_switchover(_metadata, self, "127.0.0.1:4464", "127.0.0.1:4464",
			 "1");
	EXPECT_EQ(0, proc_wait_exit(self->migrate, 90000))
		TH_LOG("%s", file_text("migrate.log"));
	self->migrate = 0;
	EXPECT_EQ(0, proc_wait_exit(self->incoming, 30000))
		TH_LOG("%s", file_text("incoming.log"));
	self->incoming = 0;
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("migrated", st.state);
	EXPECT_EQ(1, kmig_resume(VMM_A));
	EXPECT_TRUE(file_has("resume.log", "handed over"))
		TH_LOG("%s", file_text("resume.log"));
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("migrated", st.state);
	vmm_expect_runs(VMM_B);
	/* Forced, it runs on both: the user asked for it. */
	EXPECT_EQ(0, kmig_resume_opt(VMM_A, "--force"));
	vmm_expect_runs(VMM_A);
}

/*
 * The destination's VMM resumes the guest but its answer is lost: that is
 * not a failure. The destination asks again, finds it running, and the
 * source keeps its own guest paused: it never runs on both hosts.
 */
TEST_F_TIMEOUT(fail, unanswered_resume_is_not_a_failure, 240)
{
	const struct setup u = {
		.mem = "16", .rate = "2000", .vcpus_b = "1",
		.listen = "127.0.0.1:4465", .to = "127.0.0.1:4465",
		.fault_b = "resume-noreply",
	};
	struct vmm_status st;

	start(_metadata, self, &u);
	EXPECT_EQ(0, proc_wait_exit(self->migrate, 90000))
		TH_LOG("%s", file_text("migrate.log"));
	self->migrate = 0;
	EXPECT_EQ(0, proc_wait_exit(self->incoming, 30000))
		TH_LOG("%s", file_text("incoming.log"));
	self->incoming = 0;
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STRNE("running", st.state);
	vmm_expect_runs(VMM_B);
}

/* The destination cannot take the state (one vCPU short): it says so. */
TEST_F_TIMEOUT(fail, destination_refusing_the_state_resumes_the_source, 240)
{
	start_switchover(_metadata, self, "127.0.0.1:4460", "127.0.0.1:4460",
			 "2");

	agents_end(_metadata, self, 1, 90,
		   "the destination failed to load the guest",
		   "the VMM refused the vCPU state");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

TEST_HARNESS_MAIN
