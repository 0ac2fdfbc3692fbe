/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A thread that touches one byte of a slot's mapping, the waiter of the
 * missing-mode selftests (missing.c, missing_waiter.c): a write stores
 * 0x77, a read keeps the byte it found; the thread's tid is recorded for
 * the fault record to name.
 */
#ifndef KMIG_TEST_TOUCHER_H
#define KMIG_TEST_TOUCHER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct toucher {
	pthread_t thread;
	volatile uint8_t *addr;
	bool write;
	uint8_t value;			/* what a read found */
	pid_t tid;
};

/* Start @t touching @addr (asserts the thread started); join t->thread. */
void toucher_start(struct toucher *t, void *addr, bool write);

#endif /* KMIG_TEST_TOUCHER_H */
