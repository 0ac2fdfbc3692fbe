// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd on this host (Documentation/kmigd.rst): its protocol, every bad
 * request's error, who may connect, and its job supervision — start,
 * progress, end, cancel, a client that goes away, a kmigd restart that
 * adopts running jobs — with a stand-in agent: a shell script that
 * behaves as a job does (it writes info.json and exit, and runs until
 * the test lets it end). kmigd runs under ASan and LSan: it must exit 0
 * on SIGTERM. Real migrations through kmigd run in the test bed
 * (selftests/kmig/kmigd.c).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmigd_client.h"

/*
 * The stand-in agent. Its first argument after the subcommand picks what
 * it does: "fail" fails as kmig does; "hold" runs, writing job info,
 * until STATE/release exists (or SIGTERM); anything else completes.
 */
static const char fake_kmig[] =
"#!/bin/sh\n"
"echo \"args: $*\"\n"
"case \"$2\" in\n"
"fail) echo \"kmig $1: the VMM at /nowhere: No such file\" >&2\n"
"      echo 1 > \"$KMIG_JOB_DIR/exit\"; exit 1 ;;\n"
"hold) trap 'echo 143 > \"$KMIG_JOB_DIR/exit\"; exit 143' TERM\n"
"      i=0\n"
"      while [ ! -e \"$KMIG_JOB_DIR/../../release\" ]; do\n"
"          i=$((i + 1))\n"
"          echo \"{\\\"status\\\":\\\"active\\\",\\\"data_processed\\\":$i}\" > \"$KMIG_JOB_DIR/i.tmp\"\n"
"          mv \"$KMIG_JOB_DIR/i.tmp\" \"$KMIG_JOB_DIR/info.json\"\n"
"          sleep 0.05\n"
"      done ;;\n"
"esac\n"
"echo '{\"status\":\"completed\",\"data_processed\":1}' > \"$KMIG_JOB_DIR/info.json\"\n"
"echo 0 > \"$KMIG_JOB_DIR/exit\"\n";

FIXTURE(kmigd) {
	char dir[64], sock[96], state[96], kmig[96];
	pid_t pid;
};

/* kmigd on @sock and the fixture's state, its stderr into DIR/@log. */
static pid_t kmigd_spawn(FIXTURE_DATA(kmigd) *self, const char *sock,
			 const char *group, const char *log)
{
	char path[256], out[128];
	pid_t pid;

	snprintf(path, sizeof(path), "%s", getenv("KMIGD") ?: KMIG_SRCDIR "/build/kmigd-san");
	snprintf(out, sizeof(out), "%s/%s", self->dir, log);
	pid = fork();
	if (!pid) {
		if (!freopen(out, "a", stderr))
			_exit(126);
		execl(path, path, "--socket", sock, "--state-dir",
		      self->state, "--kmig", self->kmig, "--group",
		      group ? group : "root", NULL);
		_exit(127);
	}
	return pid;
}

/* kmigd_spawn(), then wait until it answers. */
static pid_t kmigd_start(FIXTURE_DATA(kmigd) *self, const char *group)
{
	struct kmigd_client c;
	char err[256];
	pid_t pid;
	int i;

	pid = kmigd_spawn(self, self->sock, group, "kmigd.log");
	for (i = 0; i < 100; i++, usleep(50000))
		if (!kmigd_client_open(&c, self->sock, err, sizeof(err))) {
			kmigd_client_close(&c);
			break;
		}
	return pid;
}

/* SIGTERM: kmigd stops cleanly, and LSan found no leak. */
static int kmigd_stop(pid_t *pid)
{
	int status = -1;

	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	*pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

FIXTURE_SETUP(kmigd)
{
	FILE *f;

	strcpy(self->dir, "/tmp/kmigd-test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->sock, sizeof(self->sock), "%s/kmigd.sock", self->dir);
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	snprintf(self->kmig, sizeof(self->kmig), "%s/kmig", self->dir);
	f = fopen(self->kmig, "w");
	ASSERT_NE(NULL, f);
	fputs(fake_kmig, f);
	fclose(f);
	chmod(self->kmig, 0755);
	self->pid = kmigd_start(self, NULL);
}

FIXTURE_TEARDOWN(kmigd)
{
	char cmd[256];

	EXPECT_EQ(0, kmigd_stop(&self->pid));
	snprintf(cmd, sizeof(cmd), "touch %s/state/release; sleep 0.3; rm -rf %s",
		 self->dir, self->dir);
	if (system(cmd))
		TH_LOG("cleanup of %s failed", self->dir);
}

static struct json *__call(const char *sock, char *err, size_t n,
			   const char *fmt, ...)
{
	struct kmigd_client c;
	struct json *reply;
	char req[4096];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	if (kmigd_client_open(&c, sock, err, n))
		return NULL;
	reply = kmigd_client_call(&c, req, &ret, err, n);
	kmigd_client_close(&c);
	return reply;
}

#define call(fmt, ...) ({						\
	char __e[512];							\
	struct json *__r = __call(self->sock, __e, sizeof(__e), fmt,	\
				  ##__VA_ARGS__);			\
	if (!__r)							\
		TH_LOG("%s", __e);					\
	__r; })

static uint32_t start(FIXTURE_DATA(kmigd) *self, const char *type,
		      const char *args)
{
	struct json *r = __call(self->sock, (char[256]){}, 256,
				"{\"v\":1,\"op\":\"start\",\"type\":\"%s\",\"args\":[%s]}",
				type, args);
	uint32_t id = json_get_u64(r, "job");

	json_free(r);
	return id;
}

/* Job @id's record, once it is no longer @state (or after 10 s). */
static struct json *job_leaves(FIXTURE_DATA(kmigd) *self, uint32_t id,
			       const char *state)
{
	struct json *r = NULL;
	int i;

	for (i = 0; i < 200; i++, usleep(50000)) {
		json_free(r);
		r = __call(self->sock, (char[256]){}, 256,
			   "{\"v\":1,\"op\":\"query\",\"job\":%u}", id);
		if (!r || strcmp(json_get_str(json_get(r, "job"), "state"), state))
			break;
	}
	return r;
}

static void release(FIXTURE_DATA(kmigd) *self)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/release", self->state);
	f = fopen(path, "w");
	if (f)
		fclose(f);
}

TEST_F(kmigd, hello_says_protocol_and_job_types)
{
	struct json *r = call("{\"v\":1,\"op\":\"hello\"}");
	const struct json *types;

	ASSERT_NE(NULL, r);
	EXPECT_EQ(1, json_get_u64(r, "protocol"));
	types = json_get(r, "types");
	ASSERT_NE(NULL, types);
	EXPECT_EQ(6, types->n);
	json_free(r);
}

/* Each bad request gets its error, on a connection that stays usable. */
TEST_F(kmigd, every_bad_request_gets_a_clear_error)
{
	static const struct {
		const char *req, *errno_name, *says;
	} bad[] = {
		{ "hello", "EINVAL", "not JSON" },
		{ "[1,2]", "EINVAL", "a JSON object" },
		{ "{\"op\":\"hello\"}", "EPROTO", "protocol version" },
		{ "{\"v\":2,\"op\":\"hello\"}", "EPROTO", "speaks 1" },
		{ "{\"v\":1}", "EINVAL", "\"op\" is missing" },
		{ "{\"v\":1,\"op\":\"reboot\"}", "EINVAL", "unknown op" },
		{ "{\"v\":1,\"op\":\"hello\",\"x\":1}", "EINVAL", "not a field of hello" },
		{ "{\"v\":1,\"op\":\"query\",\"job\":\"1\"}", "EINVAL", "not a job id" },
		{ "{\"v\":1,\"op\":\"query\",\"job\":0}", "EINVAL", "not a job id" },
		{ "{\"v\":1,\"op\":\"query\",\"job\":1.5}", "EINVAL", "not a job id" },
		{ "{\"v\":1,\"op\":\"query\",\"job\":77}", "ENOENT", "no job 77" },
		{ "{\"v\":1,\"op\":\"cancel\"}", "EINVAL", "needs \"job\"" },
		{ "{\"v\":1,\"op\":\"start\"}", "EINVAL", "needs \"type\"" },
		{ "{\"v\":1,\"op\":\"start\",\"type\":\"rm\"}", "EINVAL", "unknown job type" },
		{ "{\"v\":1,\"op\":\"start\",\"type\":\"save\",\"args\":\"-x\"}", "EINVAL", "array of strings" },
		{ "{\"v\":1,\"op\":\"start\",\"type\":\"save\",\"args\":[1]}", "EINVAL", "array of strings" },
		{ "{\"v\":1,\"op\":\"start\",\"type\":\"migrate\",\"args\":[\"--ctl=/x\"]}", "EINVAL", "--ctl is kmigd's" },
		{ "{\"v\":1,\"op\":\"start\",\"type\":\"save\",\"args\":[\"a\\u0000b\"]}", "EINVAL", "U+0000" },
		{ "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", "EINVAL", "nesting" },
		{ "{\"v\":1,\"op\":\"hello\"} x", "EINVAL", "text after" },
	};
	struct kmigd_client c;
	struct json *r;
	char err[512];
	size_t i;
	int ret;

	ASSERT_EQ(0, kmigd_client_open(&c, self->sock, err, sizeof(err)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, send(c.fd, bad[i].req, strlen(bad[i].req), 0) < 0);
		ASSERT_EQ(1, send(c.fd, "\n", 1, 0));
		r = kmigd_client_recv(&c, &ret, err, sizeof(err));
		ASSERT_NE(NULL, r) TH_LOG("%s: %s", bad[i].req, err);
		EXPECT_EQ(false, json_get(r, "ok")->boolean) TH_LOG("%s", bad[i].req);
		EXPECT_STREQ(bad[i].errno_name, json_get_str(r, "errno")) TH_LOG("%s", bad[i].req);
		EXPECT_NE(NULL, strstr(json_get_str(r, "error"), bad[i].says))
			TH_LOG("%s: %s", bad[i].req, json_get_str(r, "error"));
		json_free(r);
	}
	r = kmigd_client_call(&c, "{\"v\":1,\"op\":\"hello\"}", &ret, err,
			      sizeof(err));
	EXPECT_NE(NULL, r) TH_LOG("%s", err);
	json_free(r);
	kmigd_client_close(&c);
}

/* A second kmigd on the same socket refuses to start; the first serves on. */
TEST_F(kmigd, one_kmigd_per_socket)
{
	struct json *r;
	int status;
	pid_t pid;

	pid = kmigd_spawn(self, self->sock, NULL, "second.log");
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(1, WEXITSTATUS(status));
	r = call("{\"v\":1,\"op\":\"hello\"}");
	EXPECT_NE(NULL, r);
	json_free(r);
}

/*
 * A second kmigd on another socket but the same state refuses to start,
 * before it reads a job: the jobs stay the first one's alone.
 */
TEST_F(kmigd, one_kmigd_per_state_dir)
{
	char sock[128], log[128], line[256];
	bool adopted = false;
	int status, i;
	uint32_t id;
	pid_t pid;
	FILE *f;

	id = start(self, "incoming", "\"hold\"");
	ASSERT_NE(0, id);
	snprintf(sock, sizeof(sock), "%s/other.sock", self->dir);
	pid = kmigd_spawn(self, sock, NULL, "other.log");
	for (i = 0; i < 100 && !waitpid(pid, &status, WNOHANG); i++)
		usleep(50000);
	if (i == 100) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_LT(i, 100) TH_LOG("the second kmigd still runs after 5 s");
	EXPECT_EQ(1, WEXITSTATUS(status));
	snprintf(log, sizeof(log), "%s/other.log", self->dir);
	f = fopen(log, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		TH_LOG("second kmigd: %s", line);
		adopted |= strstr(line, "adopted") != NULL;
	}
	fclose(f);
	EXPECT_FALSE(adopted);
	EXPECT_NE(0, access(sock, F_OK));
}

/* A line without end is refused at 64 KiB; kmigd serves others on. */
TEST_F(kmigd, an_endless_line_is_cut_off)
{
	struct kmigd_client c;
	static char junk[70000];
	struct json *r;
	char err[512];
	int ret;

	memset(junk, 'x', sizeof(junk));
	ASSERT_EQ(0, kmigd_client_open(&c, self->sock, err, sizeof(err)));
	send(c.fd, junk, sizeof(junk), MSG_NOSIGNAL);
	r = kmigd_client_recv(&c, &ret, err, sizeof(err));
	ASSERT_NE(NULL, r) TH_LOG("%s", err);
	EXPECT_STREQ("EMSGSIZE", json_get_str(r, "errno"));
	json_free(r);
	kmigd_client_close(&c);
	r = call("{\"v\":1,\"op\":\"hello\"}");
	EXPECT_NE(NULL, r);
	json_free(r);
}

/* Only root, kmigd's user and its group's members may connect. */
TEST_F(kmigd, strangers_are_refused)
{
	struct kmigd_client c;
	struct json *r;
	char err[512];
	int status, ret;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root, to connect as another user");
	chmod(self->dir, 0755);
	chmod(self->sock, 0666);	/* past the mode: the credentials */
	pid = fork();
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		if (kmigd_client_open(&c, self->sock, err, sizeof(err)))
			_exit(3);
		r = kmigd_client_recv(&c, &ret, err, sizeof(err));
		_exit(r && !strcmp(json_get_str(r, "errno"), "EACCES") ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* a member of --group is let in */
	ASSERT_EQ(0, kmigd_stop(&self->pid));
	self->pid = kmigd_start(self, "nogroup");
	chmod(self->sock, 0666);
	pid = fork();
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		r = __call(self->sock, err, sizeof(err),
			   "{\"v\":1,\"op\":\"hello\"}");
		_exit(r ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* A failure's reason, a completion, and the arguments a job ran with. */
TEST_F(kmigd, jobs_end_with_their_outcome)
{
	struct json *r, *all;
	uint32_t bad, good;
	char cmd[512];

	bad = start(self, "save", "\"fail\",\"--vmm\",\"/nowhere\"");
	good = start(self, "migrate", "\"now\",\"--vmm\",\"/vm.sock\"");
	ASSERT_NE(0, bad);
	ASSERT_EQ(bad + 1, good);
	r = job_leaves(self, bad, "running");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("failed", json_get_str(json_get(r, "job"), "state"));
	EXPECT_EQ(1, json_get_u64(json_get(r, "job"), "exit"));
	EXPECT_STREQ("kmig save: the VMM at /nowhere: No such file",
		     json_get_str(json_get(r, "job"), "error"));
	json_free(r);
	r = job_leaves(self, good, "running");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("completed", json_get_str(json_get(r, "job"), "state"));
	EXPECT_STREQ("completed", json_get_str(json_get(json_get(r, "job"), "info"),
				      "status"));
	json_free(r);
	/* a migration's source is given its control socket */
	all = call("{\"v\":1,\"op\":\"query\"}");
	ASSERT_NE(NULL, all);
	EXPECT_EQ(2, json_get(all, "jobs")->n);
	json_free(all);
	snprintf(cmd, sizeof(cmd),
		 "grep -qx 'args: migrate now --vmm /vm.sock --ctl %s/jobs/%u/ctl' %s/jobs/%u/log",
		 self->state, good, self->state, good);
	EXPECT_EQ(0, system(cmd));
}

/* Cancel ends a job; a second cancel and a cancel of an ended job fail. */
TEST_F(kmigd, cancel)
{
	struct json *r;
	uint32_t id;

	id = start(self, "save", "\"hold\"");
	ASSERT_NE(0, id);
	r = call("{\"v\":1,\"op\":\"cancel\",\"job\":%u}", id);
	ASSERT_NE(NULL, r);
	json_free(r);
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"cancel\",\"job\":%u}", id);
	EXPECT_EQ(NULL, r);
	r = job_leaves(self, id, "running");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("cancelled", json_get_str(json_get(r, "job"), "state"));
	EXPECT_EQ(true, json_get(json_get(r, "job"), "cancel_requested")->boolean);
	json_free(r);
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"cancel\",\"job\":%u}", id);
	EXPECT_EQ(NULL, r);
	/* postcopy-start is a migration source's */
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"postcopy-start\",\"job\":%u}", id);
	EXPECT_EQ(NULL, r);
}

/* Progress and the end reach a subscriber; a client gone changes nothing. */
TEST_F(kmigd, events_and_a_client_that_leaves)
{
	bool started = false, progress = false, ended = false;
	struct kmigd_client c, ev;
	struct json *r;
	char err[512];
	uint32_t id;
	int ret;

	ASSERT_EQ(0, kmigd_client_open(&ev, self->sock, err, sizeof(err)));
	r = kmigd_client_call(&ev, "{\"v\":1,\"op\":\"subscribe\"}", &ret,
			      err, sizeof(err));
	ASSERT_NE(NULL, r);
	json_free(r);
	/* the client starts the job and goes away at once */
	ASSERT_EQ(0, kmigd_client_open(&c, self->sock, err, sizeof(err)));
	r = kmigd_client_call(&c, "{\"v\":1,\"op\":\"start\",\"type\":\"restore\",\"args\":[\"hold\"]}",
			      &ret, err, sizeof(err));
	ASSERT_NE(NULL, r);
	id = json_get_u64(r, "job");
	json_free(r);
	kmigd_client_close(&c);
	usleep(600000);
	release(self);
	while (!ended) {
		r = kmigd_client_recv(&ev, &ret, err, sizeof(err));
		ASSERT_NE(NULL, r) TH_LOG("%s", err);
		if (!strcmp(json_get_str(r, "event"), "started"))
			started = true;
		if (!strcmp(json_get_str(r, "event"), "progress") &&
		    json_get_u64(r, "job") == id)
			progress = json_get_u64(json_get(r, "info"), "data_processed") > 0;
		if (!strcmp(json_get_str(r, "event"), "ended")) {
			ended = true;
			EXPECT_STREQ("completed", json_get_str(json_get(r, "job"), "state"));
		}
		json_free(r);
	}
	kmigd_client_close(&ev);
	EXPECT_TRUE(started);
	EXPECT_TRUE(progress);
}

/* SIGKILL @pid (no child of ours) and wait until it has exited: 0. */
static int killed_and_gone(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd = { .events = POLLIN };
	int ret;

	if (fd < 0)
		return -errno;
	pfd.fd = fd;
	ret = kill(pid, SIGKILL) ? -errno : 0;
	if (!ret && poll(&pfd, 1, 10000) != 1)
		ret = -ETIMEDOUT;
	close(fd);
	return ret;
}

/*
 * kmigd stops (SIGTERM) with two jobs running; one ends while it is away,
 * one is killed. The kmigd started again adopts the running one and
 * reads the others' outcomes; new jobs take new ids.
 */
TEST_F(kmigd, a_restart_adopts_the_jobs)
{
	uint32_t keeps, killed, done, next;
	struct json *r;
	char path[128];
	int64_t pid;

	keeps = start(self, "incoming", "\"hold\"");
	killed = start(self, "incoming", "\"hold\"");
	done = start(self, "save", "\"quick\"");
	ASSERT_NE(0, keeps);
	r = job_leaves(self, done, "running");
	json_free(r);
	r = call("{\"v\":1,\"op\":\"query\",\"job\":%u}", killed);
	ASSERT_NE(NULL, r);
	pid = json_get_u64(json_get(r, "job"), "pid");
	json_free(r);

	ASSERT_EQ(0, kmigd_stop(&self->pid));
	ASSERT_EQ(0, killed_and_gone(pid));
	self->pid = kmigd_start(self, NULL);

	r = call("{\"v\":1,\"op\":\"query\",\"job\":%u}", keeps);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("running", json_get_str(json_get(r, "job"), "state"));
	json_free(r);
	r = call("{\"v\":1,\"op\":\"query\",\"job\":%u}", killed);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("failed", json_get_str(json_get(r, "job"), "state"));
	EXPECT_NE(NULL, strstr(json_get_str(json_get(r, "job"), "error"),
			       "without an exit status"))
		TH_LOG("%s", json_get_str(json_get(r, "job"), "error"));
	json_free(r);
	r = call("{\"v\":1,\"op\":\"query\",\"job\":%u}", done);
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("completed", json_get_str(json_get(r, "job"), "state"));
	json_free(r);

	next = start(self, "save", "\"quick\"");
	EXPECT_EQ(done + 1, next);
	release(self);
	r = job_leaves(self, keeps, "running");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("completed", json_get_str(json_get(r, "job"), "state"));
	json_free(r);
	snprintf(path, sizeof(path), "%s/jobs/%u/end.json", self->state, keeps);
	EXPECT_EQ(0, access(path, F_OK));
}

/* recover starts the other half of postcopy recovery with the same VMM. */
TEST_F(kmigd, recover_runs_with_the_jobs_vmm)
{
	struct json *r;
	uint32_t lost, again;
	char cmd[400];

	lost = start(self, "migrate", "\"fail\",\"--vmm\",\"/vm-a.sock\",\"--to\",\"h:1\"");
	ASSERT_NE(0, lost);
	json_free(job_leaves(self, lost, "running"));
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"recover\",\"job\":%u,\"args\":[\"--vmm\",\"/other\"]}",
		   lost);
	EXPECT_EQ(NULL, r);
	r = call("{\"v\":1,\"op\":\"recover\",\"job\":%u,\"args\":[\"--to\",\"h:2\"]}",
		 lost);
	ASSERT_NE(NULL, r);
	again = json_get_u64(r, "job");
	json_free(r);
	json_free(job_leaves(self, again, "running"));
	snprintf(cmd, sizeof(cmd),
		 "grep -qx 'args: migrate --resume --vmm /vm-a.sock --to h:2' %s/jobs/%u/log",
		 self->state, again);
	EXPECT_EQ(0, system(cmd));
	/* a completed job does not recover */
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"recover\",\"job\":%u}", again);
	EXPECT_EQ(NULL, r);
}

/* Beyond 256 jobs, the oldest ended one is forgotten, directory and all. */
TEST_F(kmigd, the_oldest_ended_job_makes_room)
{
	char path[128];
	struct json *r;
	uint32_t id = 0;
	int i;

	for (i = 0; i < 256; i++) {
		id = start(self, "save", "\"quick\"");
		ASSERT_EQ(i + 1, id);
		if (i % 32 == 31)	/* a few at a time: every one ends */
			json_free(job_leaves(self, id, "running"));
	}
	json_free(job_leaves(self, id, "running"));
	usleep(500000);
	ASSERT_EQ(257, start(self, "save", "\"quick\""));
	r = __call(self->sock, (char[256]){}, 256,
		   "{\"v\":1,\"op\":\"query\",\"job\":1}");
	EXPECT_EQ(NULL, r);
	snprintf(path, sizeof(path), "%s/jobs/1", self->state);
	EXPECT_NE(0, access(path, F_OK));
	r = call("{\"v\":1,\"op\":\"query\",\"job\":2}");
	EXPECT_NE(NULL, r);
	json_free(r);
}

/* `kmig ARGS` (the agent under test, $KMIG_AGENT): its exit status. */
static int agent(FIXTURE_DATA(kmigd) *self, const char *args)
{
	char cmd[512];
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s >> %s/agent.log 2>&1",
		 getenv("KMIG_AGENT") ?: KMIG_SRCDIR "/build/kmig", args,
		 self->dir);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* kmig job and kmig --daemon: exit statuses that say how jobs ended. */
TEST_F(kmigd, the_kmig_job_client)
{
	char args[256], log[128], cmd[640];

	snprintf(log, sizeof(log), "%s/agent.log", self->dir);
	snprintf(args, sizeof(args), "job --socket %s start save quick", self->sock);
	EXPECT_EQ(0, agent(self, args));
	snprintf(args, sizeof(args), "job --socket %s wait 1", self->sock);
	EXPECT_EQ(0, agent(self, args));
	snprintf(args, sizeof(args), "--daemon=%s save fail", self->sock);
	EXPECT_EQ(1, agent(self, args));
	snprintf(args, sizeof(args), "job --socket %s info 2", self->sock);
	EXPECT_EQ(0, agent(self, args));
	snprintf(args, sizeof(args), "job --socket %s --json list", self->sock);
	EXPECT_EQ(0, agent(self, args));
	snprintf(args, sizeof(args), "job --socket %s cancel 1", self->sock);
	EXPECT_EQ(1, agent(self, args));
	snprintf(args, sizeof(args), "job --socket %s info x", self->sock);
	EXPECT_EQ(2, agent(self, args));
	EXPECT_EQ(1, agent(self, "job --socket /nonexistent/kmigd.sock list"));
	snprintf(cmd, sizeof(cmd),
		 "grep -q '^job 2: save failed: kmig save: the VMM at /nowhere' %s && "
		 "grep -q 'job 1 has ended (completed)' %s && "
		 "grep -q 'is kmigd running' %s", log, log, log);
	EXPECT_EQ(0, system(cmd)) TH_LOG("see %s", log);
}

TEST_HARNESS_MAIN
