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

/* Generous: under TCG with nested SVM a VM is slow to start and to run. */
#define PROC_WAIT_MS	40000

/*
 * @rel in the build tree: $KMIG_PROJECT/build, else the one holding this
 * test (static: four at a time stay valid).
 */
const char *proc_bin(const char *rel);

/*
 * Start @argv (NULL-terminated) in network namespace @ns (NULL: this
 * one), stdout and stderr in @log. The child dies with the test.
 */
pid_t proc_spawn(const char *ns, const char *log, const char *const argv[]);
/* proc_spawn() of the command line @fmt, split at spaces (no quoting). */
pid_t proc_spawnf(const char *ns, const char *log, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Exit status of @pid (128 + signal when killed), waiting at most
 * @timeout_ms; -ETIMEDOUT while it still runs (it keeps running). */
int proc_wait_exit(pid_t pid, int timeout_ms);
/* True if process @pid stopped (SIGSTOP) within @ms; false once it
 * ended (its wait status then in *@status) or after @ms. */
bool proc_stopped(pid_t pid, int *status, int ms);
/* True if process @pid ended within @ms, its raw wait status in *@status. */
bool proc_reaped(pid_t pid, int *status, int ms);
/* Where each thread of @pid waits (/proc wchan), for a hang's log
 * (static: valid until the next call). */
const char *proc_where(pid_t pid);
/* Every thread's stack of @pid (gdb, if the bed has it), or why none. */
const char *proc_backtrace(pid_t pid);
/* SIGKILL and reap *@pid, if it runs; *@pid becomes 0. */
void proc_stop(pid_t *pid);
/*
 * A teardown's proc_stop() of many, bounded: SIGKILL every one of the
 * @n processes *@pids[i] (0: none) first, as one may not end before
 * another is gone (an agent blocked on its VMM's guest), then reap them
 * within @ms in all. One still there is logged with where its threads
 * wait, and left. Each *pid becomes 0: 0, or -ETIMEDOUT if one was left.
 */
int proc_stop_all(pid_t *const pids[], unsigned int n, int ms);
/* Time proc_stop_all() gives processes to end once killed. */
#define PROC_STOP_MS	10000

/*
 * The shell functions @fns of selftests/qemu/hosts.sh, e.g. "hosts_down
 * && hosts_up": 0, or the shell's exit status.
 */
int hosts_sh(const char *fns);
/* @dir (0700) exists, and neither socket @sock_a nor @sock_b is left. */
void run_dir_clean(const char *dir, const char *sock_a, const char *sock_b);

/* A TCP connection to 127.0.0.1:@port, retried for 5 s while nobody
 * listens: its fd, or -errno. */
int proc_connect(int port);

/* All of @path, malloc'd and NUL-terminated, its length in *@len; NULL. */
char *file_read(const char *path, size_t *len);
/* The first 16 KiB of @path, or "" (static: two calls in one message
 * each get their own, valid until the call after the next). */
const char *file_text(const char *path);
bool file_has(const char *path, const char *needle);
/* How many times @needle occurs in @path. */
unsigned int file_count(const char *path, const char *needle);

/* A kmig-vmm, its control socket in @sock. */
struct vmm_proc {
	pid_t pid;
	char sock[96];
};

/* The VMM __vmm_start() runs, under build/ (default "vmm/kmig-vmm"). */
extern const char *vmm_binary;
/*
 * Start kmig-vmm with @args (NULL-terminated) on the socket @sock, its
 * output in @log, and wait until it answers: 0 or -errno.
 */
int __vmm_start(struct vmm_proc *v, const char *sock, const char *log,
		const char *const args[]);
/* __vmm_start() with the arguments @fmt, split at spaces. */
int __vmm_startf(struct vmm_proc *v, const char *sock, const char *log,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vmm_stop(struct vmm_proc *v);
/* SIGKILL, as a crash would end it, and reap it: 0 or -errno. */
int vmm_kill(struct vmm_proc *v);
/* "@kmig-@name-PID": an abstract socket private to this test (static:
 * four at a time stay valid). */
const char *vmm_sock(const char *name);
/*
 * Connect @c to @v, retrying while it starts: -ECHILD once it has exited
 * (v->pid becomes 0), -ETIMEDOUT after PROC_WAIT_MS. The caller closes @c.
 */
int vmm_connect(struct vmm_proc *v, struct vmm_client *c);
/* Its status through a short connection (a VMM serves one client). */
int vmm_status(struct vmm_proc *v, struct vmm_status *st);
int vmm_status_of(const char *sock, struct vmm_status *st);
/* Wait up to @ms until it runs with its counter above @above: 0, -EIO
 * when it failed, -ETIMEDOUT, or -errno. */
int __vmm_wait_counter(const char *sock, uint64_t above, int ms,
		       struct vmm_status *st);
/* The same through @c, a connection the caller holds. */
int __vmm_client_wait_counter(struct vmm_client *c, uint64_t above, int ms,
			      struct vmm_status *st);
/*
 * Wait up to @ms until its guest wrote as many pages as its working set
 * has (a "seq" guest: each page once, in order): 0, -ETIMEDOUT (the
 * count so far in @st), or -errno.
 */
int vmm_wait_written(const char *sock, int ms, struct vmm_status *st);

/* What `kmig incoming` and `kmig migrate` said, and how they ended. */
struct agents {
	pid_t in;			/* `kmig incoming`, while it runs */
	int in_ret, mig_ret;		/* exit status, or -errno */
	int held_ret;			/* agents_migrate_held(): @held's */
	char *in_out, *mig_out;		/* standard output and error */
};

/*
 * `kmig incoming --vmm B --listen 127.0.0.1:PORT @in_args` and
 * `kmig migrate --vmm A --to 127.0.0.1:PORT @mig_args` (arguments split
 * at spaces), the source given @mig_s seconds to finish, the destination
 * 40 more; either is killed when late. Free @r with agents_free().
 */
void run_agents(struct vmm_proc *a, struct vmm_proc *b, unsigned int port,
		const char *in_args, const char *mig_args, int mig_s,
		struct agents *r);
/* The two halves of run_agents() at address @addr (ADDR:PORT): start
 * `kmig incoming`, then run `kmig migrate` and wait for both. */
void agents_listen(struct agents *r, struct vmm_proc *b, const char *addr,
		   const char *in_args);
void agents_migrate(struct agents *r, struct vmm_proc *a, const char *addr,
		    const char *mig_args, int mig_s);
/*
 * agents_migrate() with the source agent stopping itself at
 * $KMIG_STOP_AT @point: @held(@arg) runs while it is stopped, its result
 * in r->held_ret (-ESRCH: the agent never stopped there), then the agent
 * goes on.
 */
void agents_migrate_held(struct agents *r, struct vmm_proc *a,
			 const char *addr, const char *mig_args, int mig_s,
			 const char *point, int (*held)(void *arg),
			 void *arg);
void agents_free(struct agents *r);

/* A network namespace of our own, with its loopback up: 0 or -errno. */
int proc_own_netns(void);
/* The number after "@key": in JSON text @json, or ~0 when missing. */
uint64_t json_u64(const char *json, const char *key);
/*
 * The list of numbers "@key": [a, b, ...] in JSON text @json, at most
 * @max into @v: how many, or -1 when @key is missing.
 */
int json_u64_list(const char *json, const char *key, uint64_t *v,
		  unsigned int max);

/* The test bed, with KVM, the module, and a network of our own (the
 * caller includes kvm.h). */
#define REQUIRE_BED()							\
	do {								\
		REQUIRE_KVM();						\
		if (!getenv("KMIG_KO"))					\
			SKIP(return, "KMIG_KO is not set (the test bed sets it)"); \
		ASSERT_EQ(0, proc_own_netns());				\
	} while (0)

#define vmm_start(v, sock, log, ...) ({					\
	const char *const __a[] = { __VA_ARGS__, NULL };		\
	int __r = __vmm_start(v, sock, log, __a);			\
	ASSERT_EQ(0, __r) TH_LOG("kmig-vmm on %s: %s", sock, strerror(-__r)); \
})

#define vmm_startf(v, sock, log, fmt, ...) ({				\
	int __r = __vmm_startf(v, sock, log, fmt, ##__VA_ARGS__);	\
	ASSERT_EQ(0, __r) TH_LOG("kmig-vmm on %s: %s", sock, strerror(-__r)); \
})

#define vmm_wait_counter(v, above, st) ({				\
	int __r = __vmm_wait_counter((v)->sock, above, PROC_WAIT_MS, st); \
	ASSERT_EQ(0, __r) TH_LOG("kmig-vmm on %s, counter above %llu: %s", \
				 (v)->sock, (unsigned long long)(above),	\
				 strerror(-__r));			\
})

/* Both agents of @r (a struct agents) exited 0; else what they said. */
#define ASSERT_AGENTS_OK(r) ({						\
	if ((r)->mig_ret || (r)->in_ret) {				\
		TH_LOG("kmig migrate (%d): %s", (r)->mig_ret, (r)->mig_out); \
		TH_LOG("kmig incoming (%d): %s", (r)->in_ret, (r)->in_out); \
	}								\
	ASSERT_EQ(0, (r)->mig_ret);					\
	ASSERT_EQ(0, (r)->in_ret);					\
})

/*
 * A migration from @a to @b that failed cleanly: @a's guest runs on
 * (its counter advances), @b's never ran (its VMM still waits for one).
 */
#define vmm_expect_stayed(a, b) ({					\
	struct vmm_status __st;						\
	ASSERT_EQ(0, vmm_status(a, &__st));				\
	EXPECT_STREQ("running", __st.state);				\
	vmm_wait_counter(a, __st.counter, &__st);			\
	ASSERT_EQ(0, vmm_status(b, &__st));				\
	EXPECT_STREQ("incoming", __st.state);				\
})

/* A guest loaded and waiting: told to resume, it runs (its counter moves). */
#define vmm_resume_runs(v) ({						\
	struct vmm_client __c = { .fd = -1 };				\
	struct vmm_status __st;						\
	ASSERT_EQ(0, vmm_connect(v, &__c));				\
	EXPECT_EQ(0, vmm_client_cmd(&__c, "resume"));			\
	vmm_client_close(&__c);						\
	ASSERT_EQ(0, vmm_status(v, &__st));				\
	EXPECT_STREQ("running", __st.state);				\
	vmm_wait_counter(v, __st.counter, &__st);			\
})

/* The guest runs on the VMM at @sock: its counter moves within 500 ms. */
#define vmm_expect_runs(sock) ({					\
	struct vmm_status __st;						\
	uint64_t __c;							\
	ASSERT_EQ(0, vmm_status_of(sock, &__st));			\
	ASSERT_STREQ("running", __st.state);				\
	__c = __st.counter;						\
	usleep(500000);							\
	ASSERT_EQ(0, vmm_status_of(sock, &__st));			\
	EXPECT_LT(__c, __st.counter);					\
})

#endif /* KMIG_TEST_PROC_H */
