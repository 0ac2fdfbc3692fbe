// SPDX-License-Identifier: GPL-2.0
/* The KVM log provider played by hand: see logprov.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmig.h"
#include "logprov.h"

static void *call_thread(void *arg)
{
	struct log_call *c = arg;

	if (c->cmd == KMIG_SET_DIRTY_LOGGING) {
		struct kmig_dirty_logging a = {
			.slot = c->slot, .flags = c->flags,
		};

		c->ret = ioctl(c->fd, c->cmd, &a) ? -errno : 0;
	} else {
		c->ret = __kmig_dirty(c->fd, c->cmd, c->slot, c->flags, 0, 0,
				      c->bm);
	}
	return NULL;
}

void log_call_start(struct log_call *c, int fd, unsigned long cmd,
		    uint32_t slot, uint32_t flags)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cmd = cmd;
	c->slot = slot;
	c->flags = flags;
	pthread_create(&c->t, NULL, call_thread, c);
}

int log_call_end(struct log_call *c)
{
	pthread_join(c->t, NULL);
	return c->ret;
}

void log_harvest_start(struct log_call *c, int fd)
{
	log_call_start(c, fd, KMIG_GET_DIRTY_LOG, 0, KMIG_DIRTY_LOG_CLEAR);
}

int log_provider_fd(int fd)
{
	struct kmig_log_provider lp = { 0 };
	int pfd = ioctl(fd, KMIG_LOG_PROVIDER_FD, &lp);

	return pfd < 0 ? -errno : pfd;
}

int log_next_request(int pfd, struct kmig_log_request *rq)
{
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		return -ETIMEDOUT;
	return read(pfd, rq, sizeof(*rq)) == sizeof(*rq) ? 0 : -errno;
}

int log_provide(int pfd, uint64_t seq, int status, uint32_t nslots,
		const uint64_t *bm, uint64_t size)
{
	struct kmig_log_provided a = {
		.seq = seq, .status = status, .nslots = nslots,
		.bitmaps = (uintptr_t)bm, .size = size,
	};

	return ioctl(pfd, KMIG_LOG_PROVIDED, &a) ? -errno : 0;
}

int log_harvest_answered(int fd, int pfd, const uint64_t *kvm_bm,
			 struct log_call *c, unsigned int words)
{
	static const uint64_t none[LOG_CALL_WORDS];
	struct kmig_log_request rq;
	int ret;

	log_harvest_start(c, fd);
	ret = log_next_request(pfd, &rq);
	if (!ret)
		ret = log_provide(pfd, rq.seq, 0, 1, kvm_bm ? kvm_bm : none,
				  words * sizeof(*none));
	return log_call_end(c) ?: ret;
}

int log_start_slot(int fd, int pfd, uint32_t slot)
{
	struct kmig_log_request rq = { 0 };
	struct log_call c;
	int ret, r;

	log_call_start(&c, fd, KMIG_SET_DIRTY_LOGGING, slot,
		       KMIG_DIRTY_LOGGING_ON);
	ret = log_next_request(pfd, &rq);
	if (!ret && (rq.op != KMIG_LOG_START || rq.nslots != 1 ||
		     rq.slots[0] != slot)) {
		fprintf(stderr, "# starting slot %u's log: request op %u for %u slots, the first %u\n",
			slot, rq.op, rq.nslots, rq.slots[0]);
		ret = -EPROTO;
	}
	r = log_provide(pfd, rq.seq, 0, 0, NULL, 0);
	ret = ret ?: r;
	r = log_call_end(&c);
	return ret ?: r;
}

int log_start_logging(int fd)
{
	int pfd = log_provider_fd(fd), ret;

	if (pfd < 0)
		return pfd;
	ret = log_start_slot(fd, pfd, 0);
	if (ret) {
		close(pfd);
		return ret;
	}
	return pfd;
}
