// SPDX-License-Identifier: GPL-2.0
/*
 * The return path and the switchover handshake (handshake.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crc32c.h"
#include "handshake.h"
#include "le.h"
#include "util.h"

#define READ_ONCE_U64(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

const char *mig_hs_name(uint16_t type)
{
	static const char *const names[] = {
		[MIG_HS_RESUMED] = "RESUMED", [MIG_HS_FAILED] = "FAILED",
		[MIG_HS_LOADED] = "LOADED", [MIG_HS_GO] = "GO",
		[MIG_HS_PING] = "PING", [MIG_HS_UNSURE] = "UNSURE",
		[MIG_HS_REQUEST] = "REQUEST", [MIG_HS_COMPLETE] = "COMPLETE",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ?
	       names[type] : "unknown";
}

void mig_hs_out_init(struct mig_hs_out *o, int sock, const uint8_t uuid[16])
{
	pthread_mutex_init(&o->lock, NULL);
	o->sock = sock;
	memcpy(o->uuid, uuid, 16);
	o->last_ns = kmig_now_ns();
}

size_t mig_hs_encode(uint8_t b[MIG_HS_MAX_MSG], const uint8_t uuid[16],
		     uint16_t type, uint64_t value, const char *text)
{
	size_t tlen = text ? strnlen(text, MIG_HS_MAX_TEXT) : 0;

	put_le32(b, MIG_HS_MAGIC);
	put_le16(b + 4, type);
	put_le16(b + 6, tlen);
	put_le64(b + 8, value);
	memcpy(b + 16, uuid, 16);
	memcpy(b + MIG_HS_HDR, text ? text : "", tlen);
	put_le32(b + MIG_HS_HDR + tlen, kmig_crc32c(0, b, MIG_HS_HDR + tlen));
	return MIG_HS_HDR + tlen + 4;
}

int mig_hs_send(struct mig_hs_out *o, uint16_t type, uint64_t value,
		const char *text)
{
	uint8_t m[MIG_HS_MAX_MSG];
	size_t len = mig_hs_encode(m, o->uuid, type, value, text);
	int ret;

	pthread_mutex_lock(&o->lock);
	ret = kmig_io_all(o->sock, m, len, true);
	__atomic_store_n(&o->last_ns, kmig_now_ns(), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&o->lock);
	return ret;
}

int mig_hs_send_values(struct mig_hs_out *o, uint16_t type,
		       const uint64_t *values, unsigned int n)
{
	uint8_t m[MIG_HS_MAX_MSG], *buf;
	size_t len = 0, one;
	unsigned int i;
	int ret;

	one = mig_hs_encode(m, o->uuid, type, 0, NULL);
	buf = malloc(one * n + MIG_HS_MAX_MSG);	/* each encode's room */
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		len += mig_hs_encode(buf + len, o->uuid, type, values[i], NULL);
	pthread_mutex_lock(&o->lock);
	ret = kmig_io_all(o->sock, buf, len, true);
	__atomic_store_n(&o->last_ns, kmig_now_ns(), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&o->lock);
	free(buf);
	return ret;
}

int mig_hs_decode_head(const uint8_t b[MIG_HS_HDR], char *err, size_t n)
{
	size_t tlen = get_le16(b + 6);

	if (get_le32(b) != MIG_HS_MAGIC) {
		snprintf(err, n, "not a handshake message (magic 0x%08x)",
			 get_le32(b));
		return -EPROTO;
	}
	if (tlen > MIG_HS_MAX_TEXT) {
		snprintf(err, n, "handshake text of %zu bytes, at most %u",
			 tlen, MIG_HS_MAX_TEXT);
		return -EPROTO;
	}
	return tlen + 4;
}

int mig_hs_decode(const uint8_t *b, size_t len, const uint8_t uuid[16],
		  struct mig_hs_msg *m, char *err, size_t n)
{
	size_t tlen;
	uint32_t crc;
	int more;

	if (len < MIG_HS_HDR) {
		snprintf(err, n, "handshake message of %zu bytes, shorter than its header",
			 len);
		return -EPROTO;
	}
	more = mig_hs_decode_head(b, err, n);
	if (more < 0)
		return more;
	if (len != MIG_HS_HDR + (size_t)more) {
		snprintf(err, n, "handshake message of %zu bytes, its header says %zu",
			 len, MIG_HS_HDR + (size_t)more);
		return -EPROTO;
	}
	tlen = more - 4;
	crc = kmig_crc32c(0, b, MIG_HS_HDR + tlen);
	if (get_le32(b + MIG_HS_HDR + tlen) != crc) {
		snprintf(err, n, "handshake message: CRC mismatch: stored 0x%08x, computed 0x%08x",
			 get_le32(b + MIG_HS_HDR + tlen), crc);
		return -EBADMSG;
	}
	m->type = get_le16(b + 4);
	m->value = get_le64(b + 8);
	if (!m->type || m->type > MIG_HS_TYPE_MAX) {
		snprintf(err, n, "unknown handshake message type %u", m->type);
		return -EPROTO;
	}
	if (memcmp(b + 16, uuid, 16)) {
		snprintf(err, n, "handshake message %s of another migration",
			 mig_hs_name(m->type));
		return -EPROTO;
	}
	memcpy(m->text, b + MIG_HS_HDR, tlen);
	m->text[tlen] = 0;
	return 0;
}

static int recv_error(int ret, char *err, size_t n)
{
	snprintf(err, n, "%s", ret == -ECONNRESET ? "connection closed" :
		 strerror(-ret));
	return ret;
}

int mig_hs_recv(int sock, const uint8_t uuid[16], struct mig_hs_msg *m,
		char *err, size_t n)
{
	uint8_t b[MIG_HS_MAX_MSG];
	int ret, more;

	ret = kmig_io_all(sock, b, MIG_HS_HDR, false);
	if (ret)
		return recv_error(ret, err, n);
	more = mig_hs_decode_head(b, err, n);
	if (more < 0)
		return more;
	ret = kmig_io_all(sock, b + MIG_HS_HDR, more, false);
	if (ret)
		return recv_error(ret, err, n);
	return mig_hs_decode(b, MIG_HS_HDR + more, uuid, m, err, n);
}

/* Wait until @sock has data: 1, 0 after @ms, or -errno. */
static int readable(int sock, int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int ret = poll(&p, 1, ms);

	return ret < 0 ? (errno == EINTR ? 0 : -errno) : ret;
}

static bool reader_waiting(struct mig_hs_reader *r, bool *go_sent)
{
	bool w;

	pthread_mutex_lock(&r->link->lock);
	w = r->waiting;
	*go_sent = r->go_sent;
	pthread_mutex_unlock(&r->link->lock);
	return w;
}

/* The reader's end: a broken return path, posted or failed. */
static void reader_error(struct mig_hs_reader *r, int ret, const char *why)
{
	bool go_sent;

	if (reader_waiting(r, &go_sent))
		mig_link_post(r->link, 0, 0, ret);
	else
		mig_link_io_fail(r->link, ret, "the return path from the destination: %s",
				 why);
}

static void *reader(void *arg)
{
	struct mig_hs_reader *r = arg;
	uint64_t last = kmig_now_ns();
	int (*on_request)(void *opaque, uint64_t value);
	struct mig_hs_msg m;
	char err[256];
	bool go_sent;
	int ret;

	for (;;) {
		ret = readable(r->sock, 200);
		if (ret < 0) {
			reader_error(r, ret, strerror(-ret));
			return NULL;
		}
		if (!ret) {
			if (kmig_now_ns() - last >
			    r->io_timeout_s * 1000000000ull) {
				reader_error(r, -ETIMEDOUT, "silent");
				return NULL;
			}
			continue;
		}
		ret = mig_hs_recv(r->sock, r->uuid, &m, err, sizeof(err));
		if (ret) {
			reader_error(r, ret, err);
			return NULL;
		}
		last = kmig_now_ns();
		switch (m.type) {
		case MIG_HS_PING:
			continue;
		case MIG_HS_FAILED:
			reader_waiting(r, &go_sent);
			mig_link_peer_fail(r->link, -(int)m.value,
					   m.value == EOWNERDEAD ?
					   "the guest is lost at the destination" :
					   go_sent ? "the destination could not resume the guest" :
					   "the destination failed to load the guest",
					   m.text[0] ? m.text : strerror((int)m.value));
			return NULL;
		case MIG_HS_LOADED:
			mig_link_post(r->link, m.type, m.value, 0);
			continue;
		case MIG_HS_REQUEST:
			on_request = __atomic_load_n(&r->on_request,
						     __ATOMIC_ACQUIRE);
			if (!on_request) {
				reader_error(r, -EPROTO,
					     "a page request outside postcopy");
				return NULL;
			}
			if (on_request(r->opaque, m.value))
				return NULL;
			continue;
		case MIG_HS_COMPLETE:
			if (!r->on_request) {
				reader_error(r, -EPROTO,
					     "COMPLETE outside postcopy");
				return NULL;
			}
			mig_link_post(r->link, m.type, m.value, 0);
			return NULL;
		case MIG_HS_RESUMED:
		case MIG_HS_UNSURE:
			snprintf(r->text, sizeof(r->text), "%s", m.text);
			if (m.type == MIG_HS_RESUMED)
				__atomic_store_n(&r->resumed, true,
						 __ATOMIC_RELEASE);
			mig_link_post(r->link, m.type, m.value, 0);
			if (r->on_request && m.type == MIG_HS_RESUMED)
				continue;
			return NULL;
		default:
			reader_error(r, -EPROTO, "GO from the destination");
			return NULL;
		}
	}
}

int mig_hs_reader_start(struct mig_hs_reader *r)
{
	if (pthread_create(&r->thread, NULL, reader, r))
		return -EAGAIN;
	r->started = true;
	return 0;
}

void mig_hs_reader_waiting(struct mig_hs_reader *r)
{
	pthread_mutex_lock(&r->link->lock);
	r->waiting = true;
	pthread_mutex_unlock(&r->link->lock);
}

void mig_hs_reader_go_sent(struct mig_hs_reader *r)
{
	pthread_mutex_lock(&r->link->lock);
	r->go_sent = true;
	pthread_mutex_unlock(&r->link->lock);
}

void mig_hs_reader_stop(struct mig_hs_reader *r, unsigned int ms)
{
	struct timespec until = kmig_deadline(ms);

	if (!r->started)
		return;
	if (pthread_clockjoin_np(r->thread, NULL, CLOCK_MONOTONIC, &until)) {
		shutdown(r->sock, SHUT_RD);
		pthread_join(r->thread, NULL);
	}
	r->started = false;
}

static const char *conn_error(int ret)
{
	return ret == -ECONNRESET ? "connection closed" :
	       ret == -EPROTO ? "not a handshake message" : strerror(-ret);
}

/* The next message of the return path, bounded by its reader. */
static int take(struct mig_link *l, uint16_t *type, uint64_t *value)
{
	int ret;

	do
		ret = mig_link_take(l, 1000, type, value);
	while (ret == -EAGAIN);
	return ret;
}

bool mig_hs_peer_failed(struct mig_link *l)
{
	bool failed;

	pthread_mutex_lock(&l->lock);
	failed = l->peer[0];
	pthread_mutex_unlock(&l->lock);
	return failed;
}

int mig_hs_loaded(struct mig_hs_reader *r)
{
	struct mig_link *l = r->link;
	uint64_t value;
	uint16_t type;
	int ret;

	mig_hs_reader_waiting(r);
	ret = take(l, &type, &value);
	if (ret == -ECANCELED)
		return ret;
	if (ret)
		return mig_link_io_fail(l, ret, "the destination did not load the guest: %s",
					conn_error(ret));
	if (type != MIG_HS_LOADED)
		return mig_link_fail(l, -EPROTO, "handshake message %s from the destination, expected LOADED",
				     mig_hs_name(type));
	return 0;
}

int mig_hs_go(struct mig_hs_reader *r, struct mig_hs_out *o,
	      uint64_t paused_ns, bool *handed_over)
{
	struct mig_link *l = r->link;
	uint64_t value;
	uint16_t type;
	int ret;

	/* From here on the guest may run there. */
	*handed_over = true;
	mig_hs_reader_go_sent(r);
	ret = mig_hs_send(o, MIG_HS_GO, paused_ns / 1000, NULL);
	if (!ret)
		ret = take(l, &type, &value);
	if (ret == -ECANCELED && mig_hs_peer_failed(l)) {
		/* It says the guest does not run there. */
		*handed_over = false;
		return ret;
	}
	if (ret)
		return mig_link_fail(l, ret, "the destination was told to resume the guest and did not confirm (%s); it may run there, so it stays paused here",
				     conn_error(ret));
	if (type == MIG_HS_UNSURE)
		return mig_link_fail(l, -EINPROGRESS, "the destination cannot tell whether the guest runs there (%s); it stays paused here",
				     r->text);
	if (type != MIG_HS_RESUMED)
		return mig_link_fail(l, -EPROTO, "handshake message %s from the destination, expected RESUMED; the guest stays paused here",
				     mig_hs_name(type));
	return 0;
}

int mig_hs_destination(struct mig_hs_out *o, struct mig_link *l,
		       uint64_t *paused_us)
{
	struct mig_hs_msg m;
	char err[256];
	int ret;

	ret = mig_hs_send(o, MIG_HS_LOADED, 0, NULL);
	if (ret)
		return mig_link_fail(l, ret, "cannot tell the source the guest is loaded: %s",
				     strerror(-ret));
	ret = mig_hs_recv(o->sock, o->uuid, &m, err, sizeof(err));
	if (!ret && m.type != MIG_HS_GO) {
		snprintf(err, sizeof(err), "%s, not GO", mig_hs_name(m.type));
		ret = -EPROTO;
	}
	if (ret)
		return mig_link_fail(l, ret, "no go-ahead from the source: %s",
				     err);
	*paused_us = m.value;
	return 0;
}

static void *pinger(void *arg)
{
	struct mig_hs_pinger *p = arg;
	struct timespec until;
	int ret;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		until = kmig_deadline(MIG_PING_NS / 4000000);
		pthread_cond_timedwait(&p->cond, &p->lock, &until);
		if (!p->stop && p->tick) {
			pthread_mutex_unlock(&p->lock);
			p->tick(p->tick_arg);
			pthread_mutex_lock(&p->lock);
		}
		if (p->stop || kmig_now_ns() - READ_ONCE_U64(p->out->last_ns) <
			       MIG_PING_NS)
			continue;
		pthread_mutex_unlock(&p->lock);
		ret = mig_hs_send(p->out, MIG_HS_PING, 0, NULL);
		if (ret)
			mig_link_io_fail(p->link, ret, "the return path to the source: %s",
					 strerror(-ret));
		pthread_mutex_lock(&p->lock);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mig_hs_pinger_start(struct mig_hs_pinger *p, struct mig_hs_out *out,
			struct mig_link *link, void (*tick)(void *arg),
			void *tick_arg)
{
	memset(p, 0, sizeof(*p));
	p->tick = tick;
	p->tick_arg = tick_arg;
	pthread_mutex_lock(&out->lock);
	out->last_ns = kmig_now_ns();
	pthread_mutex_unlock(&out->lock);
	p->out = out;
	p->link = link;
	pthread_mutex_init(&p->lock, NULL);
	kmig_cond_init(&p->cond);
	if (pthread_create(&p->thread, NULL, pinger, p))
		return -EAGAIN;
	p->started = true;
	return 0;
}

void mig_hs_pinger_stop(struct mig_hs_pinger *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->started = false;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}
