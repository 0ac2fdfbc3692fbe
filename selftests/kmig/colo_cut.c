// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's split-brain rule with a real cut (Documentation/colo.rst,
 * "Failure"): the primary on host A, the secondary on host B, the
 * checkpoint link between them a veth (selftests/qemu/hosts.sh) that
 * loses every packet from one instant on. Both agents are alive and each
 * finds the other lost by its heartbeat; the secondary takes over only
 * when its fence says the primary's guest is stopped. The fence reaches
 * the primary's VMM over a path the cut spares, its control socket in
 * the file system, as a management network would.
 *
 *   fence_refuses: the fence finds the primary's VMM answering: no
 *   takeover, one guest runs (the primary's, unprotected: its own fence
 *   keeps it);
 *   mid_checkpoint, before_ack: the fence stops that VMM, the cut made
 *   with the primary stopped in checkpoint 6's pages (the secondary takes
 *   over at 5, with the memory the primary had at that pause) or with
 *   checkpoint 6 sent whole and its ACK not read (at 6): again one guest
 *   runs;
 *   primary_yields: the primary's fence yields its guest (paused, held
 *   output dropped), the secondary's waits until it is paused, then the
 *   secondary takes over as above.
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
#include "colo_check.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	240
#define RUN_DIR		"/run/kmig-colo-cut"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"
#define FENCE		RUN_DIR "/fence"
#define VMM_ARGS	"--mem 8 --slots 2 --pattern random --rate 2000"
/* Both ends' beats every 50 ms, the other lost after 2 s without one. */
#define HEARTBEAT	"--heartbeat 50 --heartbeat-timeout 2000 --timeout 30"

FIXTURE(colo_cut) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
};

FIXTURE_VARIANT(colo_cut) {
	const char *stop;	/* cut with the primary stopped here, or NULL */
	unsigned int seq;	/* the takeover's checkpoint; 0: 5 or later */
	const char *fence;	/* run by the secondary before a takeover */
	const char *pri_fence;	/* the primary's --fence, or NULL */
	bool takeover;
	const char *a_ends;	/* the primary's VMM at the end, or NULL: gone */
};

FIXTURE_VARIANT_ADD(colo_cut, fence_refuses) {
	/* stopped means: its VMM does not answer */
	.fence = "! %s " VMM_A " status", .pri_fence = "true",
	.a_ends = "running",
};

/* The cut in the middle of checkpoint 6's pages: it never commits. */
FIXTURE_VARIANT_ADD(colo_cut, mid_checkpoint) {
	.stop = "colo-mid-checkpoint-6", .seq = 5,
	.fence = "%s " VMM_A " quit", .takeover = true,
};

/* ... with checkpoint 6 sent whole, its ACK not read: it commits. */
FIXTURE_VARIANT_ADD(colo_cut, before_ack) {
	.stop = "colo-before-ack-6", .seq = 6,
	.fence = "%s " VMM_A " quit", .takeover = true,
};

FIXTURE_VARIANT_ADD(colo_cut, primary_yields) {
	.fence = "for i in $(seq 100); do %s " VMM_A " status | grep -q state=paused && exit 0; sleep 0.1; done; exit 1",
	.pri_fence = "false", .takeover = true, .a_ends = "paused",
};

FIXTURE_SETUP(colo_cut)
{
	memset(self, 0, sizeof(*self));
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-cut-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-cut-%d.sec", getpid());
	run_dir_clean(RUN_DIR, VMM_A, VMM_B);
}

FIXTURE_TEARDOWN(colo_cut)
{
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	proc_stop(&self->a.pid);
	proc_stop(&self->b.pid);
	unlink(self->pri_log);
	unlink(self->sec_log);
	unlink(FENCE);
	hosts_sh("hosts_down");
}

/* kmig-vmm in network namespace @ns on the socket @sock; answering. */
static int vmm_in(struct vmm_proc *v, const char *ns, const char *sock,
		  const char *args)
{
	struct vmm_status st;
	int i;

	snprintf(v->sock, sizeof(v->sock), "%s", sock);
	v->pid = proc_spawnf(ns, "/dev/null", "%s --ctl %s %s",
			     proc_bin("vmm/kmig-vmm"), sock, args);
	for (i = 0; i < PROC_WAIT_MS / 100; i++) {
		if (!vmm_status(v, &st))
			return 0;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/* The fence, a script: --fence's command line is one word here. */
static int write_fence(const char *fmt)
{
	FILE *f = fopen(FENCE, "w");

	if (!f)
		return -errno;
	fprintf(f, "#!/bin/sh\n");
	fprintf(f, fmt, proc_bin("tools/vmmctl"));
	fprintf(f, "\n");
	if (fclose(f) || chmod(FENCE, 0755))
		return -errno;
	return 0;
}

TEST_F_TIMEOUT(colo_cut, link, TEST_TIMEOUT)
{
	unsigned long long seq;
	unsigned int pri_crc, sec_crc;
	struct vmm_status st;
	uint64_t t0, ms;
	char *t;
	size_t len;
	int status;

	REQUIRE_BED();
	ASSERT_EQ(0, hosts_sh("hosts_down; hosts_up"));
	ASSERT_EQ(0, write_fence(variant->fence));
	ASSERT_EQ(0, vmm_in(&self->a, "kmig-a", VMM_A, VMM_ARGS));
	ASSERT_EQ(0, vmm_in(&self->b, "kmig-b", VMM_B,
			    VMM_ARGS " --incoming"));
	vmm_wait_counter(&self->a, 0, &st);
	self->sec = proc_spawnf("kmig-b", self->sec_log,
				"%s colo secondary --vmm %s --listen 198.18.0.2:24750 %s --fence %s",
				proc_bin("kmig"), VMM_B, HEARTBEAT, FENCE);
	if (variant->stop)
		setenv("KMIG_STOP_AT", variant->stop, 1);
	self->pri = proc_spawnf("kmig-a", self->pri_log,
				"%s colo primary --vmm %s --to 198.18.0.2:24750 %s --checkpoint-ms 100 --verify%s%s",
				proc_bin("kmig"), VMM_A, HEARTBEAT,
				variant->pri_fence ? " --fence " : "",
				variant->pri_fence ? variant->pri_fence : "");
	unsetenv("KMIG_STOP_AT");
	if (variant->stop) {
		ASSERT_TRUE(proc_stopped(self->pri, &status, PROC_WAIT_MS))
			TH_LOG("%s", file_text(self->pri_log));
	} else {
		ASSERT_TRUE(colo_wait_committed(self->pri_log, 5))
			TH_LOG("%s\n%s", file_text(self->pri_log),
			       file_text(self->sec_log));
	}

	/* The cable is cut: every packet either way is lost. */
	ASSERT_EQ(0, hosts_sh("netem loss 100%"));
	t0 = kmig_now_ns();
	kill(self->pri, SIGCONT);
	EXPECT_EQ(variant->takeover ? 0 : 1,
		  proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	ms = (kmig_now_ns() - t0) / 1000000;
	EXPECT_EQ(1, proc_wait_exit(self->pri, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	TH_LOG("the secondary decided %llu ms after the cut: %s",
	       (unsigned long long)ms, file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->sec_log, "no heartbeat for 2000 ms"));
	EXPECT_GT(20000, ms);

	if (variant->pri_fence)
		EXPECT_TRUE(file_has(self->pri_log, variant->takeover ?
				     "yields the guest to the secondary" :
				     "keeps the guest here"))
			TH_LOG("%s", file_text(self->pri_log));
	if (!variant->takeover) {
		/* The primary's guest runs on, unprotected; B's never ran. */
		EXPECT_TRUE(file_has(self->sec_log, "no takeover"));
		EXPECT_TRUE(file_has(self->pri_log, "unprotected"))
			TH_LOG("%s", file_text(self->pri_log));
		ASSERT_EQ(0, vmm_status(&self->b, &st));
		EXPECT_STREQ("incoming", st.state);
		ASSERT_EQ(0, vmm_status(&self->a, &st));
		EXPECT_STREQ(variant->a_ends, st.state);
		vmm_wait_counter(&self->a, st.counter, &st);
		return;
	}
	/* The primary's guest is stopped (its VMM gone, or paused by its
	 * agent); B's runs from the last commit, with the primary's memory
	 * of that pause. */
	if (variant->a_ends) {
		ASSERT_EQ(0, vmm_status(&self->a, &st));
		EXPECT_STREQ(variant->a_ends, st.state);
	} else {
		EXPECT_LE(0, proc_wait_exit(self->a.pid, PROC_WAIT_MS));
		self->a.pid = 0;
	}
	t = file_read(self->sec_log, &len);
	ASSERT_EQ(0, colo_takeover_crc(t, &seq, &sec_crc))
		TH_LOG("%s", t ? t : "");
	free(t);
	if (variant->seq) {
		EXPECT_EQ(variant->seq, seq);
	} else {
		EXPECT_LE(5, seq);
	}
	t = file_read(self->pri_log, &len);
	ASSERT_EQ(0, colo_pause_crc(t, seq, &pri_crc))
		TH_LOG("%s", t ? t : "");
	free(t);
	EXPECT_EQ(pri_crc, sec_crc);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->b, st.counter, &st);
}

TEST_HARNESS_MAIN
