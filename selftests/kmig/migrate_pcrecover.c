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
 * Precopy is capped at 4 MiB/s, so that its one round (the guests have
 * 8 MiB) lasts about 2 s and the guest dirties thousands of pages
 * meanwhile; the postcopy push of
 * those waits for the destination guest's first fault
 * (KMIG_PUSH_AFTER_FAULT=1), which its agent, held right after RESUMED,
 * does not request: on a kernel of any speed, pages are still missing at
 * the cut.
 *
 * The silent variant drops every packet (netem loss 100%): no RST, no
 * FIN, so each side can tell the link is dead only by its silence, and
 * must within its --io-timeout. The silent_link_idle variant makes sure
 * that the link is idle when it goes silent, the case where a destination
 * that only waits for its guest's faults could not tell (QEMU's cannot):
 * both guests run no pattern, so the destination's touches no missing
 * page but its counters', while 256 pages the source's first pass did
 * not send are missing
 * there (postcopy_cut.h, idle_missing). Its agent runs on for 2 s, the
 * module reports no thread blocked (and one fault, the guest's counters'
 * page, stale at the switch and answered at once), and then the link
 * goes silent: each side must stop within its --io-timeout (5 s; plus
 * 0.2 s, the return path's poll, and 1.3 s for its exit under load),
 * timed from the moment the link is dead both ways.
 *
 * The fail_once variant kills the first recovery's source midway, and
 * the destination's recovery says so; the second one completes. Its
 * variant runs over TLS (--tls-psk): the migration and both recoveries.
 * The silent variant recovers over 4 page channels (--channels 4 on both
 * sides), and first fails one: its first recovery's source is stopped
 * once every channel is connected, and this test shuts one page channel
 * of it down (the socket taken with pidfd_getfd(): a TCP socket that
 * received nothing, where the main one received the bitmap); both
 * recovery agents exit with status 3 and say so, and the next recovery
 * completes.
 *
 * The destination_agent_killed_then_hangs variant first runs three
 * recoveries whose destination stops answering while its connections
 * stay open (destination_hangs()): the source must give up in time,
 * exit with status 3, say so and keep the guest paused, every page of
 * it; the fourth recovery completes.
 *
 * Checked at the end: both recovery agents succeed, the guest's counter
 * advances at the destination, and its memory there equals the source's
 * (paused since the switch, kept) in every page not written at the
 * destination since RUN: every page not in the destination's dirty log
 * (restarted at the resume: it names installs and the guest's writes)
 * is equal, and the logged ones differ no more often than the guest
 * wrote.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "ctx.h"
#include "kmig.h"
#include "kvm.h"
#include "pages.h"
#include "postcopy_cut.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	300
#define OTHER_PAGES	8
#define IO_TIMEOUT_MS	5000	/* both agents' --io-timeout */
#define GIVE_UP_MS	45000	/* the push drained, then --io-timeout */
#define IDLE_MISSING	256	/* pages missing at an idle cut */
#define RUN_DIR		"/run/kmig-pcrecover"

FIXTURE(recover) {
	struct pc_cut cut;		/* A, B, the cut migration, its recovery */
	struct pages_vmm ref;		/* A's memory, the reference at the end */
};

FIXTURE_SETUP(recover)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	pc_cut_init(&self->cut, RUN_DIR);
	self->ref.c.fd = self->ref.ctx = -1;
}

FIXTURE_TEARDOWN(recover)
{
	pages_vmm_close(&self->ref);
	/*
	 * Not ASSERT: after a failed ASSERT in the test the harness keeps
	 * its trigger set, and any ASSERT here would jump back into this
	 * teardown, again and again until the test's time limit.
	 */
	EXPECT_EQ(0, pc_cut_stop(&self->cut));
}

FIXTURE_VARIANT(recover) {
	const char *fault;	/* silent link, or the agent killed (pc_cut_break) */
	bool fail_once;		/* the first recovery's source is killed */
	bool cut_channel;	/* ... or one of its page channels shut down */
	bool hang;		/* two recoveries whose destination hangs */
	unsigned int channels;	/* the recovery's page channels (0: default) */
	bool tls;		/* migration and recovery with --tls-psk */
	bool idle;		/* no fault pending at the cut (the top) */
	const char *recover_delay;	/* KMIG_DELAY_AT of postcopy-recover */
	bool huge;		/* both VMMs on huge slots */
	int mig_exit, in_exit;
};

/* Recovered over 4 page channels, after one of them failed once. */
FIXTURE_VARIANT_ADD(recover, silent_link) {
	.fault = "silent", .cut_channel = true, .channels = 4, .mig_exit = 3,
	.in_exit = 3,
};

/* The link goes silent while it is idle: no fault pending, none to come. */
FIXTURE_VARIANT_ADD(recover, silent_link_idle) {
	.fault = "silent", .idle = true, .mig_exit = 3, .in_exit = 3,
};

/*
 * Recovered after three recoveries whose destination stopped answering
 * (destination_hangs()).
 */
FIXTURE_VARIANT_ADD(recover, destination_agent_killed_then_hangs) {
	.fault = "incoming", .hang = true, .mig_exit = 3,
	.in_exit = 128 + SIGKILL,
};

/*
 * The blocked vCPU's fault is reported to the recovery at once, and its
 * fault thread sees it, then waits 3 s before it reads: meanwhile the
 * push installs the page and the vCPU, woken, withdraws its record. The
 * read must not wait for a fault that will never come.
 */
FIXTURE_VARIANT_ADD(recover, fault_withdrawn_before_its_read) {
	.fault = "incoming", .recover_delay = "pc-fault-read:3000",
	.mig_exit = 3, .in_exit = 128 + SIGKILL,
};

/*
 * On huge slots: each block missing at the recovery's start arrives
 * whole, one 2 MiB folio, also those a fault asked for.
 */
FIXTURE_VARIANT_ADD(recover, huge_slots) {
	.fault = "incoming", .huge = true, .mig_exit = 3,
	.in_exit = 128 + SIGKILL,
};

FIXTURE_VARIANT_ADD(recover, source_agent_killed) {
	.fault = "migrate", .mig_exit = 128 + SIGKILL, .in_exit = 3,
};

/*
 * Over TLS, the migration and both recoveries with its key (never in the
 * clear); the first recovery's source is killed.
 */
FIXTURE_VARIANT_ADD(recover, recovery_fails_once_tls) {
	.fault = "silent", .fail_once = true, .tls = true, .mig_exit = 3,
	.in_exit = 3,
};

/*
 * The exit status of recovery agent *@pid within @ms. One still running
 * is logged where each recovery agent waits, with both logs so far, and
 * left to the teardown, which kills it: it may hold its VMM's one
 * control connection.
 */
static int agent_exit(struct __test_metadata *_metadata, struct pc_cut *cut,
		      pid_t *pid, int ms)
{
	int ret = proc_wait_exit(*pid, ms);
	pid_t agents[] = { cut->resume, cut->recover };
	struct kmig_nl_stats st;
	struct kmig_nl_ctx ctx;
	unsigned int i;

	if (ret != -ETIMEDOUT) {
		*pid = 0;
		return ret;
	}
	TH_LOG("agent %d still runs", *pid);
	if (!ctx_stats_of(cut->vmm_b, &ctx, &st))
		TH_LOG("destination: %llu pages missing, %llu faults, %llu waiting",
		       (unsigned long long)ctx.missing,
		       (unsigned long long)st.faults,
		       (unsigned long long)st.waiters);
	for (i = 0; i < 2; i++) {
		if (agents[i] <= 0)
			continue;
		TH_LOG("%s %d waits in:%s", i ? "recover" : "resume",
		       agents[i], proc_where(agents[i]));
		TH_LOG("%s", proc_backtrace(agents[i]));
	}
	TH_LOG("resume.log:\n%s", file_text("resume.log"));
	TH_LOG("recover.log:\n%s", file_text("recover.log"));
	return ret;
}

/*
 * The destination's agent, held after RESUMED, goes on for 2 s with its
 * guest idle: no thread waits for a page, the pages are still missing
 * and postcopy still runs. The one fault is the page of the guest's
 * counters, which it writes all the time: stale at the switch, so
 * discarded, requested at once and answered (the push is held).
 */
static void known_idle(struct __test_metadata *_metadata, struct pc_cut *cut)
{
	struct kmig_nl_stats st;
	struct kmig_nl_ctx ctx;

	kill(cut->incoming, SIGCONT);
	usleep(2000 * 1000);
	ASSERT_EQ(0, ctx_stats_of(cut->vmm_b, &ctx, &st));
	TH_LOG("before the cut: %llu pages missing, %llu faults, %llu waiting",
	       (unsigned long long)ctx.missing, (unsigned long long)st.faults,
	       (unsigned long long)st.waiters);
	EXPECT_EQ(0, st.waiters);
	EXPECT_GE(1, st.faults);
	EXPECT_LE(IDLE_MISSING, ctx.missing);
	ASSERT_EQ(-ETIMEDOUT, proc_wait_exit(cut->migrate, 0))
		TH_LOG("postcopy ended before the cut: %s",
		       file_text("migrate.log"));
}

/*
 * Start a recovery on @port (with @tls options, or none) over @channels
 * page channels (0: the default): the destination's, @delay its
 * KMIG_DELAY_AT (or none), then the source's, with the options @timeouts
 * after its --io-timeout 5 (or none).
 */
static void start_recovery(FIXTURE_DATA(recover) *self, unsigned int port,
			   bool stop_source, const char *tls,
			   unsigned int channels, const char *delay,
			   const char *timeouts)
{
	struct pc_cut *cut = &self->cut;
	char chans[32] = "";

	if (channels)
		snprintf(chans, sizeof(chans), "--channels %u", channels);
	if (delay)
		setenv("KMIG_DELAY_AT", delay, 1);
	cut->recover = proc_spawnf("kmig-b", "recover.log",
				   "%s postcopy-recover --vmm %s --listen " PC_CUT_B ":%u --timeout 60 --io-timeout 5 --json %s %s",
				   proc_bin("kmig"), cut->sock_b, port, chans,
				   tls ? tls : "");
	unsetenv("KMIG_DELAY_AT");
	if (stop_source)
		setenv("KMIG_STOP_AT", "resume", 1);
	cut->resume = proc_spawnf("kmig-a", "resume.log",
				  "%s migrate --resume --vmm %s --to " PC_CUT_B ":%u --io-timeout 5 %s --json %s %s",
				  proc_bin("kmig"), cut->sock_a, port,
				  timeouts ? timeouts : "", chans,
				  tls ? tls : "");
	unsetenv("KMIG_STOP_AT");
}

/*
 * Shut down one page channel of the (stopped) recovery source @pid: of
 * its established TCP sockets, one that has received nothing (the main
 * channel has received the bitmap). 0, or -errno.
 */
static int shut_page_channel(pid_t pid)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), fd, ret = -ENOENT;
	struct tcp_info ti;
	char path[300], link[64];
	struct dirent *e;
	socklen_t len;
	ssize_t n;
	DIR *dir;

	if (pidfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	while (dir && ret && (e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0 || strncmp(link, "socket:", 7))
			continue;
		fd = syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd < 0)
			continue;
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		    ti.tcpi_state == 1 /* TCP_ESTABLISHED */ &&
		    !ti.tcpi_bytes_received)
			ret = shutdown(fd, SHUT_RDWR) ? -errno : 0;
		close(fd);
	}
	if (dir)
		closedir(dir);
	close(pidfd);
	return ret;
}

/*
 * The source of a failed recovery: it exits with status 3 within @ms of
 * @t0 and says why (@why, unless NULL) and that the guest stays paused
 * there, which its VMM confirms; the destination's agent, which stopped
 * answering, still runs (it is then killed).
 */
static void source_gave_up(struct __test_metadata *_metadata,
			   struct pc_cut *cut, uint64_t t0, uint64_t ms,
			   const char *why)
{
	struct vmm_status st;
	uint64_t took;

	EXPECT_EQ(3, agent_exit(_metadata, cut, &cut->resume, ms + 30000))
		TH_LOG("%s", file_text("resume.log"));
	took = (kmig_now_ns() - t0) / 1000000;
	/* one still waiting is left to the teardown */
	ASSERT_EQ(0, cut->resume);
	TH_LOG("the source gave up after %llu ms", (unsigned long long)took);
	EXPECT_GT(ms, took) TH_LOG("%s", file_text("resume.log"));
	if (why)
		EXPECT_TRUE(file_has("resume.log", why))
			TH_LOG("%s", file_text("resume.log"));
	EXPECT_TRUE(file_has("resume.log", "the guest stays paused here"))
		TH_LOG("%s", file_text("resume.log"));
	EXPECT_EQ(-ETIMEDOUT, proc_wait_exit(cut->recover, 0))
		TH_LOG("%s", file_text("recover.log"));
	kill(cut->recover, SIGKILL);
	kill(cut->recover, SIGCONT);
	EXPECT_EQ(128 + SIGKILL, proc_wait_exit(cut->recover, 10000));
	cut->recover = 0;
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
}

/*
 * Three recoveries whose destination stops answering, its connections
 * open. First its agent is stopped (SIGSTOP) once the source, held at
 * "resume", has met it and connected every channel: silence, which the
 * source must take for a lost link within its --io-timeout (5 s; plus
 * 3 s for its exit under load). Then its main thread hangs once every
 * page is in, while its keepalive goes on: the fault thread, held in
 * its first read (pc-fault-read) by a fault pending from the start, is
 * what the main thread joins before COMPLETE. The source hears PINGs
 * and nothing else, and must give up at its --timeout (6 s, its
 * --io-timeout 30 for this one; plus 4 s). Then, every page in, its
 * agent holds right before COMPLETE (rc-complete), and the source,
 * without --timeout, must give up once the destination has taken the
 * whole stream and --io-timeout has passed since (GIVE_UP_MS, as
 * migrate_pchang allows for the drain under TCG).
 */
static void destination_hangs(struct __test_metadata *_metadata,
			      FIXTURE_DATA(recover) *self)
{
	struct pc_cut *cut = &self->cut;
	uint64_t t0;
	int status;

	start_recovery(self, 4473, true, NULL, 0, NULL, NULL);
	ASSERT_TRUE(proc_stopped(cut->resume, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("resume.log"));
	ASSERT_EQ(0, kill(cut->recover, SIGSTOP));
	ASSERT_TRUE(proc_stopped(cut->recover, &status, PROC_WAIT_MS));
	t0 = kmig_now_ns();
	kill(cut->resume, SIGCONT);
	source_gave_up(_metadata, cut, t0, IO_TIMEOUT_MS + 3000, NULL);

	t0 = kmig_now_ns();
	start_recovery(self, 4474, false, NULL, 0, "pc-fault-read:600000",
		       "--timeout 6 --io-timeout 30");
	source_gave_up(_metadata, cut, t0, 6000 + 4000,
		       "did not complete within --timeout (6 s)");

	t0 = kmig_now_ns();
	start_recovery(self, 4475, false, NULL, 0, "rc-complete:600000",
		       NULL);
	source_gave_up(_metadata, cut, t0, GIVE_UP_MS,
		       "did not say COMPLETE within --io-timeout, 5 s");
}

TEST_F_TIMEOUT(recover, after_run_byte_exact, TEST_TIMEOUT)
{
	/* precopy at 4 MiB/s (see the top); B's log restarted at RUN */
	const char *tls = variant->tls ? "--tls-psk " RUN_DIR "/keys.psk" :
			  NULL;
	const struct pc_cut_cfg cfg = {
		.rate_a = "20000", .rate_b = "100", .bandwidth = "4",
		.dirtylog_b = true, .tls = tls,
		.idle_missing = variant->idle ? IDLE_MISSING : 0,
		.huge = variant->huge,
	};
	struct pc_cut *cut = &self->cut;
	struct vmm_status st, sa, sb;
	struct kmig_nl_stats bst;
	struct kmig_nl_ctx bctx;
	uint64_t t0, t_broken, t_mig, t_in;
	char *rs, *rd, why[256] = "";
	uint64_t faults[8];
	size_t len;
	int status;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	if (tls)
		ASSERT_EQ(0, system("echo kmig:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff > " RUN_DIR "/keys.psk"));
	pc_cut_start(cut, &cfg);
	if (variant->idle)
		known_idle(_metadata, cut);

	/* The loss after RUN: both stop, each within its I/O timeout. */
	/* timed from the moment the link is dead both ways (netem set on
	 * both ends) or the agent killed */
	t0 = kmig_now_ns();
	pc_cut_break(cut, variant->fault);
	t_broken = (kmig_now_ns() - t0) / 1000000;
	t0 = kmig_now_ns();
	EXPECT_EQ(variant->mig_exit, proc_wait_exit(cut->migrate, 45000))
		TH_LOG("%s", file_text("migrate.log"));
	t_mig = (kmig_now_ns() - t0) / 1000000;
	cut->migrate = 0;
	EXPECT_EQ(variant->in_exit, proc_wait_exit(cut->incoming, 45000))
		TH_LOG("%s", file_text("incoming.log"));
	t_in = (kmig_now_ns() - t0) / 1000000;
	cut->incoming = 0;
	TH_LOG("%s (%llu ms to break it): the source stopped after %llu ms, the destination after %llu ms",
	       variant->fault, (unsigned long long)t_broken,
	       (unsigned long long)t_mig, (unsigned long long)t_in);
	if (!strcmp(variant->fault, "silent")) {
		/* --io-timeout 5, TCP_USER_TIMEOUT 10 s: well within 20 s */
		EXPECT_GT(20000, t_mig);
		EXPECT_GT(20000, t_in);
		/* idle: nothing but the keepalive can tell; it must, in time */
		if (variant->idle) {
			EXPECT_GT(IO_TIMEOUT_MS + 1500, t_mig);
			EXPECT_GT(IO_TIMEOUT_MS + 1500, t_in);
		}
		ASSERT_EQ(0, hosts_sh("hosts_heal"));
	}
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &sa));
	ASSERT_STREQ("migrated", sa.state);

	if (variant->fail_once || variant->cut_channel) {
		start_recovery(self, 4471, true, tls, variant->channels, NULL,
			       NULL);
		ASSERT_TRUE(proc_stopped(cut->resume, &status, PROC_WAIT_MS))
			TH_LOG("%s", file_text("resume.log"));
		if (variant->cut_channel) {
			/* one page channel lost: both stop, and say so */
			ASSERT_EQ(0, shut_page_channel(cut->resume));
			kill(cut->resume, SIGCONT);
			EXPECT_EQ(3, proc_wait_exit(cut->resume, 30000))
				TH_LOG("%s", file_text("resume.log"));
			EXPECT_TRUE(file_has("resume.log", "run the recovery again"))
				TH_LOG("%s", file_text("resume.log"));
		} else {
			kill(cut->resume, SIGKILL);
			EXPECT_EQ(128 + SIGKILL,
				  proc_wait_exit(cut->resume, 5000));
		}
		cut->resume = 0;
		EXPECT_EQ(3, proc_wait_exit(cut->recover, 30000))
			TH_LOG("%s", file_text("recover.log"));
		cut->recover = 0;
		EXPECT_TRUE(file_has("recover.log", "run the recovery again"))
			TH_LOG("%s", file_text("recover.log"));
		/*
		 * The source saw its page channel go; the destination sees
		 * whichever of its connections ends first.
		 */
		if (variant->cut_channel)
			EXPECT_TRUE(file_has("resume.log", "page channel") ||
				    file_has("recover.log", "page channel"))
				TH_LOG("%s\n%s", file_text("resume.log"),
				       file_text("recover.log"));
	}

	/* The recovery: every missing page arrives, on huge slots in blocks. */
	if (variant->huge) {
		ASSERT_EQ(0, ctx_stats_of(cut->vmm_b, &bctx, &bst));
		ASSERT_EQ(0, bctx.missing % 512);
		ASSERT_LT(0, bctx.missing);
	}
	if (variant->hang)
		destination_hangs(_metadata, self);
	start_recovery(self, 4472, false, tls, variant->channels,
		       variant->recover_delay, NULL);
	ASSERT_EQ(0, agent_exit(_metadata, cut, &cut->resume, 90000))
		TH_LOG("%s", file_text("resume.log"));
	ASSERT_EQ(0, agent_exit(_metadata, cut, &cut->recover, 30000))
		TH_LOG("%s", file_text("recover.log"));
	rs = file_read("resume.log", &len);
	rd = file_read("recover.log", &len);
	ASSERT_NE(NULL, rs);
	ASSERT_NE(NULL, rd);
	if (variant->huge) {
		TH_LOG("huge slots: %llu blocks missing, %llu arrived whole, %llu requests",
		       (unsigned long long)bctx.missing / 512,
		       (unsigned long long)json_u64(rd, "postcopy_blocks_whole"),
		       (unsigned long long)json_u64(rd, "postcopy_requests"));
		EXPECT_EQ(bctx.missing / 512,
			  json_u64(rd, "postcopy_blocks_whole"));
	}
	TH_LOG("recovery over %llu page channels: source sent %llu pages (%llu zero), answered %llu requests in %llu ms; destination requested %llu",
	       (unsigned long long)json_u64(rs, "channels") - 1,
	       (unsigned long long)json_u64(rs, "memory_normal"),
	       (unsigned long long)json_u64(rs, "memory_constant"),
	       (unsigned long long)json_u64(rs, "postcopy_requests"),
	       (unsigned long long)json_u64(rs, "time_elapsed"),
	       (unsigned long long)json_u64(rd, "postcopy_requests"));
	/* its blocktime knows the VMM's one vCPU; each fault was a request */
	ASSERT_EQ(1, json_u64_list(rd, "postcopy_vcpu_faults", faults, 8))
		TH_LOG("%s", rd);
	EXPECT_GE(json_u64(rd, "postcopy_requests"),
		  faults[0] + json_u64(rd, "postcopy_non_vcpu_faults"));
	TH_LOG("recovery: vCPU faults %llu, blocked %llu us; other threads %llu",
	       (unsigned long long)faults[0],
	       (unsigned long long)json_u64(rd, "postcopy_vcpu_blocktime_total_us"),
	       (unsigned long long)json_u64(rd, "postcopy_non_vcpu_faults"));
	EXPECT_EQ((variant->channels ? variant->channels : 1) + 1,
		  json_u64(rs, "channels"));
	EXPECT_EQ(json_u64(rs, "channels"), json_u64(rd, "channels"));
	free(rs);
	free(rd);
	EXPECT_TRUE(file_has("resume.log", "\"status\": \"completed\""));
	EXPECT_TRUE(file_has("recover.log", "\"status\": \"completed\""));
	if (tls) {
		EXPECT_TRUE(file_has("resume.log", "\"tls\": \"psk\""));
		EXPECT_TRUE(file_has("recover.log", "\"tls\": \"psk\""));
	}

	/* The guest goes on at the destination only, its memory whole. */
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(cut->sock_b, 0, PROC_WAIT_MS, &st));
	ASSERT_EQ(0, __vmm_wait_counter(cut->sock_b, st.counter, PROC_WAIT_MS, &st));
	ASSERT_EQ(0, pages_vmm_open(&self->ref, cut->sock_a, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_SAME_BUT_WRITTEN_SINCE_RUN(cut->sock_b, pages_ref_vmm, &self->ref,
					  sa.writes, &sb, OTHER_PAGES);
}

TEST_HARNESS_MAIN
