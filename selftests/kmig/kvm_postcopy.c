// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy with a real KVM guest: its RAM is a kmig slot in missing mode.
 * The vCPU blocks on every absent page it touches until a handler thread,
 * serving the fault fd, installs it; the guest then checksums what it read
 * and reports the sum by an I/O exit, which must match the installed
 * content exactly. A fault that KVM hands to its async-PF worker (a kernel
 * thread, which never sees a signal) must not outlive the serving side.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"
#include "proc.h"

#define GUEST_SIZE	0x10000
#define GUEST_PAGES	(GUEST_SIZE / PAGE_SZ)
#define CODE_PAGE	1
#define PORT		0x10

/*
 * Real mode, at 0x1000: sum the dwords of 0x2000..0xffff into eax and
 * write it to port 0x10.
 *	xor eax, eax; mov si, 0x2000
 * l:	add eax, [si]; add si, 4; jnz l
 *	mov dx, 0x10; out dx, eax; hlt
 */
static const uint8_t guest_code[] = {
	0x66, 0x31, 0xc0,
	0xbe, 0x00, 0x20,
	0x66, 0x03, 0x04,
	0x83, 0xc6, 0x04,
	0x75, 0xf8,
	0xba, PORT, 0x00,
	0x66, 0xef,
	0xf4,
};

struct server {
	int fd, ffd;
	uint8_t *image;			/* what the source would send */
	volatile bool stop;
	bool blocked_seen;		/* the vCPU was seen blocked */
	int faults, bad;
	uint8_t served[GUEST_PAGES];
};

static void *serve(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd = { .fd = s->ffd, .events = POLLIN };
	struct kmig_fault rec[16];
	uint64_t pages[16];
	uint8_t buf[16 * PAGE_SZ];
	ssize_t n;
	int i;

	/* Let the vCPU block first, to prove that it does. */
	if (kmig_wait_waiters(s->fd, 1, 10000))
		s->blocked_seen = poll(&pfd, 1, 0) == 1;

	while (!s->stop) {
		if (poll(&pfd, 1, 50) != 1)
			continue;
		n = read(s->ffd, rec, sizeof(rec));
		if (n <= 0)
			break;
		n /= sizeof(rec[0]);
		for (i = 0; i < n; i++) {
			if (rec[i].slot != 0 || rec[i].page >= GUEST_PAGES ||
			    s->served[rec[i].page]++) {
				s->bad++;
				continue;
			}
			pages[i] = rec[i].page;
			memcpy(buf + i * PAGE_SZ,
			       s->image + rec[i].page * PAGE_SZ, PAGE_SZ);
		}
		s->faults += n;
		if (__kmig_install(s->fd, 0, 0, pages, buf, NULL, n, NULL))
			s->bad++;
	}
	return NULL;
}

TEST(guest_blocks_on_missing_pages_until_the_handler_installs)
{
	struct server s = {};
	struct kmig_ctx_stats st;
	uint64_t code = CODE_PAGE;
	uint32_t sum = 0, got;
	pthread_t thread;
	struct vcpu vcpu;
	struct vm vm;
	uint8_t *mem;
	int ret, i;

	ret = __vm_create(&vm);
	if (ret == -ENOENT && !getenv("KMIG_BED"))
		SKIP(return, "no /dev/kvm on this machine");
	ASSERT_EQ(0, ret);
	ASSERT_TRUE(kmig_objects_zero());

	s.image = malloc(GUEST_SIZE);
	ASSERT_NE(NULL, s.image);
	srand(1234);
	for (i = 0; i < GUEST_SIZE; i++)
		s.image[i] = rand();
	memset(s.image + CODE_PAGE * PAGE_SZ, 0xf4, PAGE_SZ);
	memcpy(s.image + CODE_PAGE * PAGE_SZ, guest_code, sizeof(guest_code));
	for (i = 2 * PAGE_SZ; i < GUEST_SIZE; i += 4)
		sum += *(uint32_t *)(s.image + i);

	s.fd = kmig_open();
	kmig_set_memslot(s.fd, 0, KMIG_SLOT_MISSING, 0, GUEST_SIZE);
	mem = kmig_map(s.fd, 0, GUEST_SIZE);
	s.ffd = __kmig_fault_fd(s.fd, 0);
	ASSERT_LE(0, s.ffd);
	/* The code arrived with the precopy phase; the data did not. */
	ASSERT_EQ(0, __kmig_install(s.fd, 0, 0, &code,
				    s.image + CODE_PAGE * PAGE_SZ, NULL, 1,
				    NULL));
	s.served[CODE_PAGE] = 1;

	vm_set_memslot(&vm, 0, 0, 0, GUEST_SIZE, mem);
	vcpu_create(&vcpu, &vm, CODE_PAGE * PAGE_SZ);
	ASSERT_EQ(0, pthread_create(&thread, NULL, serve, &s));

	ASSERT_EQ(KVM_EXIT_IO, vcpu_run(&vcpu));
	EXPECT_EQ(PORT, vcpu.run->io.port);
	EXPECT_EQ(4, vcpu.run->io.size);
	memcpy(&got, (uint8_t *)vcpu.run + vcpu.run->io.data_offset, 4);
	EXPECT_EQ(sum, got);
	ASSERT_EQ(KVM_EXIT_HLT, vcpu_run(&vcpu));

	s.stop = true;
	pthread_join(thread, NULL);
	EXPECT_TRUE(s.blocked_seen);
	EXPECT_EQ(0, s.bad);
	/* Every data page was faulted and served exactly once. */
	for (i = 2; i < GUEST_PAGES; i++)
		EXPECT_EQ(1, s.served[i]);
	kmig_stats(s.fd, &st);
	TH_LOG("faults %llu, installed %llu, background %llu",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.installed_copy,
	       (unsigned long long)st.installed_background);
	EXPECT_EQ(s.faults, st.faults);
	EXPECT_EQ(0, st.waiters);
	EXPECT_EQ(0, memcmp(mem + 2 * PAGE_SZ, s.image + 2 * PAGE_SZ,
			    GUEST_SIZE - 2 * PAGE_SZ));

	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	munmap(mem, GUEST_SIZE);
	close(s.ffd);
	close(s.fd);
	free(s.image);
	EXPECT_TRUE(kmig_objects_zero());
}

/*
 * Real mode, at 0x1000, interrupts on (KVM then hands a fault on an
 * absent page to its async-PF worker and halts the vCPU meanwhile):
 *	sti; nop; mov eax, [0x2000]; mov dx, 0x10; out dx, eax; hlt
 */
static const uint8_t apf_code[] = {
	0xfb, 0x90,
	0x66, 0xa1, 0x00, 0x20,
	0xba, PORT, 0x00,
	0x66, 0xef,
	0xf4,
};

/* The VMM: a guest on @fd's slot 0 whose vCPU runs until killed. */
static void run_apf_vmm(int fd)
{
	struct vcpu vcpu;
	struct vm vm;
	uint8_t *mem;

	mem = kmig_map(fd, 0, GUEST_SIZE);
	close(fd);
	vm_create(&vm);
	KVM_ASSERT(!ioctl(vm.fd, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
	vm_set_memslot(&vm, 0, 0, 0, GUEST_SIZE, mem);
	vcpu_create(&vcpu, &vm, CODE_PAGE * PAGE_SZ);
	vcpu_run(&vcpu);
	_exit(0);
}

/* True if the module's objects were all freed within @ms. */
static bool objects_freed(int ms)
{
	struct timespec ts = { 0, 10000000 };
	struct kmig_info i;

	for (; ms > 0; ms -= 10) {
		kmig_objects(&i);
		if (!(i.obj_files | i.obj_contexts | i.obj_slots |
		      i.obj_pages | i.obj_fault_files))
			return true;
		nanosleep(&ts, NULL);
	}
	return kmig_objects_zero();
}

/* The name of thread @tid, or "" if it is gone. */
static void thread_comm(pid_t tid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", tid);
	comm[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(comm, len, f))
		comm[0] = 0;
	fclose(f);
}

/*
 * A context whose slot 0 is in missing mode but for the code page, on which
 * a forked VMM (*@pid) runs the async-PF guest; a fault fd in *@ffd unless
 * @ffd_flags is negative. Returns the context fd, or -errno.
 */
static int apf_vmm_start(pid_t *pid, int ffd_flags, int *ffd)
{
	uint64_t code = CODE_PAGE;
	uint8_t *page;
	int fd;

	fd = kmig_open();
	kmig_set_memslot(fd, 0, KMIG_SLOT_MISSING, 0, GUEST_SIZE);
	*ffd = ffd_flags < 0 ? -1 : __kmig_fault_fd(fd, ffd_flags);
	if (ffd_flags >= 0 && *ffd < 0)
		return *ffd;
	page = calloc(1, PAGE_SZ);
	if (!page)
		return -ENOMEM;
	memcpy(page, apf_code, sizeof(apf_code));
	if (__kmig_install(fd, 0, 0, &code, page, NULL, 1, NULL))
		return -EIO;
	free(page);

	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (!*pid) {
		if (*ffd >= 0)
			close(*ffd);
		run_apf_vmm(fd);
	}
	return fd;
}

/* The killed VMM @pid exits, and every object of the module goes with it. */
static void expect_vmm_gone(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	EXPECT_TRUE(proc_reaped(pid, &status, 10000)) {
		TH_LOG("the killed VMM did not exit: its exit waits for the worker");
		return;
	}
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_TRUE(objects_freed(10000))
		TH_LOG("the worker still holds the VMM's memory");
}

/*
 * KVM's async-PF worker waits for a page with KMIG_FAULT_FD_KEEP_WAITING;
 * the VMM is killed and the server goes away. The worker gets no signal:
 * it must give up, or the VMM's exit waits for it (6.12) or the worker
 * keeps the VMM's memory and the context forever (6.1).
 */
TEST(async_pf_worker_ends_when_the_vmm_and_server_are_gone)
{
	struct kmig_fault rec;
	struct pollfd pfd;
	int fd, ffd;
	char comm[32];
	pid_t pid;

	REQUIRE_KVM();
	ASSERT_TRUE(kmig_objects_zero());
	fd = apf_vmm_start(&pid, KMIG_FAULT_FD_KEEP_WAITING, &ffd);
	ASSERT_LE(0, fd);
	close(fd);

	pfd = (struct pollfd){ .fd = ffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ(sizeof(rec), read(ffd, &rec, sizeof(rec)));
	EXPECT_EQ(2, rec.page);
	thread_comm(rec.tid, comm, sizeof(comm));
	TH_LOG("page %llu faulted by %d (%s)", (unsigned long long)rec.page,
	       rec.tid, strtok(comm, "\n") ?: "?");
	/* The fault came from a kernel worker, not from the vCPU thread. */
	EXPECT_EQ(0, strncmp(comm, "kworker", 7));

	ASSERT_EQ(0, kill(pid, SIGKILL));
	close(ffd);
	expect_vmm_gone(_metadata, pid);
}

/*
 * No server was ever attached: the worker must not wait for one (the
 * vCPU thread, which can be killed, may). Killing the VMM frees all.
 */
TEST(async_pf_worker_does_not_wait_without_a_server)
{
	int fd, ffd;
	pid_t pid;

	REQUIRE_KVM();
	ASSERT_TRUE(kmig_objects_zero());
	fd = apf_vmm_start(&pid, -1, &ffd);
	ASSERT_LE(0, fd);
	/* The guest faulted on its data page: someone waits for it. */
	EXPECT_TRUE(kmig_wait_waiters(fd, 1, 10000));
	close(fd);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	expect_vmm_gone(_metadata, pid);
}

TEST_HARNESS_MAIN
