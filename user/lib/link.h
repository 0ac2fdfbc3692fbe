/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The connections of one migration, and its first failure.
 *
 * Whatever fails first, on any channel or in any step, is the cause:
 * mig_link_fail() keeps its message, runs the side's on_fail hook (the
 * destination tells the source on the return path) and shuts every
 * socket at once, so that no thread keeps waiting on a channel of a
 * migration that is over. Later failures follow from the first and are
 * dropped.
 *
 * An I/O error on a channel (mig_link_io_fail()) is often only the effect
 * of a failure on the other host: when the peer's own message arrives on
 * the return path (mig_link_peer_fail()), it is the cause instead.
 *
 * The link also carries the source's mailbox of return-path messages
 * (handshake.c): every wait on it is bounded and ends on a failure.
 */
#ifndef KMIG_LINK_H
#define KMIG_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_LINK_MAX_SOCKS	17	/* main + MIG_MAX_CHANNELS */
/* A channel silent this long says PING (each side where the other waits). */
#define MIG_PING_NS		1000000000ull

struct mig_link {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC; failure, mailbox */
	int sock[MIG_LINK_MAX_SOCKS];
	unsigned int nsock;
	/* source: on failure the main socket stays open for reading */
	bool keep_return_path;
	bool failed, io;
	int err, peer_err;
	char msg[512];
	char peer[512];			/* the peer's own message */
	/* Called once, on the first failure, before the sockets shut. */
	void (*on_fail)(struct mig_link *l, int err, const char *msg);
	void *opaque;
	/* mailbox: the last return-path message, or its reader's error */
	uint16_t mail_type;
	uint64_t mail_value;
	int mail_err;
	bool mail;
};

void mig_link_init(struct mig_link *l);
void mig_link_destroy(struct mig_link *l);
/* A socket to shut on failure. */
void mig_link_add(struct mig_link *l, int sock);

/* The first failure's @err (or -EIO when 0) and message stick; returns
 * @err as given (-EIO for 0). */
int mig_link_fail(struct mig_link *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same for an I/O error on a channel: the peer may know better. */
int mig_link_io_fail(struct mig_link *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The peer said it failed, with @err and @text: the cause (prefixed by
 * @what) unless a local failure that is not I/O came first. */
void mig_link_peer_fail(struct mig_link *l, int err, const char *what,
			const char *text);
bool mig_link_failed(struct mig_link *l);
/*
 * Sets *@flag unless the link failed already, under its lock, so that a
 * failure's on_fail sees it set or it stays unset: true if set.
 */
bool mig_link_set_unless_failed(struct mig_link *l, bool *flag);
/* The cause: 0 when nothing failed, else -errno with its message. */
int mig_link_cause(struct mig_link *l, char *buf, size_t n);

/* Shut every socket (the main one only for writing with
 * keep_return_path). */
void mig_link_shut(struct mig_link *l);

/* Post a return-path message, or the reader's error (@err < 0), once the
 * previous one was taken (or the link failed). */
void mig_link_post(struct mig_link *l, uint16_t type, uint64_t value,
		   int err);
/*
 * Take the next posted message: 0 with it, the reader's error, -ECANCELED
 * once the link failed, or -EAGAIN when none came within @timeout_ms.
 */
int mig_link_take(struct mig_link *l, unsigned int timeout_ms,
		  uint16_t *type, uint64_t *value);

#endif /* KMIG_LINK_H */
