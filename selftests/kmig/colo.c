// SPDX-License-Identifier: GPL-2.0
/*
 * COLO, first slice (Documentation/colo.rst): `kmig colo primary` on a
 * kmig-vmm whose guest keeps dirtying memory, `kmig colo secondary` on a
 * kmig-vmm started --incoming, over 127.0.0.1.
 *
 * Checked: entering COLO and 20+ checkpoints, guest memory equal at each
 * commit (the primary's CRC at its pause against the secondary's after
 * applying it, --verify) and byte for byte at the last one, vCPU state
 * too (but for the clocks); a primary stopped in the middle of a checkpoint and killed: the
 * secondary takes over with its memory at the last committed checkpoint
 * and the guest's counter goes on; the same primary only stopped (the
 * link goes silent for --timeout); a primary killed between checkpoints
 * likewise, and `kmig colo failover` by hand; a stranger refused; a fence that fails keeps the secondary from taking over.
 * The heartbeat: a slow checkpoint is no loss, a stopped primary or
 * secondary is found by its silent beats long before --timeout. A
 * checkpoint by hand (`kmig colo checkpoint`). --run: the secondary's
 * guest runs between checkpoints, each commit and a takeover undo it.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "colo_check.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	180
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1"

FIXTURE(colo) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
};

FIXTURE_SETUP(colo)
{
	memset(self, 0, sizeof(*self));
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo)
{
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->pri_log);
	unlink(self->sec_log);
}

/*
 * A dirtying guest on the primary's VMM, an incoming one for the other,
 * paced alike once it runs (--run, or after a takeover).
 */
static void start_vmms(struct __test_metadata *_metadata,
		       FIXTURE_DATA(colo) *self, const char *guest)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("colo-a"), "/dev/null", "%s %s",
		   VMM_ARGS, guest);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("colo-b"), "/dev/null",
		   "%s %s --incoming", VMM_ARGS, guest);
}

/* Both agents (colo_check.h), @sec_args and @pri_args after the rest. */
static void start_agents(FIXTURE_DATA(colo) *self, unsigned int port,
			 const char *sec_args, const char *pri_args)
{
	colo_start_agents(&self->sec, &self->pri, self->sec_log, self->pri_log,
			  self->b.sock, self->a.sock, port, sec_args, pri_args);
}

/*
 * The checkpoint and memory CRC of the secondary's takeover, and the CRC
 * the primary logged at that checkpoint's pause (whether or not its ACK
 * came): -1 when a line is missing.
 */
static int takeover_crcs(const char *pri_log, const char *sec_log,
			 unsigned long long *seq, unsigned int *pri_crc,
			 unsigned int *sec_crc)
{
	char *pri, *sec;
	size_t len;
	int ret = -1;

	pri = file_read(pri_log, &len);
	sec = file_read(sec_log, &len);
	if (!colo_takeover_crc(sec, seq, sec_crc) &&
	    !colo_pause_crc(pri, *seq, pri_crc))
		ret = 0;
	free(pri);
	free(sec);
	return ret;
}

/* The page count in the line of @log that starts with @prefix, or -1. */
static long long logged_pages(const char *log, const char *prefix)
{
	char *t, *p;
	long long n = -1;
	size_t len;

	t = file_read(log, &len);
	p = t ? strstr(t, prefix) : NULL;
	if (!p || sscanf(p + strlen(prefix), "%lld pages", &n) != 1)
		n = -1;
	free(t);
	return n;
}

/* How long the primary logged checkpoint @seq's pause: ms, or -1. */
static double paused_ms(const char *pri_log, unsigned long long seq)
{
	char needle[64], *t, *p;
	unsigned long long pages;
	double ms = -1;
	size_t len;

	snprintf(needle, sizeof(needle), "primary: checkpoint %llu: ", seq);
	t = file_read(pri_log, &len);
	p = t ? strstr(t, needle) : NULL;
	if (p && sscanf(p + strlen(needle), "%llu pages, paused %lf ms",
			&pages, &ms) != 2)
		ms = -1;
	free(t);
	return ms;
}

/*
 * The primary's --checkpoints done, both agents exit 0 (the secondary at
 * the BYE): 0, or -1 (logged).
 */
static int agents_done(struct __test_metadata *_metadata,
		       FIXTURE_DATA(colo) *self)
{
	int ret = proc_wait_exit(self->pri, 120000);

	if (ret != -ETIMEDOUT)
		self->pri = 0;	/* reaped; else the teardown stops it */
	if (ret) {
		TH_LOG("the primary: exit %d: %s", ret,
		       file_text(self->pri_log));
		return -1;
	}
	ret = proc_wait_exit(self->sec, PROC_WAIT_MS);
	if (ret != -ETIMEDOUT)
		self->sec = 0;
	if (ret) {
		TH_LOG("the secondary: exit %d: %s", ret,
		       file_text(self->sec_log));
		return -1;
	}
	return 0;
}

/*
 * Entering COLO and 25 checkpoints of a dirtying guest: every commit
 * verified by CRC, the last one byte for byte and with the vCPU state.
 */
TEST_F_TIMEOUT(colo, checkpoints, TEST_TIMEOUT)
{
	struct vmm_status st;
	long long ckpt0;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	/* entering in 2 live rounds; the flush with 3 threads; every
	 * commit's memory CRC checked */
	start_agents(self, 24601, "--timeout 30 --threads 3",
		     "--live-rounds 2 --checkpoints 24 --checkpoint-ms 50 --verify --timeout 30");
	ASSERT_EQ(0, agents_done(_metadata, self));
	EXPECT_EQ(25, file_count(self->pri_log, "committed, memory crc"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_TRUE(file_has(self->sec_log, "stays paused here"));
	EXPECT_EQ(25, file_count(self->sec_log, "ms, 3 threads)"))
		TH_LOG("%s", file_text(self->sec_log));
	TH_LOG("%s", file_text(self->pri_log));
	/* every page in round 0, the guest running; checkpoint 0's pause
	 * carries only what round 1 left dirty */
	EXPECT_EQ(1, file_count(self->pri_log, "live round 1:"));
	ckpt0 = logged_pages(self->pri_log, "primary: checkpoint 0: ");
	EXPECT_LE(0, ckpt0);
	EXPECT_LT(ckpt0, logged_pages(self->pri_log, "primary: live round 0: "));
	EXPECT_LE(1, file_count(self->sec_log, "live message 0:"))
		TH_LOG("%s", file_text(self->sec_log));

	/* Both paused at checkpoint 24: the same guest. */
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("paused", st.state);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("incoming", st.state);
	EXPECT_EQ(0, colo_same_memory(&self->a, &self->b));
	EXPECT_EQ(0, colo_same_vcpus(&self->a, &self->b));
}

/* Lines of the secondary's @log whose commit undid pages of its own. */
static int commits_undoing(const char *log)
{
	char *t, *p;
	unsigned long long n;
	int lines = 0;
	size_t len;

	t = file_read(log, &len);
	for (p = t; p && (p = strstr(p, " threads), ")); p++)
		if (sscanf(p, " threads), %llu of its own undone", &n) == 1 &&
		    n)
			lines++;
	free(t);
	return lines;
}

/*
 * --run: the secondary's guest runs between checkpoints, and every
 * commit undoes its writes (--verify compares the memory after the
 * commit with the primary's at its pause). At the primary's BYE it goes
 * back to the last checkpoint and stays paused: the same memory and vCPU
 * state as the primary's.
 */
TEST_F_TIMEOUT(colo, running_secondary, TEST_TIMEOUT)
{
	struct vmm_status st;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	start_agents(self, 24630, "--timeout 30 --run",
		     "--checkpoints 10 --checkpoint-ms 100 --verify --timeout 30");
	ASSERT_EQ(0, agents_done(_metadata, self));
	TH_LOG("%s", file_text(self->sec_log));
	EXPECT_EQ(11, file_count(self->pri_log, "committed, memory crc"))
		TH_LOG("%s", file_text(self->pri_log));
	/* it ran: most commits found pages of its own to undo */
	EXPECT_LE(5, commits_undoing(self->sec_log));
	EXPECT_TRUE(file_has(self->sec_log, "back at checkpoint 10: "));
	EXPECT_TRUE(file_has(self->sec_log, "stays paused here"));

	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("paused", st.state);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("paused", st.state);
	EXPECT_EQ(0, colo_same_memory(&self->a, &self->b));
	EXPECT_EQ(0, colo_same_vcpus(&self->a, &self->b));
}

/*
 * Checkpoint 6 arrives with a wrong CRC: refused whole. The primary
 * learns it and keeps its guest running unprotected; the secondary does
 * not take over (the primary lives) and its VM keeps checkpoint 5.
 */
TEST_F_TIMEOUT(colo, corrupt_checkpoint, TEST_TIMEOUT)
{
	char needle[64], *t, *p;
	struct vmm_status st;
	unsigned int crc5 = 0;
	uint32_t crc;
	size_t len;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	setenv("KMIG_COLO_CORRUPT", "6", 1);
	/* no live round: checkpoint 0 carries every page */
	start_agents(self, 24605, "--timeout 30",
		     "--live-rounds 0 --checkpoint-ms 50 --verify --timeout 30");
	unsetenv("KMIG_COLO_CORRUPT");
	EXPECT_EQ(1, proc_wait_exit(self->pri, 120000));
	self->pri = 0;
	EXPECT_EQ(1, proc_wait_exit(self->sec, PROC_WAIT_MS));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->pri_log, "checkpoint 6: the secondary refused it"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_TRUE(file_has(self->sec_log, "CRC mismatch"))
		TH_LOG("%s", file_text(self->sec_log));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("running", st.state);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("incoming", st.state);

	snprintf(needle, sizeof(needle), "checkpoint 5 committed, memory crc ");
	t = file_read(self->pri_log, &len);
	p = t ? strstr(t, needle) : NULL;
	ASSERT_NE(NULL, p);
	ASSERT_EQ(1, sscanf(p + strlen(needle), "%x", &crc5));
	free(t);
	ASSERT_EQ(0, colo_memory_crc(&self->b, &crc));
	EXPECT_EQ(crc5, crc);
}

/* Not a primary: refused by its hello, the VM untouched. */
TEST_F_TIMEOUT(colo, stranger, TEST_TIMEOUT)
{
	const char junk[] = "GET / HTTP/1.0\r\n\r\n";
	struct vmm_status st;
	int fd;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern none");
	self->sec = proc_spawnf(NULL, self->sec_log,
				"%s colo secondary --vmm %s --listen 127.0.0.1:24608",
				proc_bin("kmig"), self->b.sock);
	fd = proc_connect(24608);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(junk), write(fd, junk, sizeof(junk)));
	EXPECT_EQ(1, proc_wait_exit(self->sec, PROC_WAIT_MS));
	self->sec = 0;
	close(fd);
	EXPECT_TRUE(file_has(self->sec_log, "not a kmig COLO primary"))
		TH_LOG("%s", file_text(self->sec_log));
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("incoming", st.state);
}

/*
 * The heartbeat has its own thread and its own channel: checkpoint 3
 * held 4 s in the middle of its pages (the checkpoint connection silent
 * for 4 s) is no loss with a heartbeat timeout of 1 s; the primary
 * stopped after checkpoint 5 is, after 1 s of silent beats, long before
 * the connection's --timeout of 30 s. The secondary takes over at the
 * last checkpoint it committed, with the primary's memory of then.
 */
TEST_F_TIMEOUT(colo, heartbeat_outlasts_a_slow_checkpoint_finds_a_silent_primary,
	       TEST_TIMEOUT)
{
	unsigned int pri_crc = 0, sec_crc = 0;
	unsigned long long seq = 0;
	struct vmm_status st;
	uint64_t t0, ms;

	REQUIRE_BED();
	/* hundreds of pages per checkpoint: several batches of 64 */
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	setenv("KMIG_DELAY_AT", "colo-mid-checkpoint-3:4000", 1);
	start_agents(self, 24609,
		     "--timeout 30 --heartbeat 50 --heartbeat-timeout 1000",
		     "--checkpoint-ms 100 --verify --timeout 30 --heartbeat 50");
	unsetenv("KMIG_DELAY_AT");
	ASSERT_TRUE(colo_wait_committed(self->pri_log, 5))
		TH_LOG("%s\n%s", file_text(self->pri_log),
		       file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->sec_log, "heartbeat heard from 127.0.0.1:"))
		TH_LOG("%s", file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->pri_log, "heartbeat heard from 127.0.0.1:24609"))
		TH_LOG("%s", file_text(self->pri_log));
	/* the checkpoint connection was silent that long */
	EXPECT_LE(4000, paused_ms(self->pri_log, 3))
		TH_LOG("%s", file_text(self->pri_log));

	t0 = kmig_now_ns();
	ASSERT_EQ(0, kill(self->pri, SIGSTOP));
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	ms = (kmig_now_ns() - t0) / 1000000;
	TH_LOG("takeover %llu ms after the primary stopped: %s",
	       (unsigned long long)ms, file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->sec_log, "no heartbeat for 1000 ms"));
	EXPECT_FALSE(file_has(self->sec_log, "silent for --timeout"));
	EXPECT_GT(20000, ms);
	ASSERT_EQ(0, takeover_crcs(self->pri_log, self->sec_log, &seq,
				   &pri_crc, &sec_crc))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_LE(5, seq);
	EXPECT_EQ(pri_crc, sec_crc);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
}

/*
 * The secondary stops: the primary finds it silent by the heartbeat
 * (1 s), not by its 30 s --timeout, and runs on unprotected.
 */
TEST_F_TIMEOUT(colo, silent_secondary_found_by_the_heartbeat, TEST_TIMEOUT)
{
	struct vmm_status st;
	uint64_t t0, ms;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	start_agents(self, 24610, "--timeout 30 --heartbeat 50",
		     "--checkpoint-ms 100 --timeout 30 --heartbeat 50 --heartbeat-timeout 1000");
	ASSERT_TRUE(colo_wait_committed(self->pri_log, 2))
		TH_LOG("%s", file_text(self->pri_log));
	t0 = kmig_now_ns();
	ASSERT_EQ(0, kill(self->sec, SIGSTOP));
	EXPECT_EQ(1, proc_wait_exit(self->pri, PROC_WAIT_MS));
	self->pri = 0;
	ms = (kmig_now_ns() - t0) / 1000000;
	TH_LOG("%llu ms: %s", (unsigned long long)ms,
	       file_text(self->pri_log));
	EXPECT_TRUE(file_has(self->pri_log, "no heartbeat for 1000 ms; the guest runs here unprotected"));
	EXPECT_GT(20000, ms);
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("running", st.state);
	kill(self->sec, SIGCONT);
}

/*
 * A period of a minute, and `kmig colo checkpoint` twice: each answer
 * says the checkpoint it asked for is committed, seconds later; the
 * primary's log says both came by hand. Once the primary stopped, its
 * control socket is gone.
 */
TEST_F_TIMEOUT(colo, checkpoint_by_hand, TEST_TIMEOUT)
{
	char ctl[48], pri_args[160], want[48];
	uint64_t t0, ms;
	pid_t pid;
	int i;

	REQUIRE_BED();
	start_vmms(_metadata, self, "--pattern random --rate 2000");
	snprintf(ctl, sizeof(ctl), "@kmig-colo-pctl-%d", getpid());
	snprintf(pri_args, sizeof(pri_args),
		 "--checkpoint-ms 60000 --verify --timeout 30 --control %s",
		 ctl);
	start_agents(self, 24619, "--timeout 30", pri_args);
	ASSERT_TRUE(colo_wait_committed(self->pri_log, 0))
		TH_LOG("%s", file_text(self->pri_log));
	for (i = 1; i <= 2; i++) {
		t0 = kmig_now_ns();
		pid = proc_spawnf(NULL, "kmig.log",
				  "%s colo checkpoint --control %s",
				  proc_bin("kmig"), ctl);
		ASSERT_EQ(0, proc_wait_exit(pid, PROC_WAIT_MS))
			TH_LOG("%s", file_text("kmig.log"));
		ms = (kmig_now_ns() - t0) / 1000000;
		snprintf(want, sizeof(want), "ok checkpoint %d committed", i);
		EXPECT_TRUE(file_has("kmig.log", want))
			TH_LOG("%s", file_text("kmig.log"));
		EXPECT_GT(30000, ms);
		TH_LOG("%s in %llu ms", want, (unsigned long long)ms);
	}
	EXPECT_EQ(2, file_count(self->pri_log, ", by hand\n"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_EQ(3, file_count(self->pri_log, "committed, memory crc"));

	kill(self->pri, SIGTERM);
	EXPECT_EQ(0, proc_wait_exit(self->pri, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	pid = proc_spawnf(NULL, "kmig.log", "%s colo checkpoint --control %s",
			  proc_bin("kmig"), ctl);
	EXPECT_EQ(1, proc_wait_exit(pid, PROC_WAIT_MS));
	EXPECT_TRUE(file_has("kmig.log", "cannot reach the primary at"))
		TH_LOG("%s", file_text("kmig.log"));
}

FIXTURE(colo_fail) {
	FIXTURE_DATA(colo) c;
};

FIXTURE_VARIANT(colo_fail) {
	const char *stop;	/* KMIG_STOP_AT in checkpoint 3, else after it */
	unsigned int seq;	/* the takeover's checkpoint; 0: 3 or later */
	bool silent;		/* stopped, not killed: the link goes quiet */
	bool by_hand;		/* not stopped: `kmig colo failover` */
	const char *fence;	/* --fence, or NULL */
	bool run;		/* the secondary --run */
	bool kill_vmm;		/* the primary's VMM killed, its agent lives */
	unsigned int port;
};

/* The primary agent killed with the guest paused, nothing sent. */
FIXTURE_VARIANT_ADD(colo_fail, before_sending) {
	.stop = "colo-paused-3", .seq = 2, .port = 24634,
};

FIXTURE_VARIANT_ADD(colo_fail, mid_checkpoint) {
	.stop = "colo-mid-checkpoint-3", .seq = 2, .port = 24602,
};

/* A primary that hangs: found lost by the silence (--timeout 10). */
FIXTURE_VARIANT_ADD(colo_fail, mid_checkpoint_silent) {
	.stop = "colo-mid-checkpoint-3", .seq = 2, .silent = true,
	.port = 24606,
};

/* Its guest ran since checkpoint 2: that is undone before it takes over. */
FIXTURE_VARIANT_ADD(colo_fail, mid_checkpoint_running) {
	.stop = "colo-mid-checkpoint-3", .seq = 2, .run = true, .port = 24631,
};

/*
 * Sent whole, the guest not resumed yet: the secondary commits it, and
 * the primary's log must already hold that pause's memory CRC.
 */
FIXTURE_VARIANT_ADD(colo_fail, sent_not_resumed) {
	.stop = "colo-sent-3", .seq = 3, .port = 24638,
};

/* Sent whole, its ACK not read: the secondary committed it. */
FIXTURE_VARIANT_ADD(colo_fail, before_ack) {
	.stop = "colo-before-ack-3", .seq = 3, .port = 24635,
};

/*
 * The primary's VMM killed with the guest paused for checkpoint 3: the
 * agent cannot save its vCPUs, finds the guest lost, sends nothing more.
 */
FIXTURE_VARIANT_ADD(colo_fail, vmm_killed_before_sending) {
	.stop = "colo-paused-3", .seq = 2, .kill_vmm = true, .port = 24636,
};

/*
 * ... while its agent sends checkpoint 3, the vCPU state saved: the
 * agent sends it whole from its own view of the memory, learns the
 * guest is lost when it would resume it, and the secondary takes over
 * from checkpoint 3.
 */
FIXTURE_VARIANT_ADD(colo_fail, vmm_killed_mid_checkpoint) {
	.stop = "colo-mid-checkpoint-3", .seq = 3, .kill_vmm = true,
	.port = 24632,
};

/*
 * ... checkpoint 3 sent, the guest resumed, the ACK not read yet: the
 * ACK comes, and the next pause finds the guest lost (as when the VMM
 * dies between two checkpoints).
 */
FIXTURE_VARIANT_ADD(colo_fail, vmm_killed_before_ack) {
	.stop = "colo-before-ack-3", .seq = 3, .kill_vmm = true,
	.port = 24637,
};

FIXTURE_VARIANT_ADD(colo_fail, between_checkpoints) {
	.port = 24603, .fence = "true",
};

/* `kmig colo failover` while the primary runs on (its agent then fails). */
FIXTURE_VARIANT_ADD(colo_fail, by_hand) {
	.by_hand = true, .port = 24607, .fence = "true",
};

/* A cut link with the primary alive: the fence says so, no takeover. */
FIXTURE_VARIANT_ADD(colo_fail, fence_refuses) {
	.port = 24604, .fence = "false",
};

FIXTURE_SETUP(colo_fail)
{
	memset(&self->c, 0, sizeof(self->c));
	snprintf(self->c.pri_log, sizeof(self->c.pri_log),
		 "/dev/shm/colo-%d.pri", getpid());
	snprintf(self->c.sec_log, sizeof(self->c.sec_log),
		 "/dev/shm/colo-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_fail)
{
	proc_stop(&self->c.pri);
	proc_stop(&self->c.sec);
	vmm_stop(&self->c.a);
	vmm_stop(&self->c.b);
	unlink(self->c.pri_log);
	unlink(self->c.sec_log);
}

/*
 * The primary agent dies: the secondary's guest resumes from the last
 * committed checkpoint (never from part of the one cut), with the
 * memory the primary had at that checkpoint's pause.
 */
TEST_F_TIMEOUT(colo_fail, primary_lost, TEST_TIMEOUT)
{
	FIXTURE_DATA(colo) *c = &self->c;
	unsigned int pri_crc = 0, sec_crc = 0;
	unsigned long long seq = 0;
	char sec_args[128], ctl[48], cmd[PATH_MAX + 64];
	struct vmm_status st;
	int status;

	REQUIRE_BED();
	/* hundreds of pages per checkpoint: several batches of 64 */
	start_vmms(_metadata, c, "--pattern random --rate 2000");
	/* a loaded bed can take seconds for a checkpoint: only the silent
	 * case waits for the timeout */
	snprintf(ctl, sizeof(ctl), "@kmig-colo-ctl-%d", getpid());
	snprintf(sec_args, sizeof(sec_args), "--timeout %u --control %s%s%s%s",
		 variant->silent ? 10 : 30, ctl,
		 variant->fence ? " --fence " : "",
		 variant->fence ? variant->fence : "",
		 variant->run ? " --run" : "");
	if (variant->stop)
		setenv("KMIG_STOP_AT", variant->stop, 1);
	start_agents(c, variant->port, sec_args,
		     "--checkpoint-ms 100 --verify --timeout 30");
	unsetenv("KMIG_STOP_AT");
	if (variant->stop) {
		ASSERT_TRUE(proc_stopped(c->pri, &status, PROC_WAIT_MS))
			TH_LOG("%s", file_text(c->pri_log));
	} else {
		ASSERT_TRUE(colo_wait_committed(c->pri_log, 3))
			TH_LOG("%s", file_text(c->pri_log));
	}
	if (variant->by_hand) {
		snprintf(cmd, sizeof(cmd), "%s colo failover --control %s",
			 proc_bin("kmig"), ctl);
		ASSERT_EQ(0, system(cmd));
		EXPECT_EQ(1, proc_wait_exit(c->pri, PROC_WAIT_MS))
			TH_LOG("%s", file_text(c->pri_log));
		c->pri = 0;
	} else if (variant->kill_vmm) {
		EXPECT_EQ(0, colo_kill_primary_vmm(&c->a, &c->pri, c->pri_log));
	} else if (!variant->silent) {
		proc_stop(&c->pri);
	}

	if (variant->fence && !strcmp(variant->fence, "false")) {
		EXPECT_EQ(1, proc_wait_exit(c->sec, PROC_WAIT_MS));
		c->sec = 0;
		EXPECT_TRUE(file_has(c->sec_log, "no takeover"))
			TH_LOG("%s", file_text(c->sec_log));
		ASSERT_EQ(0, vmm_status(&c->b, &st));
		EXPECT_STREQ("incoming", st.state);
		return;
	}
	ASSERT_EQ(0, proc_wait_exit(c->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(c->sec_log));
	c->sec = 0;
	TH_LOG("%s", file_text(c->sec_log));
	if (variant->silent)
		EXPECT_TRUE(file_has(c->sec_log, "silent for --timeout"));
	ASSERT_EQ(0, takeover_crcs(c->pri_log, c->sec_log, &seq, &pri_crc,
				   &sec_crc))
		TH_LOG("%s\n%s", file_text(c->pri_log), file_text(c->sec_log));
	if (variant->seq) {
		EXPECT_EQ(variant->seq, seq);
	} else {
		EXPECT_LE(3, seq);
	}
	EXPECT_EQ(pri_crc, sec_crc);
	if (variant->run)
		EXPECT_TRUE(file_has(c->sec_log, "back at checkpoint 2: "));

	/* The guest goes on there, its counter from the checkpoint on. */
	ASSERT_EQ(0, vmm_status(&c->b, &st));
	EXPECT_STREQ("running", st.state);
	EXPECT_LT(0, st.counter);
	vmm_wait_counter(&c->b, st.counter, &st);
}

TEST_HARNESS_MAIN
