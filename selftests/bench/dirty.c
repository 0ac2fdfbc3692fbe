// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking: kmig's harvest against KVM's dirty log.
 *
 * One KVM guest writes a fraction of a slot's pages, then both logs are
 * harvested: kmig with KMIG_GET_DIRTY_LOG(CLEAR), KVM with
 * KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG (manual protect), on the same
 * slot and the same dirty pages, in alternating order. Then the cost to the
 * guest of writing a page again after re-arm, with only kmig tracking the
 * slot against only KVM tracking it.
 *
 * Model (b) (memory-model.rst): the slot is KMIG_SLOT_KVM_LOG, KVM's
 * memslot maps its guest view and logs it, and a provider thread hands
 * KVM's log to kmig. In the same bed, rounds alternate between a harvest
 * through kmig (KMIG_GET_DIRTY_LOG, one provider round trip) and KVM's
 * own GET + CLEAR by this thread, on the same dirty pages; and a harvest
 * pass over several slots in one call against a call a slot. What the
 * provider adds is mostly a cost per harvest, not per page: the (b)
 * harvests run on a 64 MiB slot and again on a 512 MiB one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "kvm.h"
#include "kvmlog.h"

#define PAGE		4096ul
#define NPAGES		16384ul		/* 64 MiB */
#define BIG_PAGES	131072ul	/* 512 MiB */
#define DATA_GPA	0x10000000ul
#define ROUNDS		4
#define GIB		(1024.0 * 1024 * 1024)

struct bed {
	struct vm vm;
	struct vcpu vcpu;
	uint8_t *low;
	uint8_t *mem;
	int ctx;
	bool kvm_log;
	uint8_t *gview;			/* model (b): KVM's guest view */
	struct kvmlog prov;
	unsigned long npages;		/* the slot's */
	uint64_t *bitmap;
};

/*
 * A slot of @npages pages. @kmig_flags: the kmig slot's (0,
 * KMIG_SLOT_DIRTY_LOG, or with KMIG_SLOT_KVM_LOG for model (b)); kvm_log:
 * KVM logs the memslot (manual protect). The kmig slot's id is KVM's, 1.
 * In model (b) KVM maps the guest view and a provider thread hands its
 * log to kmig, logging started through kmig.
 */
static void bed_init(struct bed *b, uint32_t kmig_flags, bool kvm_log,
		     unsigned long npages)
{
	/* 32-bit: 1: mov [ebx], al; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x88, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	struct kmig_memslot ms = {
		.slot = 1, .flags = kmig_flags,
		.guest_phys_addr = DATA_GPA, .memory_size = npages * PAGE,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};
	struct kmig_dirty_logging on = {
		.slot = 1, .flags = KMIG_DIRTY_LOGGING_ON,
	};
	bool model_b = kmig_flags & KMIG_SLOT_KVM_LOG;
	int g;

	memset(b, 0, sizeof(*b));
	b->kvm_log = kvm_log;
	b->npages = npages;
	b->bitmap = calloc(npages / 64, sizeof(*b->bitmap));
	BENCH_CHECK(b->bitmap, "calloc bitmap");
	b->ctx = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	BENCH_CHECK(b->ctx >= 0, "open /dev/kmig");
	BENCH_CHECK(!ioctl(b->ctx, KMIG_SET_MEMSLOT, &ms), "KMIG_SET_MEMSLOT");
	b->mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      b->ctx, ms.offset);
	BENCH_CHECK(b->mem != MAP_FAILED, "mmap kmig slot");
	memset(b->mem, 1, npages * PAGE);
	if (model_b) {
		g = kmig_view(b->ctx, KMIG_VIEW_GUEST);
		BENCH_CHECK(g >= 0, "KMIG_VIEW_FD");
		b->gview = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
				MAP_SHARED, g, ms.offset);
		close(g);
		BENCH_CHECK(b->gview != MAP_FAILED, "mmap guest view");
	}

	vm_create(&b->vm);
	if (model_b)
		BENCH_CHECK(!kvmlog_start(&b->prov, b->ctx, &b->vm),
			    "KVM log provider");
	else if (kvm_log)
		BENCH_CHECK(!ioctl(b->vm.fd, KVM_ENABLE_CAP, &cap),
			    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
	b->low = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(b->low != MAP_FAILED, "mmap guest code");
	memcpy(b->low + 0x1000, code, sizeof(code));
	vm_set_memslot(&b->vm, 0, 0, 0, 0x10000, b->low);
	vm_set_memslot(&b->vm, 1,
		       kvm_log && !model_b ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		       DATA_GPA, npages * PAGE, model_b ? b->gview : b->mem);
	if (model_b) {
		kvmlog_slot(&b->prov, 1, DATA_GPA, npages * PAGE, b->gview);
		BENCH_CHECK(!ioctl(b->ctx, KMIG_SET_DIRTY_LOGGING, &on),
			    "KMIG_SET_DIRTY_LOGGING through the provider");
	}
	vcpu_create(&b->vcpu, &b->vm, 0x1000);
	vcpu_set_flat32(&b->vcpu);
}

static void bed_uninit(struct bed *b)
{
	if (b->gview) {
		kvmlog_stop(&b->prov);
		munmap(b->gview, b->npages * PAGE);
	}
	vcpu_destroy(&b->vcpu);
	vm_destroy(&b->vm);
	munmap(b->low, 0x10000);
	munmap(b->mem, b->npages * PAGE);
	close(b->ctx);
	free(b->bitmap);
}

/* The guest writes every @step-th page once; returns ns per page. */
static double guest_write(struct bed *b, unsigned int step, uint8_t value)
{
	return bench_guest_write(&b->vcpu, DATA_GPA, b->npages, step, value);
}

static uint64_t harvest_kmig(struct bed *b)
{
	struct kmig_dirty_log log = {
		.slot = 1, .flags = KMIG_DIRTY_LOG_CLEAR,
		.bitmap = (uintptr_t)b->bitmap,
	};
	uint64_t t0 = bench_now_ns();

	BENCH_CHECK(!ioctl(b->ctx, KMIG_GET_DIRTY_LOG, &log),
		    "KMIG_GET_DIRTY_LOG");
	return bench_now_ns() - t0;
}

static uint64_t harvest_kvm(struct bed *b)
{
	uint64_t t0 = bench_now_ns();

	bench_kvm_harvest(b->vm.fd, 1, b->npages, b->bitmap);
	return bench_now_ns() - t0;
}

static size_t popcount(const struct bed *b)
{
	return bench_popcount(b->bitmap, b->npages / 64);
}

static void bench_harvest(unsigned int step)
{
	uint64_t kmig_ns = 0, kvm_ns = 0;
	char what[64];
	struct bed b;
	int r;

	bed_init(&b, KMIG_SLOT_DIRTY_LOG, true, NPAGES);
	harvest_kmig(&b);
	harvest_kvm(&b);
	for (r = 0; r < ROUNDS; r++) {
		guest_write(&b, step, r);
		if (r & 1) {
			kvm_ns += harvest_kvm(&b);
			kmig_ns += harvest_kmig(&b);
		} else {
			kmig_ns += harvest_kmig(&b);
			BENCH_CHECK(popcount(&b) == NPAGES / step,
				    "kmig saw every guest write");
			kvm_ns += harvest_kvm(&b);
		}
	}
	bed_uninit(&b);

	snprintf(what, sizeof(what), "harvest get+clear, %u%% dirty",
		 100 / step);
	bench_row(what, "us/GiB",
		  kmig_ns / 1e3 / ROUNDS / (NPAGES * PAGE / GIB),
		  kvm_ns / 1e3 / ROUNDS / (NPAGES * PAGE / GIB), "KVM dirty log");
}

static double redirty_cost(bool kmig)
{
	double ns = 0;
	struct bed b;
	int r;

	bed_init(&b, kmig ? KMIG_SLOT_DIRTY_LOG : 0, !kmig, NPAGES);
	guest_write(&b, 1, 0xff);	/* map every page first */
	for (r = 0; r < ROUNDS; r++) {
		if (kmig)
			harvest_kmig(&b);
		else
			harvest_kvm(&b);
		ns += guest_write(&b, 1, r);
	}
	bed_uninit(&b);
	return ns / ROUNDS;
}

/*
 * Model (b): harvests through kmig and its provider against KVM's own,
 * alternating in one bed with a slot of @npages pages, after the guest
 * wrote every @step-th page (no page for @step 0); with @redirty, the
 * guest's cost of writing every page again after each instead.
 */
static void bench_b(unsigned int step, bool redirty, unsigned long npages)
{
	uint64_t kmig_ns = 0, kvm_ns = 0;
	double kmig_w = 0, kvm_w = 0, w;
	char what[80], size[24] = "";
	struct bed b;
	int r;

	bed_init(&b, KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG, true, npages);
	guest_write(&b, 1, 0xff);	/* map every page first */
	harvest_kmig(&b);		/* INITIALLY_SET or not: empty now */
	harvest_kvm(&b);
	for (r = 0; r < 2 * ROUNDS; r++) {
		if (step && !redirty)
			guest_write(&b, step, r);
		if (r & 1) {
			kvm_ns += harvest_kvm(&b);
		} else {
			kmig_ns += harvest_kmig(&b);
			if (!redirty)
				BENCH_CHECK(popcount(&b) ==
					    (step ? npages / step : 0),
					    "kmig got every guest write from KVM");
		}
		if (redirty) {
			w = guest_write(&b, 1, r);
			*(r & 1 ? &kvm_w : &kmig_w) += w;
		}
	}
	bed_uninit(&b);
	if (redirty) {
		bench_row("(b) guest cost of re-dirtying after re-arm", "ns/page",
			  kmig_w / ROUNDS, kvm_w / ROUNDS,
			  "KVM dirty log, same bed");
		return;
	}
	if (npages != NPAGES)
		snprintf(size, sizeof(size), ", %lu MiB slot",
			 npages * PAGE >> 20);
	if (step)
		snprintf(what, sizeof(what),
			 "(b) harvest get+clear, %u%% dirty%s", 100 / step,
			 size);
	else
		snprintf(what, sizeof(what), "(b) harvest, no dirty page%s",
			 size);
	bench_row(what, "us/GiB", kmig_ns / 1e3 / ROUNDS / (npages * PAGE / GIB),
		  kvm_ns / 1e3 / ROUNDS / (npages * PAGE / GIB),
		  "KVM dirty log, same bed");
}

#define SET_SLOTS	4
#define SET_PAGES	4096ul		/* 16 MiB a slot */

/*
 * Model (b), a harvest pass over SET_SLOTS KVM_LOG slots with no dirty
 * page, so only the round trips to the provider count: one
 * KMIG_GET_DIRTY_LOGS (one request) against a KMIG_GET_DIRTY_LOG a slot
 * (a request each), alternating in one bed.
 */
static void bench_set(void)
{
	static uint64_t bm[SET_SLOTS][SET_PAGES / 64];
	struct kmig_dirty_log logs[SET_SLOTS], one[SET_SLOTS];
	struct kmig_dirty_logs set = {
		.count = SET_SLOTS, .flags = KMIG_DIRTY_LOG_CLEAR,
		.logs = (uintptr_t)logs,
	};
	struct kmig_dirty_logging on = { .flags = KMIG_DIRTY_LOGGING_ON };
	uint64_t set_ns = 0, each_ns = 0, t0, gpa;
	uint8_t *gv[SET_SLOTS];
	struct kvmlog prov;
	struct vm vm;
	int ctx, g, s, r;

	ctx = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	BENCH_CHECK(ctx >= 0, "open /dev/kmig");
	vm_create(&vm);
	BENCH_CHECK(!kvmlog_start(&prov, ctx, &vm), "KVM log provider");
	g = kmig_view(ctx, KMIG_VIEW_GUEST);
	BENCH_CHECK(g >= 0, "KMIG_VIEW_FD");
	for (s = 0; s < SET_SLOTS; s++) {
		struct kmig_memslot ms = {
			.slot = s,
			.flags = KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG,
			.guest_phys_addr = DATA_GPA + s * SET_PAGES * PAGE,
			.memory_size = SET_PAGES * PAGE,
		};

		gpa = ms.guest_phys_addr;
		BENCH_CHECK(!ioctl(ctx, KMIG_SET_MEMSLOT, &ms),
			    "KMIG_SET_MEMSLOT");
		gv[s] = mmap(NULL, SET_PAGES * PAGE, PROT_READ | PROT_WRITE,
			     MAP_SHARED, g, ms.offset);
		BENCH_CHECK(gv[s] != MAP_FAILED, "mmap guest view");
		vm_set_memslot(&vm, s, 0, gpa, SET_PAGES * PAGE, gv[s]);
		kvmlog_slot(&prov, s, gpa, SET_PAGES * PAGE, gv[s]);
		on.slot = s;
		BENCH_CHECK(!ioctl(ctx, KMIG_SET_DIRTY_LOGGING, &on),
			    "KMIG_SET_DIRTY_LOGGING through the provider");
		logs[s] = (struct kmig_dirty_log){
			.slot = s, .num_pages = SET_PAGES,
			.bitmap = (uintptr_t)bm[s],
		};
		one[s] = logs[s];
		one[s].flags = KMIG_DIRTY_LOG_CLEAR;
	}
	close(g);
	if (ioctl(ctx, KMIG_GET_DIRTY_LOGS, &set) && errno == ENOTTY) {
		printf("(b) harvest pass of %d slots: no KMIG_GET_DIRTY_LOGS in this module\n",
		       SET_SLOTS);
		goto out;
	}
	for (r = 0; r < 4 * ROUNDS; r++) {
		t0 = bench_now_ns();
		if (r & 1) {
			for (s = 0; s < SET_SLOTS; s++)
				BENCH_CHECK(!ioctl(ctx, KMIG_GET_DIRTY_LOG,
						   &one[s]),
					    "KMIG_GET_DIRTY_LOG");
			each_ns += bench_now_ns() - t0;
		} else {
			BENCH_CHECK(!ioctl(ctx, KMIG_GET_DIRTY_LOGS, &set),
				    "KMIG_GET_DIRTY_LOGS");
			set_ns += bench_now_ns() - t0;
		}
	}
	bench_row("(b) harvest pass of 4 slots, no dirty page", "us",
		  set_ns / 1e3 / (2 * ROUNDS), each_ns / 1e3 / (2 * ROUNDS),
		  "a call (request) a slot");
out:
	kvmlog_stop(&prov);
	vm_destroy(&vm);
	for (s = 0; s < SET_SLOTS; s++)
		munmap(gv[s], SET_PAGES * PAGE);
	close(ctx);
}

int main(void)
{
	bench_header("Dirty tracking: kmig vs KVM dirty log (manual protect), 64 MiB slot");
	bench_harvest(1);
	bench_harvest(8);
	bench_row("guest cost of re-dirtying a page after re-arm", "ns/page",
		  redirty_cost(true), redirty_cost(false), "KVM dirty log");
	bench_b(1, false, NPAGES);
	bench_b(8, false, NPAGES);
	bench_b(0, false, NPAGES);
	bench_b(0, true, NPAGES);
	bench_set();
	bench_b(1, false, BIG_PAGES);
	bench_b(8, false, BIG_PAGES);
	bench_b(0, false, BIG_PAGES);
	return 0;
}
