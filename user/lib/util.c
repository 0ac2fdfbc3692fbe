// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers every part of kmig shares (util.h).
 */
#include <errno.h>
#include <sys/socket.h>

#include "util.h"

uint64_t kmig_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct timespec kmig_deadline(uint64_t ms)
{
	uint64_t ns = kmig_now_ns() + ms * 1000000ull;

	return (struct timespec) {
		.tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull,
	};
}

int kmig_io_all(int fd, void *buf, size_t len, bool out)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (!n)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}
