// SPDX-License-Identifier: GPL-2.0
/*
 * Access across tenants: netlink shows a context only to a requester in the
 * opener's network namespace with CAP_NET_ADMIN over the opener's user
 * namespace, devices only to the initial namespace's administrator, and a
 * device opens only for CAP_SYS_ADMIN. Each refusal is tried from an
 * unprivileged user (uid 65534, no capabilities) and from a second network
 * namespace, and must come with a clear errno and an extack message.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdev.h"
#include "kmig.h"
#include "kselftest_harness.h"

/* Child exit codes: 0 passed, anything else names the failed step. */
static int nobody(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return -errno;
	return 0;
}

static int run_child(int (*fn)(void *arg), void *arg, bool unpriv,
		     bool netns)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		if (netns && unshare(CLONE_NEWNET))
			_exit(100);
		if (unpriv && nobody())
			_exit(101);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The id of the newest context, from the dump of a privileged caller. */
static uint32_t newest_id(void)
{
	static struct kmig_nl_ctx c[128];
	struct kmig_nl nl;
	uint32_t id = 0;
	int n, i;

	if (kmig_nl_open(&nl))
		return 0;
	if (!kmig_nl_ctx_list(&nl, c, 128, &n))
		for (i = 0; i < n && i < 128; i++)
			if (c[i].owner == (uint32_t)getpid() && c[i].id > id)
				id = c[i].id;
	kmig_nl_close(&nl);
	return id;
}

static bool has_msg(struct kmig_nl *nl)
{
	return nl->err_msg[0] != '\0';
}

/* Unprivileged: every context request is EPERM, with a reason. */
static int ctx_requests_refused(void *arg)
{
	uint32_t id = *(uint32_t *)arg;
	struct kmig_nl_stats st;
	struct kmig_nl_ctx c[4];
	struct kmig_nl nl;
	int n;

	if (kmig_nl_open(&nl))
		return 1;
	if (kmig_nl_ctx_list(&nl, c, 4, &n) != -EPERM || !has_msg(&nl))
		return 2;
	if (kmig_nl_ctx_get(&nl, id, c) != -EPERM || !has_msg(&nl))
		return 3;
	if (kmig_nl_ctx_stats(&nl, id, &st) != -EPERM || !has_msg(&nl))
		return 4;
	if (kmig_nl_ctx_set_page_limit(&nl, id, 1) != -EPERM)
		return 5;
	return 0;
}

TEST(unprivileged_user_cannot_read_or_change_contexts)
{
	struct kmig_nl_ctx c;
	struct kmig_nl nl;
	uint32_t id;
	int fd;

	fd = kmig_open();
	id = newest_id();
	ASSERT_NE(0, id);
	EXPECT_EQ(0, run_child(ctx_requests_refused, &id, true, false));
	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_ctx_get(&nl, id, &c));
	EXPECT_EQ(0, c.page_limit);
	kmig_nl_close(&nl);
	close(fd);
}

/* Another network namespace: the context does not exist there. */
static int ctx_invisible(void *arg)
{
	uint32_t id = *(uint32_t *)arg;
	struct kmig_nl_stats st;
	struct kmig_nl_ctx c[128];
	struct kmig_nl nl;
	int n, i;

	if (kmig_nl_open(&nl))
		return 1;
	if (kmig_nl_ctx_list(&nl, c, 128, &n))
		return 2;
	for (i = 0; i < n && i < 128; i++)
		if (c[i].id == id)
			return 3;
	if (kmig_nl_ctx_get(&nl, id, c) != -ENOENT || !has_msg(&nl))
		return 4;
	if (kmig_nl_ctx_stats(&nl, id, &st) != -ENOENT || !has_msg(&nl))
		return 5;
	if (kmig_nl_ctx_set_page_limit(&nl, id, 1) != -ENOENT ||
	    !has_msg(&nl))
		return 6;
	return 0;
}

TEST(second_netns_neither_sees_nor_changes_contexts)
{
	struct kmig_nl_ctx c;
	struct kmig_nl nl;
	uint32_t id;
	int fd;

	fd = kmig_open();
	id = newest_id();
	ASSERT_NE(0, id);
	EXPECT_EQ(0, run_child(ctx_invisible, &id, false, true));
	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_ctx_get(&nl, id, &c));
	EXPECT_EQ(0, c.page_limit);
	kmig_nl_close(&nl);
	close(fd);
}

/* A context opened in a second namespace is seen there, not here. */
static int own_netns_ctx(void *arg)
{
	int *pfd = arg, fd;
	struct kmig_nl_event ev;
	struct kmig_nl nl, events;
	uint32_t id;

	if (kmig_nl_open(&nl) || kmig_nl_open(&events) ||
	    kmig_nl_events_join(&events))
		return 1;
	fd = kmig_open();
	if (kmig_nl_event_recv(&events, &ev, 2000) || ev.cmd != KMIG_CMD_CTX_NEW)
		return 2;
	id = newest_id();
	if (!id || id != ev.id || ev.owner != (uint32_t)getpid())
		return 3;
	if (write(pfd[1], &id, sizeof(id)) != sizeof(id))
		return 4;
	/* Hold the context until the parent has looked. */
	if (read(pfd[0], &id, 1) != 0)
		return 5;
	close(fd);
	return 0;
}

TEST(context_is_scoped_to_the_openers_netns)
{
	struct kmig_nl_event ev;
	struct kmig_nl_ctx c;
	struct kmig_nl nl, events;
	int to_child[2], from_child[2], status;
	uint32_t id = 0;
	pid_t pid;

	ASSERT_EQ(0, kmig_nl_open(&events));
	ASSERT_EQ(0, kmig_nl_events_join(&events));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(from_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fds[2] = { to_child[0], from_child[1] };

		close(to_child[1]);
		close(from_child[0]);
		if (unshare(CLONE_NEWNET))
			_exit(100);
		_exit(own_netns_ctx(fds));
	}
	close(to_child[0]);
	close(from_child[1]);
	EXPECT_EQ(sizeof(id), read(from_child[0], &id, sizeof(id)));
	ASSERT_EQ(0, kmig_nl_open(&nl));
	EXPECT_EQ(-ENOENT, kmig_nl_ctx_get(&nl, id, &c));
	kmig_nl_close(&nl);
	/* Nor is its creation announced here. */
	while (!kmig_nl_event_recv(&events, &ev, 200))
		EXPECT_NE(id, ev.id);
	kmig_nl_close(&events);
	close(to_child[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(from_child[0]);
}

static int events_refused(void *arg)
{
	struct kmig_nl nl;

	(void)arg;
	if (kmig_nl_open(&nl))
		return 1;
	return kmig_nl_events_join(&nl) == -EPERM ? 0 : 2;
}

TEST(unprivileged_user_cannot_join_events)
{
	EXPECT_EQ(0, run_child(events_refused, NULL, true, false));
}

static int count_devices(size_t *n)
{
	struct kmig_dev_info devs[4];
	struct kmig_nl nl;
	int ret;

	ret = kmig_nl_open(&nl);
	if (ret)
		return ret;
	ret = kmig_nl_dev_list(&nl, devs, 4, n);
	kmig_nl_close(&nl);
	return ret;
}

static int devices_refused(void *arg)
{
	struct kmig_dev_info dev;
	struct kmig_dev_info devs[4];
	struct kmig_nl nl;
	size_t n;

	(void)arg;
	if (kmig_nl_open(&nl))
		return 1;
	if (kmig_nl_dev_list(&nl, devs, 4, &n) != -EPERM || !has_msg(&nl))
		return 2;
	if (kmig_nl_dev_get(&nl, SAMPLE_NAME, 1, &dev) != -EPERM ||
	    !has_msg(&nl))
		return 3;
	return 0;
}

static int devices_invisible(void *arg)
{
	struct kmig_dev_info dev;
	struct kmig_nl nl;
	size_t n = 1;

	(void)arg;
	if (count_devices(&n) || n)
		return 1;
	if (kmig_nl_open(&nl))
		return 2;
	if (kmig_nl_dev_get(&nl, SAMPLE_NAME, 1, &dev) != -ENOENT ||
	    !has_msg(&nl))
		return 3;
	return 0;
}

/* An fd of /dev/kmig alone does not open a device. */
static int device_open_refused(void *arg)
{
	struct kmig_device_open o = { .name = SAMPLE_NAME, .instance = 1 };
	int kfd = *(int *)arg;

	if (ioctl(kfd, KMIG_DEVICE_OPEN, &o) >= 0)
		return 1;
	return errno == EPERM ? 0 : 2;
}

FIXTURE(dev) {
	int kfd;
};

FIXTURE_SETUP(dev)
{
	self->kfd = -1;
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	ASSERT_EQ(0, sample_load());
	ASSERT_EQ(0, sample_create(1));
	self->kfd = kmig_open();
}

FIXTURE_TEARDOWN(dev)
{
	int ret;

	if (self->kfd >= 0)
		close(self->kfd);
	if (!getenv("KMIG_KO"))
		return;
	sample_destroy(1);
	ret = sample_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
}

TEST_F(dev, unprivileged_user_cannot_list_devices)
{
	size_t n;

	ASSERT_EQ(0, count_devices(&n));
	EXPECT_LE(1, n);
	EXPECT_EQ(0, run_child(devices_refused, NULL, true, false));
}

TEST_F(dev, second_netns_sees_no_devices)
{
	EXPECT_EQ(0, run_child(devices_invisible, NULL, false, true));
}

TEST_F(dev, guest_memory_fd_alone_cannot_open_or_squat_a_device)
{
	struct kmig_dev_info info;
	struct kmig_nl nl;
	int fd;

	EXPECT_EQ(0, run_child(device_open_refused, &self->kfd, true, false));
	/* Nobody squats: the privileged agent still opens it. */
	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_dev_get(&nl, SAMPLE_NAME, 1, &info));
	EXPECT_EQ(0, info.open);
	kmig_nl_close(&nl);
	fd = kdev_open(SAMPLE_NAME, 1, NULL);
	ASSERT_LE(0, fd);
	close(fd);
}

TEST_HARNESS_MAIN
