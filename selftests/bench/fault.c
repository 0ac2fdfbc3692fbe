// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy fault service: kmig against userfaultfd.
 *
 * Both serve the same faults with the same handler design: one thread polls
 * the fault source, reads every pending fault at once, and installs the
 * pages from a source buffer (kmig: one KMIG_INSTALL for the batch;
 * userfaultfd: one UFFDIO_COPY per page, its only way to place scattered
 * pages). The faulting party is 1 or 2 user threads touching pages in a
 * shuffled order, or a KVM vCPU walking guest memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "kvm.h"

#define PAGE		4096ul
#define USER_PAGES	16384ul
#define KVM_PAGES	8192ul
#define BATCH		256
#define DATA_GPA	0x10000000ul

struct backend {
	const char *name;
	int (*setup)(struct backend *b, size_t npages);
	void (*serve)(struct backend *b);	/* install what is pending */
	void (*teardown)(struct backend *b);
	size_t npages;
	uint8_t *mem;		/* what the faulting party touches */
	uint8_t *src;		/* the "received" pages */
	int fd;			/* fault source */
	int ctx;
	volatile bool stop;
};

/* kmig: a missing-mode slot and its fault fd. */

static int kmig_setup(struct backend *b, size_t npages)
{
	struct kmig_memslot ms = {
		.slot = 0, .flags = KMIG_SLOT_MISSING,
		.guest_phys_addr = DATA_GPA, .memory_size = npages * PAGE,
	};
	struct kmig_fault_fd ff = { 0 };

	b->ctx = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	BENCH_CHECK(b->ctx >= 0, "open /dev/kmig");
	BENCH_CHECK(!ioctl(b->ctx, KMIG_SET_MEMSLOT, &ms), "KMIG_SET_MEMSLOT");
	b->mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->ctx, ms.offset);
	BENCH_CHECK(b->mem != MAP_FAILED, "mmap kmig slot");
	b->fd = ioctl(b->ctx, KMIG_FAULT_FD, &ff);
	BENCH_CHECK(b->fd >= 0, "KMIG_FAULT_FD");
	return 0;
}

static void kmig_serve(struct backend *b)
{
	static uint8_t stage[BATCH * PAGE];
	struct kmig_fault rec[BATCH];
	__u64 pages[BATCH];
	struct kmig_install in = {
		.slot = 0, .pages = (uintptr_t)pages, .buf = (uintptr_t)stage,
	};
	ssize_t n;
	int i;

	n = read(b->fd, rec, sizeof(rec));
	if (n <= 0)
		return;
	n /= sizeof(rec[0]);
	for (i = 0; i < n; i++) {
		pages[i] = rec[i].page;
		memcpy(stage + i * PAGE, b->src + rec[i].page * PAGE, PAGE);
	}
	in.count = n;
	BENCH_CHECK(!ioctl(b->ctx, KMIG_INSTALL, &in), "KMIG_INSTALL");
}

static void kmig_teardown(struct backend *b)
{
	munmap(b->mem, b->npages * PAGE);
	close(b->fd);
	close(b->ctx);
}

/* userfaultfd: anonymous memory registered for MISSING faults. */

static int uffd_setup(struct backend *b, size_t npages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	b->mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(b->mem != MAP_FAILED, "mmap anonymous");
	b->fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	BENCH_CHECK(b->fd >= 0, "userfaultfd");
	BENCH_CHECK(!ioctl(b->fd, UFFDIO_API, &api), "UFFDIO_API");
	reg.range.start = (uintptr_t)b->mem;
	reg.range.len = npages * PAGE;
	BENCH_CHECK(!ioctl(b->fd, UFFDIO_REGISTER, &reg), "UFFDIO_REGISTER");
	return 0;
}

static void uffd_serve(struct backend *b)
{
	struct uffd_msg msg[BATCH];
	struct uffdio_copy copy = { .len = PAGE };
	ssize_t n;
	int i;

	n = read(b->fd, msg, sizeof(msg));
	if (n <= 0)
		return;
	n /= sizeof(msg[0]);
	for (i = 0; i < n; i++) {
		if (msg[i].event != UFFD_EVENT_PAGEFAULT)
			continue;
		copy.dst = msg[i].arg.pagefault.address & ~(PAGE - 1);
		copy.src = (uintptr_t)b->src + (copy.dst - (uintptr_t)b->mem);
		if (ioctl(b->fd, UFFDIO_COPY, &copy))
			BENCH_CHECK(errno == EEXIST, "UFFDIO_COPY");
	}
}

static void uffd_teardown(struct backend *b)
{
	munmap(b->mem, b->npages * PAGE);
	close(b->fd);
}

static struct backend backends[] = {
	{ .name = "kmig", .setup = kmig_setup, .serve = kmig_serve,
	  .teardown = kmig_teardown },
	{ .name = "userfaultfd", .setup = uffd_setup, .serve = uffd_serve,
	  .teardown = uffd_teardown },
};

static void *handler(void *arg)
{
	struct backend *b = arg;
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	while (!b->stop) {
		if (poll(&pfd, 1, 10) > 0)
			b->serve(b);
	}
	return NULL;
}

struct faulter {
	struct backend *b;
	unsigned int id, nthreads;
	uint64_t *lat;
	size_t n;
};

static void *faulter(void *arg)
{
	struct faulter *f = arg;
	size_t npages = f->b->npages, i, k;
	uint64_t t0;

	/* A shuffled walk over this thread's share of the pages. */
	k = f->id;
	for (i = 0; i < npages / f->nthreads; i++) {
		size_t page = (k * 7919) % npages;

		t0 = bench_now_ns();
		(void)*(volatile uint8_t *)(f->b->mem + page * PAGE);
		f->lat[f->n++] = bench_now_ns() - t0;
		k += f->nthreads;
	}
	return NULL;
}

struct result {
	double pages_per_s, p50_us, p99_us;
};

static struct result run_user(struct backend *b, unsigned int nthreads)
{
	struct faulter f[2];
	pthread_t h, t[2];
	struct result r;
	uint64_t *lat, start, ns;
	size_t n = 0;
	unsigned int i;

	b->npages = USER_PAGES;
	b->stop = false;
	b->setup(b, b->npages);
	lat = calloc(b->npages, sizeof(*lat));
	BENCH_CHECK(lat, "calloc");
	BENCH_CHECK(!pthread_create(&h, NULL, handler, b), "handler thread");

	start = bench_now_ns();
	for (i = 0; i < nthreads; i++) {
		f[i] = (struct faulter){ .b = b, .id = i, .nthreads = nthreads,
					 .lat = lat + i * (b->npages / nthreads) };
		BENCH_CHECK(!pthread_create(&t[i], NULL, faulter, &f[i]),
			    "faulting thread");
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		n += f[i].n;
	}
	ns = bench_now_ns() - start;
	b->stop = true;
	pthread_join(h, NULL);

	/* Every page must hold what the handler installed. */
	BENCH_CHECK(!memcmp(b->mem, b->src, b->npages * PAGE),
		    "installed content");
	r.pages_per_s = n * 1e9 / ns;
	r.p50_us = bench_percentile_us(lat, n, 50);
	r.p99_us = bench_percentile_us(lat, n, 99);
	free(lat);
	b->teardown(b);
	return r;
}

static double run_kvm(struct backend *b)
{
	/* 32-bit: 1: mov al, [ebx]; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x8a, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	struct kvm_regs regs = {
		.rip = 0x1000, .rflags = 2, .rbx = DATA_GPA,
		.rcx = KVM_PAGES, .rdx = PAGE,
	};
	struct vcpu vcpu;
	uint64_t start, ns;
	uint8_t *low;
	pthread_t h;
	struct vm vm;

	b->npages = KVM_PAGES;
	b->stop = false;
	b->setup(b, b->npages);
	vm_create(&vm);
	low = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(low != MAP_FAILED, "mmap guest code");
	memcpy(low + 0x1000, code, sizeof(code));
	vm_set_memslot(&vm, 0, 0, 0, 0x10000, low);
	vm_set_memslot(&vm, 1, 0, DATA_GPA, KVM_PAGES * PAGE, b->mem);
	vcpu_create(&vcpu, &vm, 0x1000);
	vcpu_set_flat32(&vcpu);
	vcpu_set_regs(&vcpu, &regs);
	BENCH_CHECK(!pthread_create(&h, NULL, handler, b), "handler thread");

	start = bench_now_ns();
	BENCH_CHECK(vcpu_run(&vcpu) == KVM_EXIT_HLT, "guest walk to HLT");
	ns = bench_now_ns() - start;

	b->stop = true;
	pthread_join(h, NULL);
	BENCH_CHECK(!memcmp(b->mem, b->src, b->npages * PAGE),
		    "installed content");
	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	munmap(low, 0x10000);
	b->teardown(b);
	return KVM_PAGES * 1e9 / ns;
}

int main(void)
{
	struct result k, u;
	unsigned int t;
	size_t i;
	uint8_t *src;

	src = malloc(USER_PAGES * PAGE);
	BENCH_CHECK(src, "malloc");
	for (i = 0; i < USER_PAGES * PAGE / 8; i++)
		((uint64_t *)src)[i] = i * 0x9e3779b97f4a7c15ull;
	backends[0].src = backends[1].src = src;

	bench_header("Postcopy fault service: kmig vs userfaultfd (MISSING, UFFDIO_COPY)");
	for (t = 1; t <= 2; t++) {
		char what[64];

		/* Warm-up run, so neither side pays first-use costs. */
		run_user(&backends[0], t);
		k = run_user(&backends[0], t);
		u = run_user(&backends[1], t);
		snprintf(what, sizeof(what), "fault throughput, %u thread%s", t,
			 t > 1 ? "s" : "");
		bench_row(what, "pages/s", k.pages_per_s, u.pages_per_s,
			  "userfaultfd");
		snprintf(what, sizeof(what), "fault latency p50, %u thread%s", t,
			 t > 1 ? "s" : "");
		bench_row(what, "us", k.p50_us, u.p50_us, "userfaultfd");
		snprintf(what, sizeof(what), "fault latency p99, %u thread%s", t,
			 t > 1 ? "s" : "");
		bench_row(what, "us", k.p99_us, u.p99_us, "userfaultfd");
	}
	bench_row("fault throughput, KVM vCPU", "pages/s",
		  run_kvm(&backends[0]), run_kvm(&backends[1]), "userfaultfd");
	free(src);
	return 0;
}
