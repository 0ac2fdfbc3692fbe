// SPDX-License-Identifier: GPL-2.0
/*
 * COLO with --stream (Documentation/colo.rst, "Streaming"): between
 * checkpoints the primary sends the pages its guest dirtied in STRM
 * messages, which the secondary stages apart from its RAM cache until
 * the next checkpoint commits.
 *
 * Checked: checkpoints of a dirtying guest with streaming, every commit's
 * memory equal to the primary's at its pause (--verify) and byte for byte
 * at the last one; a primary lost in the middle of a STRM message, or
 * after one was staged: the secondary takes over at the last commit, its
 * memory the primary's at that pause, the staged pages dropped; a
 * corrupt STRM message refused whole, the secondary's VM at the last
 * commit, the primary told.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "colo_check.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	120
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1"

FIXTURE(colo_stream) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
};

FIXTURE_SETUP(colo_stream)
{
	memset(self, 0, sizeof(*self));
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-stream-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-stream-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_stream)
{
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->pri_log);
	unlink(self->sec_log);
}

/* A guest dirtying @rate random pages a second, an incoming VMM. */
static void start_vmms(struct __test_metadata *_metadata,
		       FIXTURE_DATA(colo_stream) *self, unsigned int rate)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("colo-stream-a"), "/dev/null",
		   "%s --pattern random --rate %u", VMM_ARGS, rate);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("colo-stream-b"), "/dev/null",
		   "%s --pattern random --rate %u --incoming", VMM_ARGS, rate);
}

/* Both agents (colo_check.h), every checkpoint verified. */
static void start_agents(FIXTURE_DATA(colo_stream) *self, unsigned int port,
			 const char *pri_args)
{
	char args[128];

	snprintf(args, sizeof(args),
		 "--timeout 30 --checkpoint-ms 100 --verify %s", pri_args);
	colo_start_agents(&self->sec, &self->pri, self->sec_log, self->pri_log,
			  self->b.sock, self->a.sock, port, "--timeout 30",
			  args);
}

/* The memory CRC the primary logged at checkpoint @seq: 0, or -1. */
static int pri_crc(const char *log, unsigned long long seq, unsigned int *crc)
{
	size_t len;
	char *t = file_read(log, &len);
	int ret = colo_pause_crc(t, seq, crc);

	free(t);
	return ret;
}

/* Checkpoints whose pause line says pages streamed before it. */
static unsigned int streamed_epochs(const char *log)
{
	unsigned long long n, m;
	unsigned int lines = 0;
	char *t, *p;
	size_t len;

	t = file_read(log, &len);
	for (p = t; p && (p = strstr(p, ", memory crc ")); p++)
		if (sscanf(p, ", memory crc %*x, %llu streamed before in %llu",
			   &n, &m) == 2 && n && m)
			lines++;
	free(t);
	return lines;
}

/*
 * 13 checkpoints (0..12) 100 ms apart with the pages streamed every
 * 20 ms meanwhile: each commit's memory CRC equal to the primary's at
 * its pause, and at the last one both guests byte for byte.
 */
TEST_F_TIMEOUT(colo_stream, checkpoints, TEST_TIMEOUT)
{
	struct vmm_status st;

	REQUIRE_BED();
	start_vmms(_metadata, self, 2000);
	start_agents(self, 24730, "--stream 20 --checkpoints 12");
	EXPECT_EQ(0, proc_wait_exit(self->pri, 120000))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	EXPECT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	TH_LOG("%s", file_text(self->pri_log));
	EXPECT_EQ(13, file_count(self->pri_log, "committed, memory crc"));
	/* checkpoints 1..12 come after streamed pages, nearly all of them
	 * (a loaded bed may leave the period no room for one) */
	EXPECT_LE(8, streamed_epochs(self->pri_log));
	EXPECT_LE(8, file_count(self->sec_log, "into the cache first"))
		TH_LOG("%s", file_text(self->sec_log));
	EXPECT_FALSE(file_has(self->sec_log, "dropped"));

	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("paused", st.state);
	EXPECT_EQ(0, colo_same_memory(&self->a, &self->b));
}

FIXTURE(colo_stream_fail) {
	FIXTURE_DATA(colo_stream) c;
};

FIXTURE_VARIANT(colo_stream_fail) {
	const char *stop_at;	/* KMIG_STOP_AT */
	bool staged;		/* a whole STRM message staged before */
	unsigned int port;
};

/* Part way through the first STRM message after checkpoint 5. */
FIXTURE_VARIANT_ADD(colo_stream_fail, mid_message) {
	.stop_at = "colo-mid-stream-5-0", .port = 24731,
};

/* The first STRM message after checkpoint 5 sent whole, and staged. */
FIXTURE_VARIANT_ADD(colo_stream_fail, after_message) {
	.stop_at = "colo-streamed-5-0", .staged = true, .port = 24732,
};

FIXTURE_SETUP(colo_stream_fail)
{
	memset(&self->c, 0, sizeof(self->c));
	snprintf(self->c.pri_log, sizeof(self->c.pri_log),
		 "/dev/shm/colo-stream-%d.pri", getpid());
	snprintf(self->c.sec_log, sizeof(self->c.sec_log),
		 "/dev/shm/colo-stream-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_stream_fail)
{
	proc_stop(&self->c.pri);
	proc_stop(&self->c.sec);
	vmm_stop(&self->c.a);
	vmm_stop(&self->c.b);
	unlink(self->c.pri_log);
	unlink(self->c.sec_log);
}

/*
 * The primary agent stopped while it streams the pages of checkpoint 6,
 * then killed: the secondary takes over at checkpoint 5 with the memory
 * the primary had at its pause; what streamed for 6 never reached it.
 */
TEST_F_TIMEOUT(colo_stream_fail, primary_lost, TEST_TIMEOUT)
{
	FIXTURE_DATA(colo_stream) *c = &self->c;
	unsigned long long seq = 0;
	unsigned int crc5 = 0, crc = 0;
	struct vmm_status st;
	size_t len;
	int status;
	char *t;

	REQUIRE_BED();
	/* the first message after a checkpoint carries what the guest
	 * dirtied during its ACK too: more than one batch of 64 pages */
	start_vmms(_metadata, c, 4000);
	setenv("KMIG_STOP_AT", variant->stop_at, 1);
	start_agents(c, variant->port, "--stream 20");
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(c->pri, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text(c->pri_log));
	proc_stop(&c->pri);

	ASSERT_EQ(0, proc_wait_exit(c->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(c->sec_log));
	c->sec = 0;
	TH_LOG("%s", file_text(c->sec_log));
	t = file_read(c->sec_log, &len);
	ASSERT_EQ(0, colo_takeover_crc(t, &seq, &crc));
	free(t);
	EXPECT_EQ(5, seq);
	ASSERT_EQ(0, pri_crc(c->pri_log, 5, &crc5));
	EXPECT_EQ(crc5, crc);
	if (variant->staged) {
		EXPECT_TRUE(file_has(c->sec_log, "checkpoint 6 never committed: its "));
	} else {
		EXPECT_TRUE(file_has(c->sec_log, "streamed pages for checkpoint 6 cut short"));
	}

	/* The guest goes on there, its counter from the checkpoint on. */
	ASSERT_EQ(0, vmm_status(&c->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&c->b, st.counter, &st);
}

/*
 * The STRM messages after checkpoint 5 sent with a wrong CRC: the first
 * is refused whole; the secondary says why, does not take over (the
 * primary lives) and its VM keeps checkpoint 5; the primary learns it
 * and keeps its guest running unprotected.
 */
TEST_F_TIMEOUT(colo_stream, corrupt_message, TEST_TIMEOUT)
{
	unsigned int crc5 = 0;
	struct vmm_status st;
	uint32_t crc;

	REQUIRE_BED();
	start_vmms(_metadata, self, 2000);
	setenv("KMIG_COLO_CORRUPT_STREAM", "5", 1);
	start_agents(self, 24733, "--stream 20");
	unsetenv("KMIG_COLO_CORRUPT_STREAM");
	EXPECT_EQ(1, proc_wait_exit(self->pri, PROC_WAIT_MS));
	self->pri = 0;
	EXPECT_EQ(1, proc_wait_exit(self->sec, PROC_WAIT_MS));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->sec_log, "streamed pages for checkpoint 6: CRC mismatch"))
		TH_LOG("%s", file_text(self->sec_log));
	EXPECT_FALSE(file_has(self->sec_log, "takeover"));
	EXPECT_TRUE(file_has(self->pri_log, "checkpoint 6: the secondary refused its streamed pages"))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("running", st.state);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("incoming", st.state);
	ASSERT_EQ(0, pri_crc(self->pri_log, 5, &crc5));
	ASSERT_EQ(0, colo_memory_crc(&self->b, &crc));
	EXPECT_EQ(crc5, crc);
}

TEST_HARNESS_MAIN
