/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An observer of kmig-vmm's frames (Documentation/vmm.rst, "Network
 * device") at the far end of up to two interfaces, "sides": a thread
 * records each frame's side, sequence number and receive time.
 *
 * The time is the kernel's receive time stamp (SO_TIMESTAMPNS, which is
 * CLOCK_REALTIME) shifted by the offset between CLOCK_REALTIME and
 * CLOCK_MONOTONIC taken at the start, so that it compares with the
 * agent's CLOCK_MONOTONIC logs; without a stamp, the time recvmsg()
 * returned.
 */
#ifndef KMIG_TEST_NETOBS_H
#define KMIG_TEST_NETOBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define NETOBS_MAX_FRAMES	8192

enum { SIDE_P, SIDE_S, SIDES };

struct netobs_frame {
	int side;
	uint64_t seq;
	int64_t t;			/* received, CLOCK_MONOTONIC ns */
};

struct netobs {
	int fd[SIDES];			/* -1: side not observed */
	int64_t real_to_mono;
	pthread_t thread;
	bool running, stop;
	pthread_mutex_t lock;		/* n and f */
	unsigned int n;
	struct netobs_frame f[NETOBS_MAX_FRAMES];
};

/* Observe interface @p (side P) and @s (side S, or NULL): 0 or -errno. */
int netobs_start(struct netobs *o, const char *p, const char *s);
/* Stop the thread and close the sockets; safe on one never started. */
void netobs_stop(struct netobs *o);
/* Frames seen so far on @side. */
unsigned int netobs_seen(struct netobs *o, int side);
/* Wait up to @ms until @side showed more than @n frames. */
bool netobs_wait_seen(struct netobs *o, int side, unsigned int n, int ms);

#endif /* KMIG_TEST_NETOBS_H */
