/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The processes of a selftest: agents, VMMs and proxies started from the
 * build tree, waited for with a bound, and stopped.
 *
 * __x() returns the raw result (-errno) for a test that expects failure;
 * x() asserts success with the harness (it takes _metadata).
 */
#ifndef KMIG_TEST_PROC_H
#define KMIG_TEST_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"

/* $KMIG_PROJECT/build/@rel (static: four at a time stay valid). */
const char *proc_bin(const char *rel);

/*
 * Start @argv (NULL-terminated) in network namespace @ns (NULL: this
 * one), stdout and stderr in @log. The child dies with the test.
 */
pid_t proc_spawn(const char *ns, const char *log, const char *const argv[]);
/* Exit status of @pid (128 + signal when killed), waiting at most
 * @timeout_ms; -ETIMEDOUT while it still runs (it keeps running). */
int proc_wait_exit(pid_t pid, int timeout_ms);
/* Where each thread of @pid waits (/proc wchan), for a hang's log
 * (static: valid until the next call). */
const char *proc_where(pid_t pid);
/* SIGKILL and reap *@pid, if it runs; *@pid becomes 0. */
void proc_stop(pid_t *pid);

/* The first 16 KiB of @path, or "" (static: valid until the next call). */
const char *file_text(const char *path);
bool file_has(const char *path, const char *needle);

/* A kmig-vmm, its control socket in @sock. */
struct vmm_proc {
	pid_t pid;
	char sock[96];
};

/*
 * Start kmig-vmm with @args (NULL-terminated) on the socket @sock, its
 * output in @log, and wait until it answers: 0 or -errno.
 */
int __vmm_start(struct vmm_proc *v, const char *sock, const char *log,
		const char *const args[]);
void vmm_stop(struct vmm_proc *v);
/* Its status through a short connection (a VMM serves one client). */
int vmm_status_of(const char *sock, struct vmm_status *st);
/* Wait up to @ms until it runs with its counter above @above. */
int __vmm_wait_counter(const char *sock, uint64_t above, int ms,
		       struct vmm_status *st);

#define vmm_start(v, sock, log, ...) ({					\
	const char *const __a[] = { __VA_ARGS__, NULL };		\
	int __r = __vmm_start(v, sock, log, __a);			\
	ASSERT_EQ(0, __r) TH_LOG("kmig-vmm on %s: %s", sock, strerror(-__r)); \
})

#endif /* KMIG_TEST_PROC_H */
