// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory contexts: memslots are declared, mapped shared, read and
 * written through any mapping or pread/pwrite, shared with another process
 * over a unix socket; every bad argument has its own errno; pages are
 * charged and limited; nothing is left once the fds are closed; a huge
 * sparse slot costs little to set up and tear down.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"

#define NPAGES	16
#define SIZE	(NPAGES * PAGE_SZ)

FIXTURE(ctx) {
	int fd;
};

FIXTURE_SETUP(ctx)
{
	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
}

FIXTURE_TEARDOWN(ctx)
{
	if (self->fd >= 0)
		close(self->fd);
	EXPECT_TRUE(kmig_objects_zero());
}

TEST_F(ctx, objects_are_counted)
{
	struct kmig_info info;
	uint8_t *p;

	kmig_set_memslot(self->fd, 0, 0, 0, SIZE);
	kmig_set_memslot(self->fd, 1, 0, SIZE, SIZE);
	kmig_objects(&info);
	EXPECT_EQ(1, info.obj_contexts);
	EXPECT_EQ(2, info.obj_slots);
	EXPECT_EQ(0, info.obj_pages);

	p = kmig_map(self->fd, 1, SIZE);
	p[0] = 1;
	p[3 * PAGE_SZ] = 1;
	kmig_objects(&info);
	EXPECT_EQ(2, info.obj_pages);
	/* The mapping holds the context after the fd is closed. */
	close(self->fd);
	self->fd = -1;
	kmig_objects(&info);
	EXPECT_EQ(1, info.obj_contexts);
	EXPECT_EQ(1, p[3 * PAGE_SZ]);
	munmap(p, SIZE);
}

TEST_F(ctx, pages_are_zero_on_first_touch_and_shared)
{
	uint8_t *a, *b;
	size_t i;

	kmig_set_memslot(self->fd, 3, 0, 1 << 20, SIZE);
	a = kmig_map(self->fd, 3, SIZE);
	b = kmig_map(self->fd, 3, SIZE);
	for (i = 0; i < SIZE; i++)
		ASSERT_EQ(0, a[i]);
	for (i = 0; i < NPAGES; i++)
		a[i * PAGE_SZ + 7] = i + 1;
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(i + 1, b[i * PAGE_SZ + 7]);
	munmap(a, SIZE);
	munmap(b, SIZE);
}

TEST_F(ctx, pread_pwrite_see_the_mapping)
{
	char buf[3 * PAGE_SZ], out[3 * PAGE_SZ];
	struct kmig_info info;
	uint8_t *p;
	off_t off = KMIG_SLOT_OFFSET(2);

	kmig_set_memslot(self->fd, 2, 0, 0, SIZE);
	/* An absent page reads as zeros and allocates nothing. */
	memset(out, 0xff, sizeof(out));
	ASSERT_EQ(PAGE_SZ, pread(self->fd, out, PAGE_SZ, off + 5 * PAGE_SZ));
	EXPECT_EQ(0, out[0]);
	EXPECT_EQ(0, out[PAGE_SZ - 1]);
	kmig_objects(&info);
	EXPECT_EQ(0, info.obj_pages);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + 3;
	/* Unaligned and across pages. */
	ASSERT_EQ(sizeof(buf), pwrite(self->fd, buf, sizeof(buf), off + 100));
	p = kmig_map(self->fd, 2, SIZE);
	EXPECT_EQ(0, memcmp(p + 100, buf, sizeof(buf)));
	p[200] = 0x5a;
	ASSERT_EQ(sizeof(out), pread(self->fd, out, sizeof(out), off + 100));
	EXPECT_EQ(0x5a, (uint8_t)out[100]);
	/* A transfer is cut at the slot end; at the end there is nothing. */
	EXPECT_EQ(PAGE_SZ, pread(self->fd, out, sizeof(out),
				 off + SIZE - PAGE_SZ));
	EXPECT_EQ(-1, pread(self->fd, out, 1, off + SIZE));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, pwrite(self->fd, out, 1, KMIG_SLOT_OFFSET(9)));
	EXPECT_EQ(ENXIO, errno);
	munmap(p, SIZE);
}

/* A write from a bad buffer stops at the fault and leaves no page behind. */
TEST_F(ctx, pwrite_from_a_bad_buffer_installs_nothing)
{
	struct kmig_info info;
	uint8_t *buf, out[PAGE_SZ];

	kmig_set_memslot(self->fd, 0, 0, 0, SIZE);
	buf = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 0x6b, PAGE_SZ);
	ASSERT_EQ(0, munmap(buf + PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(PAGE_SZ, pwrite(self->fd, buf, 2 * PAGE_SZ, 0));
	EXPECT_EQ(-1, pwrite(self->fd, buf + PAGE_SZ, PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(EFAULT, errno);
	kmig_objects(&info);
	EXPECT_EQ(1, info.obj_pages);
	ASSERT_EQ(PAGE_SZ, pread(self->fd, out, PAGE_SZ, PAGE_SZ));
	for (size_t i = 0; i < PAGE_SZ; i++)
		ASSERT_EQ(0, out[i]);
	munmap(buf, PAGE_SZ);
}

TEST_F(ctx, memslot_bad_arguments_have_distinct_errnos)
{
	kmig_set_memslot(self->fd, 0, 0, 0x100000, SIZE);

	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1, 0, 0, 100));
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1, 0, 10, SIZE));
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, 1, 1U << 31, 0,
					      SIZE));
	EXPECT_EQ(-EINVAL, __kmig_set_memslot(self->fd, KMIG_MAX_SLOTS, 0, 0,
					      SIZE));
	EXPECT_EQ(-EFBIG, __kmig_set_memslot(self->fd, 1, 0, 0,
					     KMIG_MAX_SLOT_SIZE + PAGE_SZ));
	EXPECT_EQ(-EFBIG, __kmig_set_memslot(self->fd, 1, 0, -PAGE_SZ,
					     2 * PAGE_SZ));
	/* Overlapping gpa ranges, and a slot id in use. */
	EXPECT_EQ(-EEXIST, __kmig_set_memslot(self->fd, 1, 0,
					      0x100000 + SIZE - PAGE_SZ, SIZE));
	EXPECT_EQ(-EEXIST, __kmig_set_memslot(self->fd, 1, 0,
					      0x100000 - PAGE_SZ, 2 * PAGE_SZ));
	EXPECT_EQ(-EEXIST, __kmig_set_memslot(self->fd, 0, 0, 0, PAGE_SZ));
	/* Adjacent is fine. */
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 1, 0, 0x100000 + SIZE,
					PAGE_SZ));
	EXPECT_EQ(-ENOENT, __kmig_set_memslot(self->fd, 7, 0, 0, 0));
	EXPECT_EQ(-ENOTTY, ioctl(self->fd, _IO(KMIG_IOC_MAGIC, 0x7f)) ?
			   -errno : 0);
}

TEST_F(ctx, mmap_bad_arguments_have_distinct_errnos)
{
	void *p;

	kmig_set_memslot(self->fd, 0, 0, 0, SIZE);
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->fd,
		 KMIG_SLOT_OFFSET(1));
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->fd,
		 KMIG_SLOT_OFFSET(0) + SIZE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENXIO, errno);
	p = mmap(NULL, 2 * PAGE_SZ, PROT_READ, MAP_SHARED, self->fd,
		 KMIG_SLOT_OFFSET(0) + SIZE - PAGE_SZ);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ERANGE, errno);
	p = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd,
		 KMIG_SLOT_OFFSET(0));
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EOPNOTSUPP, errno);
}

TEST_F(ctx, mapped_slot_cannot_be_deleted)
{
	uint8_t *p;

	kmig_set_memslot(self->fd, 4, 0, 0, SIZE);
	p = kmig_map(self->fd, 4, SIZE);
	p[0] = 1;
	EXPECT_EQ(-EBUSY, __kmig_set_memslot(self->fd, 4, 0, 0, 0));
	/* A partial unmap splits the mapping; both halves count. */
	munmap(p, PAGE_SZ);
	EXPECT_EQ(-EBUSY, __kmig_set_memslot(self->fd, 4, 0, 0, 0));
	munmap(p + PAGE_SZ, SIZE - PAGE_SZ);
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 4, 0, 0, 0));
	/* The id and range are free again. */
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 4, 0, 0, SIZE));
}

/*
 * Two mappings of one fd that touch, in address and in offset, stay two
 * VMAs: merged, one would be freed without ->close, leaving the slot
 * counted as mapped (and a tracked view listed) for ever.
 */
TEST_F(ctx, touching_mappings_do_not_merge)
{
	const size_t half = SIZE / 2;
	uint8_t *p, *q;

	kmig_set_memslot(self->fd, 4, 0, 0, SIZE);
	p = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(p, mmap(p, half, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, self->fd, KMIG_SLOT_OFFSET(4)));
	q = mmap(p + half, half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, KMIG_SLOT_OFFSET(4) + half);
	ASSERT_EQ(p + half, q);
	p[0] = 1;
	q[0] = 2;
	ASSERT_EQ(0, munmap(p, SIZE));
	EXPECT_EQ(0, __kmig_set_memslot(self->fd, 4, 0, 0, 0));
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char byte = 'k';
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The VMM passes the context to an agent, which works on the same pages. */
TEST_F(ctx, agent_gets_the_context_over_a_unix_socket)
{
	int sv[2], status;
	uint8_t *p;
	pid_t pid;

	kmig_set_memslot(self->fd, 0, 0, 0, SIZE);
	p = kmig_map(self->fd, 0, SIZE);
	p[PAGE_SZ] = 0x11;
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		uint8_t *q, b = 0;
		int fd;

		close(self->fd);
		munmap(p, SIZE);
		fd = recv_fd(sv[1]);
		if (fd < 0)
			_exit(1);
		q = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 KMIG_SLOT_OFFSET(0));
		if (q == MAP_FAILED || q[PAGE_SZ] != 0x11)
			_exit(2);
		q[2 * PAGE_SZ] = 0x22;
		if (pread(fd, &b, 1, PAGE_SZ) != 1 || b != 0x11)
			_exit(3);
		b = 0x33;
		if (pwrite(fd, &b, 1, 3 * PAGE_SZ) != 1)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(0, send_fd(sv[0], self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0x22, p[2 * PAGE_SZ]);
	EXPECT_EQ(0x33, p[3 * PAGE_SZ]);
	close(sv[0]);
	close(sv[1]);
	munmap(p, SIZE);
}

TEST_F(ctx, page_limit_refuses_writes_and_faults)
{
	uint64_t limit = 4;
	char b = 1;
	uint8_t *p;
	int status;
	pid_t pid;

	kmig_set_memslot(self->fd, 0, 0, 0, SIZE);
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_PAGE_LIMIT, &limit));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(1, pwrite(self->fd, &b, 1, i * PAGE_SZ));
	EXPECT_EQ(-1, pwrite(self->fd, &b, 1, 4 * PAGE_SZ));
	EXPECT_EQ(ENOSPC, errno);
	/* Present pages are still writable. */
	EXPECT_EQ(1, pwrite(self->fd, &b, 1, 2 * PAGE_SZ));

	p = kmig_map(self->fd, 0, SIZE);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		p[0] = 2;
		p[5 * PAGE_SZ] = 1;	/* over the limit: SIGBUS */
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	EXPECT_EQ(2, p[0]);

	limit = 0;
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_PAGE_LIMIT, &limit));
	p[5 * PAGE_SZ] = 1;
	munmap(p, SIZE);
}

static long cg_read(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

/*
 * Pages are charged to the memory cgroup of the context's opener, even when
 * another process (here the parent, in the root group) touches them.
 */
TEST_F(ctx, pages_are_charged_to_the_openers_memcg)
{
	const char *cg = "/sys/fs/cgroup/kmig-test";
	long before, after, freed;
	int sv[2], status, kfd;
	char path[256];
	uint8_t *p;
	pid_t pid;

	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK)) {
		if (!getenv("KMIG_BED"))
			SKIP(return, "no cgroup2 at /sys/fs/cgroup");
		ASSERT_EQ(0, mount("none", "/sys/fs/cgroup", "cgroup2", 0,
				   NULL));
	}
	ASSERT_EQ(0, kmig_write_str("/sys/fs/cgroup/cgroup.subtree_control",
			      "+memory"));
	rmdir(cg);
	ASSERT_EQ(0, mkdir(cg, 0755));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		if (kmig_write_str(path, "0"))
			_exit(1);
		kfd = open("/dev/kmig", O_RDWR);
		if (kfd < 0 || __kmig_set_memslot(kfd, 0, 0, 0, 1024 * PAGE_SZ))
			_exit(2);
		_exit(send_fd(sv[1], kfd) ? 3 : 0);
	}
	kfd = recv_fd(sv[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_LE(0, kfd);

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	before = cg_read(path);
	p = kmig_map(kfd, 0, 1024 * PAGE_SZ);
	for (int i = 0; i < 1024; i++)
		p[i * PAGE_SZ] = 1;
	after = cg_read(path);
	TH_LOG("memory.current: %ld -> %ld", before, after);
	EXPECT_LE(before + 1000 * (long)PAGE_SZ, after);
	munmap(p, 1024 * PAGE_SZ);
	close(kfd);
	freed = cg_read(path);
	EXPECT_GE(after - 1000 * (long)PAGE_SZ, freed);
	close(sv[0]);
	close(sv[1]);
	EXPECT_EQ(0, rmdir(cg));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Everything that walks a whole slot after its creation (a dirty-log
 * restart, a netlink report, KMIG_SET_MISSING, a lost fault fd forgetting
 * its requests, deletion) on a 64 GiB slot with three pages: preemptible
 * (a soft lockup would show in the bed's kernel log), and the last three
 * quick. Creating the slot zeroes its page array, 8 bytes a page, which
 * is slow under emulation; the bed's 2 GiB would not hold the array of a
 * 1 TiB slot.
 */
TEST_F(ctx, huge_sparse_slot_is_walked_and_torn_down_quickly)
{
	const uint64_t size = 64ULL << 30, npages = size / PAGE_SZ;
	struct kmig_range r = { .slot = 3, .num_pages = npages };
	struct kmig_dirty_logging on = { .slot = 3,
					 .flags = KMIG_DIRTY_LOGGING_ON };
	uint64_t off[3] = { 0, size / 2, size - PAGE_SZ };
	struct kmig_nl_ctx c;
	struct kmig_info info;
	double t0, t;
	int ffd, i, ret;

	t0 = now();
	ret = __kmig_set_memslot(self->fd, 3, KMIG_SLOT_DIRTY_LOG, 0, size);
	if (ret == -ENOMEM)
		SKIP(return, "no memory for a 64 GiB slot's page array");
	ASSERT_EQ(0, ret);
	TH_LOG("64 GiB slot created in %.3f s", now() - t0);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(1, pwrite(self->fd, "x", 1,
				    KMIG_SLOT_OFFSET(3) + off[i]));
	/* Untimed: the kernel log would show a soft lockup. */
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &on));
	ASSERT_EQ(0, ctx_of(getpid(), &c));
	EXPECT_EQ(3, c.pages);

	t0 = now();
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_MISSING, &r));
	ffd = __kmig_fault_fd(self->fd, 0);
	ASSERT_LE(0, ffd);
	close(ffd);
	kmig_objects(&info);
	EXPECT_EQ(3, info.obj_pages);
	ASSERT_EQ(0, __kmig_set_memslot(self->fd, 3, 0, 0, 0));
	t = now() - t0;
	TH_LOG("walked and torn down in %.3f s", t);
	EXPECT_GT(2.0, t);
	kmig_objects(&info);
	EXPECT_EQ(0, info.obj_pages);
	EXPECT_EQ(0, info.obj_slots);
}

TEST_HARNESS_MAIN
