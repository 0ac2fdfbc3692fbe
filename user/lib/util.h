/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers every part of kmig shares, each written once.
 */
#ifndef KMIG_UTIL_H
#define KMIG_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* @ret, with the message @fmt written into @err (@n bytes). */
int kmig_errf(char *err, size_t n, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* CLOCK_MONOTONIC in ns: every duration and timeout is taken on it. */
uint64_t kmig_now_ns(void);
/* @ms from now on CLOCK_MONOTONIC, for timed waits on that clock. */
struct timespec kmig_deadline(uint64_t ms);
/* A condition variable whose timed waits take kmig_deadline()s. */
void kmig_cond_init(pthread_cond_t *c);
/*
 * All of @len bytes to (@out) or from socket @fd: 0, -ECONNRESET when the
 * peer closed, -ETIMEDOUT when the socket's timeout expired, or -errno.
 */
int kmig_io_all(int fd, void *buf, size_t len, bool out);
/* Whether the 4 KiB page at @p (8-byte aligned) holds only zeros. */
bool kmig_page_is_zero(const void *p);
/* 64-bit words of a bitmap of @bits bits. */
static inline uint64_t kmig_bitmap_words(uint64_t bits)
{
	return (bits + 63) / 64;
}

/*
 * For the fault matrix's tests (Documentation/testing.rst): when
 * $KMIG_STOP_AT names @point, stop this process there (SIGSTOP) until
 * the test has broken something and sends SIGCONT or SIGKILL; once: a
 * point passed again (each batch of one checkpoint) goes on.
 */
void kmig_stop_at(const char *point);

/*
 * For the tests of races: when $KMIG_DELAY_AT is "@point:MS", the calling
 * thread sleeps MS milliseconds there while the others go on; once, as
 * kmig_stop_at() stops once.
 */
void kmig_delay_at(const char *point);

#endif /* KMIG_UTIL_H */
