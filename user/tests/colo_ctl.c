// SPDX-License-Identifier: GPL-2.0
/*
 * The primary's --control socket (user/kmig/colo_ctl.c) on its own, with
 * this test as the primary's main thread: a checkpoint asked while
 * unprotected is refused; protect is refused while protected and with no
 * numeric address; a protect taken is answered once checkpoint 0 is
 * committed, or with the failure by its errno name, or cancelled when
 * the primary stops; an unknown request is named so.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "colo.h"
#include "jobctl.h"

FIXTURE(ctl) {
	struct colo_requests r;
	char path[64];
};

FIXTURE_SETUP(ctl)
{
	struct colo_requests init = COLO_REQUESTS_INIT;
	char err[256];

	self->r = init;
	snprintf(self->path, sizeof(self->path), "@kmig-colo-ctl-test-%d",
		 getpid());
	ASSERT_EQ(0, colo_requests_start(&self->r, self->path, err,
					 sizeof(err))) TH_LOG("%s", err);
}

FIXTURE_TEARDOWN(ctl)
{
	colo_requests_stop(&self->r);
}

/* One request line @req (no newline), its reply into @reply. */
static int ask(const char *path, const char *req, char *reply, size_t n)
{
	char line[MIG_JOBCTL_LINE];

	snprintf(line, sizeof(line), "%s\n", req);
	return mig_jobctl_request(path, line, reply, n);
}

/* A request sent from a thread of its own, for its answer to wait. */
struct asker {
	pthread_t thread;
	const char *path, *req;
	char reply[MIG_JOBCTL_LINE];
	int ret;
};

static void *asker_run(void *arg)
{
	struct asker *a = arg;

	a->ret = ask(a->path, a->req, a->reply, sizeof(a->reply));
	return NULL;
}

/* As the primary's main thread: wait for a protect to take, 5 s. */
static bool take_protect(struct colo_requests *r, char *to, size_t n)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (colo_requests_protect_take(r, to, n))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * As the primary's main thread, unprotected: @a's protect sent from its
 * own thread, and taken (its address in @to): true, or false.
 */
static bool protect_taken(struct colo_requests *r, struct asker *a,
			  char *to, size_t n)
{
	colo_requests_unprotected(r, -ECONNRESET, "lost");
	if (pthread_create(&a->thread, NULL, asker_run, a))
		return false;
	return take_protect(r, to, n);
}

TEST_F(ctl, checkpoint_refused_while_unprotected)
{
	char reply[MIG_JOBCTL_LINE];

	colo_requests_unprotected(&self->r, -ECONNRESET, "lost");
	ASSERT_EQ(0, ask(self->path, COLO_CTL_CHECKPOINT, reply,
			 sizeof(reply)));
	EXPECT_EQ(0, strncmp(reply, "err ENOTCONN the guest is unprotected", 37))
		TH_LOG("%s", reply);
}

TEST_F(ctl, protect_refused_while_protected)
{
	char reply[MIG_JOBCTL_LINE];

	colo_requests_protecting(&self->r, "127.0.0.1:24720");
	ASSERT_EQ(0, ask(self->path, "protect 127.0.0.1:24721", reply,
			 sizeof(reply)));
	EXPECT_STREQ("err EISCONN the guest is protected already, by the secondary at 127.0.0.1:24720",
		     reply);
}

TEST_F(ctl, protect_refused_without_an_address)
{
	static const char *const bad[] = {
		"protect nonsense", "protect 127.0.0.1", "protect host.invalid:1",
		"protect 127.0.0.1:0",
	};
	char reply[MIG_JOBCTL_LINE], to[64];
	unsigned int i;

	colo_requests_unprotected(&self->r, -ECONNRESET, "lost");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, ask(self->path, bad[i], reply, sizeof(reply)));
		EXPECT_EQ(0, strncmp(reply, "err EINVAL protect: '", 21))
			TH_LOG("%s: %s", bad[i], reply);
	}
	EXPECT_FALSE(colo_requests_protect_take(&self->r, to, sizeof(to)));
}

TEST_F(ctl, protect_answered_once_checkpoint_0_committed)
{
	struct asker a = { .path = self->path,
			   .req = "protect 127.0.0.1:24723" };
	struct asker b = { .path = self->path,
			   .req = "protect 127.0.0.1:24724" };
	char to[64];

	ASSERT_TRUE(protect_taken(&self->r, &a, to, sizeof(to)));
	EXPECT_STREQ("127.0.0.1:24723", to);
	/* one request at a time: a second one waits for the entry, then
	 * is refused, naming the secondary */
	colo_requests_protecting(&self->r, to);
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, asker_run, &b));
	usleep(100 * 1000);
	colo_requests_take(&self->r);
	colo_requests_served(&self->r, 0);
	pthread_join(a.thread, NULL);
	ASSERT_EQ(0, a.ret);
	EXPECT_STREQ("ok protected by 127.0.0.1:24723, checkpoint 0 committed",
		     a.reply);
	pthread_join(b.thread, NULL);
	ASSERT_EQ(0, b.ret);
	EXPECT_STREQ("err EISCONN the guest is protected already, by the secondary at 127.0.0.1:24723",
		     b.reply);
}

/*
 * A client gone before its answer (`kmig colo protect` interrupted, or
 * one whose wait timed out): writing the answer must not kill the
 * primary (SIGPIPE), and the next request is served.
 */
TEST_F(ctl, client_gone_before_its_answer)
{
	char to[64], reply[MIG_JOBCTL_LINE];

	colo_requests_unprotected(&self->r, -ECONNRESET, "lost");
	EXPECT_EQ(-ETIMEDOUT,
		  mig_jobctl_request_wait(self->path, "protect 127.0.0.1:24723\n",
					  reply, sizeof(reply), 100));
	ASSERT_TRUE(take_protect(&self->r, to, sizeof(to)));
	colo_requests_protecting(&self->r, to);
	colo_requests_served(&self->r, 0);
	ASSERT_EQ(0, ask(self->path, "protect 127.0.0.1:24724", reply,
			 sizeof(reply)));
	EXPECT_STREQ("err EISCONN the guest is protected already, by the secondary at 127.0.0.1:24723",
		     reply);
}

TEST_F(ctl, protect_failure_answered_by_name)
{
	struct asker a = { .path = self->path,
			   .req = "protect 127.0.0.1:24725" };
	char to[64];

	ASSERT_TRUE(protect_taken(&self->r, &a, to, sizeof(to)));
	colo_requests_protecting(&self->r, to);
	colo_requests_unprotected(&self->r, -ENODATA,
				  "checkpoint 0: the secondary refused it: No data available");
	pthread_join(a.thread, NULL);
	ASSERT_EQ(0, a.ret);
	EXPECT_STREQ("err ENODATA checkpoint 0: the secondary refused it: No data available",
		     a.reply);
	/* unprotected again: the next one is taken */
	a.req = "protect 127.0.0.1:24723";
	ASSERT_TRUE(protect_taken(&self->r, &a, to, sizeof(to)));
	EXPECT_STREQ("127.0.0.1:24723", to);
	colo_requests_protecting(&self->r, to);
	colo_requests_served(&self->r, 0);
	pthread_join(a.thread, NULL);
	EXPECT_STREQ("ok protected by 127.0.0.1:24723, checkpoint 0 committed",
		     a.reply);
}

TEST_F(ctl, protect_cancelled_when_the_primary_stops)
{
	struct asker a = { .path = self->path,
			   .req = "protect 127.0.0.1:24723" };
	char to[64];

	ASSERT_TRUE(protect_taken(&self->r, &a, to, sizeof(to)));
	colo_requests_stop(&self->r);
	pthread_join(a.thread, NULL);
	ASSERT_EQ(0, a.ret);
	EXPECT_STREQ("err ECANCELED the primary stopped first", a.reply);
}

TEST_F(ctl, unknown_request_named)
{
	char reply[MIG_JOBCTL_LINE];

	ASSERT_EQ(0, ask(self->path, "protectx", reply, sizeof(reply)));
	EXPECT_STREQ("err EINVAL unknown request", reply);
}

TEST_HARNESS_MAIN
