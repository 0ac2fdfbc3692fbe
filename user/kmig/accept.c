// SPDX-License-Identifier: GPL-2.0
/*
 * The listening socket of `kmig incoming` and the connections waiting on
 * it for their hello (accept.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "receiver.h"
#include "util.h"

int mig_accept_listen(struct mig_acceptor *a, const struct mig_addr *addr,
		      const struct kmig_tls_cfg *tls, unsigned int hello_s,
		      char *err, size_t n)
{
	char name[MIG_ADDR_STRLEN];
	int one = 1, ret;

	memset(a, 0, sizeof(*a));
	a->hello_ns = hello_s * 1000000000ull;
	a->tls = tls;
	a->lfd = socket(addr->ss.ss_family,
			SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->lfd < 0) {
		ret = -errno;
		snprintf(err, n, "socket: %s", strerror(errno));
		return ret;
	}
	setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->lfd, (const struct sockaddr *)&addr->ss, addr->len) ||
	    listen(a->lfd, 64)) {
		ret = -errno;
		snprintf(err, n, "cannot listen on %s: %s",
			 mig_addr_str(&addr->ss, name), strerror(errno));
		close(a->lfd);
		a->lfd = -1;
		return ret;
	}
	return 0;
}

/* Close @c, saying why; it leaves the set at the next compact(). */
static void reject(struct mig_conn *c, const char *why)
{
	fprintf(stderr, "kmig incoming: rejected a connection from %s: %s\n",
		c->peer, why);
	kmig_tls_accept_abort(&c->sess);
	close(c->fd);
	c->fd = -1;
}

static void compact(struct mig_acceptor *a)
{
	unsigned int i, j = 0;

	for (i = 0; i < a->n; i++)
		if (a->conn[i].fd >= 0)
			a->conn[j++] = a->conn[i];
	a->n = j;
}

/* The step of a connection that has yet to send its hello. */
static int read_hello(struct mig_conn *c, char *why, size_t n)
{
	ssize_t r = recv(c->fd, c->hello + c->got, sizeof(c->hello) - c->got,
			 MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -errno;
	}
	if (!r) {
		snprintf(why, n, "closed before its hello (%zu of %u bytes)",
			 c->got, KMIG_HELLO_SIZE);
		return -ECONNRESET;
	}
	c->got += r;
	return c->got == sizeof(c->hello);
}

/*
 * The first step with TLS, on each input until it is done: the handshake,
 * a step at a time, so that a stalled one waits in the poll loop with the
 * others, to its hello deadline; then the hello.
 */
static int handshake(struct mig_conn *c, char *why, size_t n)
{
	int ret;

	/* TCP's settings before a relay would hide the socket */
	if (!c->sess)
		mig_sock_setup(c->fd, 0);
	ret = kmig_tls_accept(c->fd, c->tls, &c->sess, why, n);
	if (ret == -EAGAIN)
		return 0;
	if (ret < 0)
		return ret;
	/*
	 * The hello gets its own time: a handshake slowed by a loaded host
	 * (seconds, under emulation) must not leave the peer's hello, sent
	 * right after it, a deadline already spent.
	 */
	c->step = read_hello;
	c->deadline_ns = kmig_now_ns() + c->hello_ns;
	return 0;
}

/* Take one more connection, dropping the oldest when too many wait. */
static int take(struct mig_acceptor *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct mig_conn *c;
	int fd;

	fd = accept4(a->lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == ECONNABORTED ||
		       errno == EINTR ? 0 : -errno;
	if (a->n == MIG_ACCEPT_PENDING) {
		reject(&a->conn[0], "dropped: too many connections wait for their hello");
		compact(a);
	}
	c = &a->conn[a->n++];
	*c = (struct mig_conn) {
		.fd = fd, .tls = a->tls,
		.step = a->tls->creds ? handshake : read_hello,
		.deadline_ns = kmig_now_ns() + a->hello_ns,
		.hello_ns = a->hello_ns,
	};
	mig_addr_str(&ss, c->peer);
	return 0;
}

/* Offer @c's hello to @admit: its socket when admitted, else -1. */
static int offer(struct mig_conn *c, mig_admit_fn admit, void *opaque,
		 struct kmig_hello *h)
{
	char why[256];
	int ret;

	ret = kmig_hello_decode(h, c->hello, why, sizeof(why));
	if (!ret)
		ret = admit(opaque, h, why, sizeof(why));
	c->held = ret == -EAGAIN;
	if (c->held)
		return -1;
	if (ret) {
		reject(c, why);
		return -1;
	}
	ret = c->fd;
	c->fd = -1;
	return ret;
}

/* Input on @c: its socket when its hello is in and admitted, else -1. */
static int serve(struct mig_conn *c, mig_admit_fn admit, void *opaque,
		 struct kmig_hello *h)
{
	char why[256];
	int ret;

	ret = c->step(c, why, sizeof(why));
	if (!ret)
		return -1;
	if (ret < 0) {
		reject(c, why);
		return -1;
	}
	return offer(c, admit, opaque, h);
}

/* The first held connection @admit takes now, or -1. */
static int offer_held(struct mig_acceptor *a, mig_admit_fn admit,
		      void *opaque, struct kmig_hello *h)
{
	unsigned int i;
	int fd = -1;

	for (i = 0; i < a->n && fd < 0; i++)
		if (a->conn[i].held)
			fd = offer(&a->conn[i], admit, opaque, h);
	compact(a);
	return fd;
}

/* Reject the connections past their hello deadline; the next deadline
 * of all (0: none). */
static uint64_t drop_late(struct mig_acceptor *a, uint64_t now,
			  uint64_t deadline)
{
	char why[96];
	unsigned int i;

	for (i = 0; i < a->n; i++) {
		if (a->conn[i].deadline_ns <= now) {
			if (a->conn[i].held)
				snprintf(why, sizeof(why),
					 "its main channel did not come within %llu s",
					 (unsigned long long)(a->hello_ns / 1000000000));
			else if (a->conn[i].step == handshake)
				snprintf(why, sizeof(why),
					 "TLS: no handshake within %llu s",
					 (unsigned long long)(a->hello_ns / 1000000000));
			else
				snprintf(why, sizeof(why),
					 "no hello within %llu s (%zu of %u bytes)",
					 (unsigned long long)(a->hello_ns / 1000000000),
					 a->conn[i].got, KMIG_HELLO_SIZE);
			reject(&a->conn[i], why);
		} else if (!deadline || a->conn[i].deadline_ns < deadline) {
			deadline = a->conn[i].deadline_ns;
		}
	}
	compact(a);
	return deadline;
}

int mig_accept(struct mig_acceptor *a, uint64_t deadline_ns,
	       mig_admit_fn admit, void *opaque, struct kmig_hello *h)
{
	struct pollfd pfd[1 + MIG_ACCEPT_PENDING];
	uint64_t now, wake;
	unsigned int i, n;
	int fd, ret;

	fd = offer_held(a, admit, opaque, h);
	if (fd >= 0)
		return fd;
	for (;;) {
		now = kmig_now_ns();
		if (deadline_ns && now >= deadline_ns)
			return -ETIMEDOUT;
		wake = drop_late(a, now, deadline_ns);
		pfd[0] = (struct pollfd) { .fd = a->lfd, .events = POLLIN };
		/* a held connection waits for a later call, not for input */
		for (n = 0; n < a->n; n++)
			pfd[1 + n] = (struct pollfd) {
				.fd = a->conn[n].held ? -1 : a->conn[n].fd,
				.events = POLLIN,
			};
		ret = poll(pfd, 1 + n, wake ? (int)((wake - now) / 1000000) + 1 : -1);
		if (ret < 0 && errno != EINTR)
			return -errno;
		fd = -1;
		for (i = 0; ret > 0 && i < n && fd < 0; i++)
			if (pfd[1 + i].revents)
				fd = serve(&a->conn[i], admit, opaque, h);
		compact(a);
		if (fd >= 0)
			return fd;
		if (ret > 0 && pfd[0].revents) {
			ret = take(a);
			if (ret)
				return ret;
		}
	}
}

void mig_accept_close(struct mig_acceptor *a)
{
	unsigned int i;

	for (i = 0; i < a->n; i++)
		reject(&a->conn[i], "no hello before the migration had all its channels");
	a->n = 0;
	if (a->lfd >= 0)
		close(a->lfd);
	a->lfd = -1;
}

int mig_admit_main(void *opaque, const struct kmig_hello *h, char *why,
		   size_t n)
{
	(void)opaque;
	/* held until its main channel is in: a lost segment may delay it */
	if (h->channel)
		return -EAGAIN;
	if (h->nchannels > 1 + MIG_MAX_CHANNELS) {
		snprintf(why, n, "it wants %u page channels, at most %u",
			 h->nchannels - 1, MIG_MAX_CHANNELS);
		return -EPROTO;
	}
	return 0;
}

int mig_admit_page(const struct mig_recv *r, const uint8_t uuid[16],
		   const struct kmig_hello *h, char *why, size_t n)
{
	if (memcmp(h->uuid, uuid, 16) || h->nchannels != r->nchan) {
		snprintf(why, n, "channel %u of %u of another migration",
			 h->channel, h->nchannels);
		return -EPROTO;
	}
	if (!h->channel || r->ch[h->channel].sock >= 0) {
		snprintf(why, n, "channel %u of %u, which is already connected",
			 h->channel, h->nchannels);
		return -EPROTO;
	}
	return 0;
}

void mig_accept_join(const struct mig_opts *o, struct mig_job *j,
		     struct mig_link *l, struct mig_recv *r, int fd,
		     unsigned int chan)
{
	mig_sock_setup(fd, o->io_timeout_s);
	mig_tls_count(o, j, fd);
	r->ch[chan].sock = fd;
	mig_link_add(l, fd);
}
