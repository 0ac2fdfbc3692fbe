// SPDX-License-Identifier: GPL-2.0
/*
 * KVM's two logs of vCPU writes, the ones a --kvm-log provider reads
 * (user/vmm/kvmlog.c, dring.c): the dirty ring (reap every entry into a
 * bitmap, mark it, KVM_RESET_DIRTY_RINGS) against the bitmap
 * (KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG, manual protect). A ring VM
 * cannot read the bitmap, so two VMs with the same guest, the same 64 MiB
 * slot and the same writes (every @step-th page, then a harvest), their
 * rounds alternating in one boot. Each harvest must find exactly the
 * pages the guest wrote. Printed: median and range of the harvest, and
 * the guest's cost of the writes (a logged write faults either way; the
 * ring's also pushes an entry). kmig's round trip to the provider comes
 * on top of both alike and is not measured here (dirty.c has it).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "kvm.h"

#define PAGE		4096ul
#define NPAGES		16384ul		/* 64 MiB */
#define DATA_GPA	0x10000000ul
#define RING		32768u		/* entries: a round's 16384, no full */
#define ROUNDS		9

struct bed {
	struct vm vm;
	struct vcpu vcpu;
	uint8_t *low, *mem;
	struct kvm_dirty_gfn *ring;	/* NULL: the bitmap */
	uint32_t next;
	uint64_t bitmap[NPAGES / 64];
};

static void bed_init(struct bed *b, bool ring)
{
	/* 32-bit: 1: mov [ebx], al; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x88, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};

	memset(b, 0, sizeof(*b));
	vm_create(&b->vm);
	if (ring) {
		cap.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
		if (ioctl(b->vm.fd, KVM_CHECK_EXTENSION, cap.cap) <= 0)
			cap.cap = KVM_CAP_DIRTY_LOG_RING;
		cap.args[0] = RING * sizeof(struct kvm_dirty_gfn);
	}
	BENCH_CHECK(!ioctl(b->vm.fd, KVM_ENABLE_CAP, &cap),
		    ring ? "enabling a dirty ring" : "manual-protect dirty log");
	b->low = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b->mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(b->low != MAP_FAILED && b->mem != MAP_FAILED,
		    "mmap guest memory");
	memcpy(b->low + 0x1000, code, sizeof(code));
	vm_set_memslot(&b->vm, 0, 0, 0, 0x10000, b->low);
	vm_set_memslot(&b->vm, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA,
		       NPAGES * PAGE, b->mem);
	vcpu_create(&b->vcpu, &b->vm, 0x1000);
	vcpu_set_flat32(&b->vcpu);
	if (ring) {
		b->ring = mmap(NULL, RING * sizeof(struct kvm_dirty_gfn),
			       PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu.fd,
			       KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
		BENCH_CHECK(b->ring != MAP_FAILED, "mmap the dirty ring");
	}
}

static void bed_uninit(struct bed *b)
{
	if (b->ring)
		munmap(b->ring, RING * sizeof(struct kvm_dirty_gfn));
	vcpu_destroy(&b->vcpu);
	vm_destroy(&b->vm);
	munmap(b->low, 0x10000);
	munmap(b->mem, NPAGES * PAGE);
}

/* The guest writes every @step-th page once; returns ns per page. */
static double guest_write(struct bed *b, unsigned int step, uint8_t value)
{
	return bench_guest_write(&b->vcpu, DATA_GPA, NPAGES, step, value);
}

/* Reap the ring into b->bitmap and reset it, as kmig-vmm does. */
static void reap(struct bed *b)
{
	struct kvm_dirty_gfn *e;
	uint64_t n = 0;

	for (;;) {
		e = &b->ring[b->next % RING];
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (e->slot == 1 && e->offset < NPAGES)
			b->bitmap[e->offset / 64] |= 1ull << (e->offset % 64);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		b->next++;
		n++;
	}
	BENCH_CHECK(!n || ioctl(b->vm.fd, KVM_RESET_DIRTY_RINGS, 0) >= 0,
		    "KVM_RESET_DIRTY_RINGS");
}

/* One harvest into b->bitmap; returns its ns. */
static uint64_t harvest(struct bed *b)
{
	uint64_t t0 = bench_now_ns();

	if (b->ring) {
		memset(b->bitmap, 0, sizeof(b->bitmap));
		reap(b);
	} else {
		bench_kvm_harvest(b->vm.fd, 1, NPAGES, b->bitmap);
	}
	return bench_now_ns() - t0;
}

static size_t popcount(const uint64_t *map)
{
	return bench_popcount(map, NPAGES / 64);
}

/* Sorts @v; "median [min, max]" of its @n values. */
static double median(double *v, int n, char *buf, size_t len)
{
	bench_sort(v, n);
	snprintf(buf, len, "%.1f [%.1f, %.1f]", v[n / 2], v[0], v[n - 1]);
	return v[n / 2];
}

static void bench_ring(unsigned int step)
{
	double h[2][ROUNDS], w[2][ROUNDS], hm[2], wm[2];
	char what[80], r0[64], r1[64];
	struct bed *b[2];
	int r, i, k;

	for (k = 0; k < 2; k++) {
		b[k] = malloc(sizeof(*b[k]));
		BENCH_CHECK(b[k], "malloc");
		bed_init(b[k], !k);
		guest_write(b[k], 1, 0xff);	/* map every page first */
		harvest(b[k]);
	}
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < 2; i++) {
			k = (r + i) & 1;	/* who goes first alternates */
			w[k][r] = guest_write(b[k], step, r);
			h[k][r] = harvest(b[k]) / 1e3 /
				  (NPAGES * PAGE / (1024.0 * 1024 * 1024));
			BENCH_CHECK(popcount(b[k]->bitmap) == NPAGES / step,
				    "the harvest found every guest write");
		}
	}
	for (k = 0; k < 2; k++) {
		bed_uninit(b[k]);
		free(b[k]);
	}
	hm[0] = median(h[0], ROUNDS, r0, sizeof(r0));
	hm[1] = median(h[1], ROUNDS, r1, sizeof(r1));
	printf("  harvest %u%% dirty, us/GiB, median [range] of %d: ring %s, bitmap %s\n",
	       100 / step, ROUNDS, r0, r1);
	snprintf(what, sizeof(what), "ring harvest, %u%% dirty", 100 / step);
	bench_row(what, "us/GiB", hm[0], hm[1], "KVM bitmap get+clear");
	wm[0] = median(w[0], ROUNDS, r0, sizeof(r0));
	wm[1] = median(w[1], ROUNDS, r1, sizeof(r1));
	printf("  guest write after re-arm, ns/page, median [range] of %d: ring %s, bitmap %s\n",
	       ROUNDS, r0, r1);
	snprintf(what, sizeof(what), "ring guest write, %u%% dirty",
		 100 / step);
	bench_row(what, "ns/page", wm[0], wm[1], "KVM bitmap");
}

int main(void)
{
	struct vm vm;
	int acq, plain, have;

	bench_header("KVM's dirty ring vs its dirty bitmap, 64 MiB slot, 1 vCPU");
	vm_create(&vm);
	acq = ioctl(vm.fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	plain = ioctl(vm.fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
	vm_destroy(&vm);
	printf("  KVM_CAP_DIRTY_LOG_RING_ACQ_REL %d, KVM_CAP_DIRTY_LOG_RING %d (bytes at most)\n",
	       acq, plain);
	have = acq > 0 ? acq : plain;
	if (have < (int)(RING * sizeof(struct kvm_dirty_gfn))) {
		printf("no dirty ring of %u entries in this KVM (%d bytes at most)\n",
		       RING, have);
		return 0;
	}
	bench_ring(1);
	bench_ring(8);
	return 0;
}
