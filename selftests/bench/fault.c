// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy fault service: kmig against userfaultfd.
 *
 * Both serve the same faults with the same handler design: server threads
 * poll the fault source, each reads what is pending, and installs the pages
 * straight from a source buffer, the received pages, with one kernel copy
 * each: one UFFDIO_COPY per page, userfaultfd's only way to place scattered
 * pages, and one KMIG_INSTALL per run of consecutive pages (the shuffled
 * walk makes that a page). The faulting party is 1, 2, 4 or 16 user threads
 * touching pages in a shuffled order, or a KVM vCPU walking guest memory.
 * Every figure is the median of RUNS runs, kmig and userfaultfd alternating,
 * with the spread beside it. CPU per fault is the process's CPU time
 * (faulting and serving threads, user and kernel) over the faults: on a bed
 * whose vCPUs share one host thread it bounds what more threads can gain.
 * The fault handler entries and traps per fault come from perf counters on
 * the faulting threads (faultcount.h).
 *
 * Last, the install alone: kmig's copy, zero and staged (zero-copy)
 * installs, a plain 4 KiB memcpy, and userfaultfd's UFFDIO_COPY against
 * its zero-copy UFFDIO_MOVE (6.8 and later), per page. "fault install"
 * as the only argument runs only these rows.
 *
 * "fault one kmig|userfaultfd THREADS RUNS" runs one side alone, RUNS
 * runs of THREADS faulting threads and one server, and prints each run's
 * figures: for profiling one side (perf record -a), where the faulting
 * threads are named "faulter" and the servers "server".
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "faultcount.h"
#include "kvm.h"

#define PAGE		4096ul
#define USER_PAGES	4096ul
#define KVM_PAGES	2048ul
#define INSTALL_PAGES	4096ul
#define BATCH		256
#define RUNS		3
#define MAX_THREADS	16
#define MAX_SERVERS	2
#define DATA_GPA	0x10000000ul

/* UFFDIO_MOVE (6.8), absent from older headers. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE	(1 << 16)
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE	_IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

struct backend {
	const char *name;
	int (*setup)(struct backend *b, size_t npages);
	void (*serve)(struct backend *b);
	void (*teardown)(struct backend *b);
	size_t npages;
	uint8_t *mem;		/* what the faulting party touches */
	uint8_t *src;		/* the "received" pages */
	int fd;			/* fault source */
	int ctx;
	volatile bool stop;
};

/* kmig: a missing-mode slot and its fault fd, read by every server. */

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
	/* Servers that lose the race for a record must not block. */
	BENCH_CHECK(!fcntl(b->fd, F_SETFL, O_NONBLOCK), "O_NONBLOCK");
	return 0;
}

static void kmig_serve(struct backend *b)
{
	struct kmig_fault rec[BATCH];
	__u64 pages[BATCH];
	struct kmig_install in = { .slot = 0, .pages = (uintptr_t)pages };
	ssize_t n;
	int i, k;

	n = read(b->fd, rec, sizeof(rec));
	if (n <= 0)
		return;
	n /= sizeof(rec[0]);
	/* From where the pages are, a run of consecutive ones per ioctl. */
	for (i = 0; i < n; i += k) {
		pages[0] = rec[i].page;
		for (k = 1; i + k < n && rec[i + k].page == pages[0] + k; k++)
			pages[k] = rec[i + k].page;
		in.buf = (uintptr_t)b->src + pages[0] * PAGE;
		in.count = k;
		BENCH_CHECK(!ioctl(b->ctx, KMIG_INSTALL, &in), "KMIG_INSTALL");
	}
}

static void kmig_teardown(struct backend *b)
{
	munmap(b->mem, b->npages * PAGE);
	close(b->fd);
	close(b->ctx);
}

/* userfaultfd: anonymous memory registered for MISSING faults. */

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	BENCH_CHECK(fd >= 0, "userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void uffd_register(int fd, void *mem, size_t len)
{
	struct uffdio_register reg = {
		.mode = UFFDIO_REGISTER_MODE_MISSING,
		.range = { .start = (uintptr_t)mem, .len = len },
	};

	BENCH_CHECK(!ioctl(fd, UFFDIO_REGISTER, &reg), "UFFDIO_REGISTER");
}

static int uffd_setup(struct backend *b, size_t npages)
{
	b->mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(b->mem != MAP_FAILED, "mmap anonymous");
	b->fd = uffd_open(0);
	BENCH_CHECK(b->fd >= 0, "UFFDIO_API");
	uffd_register(b->fd, b->mem, npages * PAGE);
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

static void *server(void *arg)
{
	struct backend *b = arg;
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };

	pthread_setname_np(pthread_self(), "server");
	while (!b->stop) {
		if (poll(&pfd, 1, 10) > 0)
			b->serve(b);
	}
	return NULL;
}

struct servers {
	pthread_t t[MAX_SERVERS];
	unsigned int n;
};

static void servers_start(struct servers *s, struct backend *b,
			  unsigned int n)
{
	b->stop = false;
	for (s->n = 0; s->n < n; s->n++)
		BENCH_CHECK(!pthread_create(&s->t[s->n], NULL, server, b),
			    "server thread");
}

static void servers_stop(struct servers *s, struct backend *b)
{
	b->stop = true;
	while (s->n)
		pthread_join(s->t[--s->n], NULL);
}

struct faulter {
	struct backend *b;
	unsigned int id, nthreads;
	uint64_t *lat;
	size_t n;
	uint64_t traps, entries;
	bool counted;
};

static void *faulter(void *arg)
{
	struct faulter *f = arg;
	size_t npages = f->b->npages, i, k;
	uint64_t t0, tr0 = 0, en0 = 0;
	struct fault_count fc;

	pthread_setname_np(pthread_self(), "faulter");
	f->counted = !fault_count_start(&fc) &&
		     !fault_count_read(&fc, &tr0, &en0);
	/* A shuffled walk over this thread's share of the pages. */
	k = f->id;
	for (i = 0; i < npages / f->nthreads; i++) {
		size_t page = (k * 7919) % npages;

		t0 = bench_now_ns();
		(void)*(volatile uint8_t *)(f->b->mem + page * PAGE);
		f->lat[f->n++] = bench_now_ns() - t0;
		k += f->nthreads;
	}
	if (f->counted) {
		f->counted = !fault_count_read(&fc, &f->traps, &f->entries);
		f->traps -= tr0;
		f->entries -= en0;
		fault_count_stop(&fc);
	}
	return NULL;
}

struct result {
	double pages_per_s, p50_us, p99_us;
	double cpu_us;			/* the process's CPU time per fault */
	double traps, entries;		/* per fault; negative: not counted */
};

/* CPU time of this process, every thread, user and system, in µs. */
static double cpu_now_us(void)
{
	struct rusage ru;

	BENCH_CHECK(!getrusage(RUSAGE_SELF, &ru), "getrusage");
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static struct result run_user(struct backend *b, unsigned int nthreads,
			      unsigned int nservers)
{
	struct faulter f[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	uint64_t *lat, start, ns, traps = 0, entries = 0;
	struct servers s;
	struct result r;
	double cpu;
	bool counted = true;
	size_t n = 0;
	unsigned int i;

	b->npages = USER_PAGES;
	b->setup(b, b->npages);
	lat = calloc(b->npages, sizeof(*lat));
	BENCH_CHECK(lat, "calloc");
	servers_start(&s, b, nservers);

	cpu = cpu_now_us();
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
		traps += f[i].traps;
		entries += f[i].entries;
		counted &= f[i].counted;
	}
	ns = bench_now_ns() - start;
	cpu = cpu_now_us() - cpu;
	servers_stop(&s, b);

	/* Every page must hold what the servers installed. */
	BENCH_CHECK(!memcmp(b->mem, b->src, b->npages * PAGE),
		    "installed content");
	r.pages_per_s = n * 1e9 / ns;
	r.p50_us = bench_percentile_us(lat, n, 50);
	r.p99_us = bench_percentile_us(lat, n, 99);
	r.cpu_us = cpu / n;
	r.traps = counted ? (double)traps / n : -1;
	r.entries = counted ? (double)entries / n : -1;
	free(lat);
	b->teardown(b);
	return r;
}

static struct result run_kvm(struct backend *b)
{
	/* 32-bit: 1: mov al, [ebx]; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x8a, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	struct kvm_regs regs = {
		.rip = 0x1000, .rflags = 2, .rbx = DATA_GPA,
		.rcx = KVM_PAGES, .rdx = PAGE,
	};
	struct result r = { .traps = -1, .entries = -1 };
	uint64_t start, ns, tr0, en0, tr, en;
	struct fault_count fc;
	struct vcpu vcpu;
	struct servers s;
	bool counted;
	uint8_t *low;
	struct vm vm;

	b->npages = KVM_PAGES;
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
	servers_start(&s, b, 1);

	/* KVM_RUN runs on this thread: count it here. */
	counted = !fault_count_start(&fc) && !fault_count_read(&fc, &tr0, &en0);
	start = bench_now_ns();
	BENCH_CHECK(vcpu_run(&vcpu) == KVM_EXIT_HLT, "guest walk to HLT");
	ns = bench_now_ns() - start;
	if (counted) {
		if (!fault_count_read(&fc, &tr, &en)) {
			r.traps = (double)(tr - tr0) / KVM_PAGES;
			r.entries = (double)(en - en0) / KVM_PAGES;
		}
		fault_count_stop(&fc);
	}

	servers_stop(&s, b);
	BENCH_CHECK(!memcmp(b->mem, b->src, b->npages * PAGE),
		    "installed content");
	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	munmap(low, 0x10000);
	b->teardown(b);
	r.pages_per_s = KVM_PAGES * 1e9 / ns;
	return r;
}

/* RUNS results of each backend, and their medians. */
struct series {
	struct result run[2][RUNS];
	struct result med[2];
};

static double median_of(const struct result *r, size_t field)
{
	double v[RUNS];
	int i;

	for (i = 0; i < RUNS; i++)
		v[i] = *(const double *)((const char *)&r[i] + field);
	bench_sort(v, RUNS);
	return v[RUNS / 2];
}

static void series_median(struct series *s)
{
	int k;

	for (k = 0; k < 2; k++) {
		struct result *m = &s->med[k], *r = s->run[k];

		m->pages_per_s = median_of(r, offsetof(struct result,
						       pages_per_s));
		m->p50_us = median_of(r, offsetof(struct result, p50_us));
		m->p99_us = median_of(r, offsetof(struct result, p99_us));
		m->cpu_us = median_of(r, offsetof(struct result, cpu_us));
		m->traps = median_of(r, offsetof(struct result, traps));
		m->entries = median_of(r, offsetof(struct result, entries));
	}
}

/* "what: kmig a .. b, userfaultfd c .. d", the throughput's spread. */
static void print_spread(const struct series *s)
{
	double lo[2], hi[2];
	int k, i;

	for (k = 0; k < 2; k++) {
		lo[k] = hi[k] = s->run[k][0].pages_per_s;
		for (i = 1; i < RUNS; i++) {
			double v = s->run[k][i].pages_per_s;

			lo[k] = v < lo[k] ? v : lo[k];
			hi[k] = v > hi[k] ? v : hi[k];
		}
	}
	printf("  %d runs, pages/s: kmig %.0f .. %.0f, userfaultfd %.0f .. %.0f\n",
	       RUNS, lo[0], hi[0], lo[1], hi[1]);
}

/* A row "@what, @tag" of kmig against userfaultfd. */
static void uffd_row(const char *what, const char *tag, const char *unit,
		     double kmig, double uffd)
{
	char label[96];

	snprintf(label, sizeof(label), "%s, %s", what, tag);
	bench_row(label, unit, kmig, uffd, "userfaultfd");
}

/* Entries and, for user threads (@traps), traps: a vCPU faults by GUP. */
static void print_counts(const char *tag, const struct series *s, bool traps)
{
	if (s->med[0].entries < 0 || s->med[1].entries < 0) {
		printf("  %s: no perf kprobe on handle_mm_fault\n", tag);
		return;
	}
	uffd_row("fault handler entries/fault", tag, "n", s->med[0].entries,
		 s->med[1].entries);
	if (traps)
		uffd_row("traps/fault", tag, "n", s->med[0].traps,
			 s->med[1].traps);
}

static void user_series(struct series *s, unsigned int nthreads,
			unsigned int nservers)
{
	int i, k;

	/* Warm-up, so neither side pays first-use costs. */
	run_user(&backends[0], nthreads, nservers);
	run_user(&backends[1], nthreads, nservers);
	for (i = 0; i < RUNS; i++)
		for (k = 0; k < 2; k++) {
			int which = (i & 1) ? 1 - k : k;

			s->run[which][i] = run_user(&backends[which], nthreads,
						    nservers);
		}
	series_median(s);
}

static void user_rows(unsigned int nthreads, unsigned int nservers,
		      struct series *s)
{
	char tag[32];

	snprintf(tag, sizeof(tag), "%u thread%s%s", nthreads,
		 nthreads > 1 ? "s" : "", nservers > 1 ? ", 2 servers" : "");
	user_series(s, nthreads, nservers);
	uffd_row("fault throughput", tag, "pages/s", s->med[0].pages_per_s,
		 s->med[1].pages_per_s);
	print_spread(s);
	uffd_row("fault latency p50", tag, "us", s->med[0].p50_us,
		 s->med[1].p50_us);
	uffd_row("fault latency p99", tag, "us", s->med[0].p99_us,
		 s->med[1].p99_us);
	uffd_row("CPU per fault", tag, "us", s->med[0].cpu_us,
		 s->med[1].cpu_us);
	print_counts(tag, s, true);
}

/* Per-page time of KMIG_INSTALLs of BATCH pages, copied or zeroed. */
static double kmig_install_us(uint8_t *src, bool zero)
{
	struct backend b = { .src = src };
	__u64 pages[BATCH];
	struct kmig_install in = {
		.slot = 0, .pages = (uintptr_t)pages, .count = BATCH,
		.flags = zero ? KMIG_INSTALL_ZERO : 0,
	};
	uint64_t start, ns = 0;
	size_t i, j;

	b.npages = INSTALL_PAGES;
	kmig_setup(&b, b.npages);
	for (i = 0; i < INSTALL_PAGES; i += BATCH) {
		for (j = 0; j < BATCH; j++)
			pages[j] = i + j;
		in.buf = (uintptr_t)(src + i * PAGE);
		start = bench_now_ns();
		BENCH_CHECK(!ioctl(b.ctx, KMIG_INSTALL, &in), "KMIG_INSTALL");
		ns += bench_now_ns() - start;
	}
	BENCH_CHECK(zero || !memcmp(b.mem, src, INSTALL_PAGES * PAGE),
		    "installed content");
	kmig_teardown(&b);
	return ns / 1e3 / INSTALL_PAGES;
}

/*
 * Per-page time of zero-copy installs of BATCH pages: each batch staged
 * by one MADV_POPULATE_WRITE over a staging view (a fault per page:
 * allocation, zeroing, caching, the agent's PTE), then handed over by one
 * KMIG_INSTALL_STAGED (a zap per page, uptodate, waking); the hand-over
 * alone in *@handover. The agent's write of the data into the staged
 * pages stands for its recv(), which a copy install pays into its buffer
 * untimed too: not timed.
 */
static double kmig_staged_us(uint8_t *src, double *handover)
{
	struct kmig_view v = { .flags = KMIG_VIEW_STAGING };
	struct backend b = { .src = src };
	__u64 pages[BATCH];
	struct kmig_install in = {
		.slot = 0, .pages = (uintptr_t)pages, .count = BATCH,
		.flags = KMIG_INSTALL_STAGED,
	};
	uint64_t start, ns = 0, hns = 0;
	uint8_t *stage;
	size_t i, j;
	int view;

	b.npages = INSTALL_PAGES;
	kmig_setup(&b, b.npages);
	view = ioctl(b.ctx, KMIG_VIEW_FD, &v);
	BENCH_CHECK(view >= 0, "KMIG_VIEW_FD staging");
	stage = mmap(NULL, INSTALL_PAGES * PAGE, PROT_READ | PROT_WRITE,
		     MAP_SHARED, view, KMIG_SLOT_OFFSET(0));
	BENCH_CHECK(stage != MAP_FAILED, "mmap staging view");
	for (i = 0; i < INSTALL_PAGES; i += BATCH) {
		for (j = 0; j < BATCH; j++)
			pages[j] = i + j;
		start = bench_now_ns();
		BENCH_CHECK(!madvise(stage + i * PAGE, BATCH * PAGE,
				     MADV_POPULATE_WRITE),
			    "MADV_POPULATE_WRITE on the staging view");
		ns += bench_now_ns() - start;
		memcpy(stage + i * PAGE, src + i * PAGE, BATCH * PAGE);
		start = bench_now_ns();
		BENCH_CHECK(!ioctl(b.ctx, KMIG_INSTALL, &in),
			    "KMIG_INSTALL_STAGED");
		hns += bench_now_ns() - start;
	}
	BENCH_CHECK(!memcmp(b.mem, src, INSTALL_PAGES * PAGE),
		    "installed content");
	munmap(stage, INSTALL_PAGES * PAGE);
	close(view);
	kmig_teardown(&b);
	*handover = hns / 1e3 / INSTALL_PAGES;
	return (ns + hns) / 1e3 / INSTALL_PAGES;
}

/* Per-page time of a 4 KiB memcpy between two warm buffers. */
static double memcpy_us(uint8_t *src)
{
	uint8_t *dst = malloc(INSTALL_PAGES * PAGE);
	uint64_t start, ns;
	size_t i;

	BENCH_CHECK(dst, "malloc");
	memset(dst, 1, INSTALL_PAGES * PAGE);
	start = bench_now_ns();
	for (i = 0; i < INSTALL_PAGES; i++)
		memcpy(dst + i * PAGE, src + i * PAGE, PAGE);
	ns = bench_now_ns() - start;
	BENCH_CHECK(!memcmp(dst, src, INSTALL_PAGES * PAGE), "memcpy");
	free(dst);
	return ns / 1e3 / INSTALL_PAGES;
}

/*
 * Per-page time of UFFDIO_COPY (@move false) or UFFDIO_MOVE of every page
 * into a registered range, one ioctl per page as for scattered faults; a
 * negative value if this kernel has no UFFDIO_MOVE.
 */
static double uffd_install_us(uint8_t *src, bool move)
{
	size_t len = INSTALL_PAGES * PAGE, i;
	uint8_t *dst, *from = src;
	uint64_t start, ns = 0;
	int fd;

	fd = uffd_open(move ? UFFD_FEATURE_MOVE : 0);
	if (fd < 0)
		return -1;
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(dst != MAP_FAILED, "mmap anonymous");
	uffd_register(fd, dst, len);
	if (move) {
		/* The agent's received pages: present, its own. */
		from = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		BENCH_CHECK(from != MAP_FAILED, "mmap anonymous");
		/* Order-0 pages, as the destination's are. */
		madvise(from, len, MADV_NOHUGEPAGE);
		memcpy(from, src, len);
	}
	for (i = 0; i < INSTALL_PAGES; i++) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)dst + i * PAGE,
			.src = (uintptr_t)from + i * PAGE, .len = PAGE,
		};
		struct uffdio_move m = {
			.dst = c.dst, .src = c.src, .len = PAGE,
		};

		start = bench_now_ns();
		if (move)
			BENCH_CHECK(!ioctl(fd, UFFDIO_MOVE, &m), "UFFDIO_MOVE");
		else
			BENCH_CHECK(!ioctl(fd, UFFDIO_COPY, &c), "UFFDIO_COPY");
		ns += bench_now_ns() - start;
	}
	BENCH_CHECK(!memcmp(dst, src, len), "installed content");
	if (move)
		munmap(from, len);
	munmap(dst, len);
	close(fd);
	return ns / 1e3 / INSTALL_PAGES;
}

static void install_rows(uint8_t *src)
{
	double kc[RUNS], kz[RUNS], ks[RUNS], kh[RUNS];
	double mc[RUNS], uc[RUNS], um[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		kc[i] = kmig_install_us(src, false);
		kz[i] = kmig_install_us(src, true);
		ks[i] = kmig_staged_us(src, &kh[i]);
		mc[i] = memcpy_us(src);
		uc[i] = uffd_install_us(src, false);
		um[i] = uffd_install_us(src, true);
	}
	bench_sort(kc, RUNS);
	bench_sort(kz, RUNS);
	bench_sort(ks, RUNS);
	bench_sort(kh, RUNS);
	bench_sort(mc, RUNS);
	bench_sort(uc, RUNS);
	bench_sort(um, RUNS);
	bench_row("install, copy vs UFFDIO_COPY", "us/page", kc[RUNS / 2],
		  uc[RUNS / 2], "UFFDIO_COPY");
	printf("  %d runs, us/page: kmig copy %.2f .. %.2f, zero %.2f .. %.2f, "
	       "memcpy %.2f .. %.2f, UFFDIO_COPY %.2f .. %.2f\n", RUNS,
	       kc[0], kc[RUNS - 1], kz[0], kz[RUNS - 1], mc[0], mc[RUNS - 1],
	       uc[0], uc[RUNS - 1]);
	bench_row("install, zero vs copy (kmig)", "us/page", kz[RUNS / 2],
		  kc[RUNS / 2], "kmig copy install");
	bench_row("install, staged vs copy (kmig)", "us/page", ks[RUNS / 2],
		  kc[RUNS / 2], "kmig copy install");
	printf("  %d runs, us/page: staged %.2f .. %.2f, its hand-over "
	       "(KMIG_INSTALL_STAGED) %.2f, %.2f .. %.2f\n", RUNS, ks[0],
	       ks[RUNS - 1], kh[RUNS / 2], kh[0], kh[RUNS - 1]);
	bench_row("4 KiB memcpy vs copy install (kmig)", "us/page",
		  mc[RUNS / 2], kc[RUNS / 2], "kmig copy install");
	if (um[0] < 0) {
		printf("  UFFDIO_MOVE: not in this kernel\n");
		return;
	}
	bench_row("UFFDIO_MOVE vs UFFDIO_COPY", "us/page", um[RUNS / 2],
		  uc[RUNS / 2], "UFFDIO_COPY");
	printf("  %d runs, us/page: UFFDIO_MOVE %.2f .. %.2f\n", RUNS,
	       um[0], um[RUNS - 1]);
}

/* "one BACKEND THREADS RUNS": one side alone, for a profiler. */
static int one_side(char **argv)
{
	unsigned int nthreads = atoi(argv[3]), runs = atoi(argv[4]), i;
	struct backend *b = NULL;
	struct result r;
	size_t k;

	for (k = 0; k < sizeof(backends) / sizeof(backends[0]); k++)
		if (!strcmp(argv[2], backends[k].name))
			b = &backends[k];
	if (!b || !nthreads || nthreads > MAX_THREADS || !runs) {
		fprintf(stderr, "fault one: want kmig or userfaultfd, 1 to %d threads, and runs\n",
			MAX_THREADS);
		return 2;
	}
	for (i = 0; i < runs; i++) {
		r = run_user(b, nthreads, 1);
		printf("%s, %u threads, run %u: %.0f pages/s, p50 %.1f us, "
		       "CPU %.1f us/fault, %.2f entries/fault\n", b->name,
		       nthreads, i, r.pages_per_s, r.p50_us, r.cpu_us,
		       r.entries);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned int counts[] = { 1, 2, 4, 16 };
	struct series s, one, kvm;
	size_t i;
	uint8_t *src;
	int k;

	src = malloc(USER_PAGES * PAGE);
	BENCH_CHECK(src, "malloc");
	for (i = 0; i < USER_PAGES * PAGE / 8; i++)
		((uint64_t *)src)[i] = i * 0x9e3779b97f4a7c15ull;
	backends[0].src = backends[1].src = src;
	if (argc == 5 && !strcmp(argv[1], "one"))
		return one_side(argv);
	if (argc == 2 && !strcmp(argv[1], "install")) {
		bench_header("Postcopy install alone: kmig vs userfaultfd");
		install_rows(src);
		free(src);
		return 0;
	}

	bench_header("Postcopy fault service: kmig vs userfaultfd (MISSING, UFFDIO_COPY)");
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		user_rows(counts[i], 1, i ? &s : &one);
		if (counts[i] != MAX_THREADS)
			continue;
		/* One thread's throughput against each of 16's. */
		bench_row("per-thread at 16 / one thread, kmig", "%",
			  100 * s.med[0].pages_per_s / 16 /
			  one.med[0].pages_per_s,
			  100 * s.med[1].pages_per_s / 16 /
			  one.med[1].pages_per_s, "userfaultfd's");
	}
	user_rows(MAX_THREADS, MAX_SERVERS, &s);

	for (i = 0; i < RUNS; i++)
		for (k = 0; k < 2; k++) {
			int which = (i & 1) ? 1 - k : k;

			kvm.run[which][i] = run_kvm(&backends[which]);
		}
	series_median(&kvm);
	bench_row("fault throughput, KVM vCPU", "pages/s",
		  kvm.med[0].pages_per_s, kvm.med[1].pages_per_s,
		  "userfaultfd");
	print_spread(&kvm);
	print_counts("KVM vCPU", &kvm, false);

	install_rows(src);
	free(src);
	return 0;
}
