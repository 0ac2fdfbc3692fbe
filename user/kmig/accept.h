/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where `kmig incoming` meets the source: the listening socket, and the
 * connections on it that have not said who they are yet.
 *
 * Each connection goes its own way, several at a time:
 *
 *   accepted --step()--> hello read --decode, admit()--> admitted
 *                 \                                  \
 *                  +--> rejected (closed and logged) <--+
 *
 * step() reads the hello without blocking. With TLS (tls.h) a first step
 * comes before: once the connection's first bytes are in, its handshake,
 * bounded by the hello deadline, after which the fd carries plain bytes
 * as before. A connection is rejected
 * when it closes, sends junk, stays silent past its hello deadline, is the
 * oldest of MIG_ACCEPT_PENDING waiting when one more comes, or when the
 * caller's admit() does not want its hello. A hello admit() wants later
 * (a page channel before its main channel) is held, unread past its
 * hello, and offered again on the next call, until its hello deadline. Each rejection is one line on
 * stderr, "kmig incoming: rejected a connection from ADDR:PORT: WHY", and
 * the wait for the source goes on.
 */
#ifndef KMIG_ACCEPT_H
#define KMIG_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hello.h"
#include "mig.h"

#define MIG_ACCEPT_PENDING	16

struct mig_conn {
	int fd;
	char peer[MIG_ADDR_STRLEN];
	const struct kmig_tls_cfg *tls;	/* none: KMIG_TLS_NONE */
	struct kmig_tls_sess *sess;	/* its handshake under way */
	uint64_t deadline_ns;		/* for its handshake, then hello */
	uint64_t hello_ns;		/* the time each of them gets */
	/* Its next step on input: 1 when the hello is in, 0 to wait, or
	 * -errno with why in @why to reject it. */
	int (*step)(struct mig_conn *c, char *why, size_t n);
	size_t got;
	uint8_t hello[KMIG_HELLO_SIZE];
	bool held;			/* hello in, admit() said wait */
};

/*
 * 0 to admit a connection with hello @h; -EAGAIN to hold it, unread, for
 * a later mig_accept() (a page channel that came before its main
 * channel); else -errno and why not.
 */
typedef int (*mig_admit_fn)(void *opaque, const struct kmig_hello *h,
			    char *why, size_t n);

struct mig_acceptor {
	int lfd;
	uint64_t hello_ns;		/* a connection's time for its hello */
	const struct kmig_tls_cfg *tls;
	unsigned int n;
	struct mig_conn conn[MIG_ACCEPT_PENDING];
};

/* Listen on @addr, each connection to pass TLS as @tls says: 0, or
 * -errno with why in @err. */
int mig_accept_listen(struct mig_acceptor *a, const struct mig_addr *addr,
		      const struct kmig_tls_cfg *tls, unsigned int hello_s,
		      char *err, size_t n);
/*
 * The first connection whose hello @admit takes, before @deadline_ns (0:
 * none): its blocking socket, its hello in @h; -ETIMEDOUT, or another
 * -errno when the listening socket fails.
 */
int mig_accept(struct mig_acceptor *a, uint64_t deadline_ns,
	       mig_admit_fn admit, void *opaque, struct kmig_hello *h);
/* Close the listening socket, rejecting the connections still waiting. */
void mig_accept_close(struct mig_acceptor *a);

struct mig_link;
struct mig_recv;

/*
 * The admit() of a main channel (any migration's hello, of a size we
 * take; page channels held; @opaque unused), and the check of a page channel's hello
 * for migration @uuid received by @r: this migration's, a channel still
 * missing. 0, -EAGAIN, or -EPROTO and why.
 */
int mig_admit_main(void *opaque, const struct kmig_hello *h, char *why,
		   size_t n);
int mig_admit_page(const struct mig_recv *r, const uint8_t uuid[16],
		   const struct kmig_hello *h, char *why, size_t n);
/* Channel @chan, admitted on @fd, joins @r and link @l (its TLS in @j). */
void mig_accept_join(const struct mig_opts *o, struct mig_job *j,
		     struct mig_link *l, struct mig_recv *r, int fd,
		     unsigned int chan);

#endif /* KMIG_ACCEPT_H */
