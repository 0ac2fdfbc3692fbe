// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd, the agent as a service (Documentation/kmigd.rst), on two hosts
 * (selftests/qemu/hosts.sh): a kmigd on each, and every migration driven
 * through their sockets only. A migration runs and reports its progress
 * on both sides;
 * one is cancelled and its guest runs on here; one goes on when its
 * client is killed and when its kmigd is killed and started again.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kmigd_client.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define RUN_DIR		"/run/kmig-kmigd-test"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"
#define KMIGD_A		RUN_DIR "/a.sock"
#define KMIGD_B		RUN_DIR "/b.sock"
#define LISTEN		"198.18.0.2:4480"

FIXTURE(kmigd) {
	pid_t vmm_a, vmm_b, kmigd_a, kmigd_b, client;
};

static pid_t kmigd_start(const char *ns, const char *sock, const char *dir,
			 const char *log)
{
	const char *argv[] = { proc_bin("kmigd"), "--socket", sock,
			       "--state-dir", dir, NULL };
	struct kmigd_client c;
	char err[256];
	pid_t pid;
	int i;

	mkdir(dir, 0750);
	pid = proc_spawn(ns, log, argv);
	for (i = 0; i < 100; i++, usleep(100000))
		if (!kmigd_client_open(&c, sock, err, sizeof(err))) {
			kmigd_client_close(&c);
			break;
		}
	return pid;
}

FIXTURE_SETUP(kmigd)
{
	const char *vmm_b[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_B,
				"--mem", "16", "--incoming", NULL };
	struct vmm_status st;

	REQUIRE_BED();
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, system("rm -rf " RUN_DIR));
	run_dir_clean(RUN_DIR, VMM_A, VMM_B);
	ASSERT_EQ(0, hosts_sh("hosts_down && hosts_up"));
	self->kmigd_a = kmigd_start("kmig-a", KMIGD_A, RUN_DIR "/a",
				    "kmigd-a.log");
	self->kmigd_b = kmigd_start("kmig-b", KMIGD_B, RUN_DIR "/b",
				    "kmigd-b.log");
	self->vmm_b = proc_spawn("kmig-b", "vmm-b.log", vmm_b);
	ASSERT_EQ(0, vmm_status_of(VMM_B, &st));
	ASSERT_STREQ("incoming", st.state);
}

FIXTURE_TEARDOWN(kmigd)
{
	TH_LOG("kmigd A: %s", file_text("kmigd-a.log"));
	TH_LOG("kmigd B: %s", file_text("kmigd-b.log"));
	proc_stop(&self->client);
	proc_stop(&self->kmigd_a);
	proc_stop(&self->kmigd_b);
	proc_stop(&self->vmm_a);
	proc_stop(&self->vmm_b);
	/* jobs outlive kmigd by design: end them */
	if (system("pkill -KILL -f 'kmig (migrate|incoming) --vmm " RUN_DIR "'") < 0)
		TH_LOG("pkill: %s", strerror(errno));
	if (hosts_sh("hosts_down"))
		TH_LOG("hosts_down failed");
}

/*
 * A guest of 16 MiB on host A. @busy: it dirties 20000 pages/s, more than
 * the link carries. Otherwise it writes all its memory first (so that a
 * migration at 2 MiB/s lasts seconds), then a few pages a second.
 */
static void source_guest(struct __test_metadata *_metadata, pid_t *pid,
			 bool busy)
{
	const char *vmm_a[] = { proc_bin("vmm/kmig-vmm"), "--ctl", VMM_A,
				"--mem", "16", "--pattern",
				busy ? "random" : "seq", "--rate",
				busy ? "20000" : "8000", NULL };
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;

	*pid = proc_spawn("kmig-a", "vmm-a.log", vmm_a);
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	ASSERT_STREQ("running", st.state);
	ASSERT_EQ(0, __vmm_wait_counter(VMM_A, 0, PROC_WAIT_MS, &st));
	if (busy)
		return;
	/* "seq" writes each working-set page once, in order, then goes on */
	ASSERT_EQ(0, vmm_wait_written(VMM_A, 10000, &st))
		TH_LOG("%llu of %u pages written in 10 s",
		       (unsigned long long)st.writes, st.ws_pages);
	ASSERT_EQ(0, vmm_client_connect(&c, VMM_A, 5000));
	ASSERT_EQ(0, vmm_client_cmd(&c, "pattern random"));
	ASSERT_EQ(0, vmm_client_cmd(&c, "rate 100"));
	vmm_client_close(&c);
}

/* Request @fmt of kmigd at @sock: its reply, or NULL with why logged. */
static struct json *request(struct __test_metadata *_metadata,
			    const char *sock, const char *fmt, ...)
{
	struct kmigd_client c;
	struct json *reply = NULL;
	char req[1024], err[512];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	if (kmigd_client_open(&c, sock, err, sizeof(err))) {
		TH_LOG("%s", err);
		return NULL;
	}
	reply = kmigd_client_call(&c, req, &ret, err, sizeof(err));
	if (!reply)
		TH_LOG("%s: %s", req, err);
	kmigd_client_close(&c);
	return reply;
}

/* kmigd on host A lists VMM @owner's memory context, and the devices. */
static void the_module_sees(struct __test_metadata *_metadata, pid_t owner)
{
	struct json *r = request(_metadata, KMIGD_A, "{\"v\":1,\"op\":\"contexts\"}");
	const struct json *ctxs = json_get(r, "contexts");
	bool found = false;
	size_t i;

	ASSERT_NE(NULL, ctxs);
	for (i = 0; i < ctxs->n; i++)
		found |= json_get_u64(&ctxs->items[i], "owner") == (uint64_t)owner &&
			 json_get_u64(&ctxs->items[i], "pages") > 0;
	EXPECT_TRUE(found);
	json_free(r);
	r = request(_metadata, KMIGD_A, "{\"v\":1,\"op\":\"devices\"}");
	EXPECT_NE(NULL, json_get(r, "devices"));
	json_free(r);
}

static uint32_t start(struct __test_metadata *_metadata, const char *sock,
		      const char *type, const char *args)
{
	struct json *reply = request(_metadata, sock,
		"{\"v\":1,\"op\":\"start\",\"type\":\"%s\",\"args\":[%s]}",
		type, args);
	uint32_t id = json_get_u64(reply, "job");

	json_free(reply);
	return id;
}

/* Job @id's record once @until says so (or @ms passed; 0: now). */
static struct json *job_until(struct __test_metadata *_metadata,
			      const char *sock, uint32_t id, int ms,
			      bool (*until)(const struct json *job))
{
	struct json *reply = NULL;
	int t;

	for (t = 0;; t += 200, usleep(200000)) {
		json_free(reply);
		reply = request(_metadata, sock,
				"{\"v\":1,\"op\":\"query\",\"job\":%u}", id);
		if (!reply || until(json_get(reply, "job")) || t >= ms)
			break;
	}
	return reply;
}

/* The id of the first job kmigd at @sock knows, within 30 s; 0: none. */
static uint32_t first_job(struct __test_metadata *_metadata, const char *sock)
{
	const struct json *jobs;
	struct json *reply;
	uint32_t id = 0;
	int t;

	for (t = 0; !id && t < 30000; t += 200, usleep(200000)) {
		reply = request(_metadata, sock, "{\"v\":1,\"op\":\"query\"}");
		jobs = json_get(reply, "jobs");
		if (jobs && jobs->n)
			id = json_get_u64(&jobs->items[0], "id");
		json_free(reply);
	}
	return id;
}

static bool ended(const struct json *job)
{
	return strcmp(json_get_str(job, "state"), "running");
}

/* The job's own info says it moved memory. */
static bool moving(const struct json *job)
{
	const struct json *info = json_get(job, "info");

	return ended(job) || (!strcmp(json_get_str(info, "status"), "active") &&
			      json_get_u64(info, "data_processed") > 0);
}

/* Both halves completed: job @mig on host A, job @in on host B. */
static void both_completed(struct __test_metadata *_metadata, uint32_t mig,
			   uint32_t in)
{
	struct json *a = job_until(_metadata, KMIGD_A, mig, 120000, ended);
	struct json *b = job_until(_metadata, KMIGD_B, in, 30000, ended);
	const struct json *src = json_get(a, "job"), *dst = json_get(b, "job");

	EXPECT_STREQ("completed", json_get_str(src, "state"))
		TH_LOG("%s", json_get_str(src, "error"));
	EXPECT_STREQ("completed", json_get_str(dst, "state"))
		TH_LOG("%s", json_get_str(dst, "error"));
	EXPECT_STREQ("completed",
		     json_get_str(json_get(src, "info"), "status"));
	EXPECT_LT(0, json_get_u64(json_get(src, "info"), "downtime"));
	json_free(a);
	json_free(b);
}

#define INCOMING_ARGS	"\"--vmm\",\"" VMM_B "\",\"--listen\",\"" LISTEN \
			"\",\"--timeout\",\"120\""
#define MIGRATE_ARGS(bw) "\"--vmm\",\"" VMM_A "\",\"--to\",\"" LISTEN \
			"\",\"--timeout\",\"120\",\"--bandwidth\",\"" bw "\""

/* Both sides through kmigd; progress seen while it runs, then the end. */
TEST_F_TIMEOUT(kmigd, migrates_and_reports_progress, 240)
{
	bool context_new = false, started = false, progress = false;
	struct json *a, *ev = NULL;
	struct kmigd_client events;
	uint32_t in, mig;
	char err[256];
	int ret;

	ASSERT_EQ(0, kmigd_client_open(&events, KMIGD_A, err, sizeof(err)));
	json_free(kmigd_client_call(&events, "{\"v\":1,\"op\":\"subscribe\"}",
				    &ret, err, sizeof(err)));
	ASSERT_EQ(0, ret) TH_LOG("%s", err);
	source_guest(_metadata, &self->vmm_a, false);
	the_module_sees(_metadata, self->vmm_a);

	in = start(_metadata, KMIGD_B, "incoming", INCOMING_ARGS);
	ASSERT_NE(0, in);
	/* 16 MiB at 4 MiB/s: 4 s to see it move on both sides */
	mig = start(_metadata, KMIGD_A, "migrate", MIGRATE_ARGS("4"));
	ASSERT_NE(0, mig);

	a = job_until(_metadata, KMIGD_A, mig, 60000, moving);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("running", json_get_str(json_get(a, "job"), "state"))
		TH_LOG("the migration ended before its progress was seen: %s",
		       json_get_str(json_get(a, "job"), "error"));
	json_free(a);
	/* ... and the destination's, while it receives */
	a = job_until(_metadata, KMIGD_B, in, 60000, moving);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("running", json_get_str(json_get(a, "job"), "state"))
		TH_LOG("the incoming job ended before its progress was seen");
	json_free(a);

	both_completed(_metadata, mig, in);
	vmm_expect_runs(VMM_B);

	/* the subscriber saw the guest's memory appear, the job start, move
	 * and end */
	for (;;) {
		json_free(ev);
		ev = kmigd_client_recv(&events, &ret, err, sizeof(err));
		ASSERT_NE(NULL, ev) TH_LOG("%s", err);
		context_new |= !strcmp(json_get_str(ev, "what"), "context-new") &&
			       json_get_u64(ev, "owner") == (uint64_t)self->vmm_a;
		started |= !strcmp(json_get_str(ev, "event"), "started");
		progress |= !strcmp(json_get_str(ev, "event"), "progress");
		if (!strcmp(json_get_str(ev, "event"), "ended"))
			break;
	}
	json_free(ev);
	kmigd_client_close(&events);
	EXPECT_TRUE(context_new);
	EXPECT_TRUE(started);
	EXPECT_TRUE(progress);
}

/* Cancelled in precopy: the guest keeps running on host A. */
TEST_F_TIMEOUT(kmigd, cancel_keeps_the_guest_here, 240)
{
	struct json *a, *b, *again;
	uint32_t in, mig;
	uint64_t t0;

	source_guest(_metadata, &self->vmm_a, true);
	in = start(_metadata, KMIGD_B, "incoming", INCOMING_ARGS);
	ASSERT_NE(0, in);
	mig = start(_metadata, KMIGD_A, "migrate", MIGRATE_ARGS("1"));
	ASSERT_NE(0, mig);
	json_free(job_until(_metadata, KMIGD_A, mig, 60000, moving));

	a = request(_metadata, KMIGD_A, "{\"v\":1,\"op\":\"cancel\",\"job\":%u}",
		    mig);
	ASSERT_NE(NULL, a);
	json_free(a);
	t0 = kmig_now_ns();
	a = job_until(_metadata, KMIGD_A, mig, 60000, ended);
	ASSERT_NE(NULL, a);
	/* within the round under way (one lasts 16 s at 1 MiB/s) */
	EXPECT_GT(8000, (kmig_now_ns() - t0) / 1000000);
	EXPECT_STREQ("cancelled", json_get_str(json_get(a, "job"), "state"));
	EXPECT_NE(NULL, strstr(json_get_str(json_get(a, "job"), "error"), "cancel"))
		TH_LOG("%s", json_get_str(json_get(a, "job"), "error"));
	json_free(a);
	vmm_expect_runs(VMM_A);

	/* a second cancel is refused; the destination's job cancels too */
	again = request(_metadata, KMIGD_A,
			"{\"v\":1,\"op\":\"cancel\",\"job\":%u}", mig);
	EXPECT_EQ(NULL, again);
	json_free(again);
	b = job_until(_metadata, KMIGD_B, in, 0, ended);
	if (!strcmp(json_get_str(json_get(b, "job"), "state"), "running"))
		json_free(request(_metadata, KMIGD_B,
				  "{\"v\":1,\"op\":\"cancel\",\"job\":%u}", in));
	json_free(b);
	b = job_until(_metadata, KMIGD_B, in, 30000, ended);
	EXPECT_NE(NULL, b);
	EXPECT_STRNE("completed", json_get_str(json_get(b, "job"), "state"));
	json_free(b);
}

/* A migration outlives its client and a restart of its kmigd. */
TEST_F_TIMEOUT(kmigd, outlives_its_client_and_a_kmigd_restart, 240)
{
	const char *client[] = { proc_bin("kmig"), "--daemon=" KMIGD_A,
				 "migrate", "--vmm", VMM_A, "--to", LISTEN,
				 "--timeout", "120", "--bandwidth", "2", NULL };
	struct json *a;
	uint32_t in, mig = 0;
	struct vmm_status st;

	source_guest(_metadata, &self->vmm_a, false);
	in = start(_metadata, KMIGD_B, "incoming", INCOMING_ARGS);
	ASSERT_NE(0, in);
	self->client = proc_spawn(NULL, "client.log", client);
	/* the job the client started: the first on host A */
	mig = first_job(_metadata, KMIGD_A);
	ASSERT_NE(0, mig) TH_LOG("the client started no job: %s",
				 file_text("client.log"));
	a = job_until(_metadata, KMIGD_A, mig, 60000, moving);
	ASSERT_NE(NULL, a);
	ASSERT_STREQ("running", json_get_str(json_get(a, "job"), "state"));
	json_free(a);

	proc_stop(&self->client);
	proc_stop(&self->kmigd_a);
	a = job_until(_metadata, KMIGD_B, in, 0, ended);
	EXPECT_STREQ("running", json_get_str(json_get(a, "job"), "state"));
	json_free(a);
	self->kmigd_a = kmigd_start("kmig-a", KMIGD_A, RUN_DIR "/a",
				    "kmigd-a2.log");
	/* its log may lag its socket on a loaded bed */
	for (int i = 0; i < 100 && !file_has("kmigd-a2.log", "adopted"); i++)
		usleep(100000);
	TH_LOG("after the restart: %s", file_text("kmigd-a2.log"));
	EXPECT_TRUE(file_has("kmigd-a2.log", "adopted"));

	both_completed(_metadata, mig, in);
	ASSERT_EQ(0, vmm_status_of(VMM_A, &st));
	EXPECT_STREQ("migrated", st.state);
	vmm_expect_runs(VMM_B);
}

/*
 * postcopy-start through kmigd: a guest that outruns the link stays in
 * precopy until asked, then switches and completes; asked twice, the
 * second is refused.
 */
TEST_F_TIMEOUT(kmigd, postcopy_start_through_the_socket, 240)
{
	struct json *a;
	uint32_t in, mig;

	source_guest(_metadata, &self->vmm_a, true);
	in = start(_metadata, KMIGD_B, "incoming", INCOMING_ARGS);
	ASSERT_NE(0, in);
	mig = start(_metadata, KMIGD_A, "migrate", MIGRATE_ARGS("4")
		    ",\"--channels\",\"2\",\"--max-downtime\",\"1\""
		    ",\"--max-throttle\",\"0\",\"--postcopy-after\",\"start\"");
	ASSERT_NE(0, mig);
	a = job_until(_metadata, KMIGD_A, mig, 60000, moving);
	ASSERT_STREQ("running", json_get_str(json_get(a, "job"), "state"));
	json_free(a);

	a = request(_metadata, KMIGD_A,
		    "{\"v\":1,\"op\":\"postcopy-start\",\"job\":%u}", mig);
	ASSERT_NE(NULL, a);
	json_free(a);
	a = request(_metadata, KMIGD_A,
		    "{\"v\":1,\"op\":\"postcopy-start\",\"job\":%u}", mig);
	EXPECT_EQ(NULL, a);
	json_free(a);

	a = job_until(_metadata, KMIGD_A, mig, 120000, ended);
	EXPECT_NE(NULL, json_get(json_get(json_get(a, "job"), "info"),
				 "postcopy_pushed"));
	json_free(a);
	both_completed(_metadata, mig, in);
	vmm_expect_runs(VMM_B);
}

TEST_HARNESS_MAIN
