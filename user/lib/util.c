// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers every part of kmig shares (util.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

int kmig_errf(char *err, size_t n, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return ret;
}

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

void kmig_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
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

bool kmig_page_is_zero(const void *p)
{
	const uint64_t *w = p;
	unsigned int i;

	for (i = 0; i < 4096 / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

void kmig_stop_at(const char *point)
{
	static bool stopped;
	const char *at = getenv("KMIG_STOP_AT");

	if (!stopped && at && !strcmp(at, point)) {
		stopped = true;
		raise(SIGSTOP);
	}
}

void kmig_delay_at(const char *point)
{
	static bool delayed;
	const char *at = getenv("KMIG_DELAY_AT");
	size_t n = strlen(point);
	unsigned long ms;
	struct timespec ts;
	char *end;

	if (delayed || !at || strncmp(at, point, n) || at[n] != ':')
		return;
	ms = strtoul(at + n + 1, &end, 10);
	if (*end || ms > 600000)
		return;
	delayed = true;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}
