/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket of a running `kmig migrate --ctl SOCK` (jobctl.c);
 * its clients are `kmig postcopy-start` (postcopy_start.c) and kmigd.
 * `kmig colo secondary --control SOCK` and `kmig colo failover`, `kmig
 * colo primary --control SOCK` and `kmig colo checkpoint` speak the same
 * way (colo.h has their requests).
 *
 * A Unix stream socket at SOCK (a path, or @name in the abstract
 * namespace). Each connection carries one request line and gets one
 * reply line, then closes:
 *
 *   postcopy-start   switch to postcopy at the end of the current round
 *                    (the job was started with --postcopy-after start):
 *                    "ok", or "err ENAME why"
 *   cancel           stop before the switchover; the guest keeps running
 *                    here: "ok", or "err EBUSY ..." once the switchover
 *                    (or postcopy) began, "err EALREADY ..." the second time
 */
#ifndef KMIG_JOBCTL_H
#define KMIG_JOBCTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MIG_JOBCTL_LINE	128

/* Where the migration is, for cancel: it can until the switchover. */
enum { MIG_JOBCTL_RUNNING, MIG_JOBCTL_CANCELLED, MIG_JOBCTL_COMMITTED };

struct mig_jobctl {
	int lfd, stop[2];
	int phase;			/* atomic: MIG_JOBCTL_* */
	pthread_t thread;
	bool started;
	bool postcopy_armed;		/* --postcopy-after start */
	bool postcopy_asked;		/* atomic: postcopy-start came */
	/* set before mig_jobctl_start(): called from its thread once cancel
	 * came, to stop what is under way (the round being sent) */
	void (*on_cancel)(void *arg);
	void *arg;
	/*
	 * Set before mig_jobctl_start() to answer other requests than a
	 * migration's (COLO's), from its thread: @line without its newline;
	 * the reply line, newline included, returned (a constant, or
	 * written into @buf of @n bytes).
	 */
	const char *(*answer)(void *arg, const char *line, char *buf,
			      size_t n);
	char path[108];			/* to unlink, when a path */
};

/* @path's address: 0, or -EINVAL when it does not fit. */
int mig_jobctl_addr(const char *path, struct sockaddr_un *sa,
		    socklen_t *len);
/*
 * Request line @req (its newline included) to the socket at @path, its
 * reply line, without the newline, into @reply: 0, -EINVAL when @path
 * is no socket address, -ECONNRESET when no reply came, or another
 * -errno (-ETIMEDOUT: none within 5 s).
 */
int mig_jobctl_request(const char *path, const char *req, char *reply,
		       size_t n);
/* The same, the reply awaited up to @timeout_ms. */
int mig_jobctl_request_wait(const char *path, const char *req, char *reply,
			    size_t n, int timeout_ms);
/* Listen at @path and answer from a thread: 0, or -errno with why. */
int mig_jobctl_start(struct mig_jobctl *c, const char *path, bool armed,
		     char *err, size_t n);
/* Whether postcopy-start came. */
bool mig_jobctl_postcopy(struct mig_jobctl *c);
/* Whether cancel came. */
bool mig_jobctl_cancelled(struct mig_jobctl *c);
/*
 * Before the switchover or postcopy: true, and from now on cancel is
 * refused; false when cancel came first. (Without --ctl: always true.)
 */
bool mig_jobctl_commit(struct mig_jobctl *c);
void mig_jobctl_stop(struct mig_jobctl *c);

#endif /* KMIG_JOBCTL_H */
