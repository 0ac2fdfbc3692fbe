// SPDX-License-Identifier: GPL-2.0
/*
 * The observer of kmig-vmm's frames (netobs.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netobs.h"
#include "guest/abi.h"

#define NSEC	1000000000ll

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int observe_on(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(GUEST_NET_ETHERTYPE),
		.sll_ifindex = if_nametoindex(ifname),
	};
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
		    htons(GUEST_NET_ETHERTYPE));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static uint64_t le64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* One frame from @side's socket into the record. */
static void take(struct netobs *o, int side)
{
	uint8_t buf[2048], cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	int64_t t = clock_ns(CLOCK_MONOTONIC);
	struct cmsghdr *c;
	struct timespec ts;
	ssize_t n;

	n = recvmsg(o->fd[side], &msg, MSG_DONTWAIT);
	if (n < 14 + (ssize_t)GUEST_NET_PAYLOAD ||
	    (uint32_t)le64(buf + 14) != GUEST_NET_MAGIC)
		return;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		t = ts.tv_sec * NSEC + ts.tv_nsec + o->real_to_mono;
	}
	pthread_mutex_lock(&o->lock);
	if (o->n < NETOBS_MAX_FRAMES)
		o->f[o->n++] = (struct netobs_frame){
			.side = side, .seq = le64(buf + 22), .t = t,
		};
	pthread_mutex_unlock(&o->lock);
}

static void *observe(void *arg)
{
	struct netobs *o = arg;
	struct pollfd p[SIDES];
	int i;

	for (i = 0; i < SIDES; i++)
		p[i] = (struct pollfd){ .fd = o->fd[i], .events = POLLIN };
	while (!__atomic_load_n(&o->stop, __ATOMIC_RELAXED)) {
		if (poll(p, SIDES, 50) <= 0)
			continue;
		for (i = 0; i < SIDES; i++)
			if (p[i].revents & POLLIN)
				take(o, i);
	}
	return NULL;
}

unsigned int netobs_seen(struct netobs *o, int side)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++)
		n += o->f[i].side == side;
	pthread_mutex_unlock(&o->lock);
	return n;
}

void netobs_stop(struct netobs *o)
{
	int i;

	if (o->running) {
		__atomic_store_n(&o->stop, true, __ATOMIC_RELAXED);
		pthread_join(o->thread, NULL);
		o->running = false;
	}
	for (i = 0; i < SIDES; i++)
		if (o->fd[i] >= 0)
			close(o->fd[i]);
	o->fd[SIDE_P] = o->fd[SIDE_S] = -1;
}

bool netobs_wait_seen(struct netobs *o, int side, unsigned int n, int ms)
{
	int i;

	for (i = 0; i < ms / 50; i++) {
		if (netobs_seen(o, side) > n)
			return true;
		usleep(50 * 1000);
	}
	return false;
}


/*
 * CLOCK_MONOTONIC - CLOCK_REALTIME. One reading of each is off by
 * whatever ran between the two (under the bed's emulation, tens of
 * microseconds were seen): take the monotonic reading bracketed by the
 * two closest realtime readings of 64 tries, off by half their gap.
 */
static int64_t real_to_mono(void)
{
	int64_t r1, m, r2, gap = INT64_MAX, off = 0;
	int i;

	for (i = 0; i < 64; i++) {
		r1 = clock_ns(CLOCK_REALTIME);
		m = clock_ns(CLOCK_MONOTONIC);
		r2 = clock_ns(CLOCK_REALTIME);
		if (r2 - r1 < gap) {
			gap = r2 - r1;
			off = m - (r1 + gap / 2);
		}
	}
	return off;
}

int netobs_start(struct netobs *o, const char *p, const char *s)
{
	int ret;

	memset(o, 0, sizeof(*o));
	o->fd[SIDE_P] = o->fd[SIDE_S] = -1;
	pthread_mutex_init(&o->lock, NULL);
	o->fd[SIDE_P] = observe_on(p);
	if (o->fd[SIDE_P] < 0)
		return o->fd[SIDE_P];
	if (s) {
		o->fd[SIDE_S] = observe_on(s);
		if (o->fd[SIDE_S] < 0)
			return o->fd[SIDE_S];
	}
	o->real_to_mono = real_to_mono();
	/* poll() skips a side whose fd is -1 */
	ret = pthread_create(&o->thread, NULL, observe, o);
	if (ret)
		return -ret;
	o->running = true;
	return 0;
}
