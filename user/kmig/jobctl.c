// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket of a running migration (jobctl.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

int mig_jobctl_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!n || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*len = offsetof(struct sockaddr_un, sun_path) + n +
	       (path[0] == '@' ? 0 : 1);
	return 0;
}

int mig_jobctl_request(const char *path, const char *req, char *reply, size_t n)
{
	return mig_jobctl_request_wait(path, req, reply, n, 5000);
}

int mig_jobctl_request_wait(const char *path, const char *req, char *reply,
			    size_t n, int timeout_ms)
{
	struct pollfd p = { .events = POLLIN };
	struct sockaddr_un sa;
	size_t len = 0;
	socklen_t alen;
	ssize_t r;
	int fd, ret = 0;

	if (mig_jobctl_addr(path, &sa, &alen))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	p.fd = fd;
	if (connect(fd, (struct sockaddr *)&sa, alen) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		ret = -errno;
	while (!ret && len + 1 < n) {
		if (poll(&p, 1, timeout_ms) <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		r = read(fd, reply + len, n - 1 - len);
		if (r <= 0)
			break;
		len += r;
	}
	close(fd);
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	return ret ? ret : len ? 0 : -ECONNRESET;
}

/* One request line from @fd, at most 1 s: its length, or -errno. */
static int read_line(int fd, char *line, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t r;

	while (len + 1 < n) {
		if (poll(&p, 1, 1000) <= 0)
			return -ETIMEDOUT;
		r = read(fd, line + len, n - 1 - len);
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		len += r;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	return len;
}

static const char *postcopy_start(struct mig_jobctl *c)
{
	if (!c->postcopy_armed)
		return "err EINVAL this migration was not started with --postcopy-after start\n";
	if (__atomic_exchange_n(&c->postcopy_asked, true, __ATOMIC_ACQ_REL))
		return "err EALREADY postcopy-start came already\n";
	return "ok\n";
}

static const char *cancel(struct mig_jobctl *c)
{
	int phase = MIG_JOBCTL_RUNNING;

	if (__atomic_compare_exchange_n(&c->phase, &phase,
					MIG_JOBCTL_CANCELLED, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (c->on_cancel)
			c->on_cancel(c->arg);
		return "ok\n";
	}
	if (phase == MIG_JOBCTL_CANCELLED)
		return "err EALREADY cancel came already\n";
	return "err EBUSY the switchover began: the guest may run on the destination already\n";
}

static void answer(struct mig_jobctl *c, int fd)
{
	char line[MIG_JOBCTL_LINE], buf[MIG_JOBCTL_LINE];
	const char *reply;

	if (read_line(fd, line, sizeof(line)) < 0)
		return;
	if (c->answer)
		reply = c->answer(c->arg, line, buf, sizeof(buf));
	else if (!strcmp(line, "postcopy-start"))
		reply = postcopy_start(c);
	else if (!strcmp(line, "cancel"))
		reply = cancel(c);
	else
		reply = "err EINVAL unknown request\n";
	/* a client gone meanwhile (interrupted, or its wait timed out)
	 * must not kill the agent: no SIGPIPE */
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
		return;
}

static void *serve(void *arg)
{
	struct mig_jobctl *c = arg;
	struct pollfd p[2] = {
		{ .fd = c->lfd, .events = POLLIN },
		{ .fd = c->stop[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[1].revents)
			return NULL;
		if (!p[0].revents)
			continue;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		answer(c, fd);
		close(fd);
	}
}

int mig_jobctl_start(struct mig_jobctl *c, const char *path, bool armed,
		     char *err, size_t n)
{
	struct sockaddr_un sa;
	socklen_t len;
	int ret;

	c->lfd = c->stop[0] = c->stop[1] = -1;
	c->phase = MIG_JOBCTL_RUNNING;
	c->started = c->postcopy_asked = false;
	c->path[0] = '\0';
	c->postcopy_armed = armed;
	if (mig_jobctl_addr(path, &sa, &len)) {
		snprintf(err, n, "control socket %s: too long for a socket address",
			 path);
		return -EINVAL;
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&sa, len) ||
	    listen(c->lfd, 4)) {
		ret = -errno;
		snprintf(err, n, "control socket %s: %s", path, strerror(-ret));
		mig_jobctl_stop(c);
		return ret;
	}
	if (path[0] != '@')
		snprintf(c->path, sizeof(c->path), "%s", path);
	if (pipe2(c->stop, O_CLOEXEC) ||
	    pthread_create(&c->thread, NULL, serve, c)) {
		snprintf(err, n, "control socket %s: cannot start its thread",
			 path);
		mig_jobctl_stop(c);
		return -EAGAIN;
	}
	c->started = true;
	return 0;
}

bool mig_jobctl_postcopy(struct mig_jobctl *c)
{
	return __atomic_load_n(&c->postcopy_asked, __ATOMIC_ACQUIRE);
}

bool mig_jobctl_cancelled(struct mig_jobctl *c)
{
	return __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE) ==
	       MIG_JOBCTL_CANCELLED;
}

bool mig_jobctl_commit(struct mig_jobctl *c)
{
	int phase = MIG_JOBCTL_RUNNING;

	return __atomic_compare_exchange_n(&c->phase, &phase,
					   MIG_JOBCTL_COMMITTED, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void mig_jobctl_stop(struct mig_jobctl *c)
{
	if (c->started && write(c->stop[1], "", 1) == 1)
		pthread_join(c->thread, NULL);
	c->started = false;
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->path[0])
		unlink(c->path);
	if (c->stop[0] >= 0) {
		close(c->stop[0]);
		close(c->stop[1]);
	}
	c->lfd = c->stop[0] = c->stop[1] = -1;
	c->path[0] = '\0';
}
