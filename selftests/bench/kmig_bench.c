// SPDX-License-Identifier: GPL-2.0
/*
 * kmig benchmark (make bench): not a test, it prints a table.
 *
 *  1. Fault service, kmig missing mode vs userfaultfd (MISSING, UFFDIO_COPY
 *     on anonymous memory), same handler design: one thread polls, reads up
 *     to 32 faults and serves them (kmig: one KMIG_INSTALL for the batch,
 *     userfaultfd: one UFFDIO_COPY per page, it has no batch). Faulting
 *     parties: 1 and 2 user threads, and a KVM guest.
 *  2. Harvest: µs per GiB for get+clear, kmig vs KVM_GET_DIRTY_LOG +
 *     KVM_CLEAR_DIRTY_LOG (manual protect), same slot, same dirty pages.
 *  3. Cost to the guest of writing a page again after re-arm, kmig vs KVM
 *     dirty logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kmig.h"
#include "kvm.h"

#define BATCH		32
#define CODE		0x1000
#define LIST		0x2000		/* u32 count, then u32 addresses */
#define DATA		0x100000	/* measured pages start at 1 MiB */
#define PORT		0x10

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(size_t)(p * (n - 1))];
}

/* --- fault servers --- */

struct server {
	bool uffd;
	int fd;				/* kmig context or userfaultfd */
	int ffd;			/* kmig fault fd */
	uint8_t *base;			/* uffd: start of the mapping */
	volatile bool stop;
	uint64_t served;
};

static void *serve(void *arg)
{
	static uint8_t src[BATCH * PAGE_SZ];
	struct server *s = arg;
	struct pollfd pfd = { .fd = s->uffd ? s->fd : s->ffd,
			      .events = POLLIN };
	struct uffd_msg msgs[BATCH];
	struct kmig_fault recs[BATCH];
	uint64_t pages[BATCH];
	ssize_t n;
	int i;

	memset(src, 0x5a, sizeof(src));
	while (!s->stop) {
		if (poll(&pfd, 1, 20) != 1)
			continue;
		if (s->uffd) {
			n = read(s->fd, msgs, sizeof(msgs));
			if (n <= 0)
				continue;
			n /= sizeof(msgs[0]);
			for (i = 0; i < n; i++) {
				struct uffdio_copy c = {
					.dst = msgs[i].arg.pagefault.address &
					       ~(PAGE_SZ - 1),
					.src = (uintptr_t)src,
					.len = PAGE_SZ,
				};

				if (ioctl(s->fd, UFFDIO_COPY, &c) &&
				    errno != EEXIST)
					KVM_ASSERT(0, "UFFDIO_COPY");
			}
		} else {
			n = read(s->ffd, recs, sizeof(recs));
			if (n <= 0)
				continue;
			n /= sizeof(recs[0]);
			for (i = 0; i < n; i++)
				pages[i] = recs[i].page;
			KVM_ASSERT(!__kmig_install(s->fd, 0, 0, pages, src,
						   NULL, n, NULL),
				   "KMIG_INSTALL");
		}
		s->served += n;
	}
	return NULL;
}

/* Guest memory of @size bytes, missing, served by @s's thread. */
static uint8_t *missing_mem(struct server *s, bool uffd, size_t size)
{
	uint8_t *mem;

	memset(s, 0, sizeof(*s));
	s->uffd = uffd;
	if (!uffd) {
		s->fd = kmig_open();
		kmig_set_memslot(s->fd, 0, KMIG_SLOT_MISSING, 0, size);
		mem = kmig_map(s->fd, 0, size);
		s->ffd = __kmig_fault_fd(s->fd, 0);
		KVM_ASSERT(s->ffd >= 0, "KMIG_FAULT_FD");
		return mem;
	}
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	s->fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	KVM_ASSERT(s->fd >= 0, "userfaultfd");
	KVM_ASSERT(!ioctl(s->fd, UFFDIO_API, &api), "UFFDIO_API");
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KVM_ASSERT(mem != MAP_FAILED, "mmap");
	reg.range.start = (uintptr_t)mem;
	reg.range.len = size;
	KVM_ASSERT(!ioctl(s->fd, UFFDIO_REGISTER, &reg), "UFFDIO_REGISTER");
	s->base = mem;
	return mem;
}

static void missing_free(struct server *s, uint8_t *mem, size_t size)
{
	munmap(mem, size);
	if (!s->uffd)
		close(s->ffd);
	close(s->fd);
}

/* Place a page that must be present before the guest runs. */
static void prefill(struct server *s, uint8_t *mem, uint64_t off,
		    const void *data, size_t len)
{
	static uint8_t page[PAGE_SZ];
	uint64_t idx = off / PAGE_SZ;

	memset(page, 0, sizeof(page));
	memcpy(page, data, len);
	if (s->uffd) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)mem + off, .src = (uintptr_t)page,
			.len = PAGE_SZ,
		};

		KVM_ASSERT(!ioctl(s->fd, UFFDIO_COPY, &c), "UFFDIO_COPY");
	} else {
		KVM_ASSERT(!__kmig_install(s->fd, 0, 0, &idx, page, NULL, 1,
					   NULL), "KMIG_INSTALL");
	}
}

struct toucher {
	pthread_t thread;
	volatile uint8_t *mem;
	size_t npages;
	double *lat;
};

static void *touch_pages(void *arg)
{
	struct toucher *t = arg;
	size_t i;
	double t0;

	for (i = 0; i < t->npages; i++) {
		t0 = now_us();
		(void)t->mem[i * PAGE_SZ];
		t->lat[i] = now_us() - t0;
	}
	return NULL;
}

struct result {
	double pages_per_s, p50, p99;
};

static struct result user_faults(bool uffd, int nthreads, size_t per)
{
	struct toucher t[2];
	struct server s;
	pthread_t srv;
	uint8_t *mem;
	double t0, el, *lat;
	struct result r;
	int i;

	mem = missing_mem(&s, uffd, nthreads * per * PAGE_SZ);
	lat = calloc(nthreads * per, sizeof(*lat));
	pthread_create(&srv, NULL, serve, &s);
	t0 = now_us();
	for (i = 0; i < nthreads; i++) {
		t[i].mem = mem + i * per * PAGE_SZ;
		t[i].npages = per;
		t[i].lat = lat + i * per;
		pthread_create(&t[i].thread, NULL, touch_pages, &t[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i].thread, NULL);
	el = now_us() - t0;
	s.stop = true;
	pthread_join(srv, NULL);
	r.pages_per_s = nthreads * per / (el / 1e6);
	r.p50 = pct(lat, nthreads * per, 0.5);
	r.p99 = pct(lat, nthreads * per, 0.99);
	free(lat);
	missing_free(&s, mem, nthreads * per * PAGE_SZ);
	return r;
}

/* --- KVM guests --- */

/*
 * 32-bit protected mode, flat, no paging, at CODE: for each address in
 * the list at LIST, read (or write bl to) the byte there; then inc bl and
 * out 0x10; loop.
 */
static void guest_code(uint8_t *code, bool write)
{
	const uint8_t c[] = {
		0xbe, LIST & 0xff, LIST >> 8, 0, 0,	/* mov esi, LIST */
		0xad,					/* lodsd */
		0x89, 0xc1,				/* mov ecx, eax */
		0xad,					/* n: lodsd */
		write ? 0x88 : 0x8a, write ? 0x18 : 0x10, /* mov [eax],bl / dl,[eax] */
		0xe2, 0xfb,				/* loop n */
		0xfe, 0xc3,				/* inc bl */
		0xe6, PORT,				/* out 0x10, al */
		0xeb, 0xed,				/* jmp CODE */
	};

	memcpy(code, c, sizeof(c));
}

static void vcpu_flat32(struct vcpu *vcpu)
{
	struct kvm_sregs sregs;

	KVM_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
	sregs.cr0 |= 1;
	sregs.cs = (struct kvm_segment){ .base = 0, .limit = 0xffffffff,
		.selector = 8, .type = 11, .present = 1, .s = 1, .db = 1,
		.g = 1 };
	sregs.ds = sregs.cs;
	sregs.ds.type = 3;
	sregs.ds.selector = 16;
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	KVM_ASSERT(!ioctl(vcpu->fd, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
}

static void set_list(uint8_t *mem, const uint32_t *pages, uint32_t n)
{
	uint32_t *list = (uint32_t *)(mem + LIST);

	list[0] = n;
	for (uint32_t i = 0; i < n; i++)
		list[i + 1] = DATA + pages[i] * PAGE_SZ;
}

static double guest_run(struct vcpu *vcpu)
{
	double t0 = now_us();

	KVM_ASSERT(vcpu_run(vcpu) == KVM_EXIT_IO, "guest exit %u",
		   vcpu->run->exit_reason);
	return now_us() - t0;
}

/* A guest reads @n missing pages, in order; returns pages per second. */
static double guest_faults(bool uffd, uint32_t n)
{
	size_t size = DATA + (size_t)n * PAGE_SZ;
	uint8_t code[64] = {}, *mem, *list;
	uint32_t *pages, i;
	struct server s;
	struct vcpu vcpu;
	struct vm vm;
	pthread_t srv;
	double el;

	mem = missing_mem(&s, uffd, size);
	guest_code(code, false);
	prefill(&s, mem, CODE, code, sizeof(code));
	pages = calloc(n, sizeof(*pages));
	for (i = 0; i < n; i++)
		pages[i] = i;
	/* The list pages are present, written through a staging copy. */
	list = calloc(1, DATA);
	set_list(list, pages, n);
	for (uint64_t off = LIST; off < LIST + (n + 1) * 4; off += PAGE_SZ)
		prefill(&s, mem, off, list + off, PAGE_SZ);

	vm_create(&vm);
	vm_set_memslot(&vm, 0, 0, 0, size, mem);
	vcpu_create(&vcpu, &vm, CODE);
	vcpu_flat32(&vcpu);
	pthread_create(&srv, NULL, serve, &s);
	el = guest_run(&vcpu);
	s.stop = true;
	pthread_join(srv, NULL);
	vcpu_destroy(&vcpu);
	vm_destroy(&vm);
	missing_free(&s, mem, size);
	free(pages);
	free(list);
	return n / (el / 1e6);
}

#define HARVEST_PAGES	32768		/* 128 MiB */
#define WORDS		(HARVEST_PAGES / 64)

struct dirty_vm {
	struct vm vm;
	struct vcpu vcpu;
	int fd;
	uint8_t *mem;
	size_t size;
};

static void dirty_vm_create(struct dirty_vm *d, uint32_t kmig_flags,
			    uint32_t kvm_flags)
{
	uint8_t code[64] = {};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};

	d->size = DATA + (size_t)HARVEST_PAGES * PAGE_SZ;
	d->fd = kmig_open();
	kmig_set_memslot(d->fd, 0, kmig_flags, 0, d->size);
	d->mem = kmig_map(d->fd, 0, d->size);
	guest_code(code, true);
	memcpy(d->mem + CODE, code, sizeof(code));
	vm_create(&d->vm);
	KVM_ASSERT(!ioctl(d->vm.fd, KVM_ENABLE_CAP, &cap), "manual protect");
	vm_set_memslot(&d->vm, 0, kvm_flags, 0, d->size, d->mem);
	vcpu_create(&d->vcpu, &d->vm, CODE);
	vcpu_flat32(&d->vcpu);
}

static void dirty_vm_destroy(struct dirty_vm *d)
{
	vcpu_destroy(&d->vcpu);
	vm_destroy(&d->vm);
	munmap(d->mem, d->size);
	close(d->fd);
}

/* The slot's bitmap covers DATA too: page p of the data is bit DATA/4K + p. */
#define SLOT_WORDS	((DATA / PAGE_SZ + HARVEST_PAGES + 63) / 64)

static double kmig_harvest(struct dirty_vm *d)
{
	static uint64_t bm[SLOT_WORDS];
	double t0 = now_us();

	KVM_ASSERT(!__kmig_dirty(d->fd, KMIG_GET_DIRTY_LOG, 0,
				 KMIG_DIRTY_LOG_CLEAR, 0, 0, bm), "harvest");
	return now_us() - t0;
}

static double kvm_harvest(struct dirty_vm *d)
{
	static uint64_t bm[SLOT_WORDS];
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clear = {
		.slot = 0, .first_page = 0,
		.num_pages = d->size / PAGE_SZ, .dirty_bitmap = bm,
	};
	double t0 = now_us();

	KVM_ASSERT(!ioctl(d->vm.fd, KVM_GET_DIRTY_LOG, &log), "GET");
	KVM_ASSERT(!ioctl(d->vm.fd, KVM_CLEAR_DIRTY_LOG, &clear), "CLEAR");
	return now_us() - t0;
}

static void random_pages(uint32_t *pages, uint32_t n, unsigned int seed)
{
	for (uint32_t i = 0; i < n; i++)
		pages[i] = rand_r(&seed) % HARVEST_PAGES;
}

int main(int argc, char **argv)
{
	size_t per = argc > 1 ? strtoul(argv[1], NULL, 0) : 2048;
	uint32_t gpages = argc > 2 ? strtoul(argv[2], NULL, 0) : 1024;
	uint32_t ndirty = HARVEST_PAGES / 10, pages[HARVEST_PAGES / 10];
	double k_us = 0, v_us = 0, base, k_re, v_re;
	struct result k, u;
	struct dirty_vm d;
	int nt, r;

	printf("kmig benchmark (test bed, TCG: absolute numbers are slow, compare ratios)\n\n");
	printf("%-34s %12s %12s %8s\n", "fault service", "kmig", "uffd",
	       "ratio");
	for (nt = 1; nt <= 2; nt++) {
		k = user_faults(false, nt, per);
		u = user_faults(true, nt, per);
		printf("%d thread%s, pages/s %17.0f %12.0f %7.2fx\n", nt,
		       nt > 1 ? "s" : " ", k.pages_per_s, u.pages_per_s,
		       k.pages_per_s / u.pages_per_s);
		printf("%d thread%s, p50 latency us %10.1f %12.1f %7.2fx\n",
		       nt, nt > 1 ? "s" : " ", k.p50, u.p50, u.p50 / k.p50);
		printf("%d thread%s, p99 latency us %10.1f %12.1f %7.2fx\n",
		       nt, nt > 1 ? "s" : " ", k.p99, u.p99, u.p99 / k.p99);
	}
	{
		double kg = guest_faults(false, gpages);
		double ug = guest_faults(true, gpages);

		printf("KVM guest, pages/s %22.0f %12.0f %7.2fx\n", kg, ug,
		       kg / ug);
	}

	/* Harvest: the same guest writes go to both logs. */
	dirty_vm_create(&d, KMIG_SLOT_DIRTY_LOG, KVM_MEM_LOG_DIRTY_PAGES);
	for (r = 0; r < 6; r++) {
		random_pages(pages, ndirty, r + 1);
		set_list(d.mem, pages, ndirty);
		guest_run(&d.vcpu);
		/* Alternate which goes first: the first one re-arms more. */
		if (r & 1) {
			v_us += kvm_harvest(&d);
			k_us += kmig_harvest(&d);
		} else {
			k_us += kmig_harvest(&d);
			v_us += kvm_harvest(&d);
		}
	}
	dirty_vm_destroy(&d);
	k_us = k_us / 6 * (1 << 30) / ((double)HARVEST_PAGES * PAGE_SZ);
	v_us = v_us / 6 * (1 << 30) / ((double)HARVEST_PAGES * PAGE_SZ);
	printf("\n%-34s %12s %12s %8s\n", "harvest get+clear, 10% dirty",
	       "kmig", "KVM", "ratio");
	printf("us per GiB %30.0f %12.0f %7.2fx\n", k_us, v_us, v_us / k_us);

	/* Re-dirty: write the same pages again after a re-arm. */
	random_pages(pages, ndirty, 99);
	dirty_vm_create(&d, 0, 0);
	set_list(d.mem, pages, ndirty);
	guest_run(&d.vcpu);
	base = guest_run(&d.vcpu);
	dirty_vm_destroy(&d);

	dirty_vm_create(&d, KMIG_SLOT_DIRTY_LOG, 0);
	set_list(d.mem, pages, ndirty);
	guest_run(&d.vcpu);
	kmig_harvest(&d);
	k_re = guest_run(&d.vcpu);
	dirty_vm_destroy(&d);

	dirty_vm_create(&d, 0, KVM_MEM_LOG_DIRTY_PAGES);
	set_list(d.mem, pages, ndirty);
	guest_run(&d.vcpu);
	kvm_harvest(&d);
	v_re = guest_run(&d.vcpu);
	dirty_vm_destroy(&d);

	printf("\n%-34s %12s %12s %8s\n", "re-dirty after re-arm", "kmig",
	       "KVM", "ratio");
	printf("guest us per page %23.2f %12.2f %7.2fx\n", k_re / ndirty,
	       v_re / ndirty, v_re / k_re);
	printf("(untracked write: %.2f us per page)\n", base / ndirty);
	return 0;
}
