// SPDX-License-Identifier: GPL-2.0
/*
 * The relay, where the kernel has no TLS (tls_sess.h): the caller's fd
 * becomes one end of a socketpair; "up" moves what is written there into
 * the session, "down" moves what the session reads back out. GnuTLS lets
 * one thread send while another receives.
 *
 * Ends, as the caller sees them on its fd:
 *   its shutdown(SHUT_WR)  -> FIN to the peer; its reads go on
 *   its close or SHUT_RDWR -> the TCP socket shut both ways
 *   the peer's FIN         -> end of file on its reads
 *   a TLS or network error -> its reads end and its writes fail (EPIPE)
 * The last thread to end closes the sockets and frees the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tls_sess.h"

#define RELAY_BUF	(64 << 10)

struct relay {
	struct kmig_tls_sess *t;
	int pair;			/* our end; the caller has the other */
	int refs;
};

static void put(struct relay *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close(r->pair);
	close(r->t->fd);
	kmig_tls_sess_free(r->t);
	free(r);
}

static int send_all(gnutls_session_t s, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = gnutls_record_send(s, p, len);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Until the caller closed its end or shut it both ways. */
static void wait_hangup(int fd)
{
	struct pollfd pfd = { .fd = fd };

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
}

static void *up(void *arg)
{
	struct relay *r = arg;
	char *buf = malloc(RELAY_BUF);
	ssize_t n = -1;

	while (buf) {
		n = read(r->pair, buf, RELAY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || send_all(r->t->s, buf, n))
			break;
	}
	if (!n) {
		shutdown(r->t->fd, SHUT_WR);
		wait_hangup(r->pair);
	} else {
		shutdown(r->pair, SHUT_RD);	/* the caller's writes fail */
	}
	shutdown(r->t->fd, SHUT_RDWR);
	free(buf);
	put(r);
	return NULL;
}

static void *down(void *arg)
{
	struct relay *r = arg;
	char *buf = malloc(RELAY_BUF);
	ssize_t n = -1;

	while (buf) {
		n = gnutls_record_recv(r->t->s, buf, RELAY_BUF);
		if (n == GNUTLS_E_AGAIN && r->t->eof)
			n = r->t->hdr_got ? GNUTLS_E_PREMATURE_TERMINATION : 0;
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;
		if (n <= 0 || write_all(r->pair, buf, n))
			break;
	}
	/* A FIN between records (no close_notify) is the end. */
	if (n < 0)
		fprintf(stderr, "kmig: TLS relay: %s\n", gnutls_strerror(n));
	if (n) {
		shutdown(r->t->fd, SHUT_RDWR);
		shutdown(r->pair, SHUT_RDWR);
	} else {
		shutdown(r->pair, SHUT_WR);
	}
	free(buf);
	put(r);
	return NULL;
}

/* The caller's socket timeouts move to its new end; the relay waits. */
static void move_timeouts(int from, int to)
{
	static const int opts[] = { SO_RCVTIMEO, SO_SNDTIMEO };
	struct timeval tv, none = { 0 };
	socklen_t len;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		len = sizeof(tv);
		if (!getsockopt(from, SOL_SOCKET, opts[i], &tv, &len))
			setsockopt(to, SOL_SOCKET, opts[i], &tv, sizeof(tv));
		setsockopt(from, SOL_SOCKET, opts[i], &none, sizeof(none));
	}
}

static int spawn(struct relay *r, void *(*fn)(void *))
{
	pthread_attr_t a;
	pthread_t th;
	int ret;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&th, &a, fn, r);
	pthread_attr_destroy(&a);
	return -ret;
}

int kmig_tls_relay_start(struct kmig_tls_sess *t, char *err, size_t n)
{
	int fd = t->fd, sv[2] = { -1, -1 }, net, ret;
	struct relay *r = calloc(1, sizeof(*r));

	net = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (!r || net < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    dup3(sv[0], fd, O_CLOEXEC) < 0) {
		ret = r ? -errno : -ENOMEM;
		snprintf(err, n, "TLS relay: %s", strerror(-ret));
		goto fail;
	}
	close(sv[0]);
	move_timeouts(net, fd);
	t->fd = net;
	t->relay = true;
	gnutls_record_set_timeout(t->s, 0);
	r->t = t;
	r->pair = sv[1];
	r->refs = 2;
	ret = spawn(r, up);
	if (ret) {
		snprintf(err, n, "TLS relay: %s", strerror(-ret));
		/* fd is the pair's end now: it reads an end of file */
		r->refs = 1;
		put(r);
		return ret;
	}
	ret = spawn(r, down);
	if (ret) {
		/* up ends once the caller sees the error and closes fd */
		snprintf(err, n, "TLS relay: %s", strerror(-ret));
		shutdown(r->pair, SHUT_RDWR);
		put(r);
	}
	return ret;
fail:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (net >= 0)
		close(net);
	free(r);
	kmig_tls_sess_free(t);
	return ret;
}
