// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy: what becomes of a thread blocked on a missing page (a
 * waiter, missing.c) when the page never comes. Waiters are killable;
 * a lost server means SIGBUS, or with KMIG_FAULT_FD_KEEP_WAITING waiting
 * for the next one, which is told of the fault again; a waiter whose
 * mapping goes away, with its context or its slot, ends.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "missing_fixture.h"
#include "proc.h"
#include "toucher.h"

/* A process that reads @addr; it must not hold the fault fd @ffd. */
static pid_t fork_toucher(int ffd, uint8_t *addr)
{
	pid_t pid = fork();

	if (!pid) {
		close(ffd);
		_exit(*(volatile uint8_t *)addr == 0x5c ? 0 : 1);
	}
	return pid;
}

/* Kill waiter @pid of context @fd: it dies of SIGKILL, and waits no more. */
static void kill_waiter(struct __test_metadata *_metadata, int fd, pid_t pid)
{
	int status;

	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
	EXPECT_TRUE(kmig_wait_waiters(fd, 0, 0));
}

TEST_F(missing, sigkilled_waiter_dies)
{
	struct kmig_fault rec;
	pid_t pid;

	pid = fork_toucher(self->ffd, self->mem + 50 * PAGE_SZ);
	ASSERT_LE(0, pid);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	kill_waiter(_metadata, self->fd, pid);
}

TEST_F(missing, closed_server_means_sigbus)
{
	struct kmig_fault rec;
	int status;
	pid_t pid;

	pid = fork_toucher(self->ffd, self->mem + 51 * PAGE_SZ);
	ASSERT_LE(0, pid);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	close(self->ffd);
	self->ffd = -1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));

	/* Later faults fail at once; present pages still work. */
	pid = fork_toucher(-1, self->mem + 52 * PAGE_SZ);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	ASSERT_EQ(1, pwrite(self->fd, "x", 1, KMIG_SLOT_OFFSET(1)));
	self->mem[1] = 1;
}

TEST_F(missing, keep_waiting_waiter_stays_killable)
{
	struct kmig_fault rec;
	pid_t pid;

	close(self->ffd);
	self->ffd = __kmig_fault_fd(self->fd, KMIG_FAULT_FD_KEEP_WAITING);
	ASSERT_LE(0, self->ffd);
	pid = fork_toucher(self->ffd, self->mem + 54 * PAGE_SZ);
	ASSERT_LE(0, pid);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	close(self->ffd);
	self->ffd = -1;
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	kill_waiter(_metadata, self->fd, pid);
}

/*
 * A waiter whose mapping is unmapped, and whose context loses its last fd,
 * can never be served: it is woken and its retried fault finds no mapping.
 * The child unmaps only once the server has read the fault: an ended wait
 * withdraws its unread record.
 */
TEST_F(missing, waiter_of_a_closed_context_ends)
{
	struct kmig_fault rec;
	int status, go[2];
	char c = 0;
	pid_t pid;

	close(self->ffd);
	self->ffd = __kmig_fault_fd(self->fd, KMIG_FAULT_FD_KEEP_WAITING);
	ASSERT_LE(0, self->ffd);
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct toucher t = {};

		close(self->ffd);
		close(go[1]);
		toucher_start(&t, self->mem + 55 * PAGE_SZ, false);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		munmap(self->mem, SIZE);
		close(self->fd);
		pthread_join(t.thread, NULL);
		_exit(2);
	}
	close(go[0]);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(55, rec.page);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	close(self->ffd);
	self->ffd = -1;
	munmap(self->mem, SIZE);
	self->mem = NULL;
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(status));
}

/*
 * The waiter's mapping is unmapped and its slot deleted while the server
 * stays: KMIG_INSTALL and KMIG_WAKE can no longer name the slot, so the
 * unmap itself must end the wait (the retried fault finds no mapping).
 */
TEST_F(missing, waiter_of_an_unmapped_deleted_slot_ends)
{
	struct kmig_fault rec;
	int status, go[2];
	char c = 0;
	pid_t pid;

	kmig_set_memslot(self->fd, 2, KMIG_SLOT_MISSING, SIZE, SIZE);
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint8_t *p = kmig_map(self->fd, 2, SIZE);
		struct toucher t = {};

		close(self->ffd);
		toucher_start(&t, p + 7 * PAGE_SZ, false);
		/* Once the server has read the fault. */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		munmap(p, SIZE);
		if (__kmig_set_memslot(self->fd, 2, 0, SIZE, 0))
			_exit(3);
		pthread_join(t.thread, NULL);
		_exit(2);
	}
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(2, rec.slot);
	EXPECT_EQ(7, rec.page);
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));
	ASSERT_EQ(1, write(go[1], &c, 1));
	if (!proc_reaped(pid, &status, 5000)) {
		EXPECT_TRUE(kmig_wait_waiters(self->fd, 0, 0))
			TH_LOG("the waiter of the deleted slot sleeps on");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return;
	}
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(status));
	close(go[0]);
	close(go[1]);
}

TEST_F(missing, keep_waiting_until_a_new_server_attaches)
{
	static uint8_t buf[PAGE_SZ];
	struct kmig_fault rec;
	uint64_t page = 53;
	int status;
	pid_t pid;

	close(self->ffd);
	self->ffd = __kmig_fault_fd(self->fd, KMIG_FAULT_FD_KEEP_WAITING);
	ASSERT_LE(0, self->ffd);

	pid = fork_toucher(self->ffd, self->mem + 53 * PAGE_SZ);
	ASSERT_LE(0, pid);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	close(self->ffd);
	usleep(100000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));
	ASSERT_TRUE(kmig_wait_waiters(self->fd, 1, 2000));

	/* The new server is told about the fault again. */
	self->ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, self->ffd);
	ASSERT_EQ(1, kmig_read_faults(self->ffd, &rec, 1));
	EXPECT_EQ(53, rec.page);
	buf[0] = 0x5c;
	ASSERT_EQ(0, __kmig_install(self->fd, 1, 0, &page, buf, NULL, 1,
				    NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
