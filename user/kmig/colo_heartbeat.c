// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's heartbeat (Documentation/colo.rst, "Failure"): UDP datagrams
 * both ways between the two ends of the checkpoint connection, sent
 * every --heartbeat MS by a thread of their own. A checkpoint that takes
 * long, a commit on the secondary, or a send blocked behind a full
 * socket never delays a beat, so the peer can be declared lost after a
 * silence much shorter than the checkpoint connection's --timeout.
 *
 * The secondary binds the UDP port of the address the primary reached it
 * at (the TCP connection's local address), takes beats only from the
 * primary's host, and connects to the first one's sender; the primary
 * connects to the secondary's --to address. Until the first beat is
 * heard nothing is declared lost: a peer whose beats never arrive (a
 * filtered port) leaves only the checkpoint connection's silence.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "colo.h"
#include "le.h"
#include "mig.h"
#include "util.h"

#define MS	1000000ull

void colo_hb_encode(uint64_t beat, uint64_t seq, uint8_t b[COLO_HB_SIZE])
{
	memset(b, 0, COLO_HB_SIZE);
	put_le32(b, COLO_HB_MAGIC);
	put_le32(b + 4, COLO_VERSION);
	put_le64(b + 8, beat);
	put_le64(b + 16, seq);
}

int colo_hb_decode(const uint8_t *b, size_t len, uint64_t *beat,
		   uint64_t *seq)
{
	if (len != COLO_HB_SIZE || get_le32(b) != COLO_HB_MAGIC ||
	    get_le32(b + 4) != COLO_VERSION)
		return -EPROTO;
	*beat = get_le64(b + 8);
	*seq = get_le64(b + 16);
	return 0;
}

/* The same host: the address, whatever the port. */
static bool same_host(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					  sizeof(struct sockaddr_in);
}

/*
 * Every beat waiting on the socket. The secondary's first from the
 * primary's host fixes its peer (connect: from then on the kernel drops
 * the others, and replies go there).
 */
static void hear(struct colo_hb *hb)
{
	struct sockaddr_storage from;
	char name[MIG_ADDR_STRLEN];
	uint8_t b[COLO_HB_SIZE + 1];
	uint64_t beat, seq;
	socklen_t flen;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(hb->fd, b, sizeof(b), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;	/* drained, or an ICMP error: not a beat */
		if (colo_hb_decode(b, n, &beat, &seq))
			continue;
		if (!hb->peer_known) {
			if (!same_host(&from, &hb->peer) ||
			    connect(hb->fd, (struct sockaddr *)&from, flen))
				continue;
			hb->peer_known = true;
		}
		if (!__atomic_load_n(&hb->heard_ns, __ATOMIC_RELAXED))
			fprintf(stderr, "kmig %s: heartbeat heard from %s; lost after %u ms of silence\n",
				hb->cmd, mig_addr_str(&from, name),
				hb->timeout_ms);
		__atomic_store_n(&hb->heard_ns, kmig_now_ns(),
				 __ATOMIC_RELEASE);
		__atomic_store_n(&hb->peer_seq, seq, __ATOMIC_RELAXED);
	}
}

static void *beat_thread(void *arg)
{
	struct colo_hb *hb = arg;
	uint64_t beat = 0, next = kmig_now_ns(), now, heard, seq;
	struct pollfd pfd[2] = {
		{ .fd = hb->fd, .events = POLLIN },
		{ .fd = hb->efd, .events = POLLIN },
	};
	uint8_t b[COLO_HB_SIZE];

	for (;;) {
		now = kmig_now_ns();
		if (now >= next) {
			seq = __atomic_load_n(&hb->seq, __ATOMIC_RELAXED);
			colo_hb_encode(beat++, seq, b);
			/* unreachable for now: the next beat tries again */
			if (hb->peer_known)
				send(hb->fd, b, sizeof(b), MSG_DONTWAIT);
			next = now + hb->interval_ms * MS;
		}
		heard = __atomic_load_n(&hb->heard_ns, __ATOMIC_ACQUIRE);
		if (heard && now - heard > hb->timeout_ms * MS) {
			__atomic_store_n(&hb->lost, true, __ATOMIC_RELEASE);
			hb->on_lost(hb->arg);
			return NULL;
		}
		if (poll(pfd, 2, (next - now) / MS + 1) < 0 && errno != EINTR)
			return NULL;
		if (pfd[1].revents)
			return NULL;	/* colo_hb_stop() */
		if (pfd[0].revents)
			hear(hb);
	}
}

/*
 * The socket: the primary's connected to @addr; the secondary's bound
 * to @addr, taking the first beat of @peer's host.
 */
static int hb_socket(struct colo_hb *hb, const struct sockaddr_storage *addr,
		     const struct sockaddr_storage *peer, char *err, size_t n)
{
	char name[MIG_ADDR_STRLEN];

	hb->fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (hb->fd < 0)
		return mig_fail(err, n, -errno, "heartbeat socket: %s",
				strerror(errno));
	if (!peer) {
		if (connect(hb->fd, (const struct sockaddr *)addr,
			    addr_len(addr)))
			return mig_fail(err, n, -errno, "heartbeat: cannot connect: %s",
					strerror(errno));
		hb->peer_known = true;
		return 0;
	}
	/* no SO_REUSEADDR: a second socket on the port would take beats */
	if (bind(hb->fd, (const struct sockaddr *)addr, addr_len(addr)))
		return mig_fail(err, n, -errno, "heartbeat: cannot bind UDP %s: %s",
				mig_addr_str(addr, name), strerror(errno));
	hb->peer = *peer;
	return 0;
}

int colo_hb_start(struct colo_hb *hb, const char *cmd,
		  const struct sockaddr_storage *addr,
		  const struct sockaddr_storage *peer,
		  void (*on_lost)(void *arg), void *arg, char *err, size_t n)
{
	int ret;

	hb->fd = hb->efd = -1;
	if (!hb->interval_ms)
		return 0;	/* --heartbeat 0 */
	hb->cmd = cmd;
	hb->on_lost = on_lost;
	hb->arg = arg;
	ret = hb_socket(hb, addr, peer, err, n);
	if (ret)
		return ret;
	hb->efd = eventfd(0, EFD_CLOEXEC);
	if (hb->efd < 0)
		return mig_fail(err, n, -errno, "eventfd: %s", strerror(errno));
	ret = -pthread_create(&hb->thread, NULL, beat_thread, hb);
	if (ret)
		return mig_fail(err, n, ret, "cannot start the heartbeat: %s",
				strerror(-ret));
	hb->started = true;
	return 0;
}

void colo_hb_set_seq(struct colo_hb *hb, uint64_t seq)
{
	__atomic_store_n(&hb->seq, seq, __ATOMIC_RELAXED);
}

bool colo_hb_lost(const struct colo_hb *hb)
{
	return __atomic_load_n(&hb->lost, __ATOMIC_ACQUIRE);
}

void colo_hb_stop(struct colo_hb *hb)
{
	uint64_t one = 1;

	if (hb->started) {
		if (write(hb->efd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(hb->thread);
		pthread_join(hb->thread, NULL);
		hb->started = false;
	}
	if (hb->efd >= 0)
		close(hb->efd);
	if (hb->fd >= 0)
		close(hb->fd);
	hb->fd = hb->efd = -1;
}

int colo_parse_heartbeat(struct mig_opts *o, int c, struct colo_hb *hb)
{
	uint64_t v;

	if (c != COLO_OPT_HEARTBEAT && c != COLO_OPT_HEARTBEAT_TIMEOUT)
		return MIG_OPT_SHARED;
	if (c == COLO_OPT_HEARTBEAT) {
		if (mig_parse_u64(o->cmd, "--heartbeat", optarg, 0, 10000, &v))
			return -EINVAL;
		hb->interval_ms = v;
		return 0;
	}
	if (mig_parse_u64(o->cmd, "--heartbeat-timeout", optarg, 10, 3600000,
			  &v))
		return -EINVAL;
	hb->timeout_ms = v;
	return 0;
}

int colo_check_heartbeat(const struct mig_opts *o, const struct colo_hb *hb)
{
	if (hb->interval_ms && hb->timeout_ms < 2 * hb->interval_ms)
		return mig_usage_error(o->cmd, "--heartbeat-timeout %u ms is under two beats of --heartbeat %u ms",
				       hb->timeout_ms, hb->interval_ms);
	return 0;
}
