// SPDX-License-Identifier: GPL-2.0
/*
 * The connections of one migration, and its first failure (link.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "link.h"
#include "util.h"

void mig_link_init(struct mig_link *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	kmig_cond_init(&l->cond);
}

void mig_link_destroy(struct mig_link *l)
{
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}

void mig_link_add(struct mig_link *l, int sock)
{
	pthread_mutex_lock(&l->lock);
	if (l->nsock < MIG_LINK_MAX_SOCKS)
		l->sock[l->nsock++] = sock;
	if (l->failed)
		shutdown(sock, SHUT_RDWR);
	pthread_mutex_unlock(&l->lock);
}

void mig_link_shut(struct mig_link *l)
{
	unsigned int i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->nsock; i++)
		shutdown(l->sock[i], !i && l->keep_return_path ? SHUT_WR :
			 SHUT_RDWR);
	pthread_mutex_unlock(&l->lock);
}

static int vfail(struct mig_link *l, bool io, int err, const char *fmt,
		 va_list ap)
{
	bool first;

	if (!err)
		err = -EIO;
	pthread_mutex_lock(&l->lock);
	first = !l->failed;
	if (first) {
		l->failed = true;
		l->io = io;
		l->err = err;
		vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
		pthread_cond_broadcast(&l->cond);
	}
	pthread_mutex_unlock(&l->lock);
	if (!first)
		return err;
	if (l->on_fail)
		l->on_fail(l, err, l->msg);
	mig_link_shut(l);
	return err;
}

int mig_link_fail(struct mig_link *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vfail(l, false, err, fmt, ap);
	va_end(ap);
	return err;
}

int mig_link_io_fail(struct mig_link *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vfail(l, true, err, fmt, ap);
	va_end(ap);
	return err;
}

void mig_link_peer_fail(struct mig_link *l, int err, const char *what,
			const char *text)
{
	pthread_mutex_lock(&l->lock);
	if (!l->peer[0]) {
		snprintf(l->peer, sizeof(l->peer), "%s: %s", what, text);
		l->peer_err = err ? err : -EIO;
	}
	pthread_mutex_unlock(&l->lock);
	mig_link_io_fail(l, err, "%s: %s", what, text);
}

bool mig_link_failed(struct mig_link *l)
{
	bool failed;

	pthread_mutex_lock(&l->lock);
	failed = l->failed;
	pthread_mutex_unlock(&l->lock);
	return failed;
}

bool mig_link_set_unless_failed(struct mig_link *l, bool *flag)
{
	bool set;

	pthread_mutex_lock(&l->lock);
	set = !l->failed;
	if (set)
		*flag = true;
	pthread_mutex_unlock(&l->lock);
	return set;
}

int mig_link_cause(struct mig_link *l, char *buf, size_t n)
{
	bool peer;
	int err;

	pthread_mutex_lock(&l->lock);
	peer = l->failed && l->io && l->peer[0];
	snprintf(buf, n, "%s", peer ? l->peer : l->msg);
	err = !l->failed ? 0 : peer ? l->peer_err : l->err;
	pthread_mutex_unlock(&l->lock);
	return err;
}

void mig_link_post(struct mig_link *l, uint16_t type, uint64_t value,
		   int err)
{
	pthread_mutex_lock(&l->lock);
	/* One message at a time: the last is not lost to the next. */
	while (l->mail && !l->failed)
		pthread_cond_wait(&l->cond, &l->lock);
	l->mail_type = type;
	l->mail_value = value;
	l->mail_err = err;
	l->mail = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

int mig_link_take(struct mig_link *l, unsigned int timeout_ms,
		  uint16_t *type, uint64_t *value)
{
	struct timespec until = kmig_deadline(timeout_ms);
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	while (!l->mail && !l->failed && !ret)
		ret = pthread_cond_timedwait(&l->cond, &l->lock, &until);
	if (l->mail) {
		l->mail = false;
		pthread_cond_broadcast(&l->cond);
		*type = l->mail_type;
		*value = l->mail_value;
		ret = l->mail_err;
	} else {
		ret = l->failed ? -ECANCELED : -EAGAIN;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}
