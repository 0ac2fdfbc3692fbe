// SPDX-License-Identifier: GPL-2.0
/*
 * SPIKES 2, 3 and 5 of Documentation/memory-model.rst: a KVM guest on the
 * page-cache guest view with KVM's dirty log, against anonymous memory and
 * today's kmig slot, each in a VM of its own, rounds interleaved.
 *
 *   redirty  guest cost of writing every page again after a harvest
 *   harvest  get+clear at 100%, 12% and 0% dirty: KVM called directly,
 *            KVM called by a "provider" thread the harvester wakes (the
 *            round trip model (b) adds), the harvester waking that thread
 *            and then calling KVM itself, and today's KMIG_GET_DIRTY_LOG
 *   huge     2 MiB folios: smaps PMD counts, KVM's pages_2m/pages_4k
 *            before, while and after logging, guest access vs THP
 *
 * usage: kvmlog redirty|harvest|huge SIZE_MIB ROUNDS
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm.h"
#include "spike.h"

#define DATA_GPA	0x10000000ul
#define LOW_SIZE	0x10000ul

struct bed {
	const char *name;
	struct mem mem;
	struct vm vm;
	struct vcpu vcpu;
	uint8_t *low;
	size_t npages;
	bool kmig_log;		/* harvest with KMIG_GET_DIRTY_LOG */
	bool provider;		/* harvest through the provider thread */
	bool ping_first;	/* ...or ping it, then call KVM ourselves */
	uint64_t *bitmap;	/* what a harvest returns */
	uint64_t *kvm_bits;	/* the provider's KVM bitmap */
	uint64_t *tracked;	/* stands for kmig's own bits of the slot */
	pthread_t thread;
	int req[2], ack[2];
};

static void slot_flags(struct bed *b, uint32_t flags)
{
	vm_set_memslot(&b->vm, 1, flags, DATA_GPA, b->npages * SPIKE_PAGE,
		       b->mem.p);
}

static void kvm_get_clear(struct bed *b, uint64_t *bits)
{
	struct kvm_dirty_log get = { .slot = 1, .dirty_bitmap = bits };
	struct kvm_clear_dirty_log clear = {
		.slot = 1, .num_pages = b->npages, .dirty_bitmap = bits,
	};

	SPIKE_CHECK(!ioctl(b->vm.fd, KVM_GET_DIRTY_LOG, &get),
		    "KVM_GET_DIRTY_LOG");
	SPIKE_CHECK(!ioctl(b->vm.fd, KVM_CLEAR_DIRTY_LOG, &clear),
		    "KVM_CLEAR_DIRTY_LOG");
}

/*
 * Model (b)'s log provider: the VMM thread that, woken by a harvest
 * request, reads and clears KVM's log and hands back the OR with kmig's
 * own bits. 'h' harvests, 'p' only answers (the bare round trip), 'q'
 * ends the thread.
 */
static void *provider_main(void *arg)
{
	struct bed *b = arg;
	size_t i, words = b->npages / 64;
	char op;

	while (read(b->req[0], &op, 1) == 1 && op != 'q') {
		if (op == 'h') {
			kvm_get_clear(b, b->kvm_bits);
			for (i = 0; i < words; i++)
				b->bitmap[i] = b->kvm_bits[i] | b->tracked[i];
		}
		SPIKE_CHECK(write(b->ack[1], &op, 1) == 1, "provider ack");
	}
	return NULL;
}

static void provider_call(struct bed *b, char op)
{
	char ack;

	SPIKE_CHECK(write(b->req[1], &op, 1) == 1, "provider request");
	SPIKE_CHECK(read(b->ack[0], &ack, 1) == 1 && ack == op,
		    "provider answer");
}

/*
 * A VM whose slot 1 is @size bytes of @kind at DATA_GPA; KVM logs it when
 * @kvm_log, kmig (today's) is the harvester when @kind is MEM_KMIG.
 */
static void bed_init(struct bed *b, enum mem_kind kind, size_t size,
		     bool kvm_log, bool provider)
{
	/* 32-bit: 1: mov [ebx], al; add ebx, edx; dec ecx; jnz 1b; hlt */
	static const uint8_t code[] = {
		0x88, 0x03, 0x01, 0xd3, 0x49, 0x75, 0xf9, 0xf4,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};
	size_t words = size / SPIKE_PAGE / 64;

	memset(b, 0, sizeof(*b));
	b->name = mem_name(kind);
	b->npages = size / SPIKE_PAGE;
	b->kmig_log = kind == MEM_KMIG;
	b->bitmap = calloc(words, 8);
	b->kvm_bits = calloc(words, 8);
	b->tracked = calloc(words, 8);
	SPIKE_CHECK(b->bitmap && b->kvm_bits && b->tracked, "bitmaps");
	mem_create(&b->mem, kind, size);
	vm_create(&b->vm);
	SPIKE_CHECK(!ioctl(b->vm.fd, KVM_ENABLE_CAP, &cap),
		    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2");
	b->low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SPIKE_CHECK(b->low != MAP_FAILED, "mmap guest code");
	memcpy(b->low + 0x1000, code, sizeof(code));
	vm_set_memslot(&b->vm, 0, 0, 0, LOW_SIZE, b->low);
	slot_flags(b, kvm_log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	vcpu_create(&b->vcpu, &b->vm, 0x1000);
	vcpu_set_flat32(&b->vcpu);
	if (!provider)
		return;
	b->provider = true;
	SPIKE_CHECK(!pipe2(b->req, O_CLOEXEC) && !pipe2(b->ack, O_CLOEXEC),
		    "provider pipes");
	SPIKE_CHECK(!pthread_create(&b->thread, NULL, provider_main, b),
		    "provider thread");
}

static void bed_uninit(struct bed *b)
{
	if (b->provider) {
		SPIKE_CHECK(write(b->req[1], "q", 1) == 1, "provider quit");
		pthread_join(b->thread, NULL);
	}
	vcpu_destroy(&b->vcpu);
	vm_destroy(&b->vm);
	munmap(b->low, LOW_SIZE);
	mem_destroy(&b->mem);
	free(b->bitmap);
	free(b->kvm_bits);
	free(b->tracked);
}

/* The guest writes every @step-th page once; returns ns per page. */
static double guest_write(struct bed *b, unsigned int step, uint8_t value)
{
	struct kvm_regs regs = {
		.rip = 0x1000, .rflags = 2, .rax = value, .rbx = DATA_GPA,
		.rcx = b->npages / step, .rdx = SPIKE_PAGE * step,
	};
	uint64_t t0;

	vcpu_set_regs(&b->vcpu, &regs);
	t0 = spike_now_ns();
	SPIKE_CHECK(vcpu_run(&b->vcpu) == KVM_EXIT_HLT, "guest writes to HLT");
	return (double)(spike_now_ns() - t0) / (b->npages / step);
}

/* One harvest of the slot into b->bitmap; returns its ns. */
static uint64_t harvest(struct bed *b)
{
	struct kmig_dirty_log log = {
		.slot = 0, .flags = KMIG_DIRTY_LOG_CLEAR,
		.bitmap = (uintptr_t)b->bitmap,
	};
	uint64_t t0 = spike_now_ns();

	if (b->kmig_log)
		SPIKE_CHECK(!ioctl(b->mem.fd, KMIG_GET_DIRTY_LOG, &log),
			    "KMIG_GET_DIRTY_LOG");
	else if (b->provider && !b->ping_first)
		provider_call(b, 'h');
	else {
		if (b->ping_first)
			provider_call(b, 'p');
		kvm_get_clear(b, b->bitmap);
	}
	return spike_now_ns() - t0;
}

static size_t dirty_count(const struct bed *b)
{
	size_t i, n = 0;

	for (i = 0; i < b->npages / 64; i++)
		n += __builtin_popcountll(b->bitmap[i]);
	return n;
}

/* KVM's per-VM statistic @name (debugfs), or -1. */
static long kvm_stat(const struct bed *b, const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s",
		 getpid(), b->vm.fd, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Slow-GUP calls per page over one guest pass at @step; -1: no probe. */
static double guest_slow_per_page(struct bed *b, unsigned int step)
{
	long before;

	if (gup_probe_enable(true))
		return -1;
	before = gup_slow_hits();
	guest_write(b, step, 0x5a);
	before = gup_slow_hits() - before;
	gup_probe_enable(false);
	return (double)before / (b->npages / step);
}

static void print_row(const char *what, const struct samples *s,
		      const struct samples *base)
{
	char buf[96];

	printf("  %-28s %-44s %5.2fx %5.2fx\n", what,
	       samples_fmt(s, buf, sizeof(buf)),
	       samples_median(s) / samples_median(base),
	       samples_min(s) / samples_min(base));
}

static void spike_redirty(size_t size, unsigned int rounds)
{
	static const enum mem_kind kinds[] = {
		MEM_ANON, MEM_VIEW, MEM_VIEW_HUGE, MEM_KMIG,
	};
	enum { N = sizeof(kinds) / sizeof(kinds[0]) };
	static const char *const pf_stats[] = {
		"pf_taken", "pf_fast", "pf_fixed", "remote_tlb_flush_requests",
	};
	enum { NSTATS = sizeof(pf_stats) / sizeof(pf_stats[0]) };
	struct samples ns[N] = {};
	double first[N], again[N];
	long pf[N][NSTATS];
	struct bed b[N];
	unsigned int i, k, r;
	char what[64];

	for (k = 0; k < N; k++) {
		bed_init(&b[k], kinds[k], size, kinds[k] != MEM_KMIG, false);
		first[k] = guest_slow_per_page(&b[k], 1);
		harvest(&b[k]);
	}
	/* Each round starts with the next bed, against order effects. */
	for (r = 0; r < rounds; r++)
		for (i = 0; i < N; i++) {
			k = (r + i) % N;
			harvest(&b[k]);
			samples_add(&ns[k], guest_write(&b[k], 1, r));
		}
	for (k = 0; k < N; k++) {
		harvest(&b[k]);
		for (i = 0; i < NSTATS; i++)
			pf[k][i] = kvm_stat(&b[k], pf_stats[i]);
		again[k] = guest_slow_per_page(&b[k], 1);
		for (i = 0; i < NSTATS; i++)
			pf[k][i] = kvm_stat(&b[k], pf_stats[i]) - pf[k][i];
	}
	printf("spike 2: re-dirty after harvest, %zu MiB, %u rounds (ns/page; ratio of medians, of minima to anon-4k + KVM log)\n",
	       size >> 20, rounds);
	for (k = 0; k < N; k++) {
		snprintf(what, sizeof(what), "%s%s", b[k].name,
			 b[k].kmig_log ? " + kmig log" : " + KVM log");
		print_row(what, &ns[k], &ns[0]);
	}
	printf("  slow-GUP calls/page: first touch, re-dirty:");
	for (k = 0; k < N; k++)
		printf(" %s %.3f %.3f;", b[k].name, first[k], again[k]);
	printf("\n  KVM stats over one re-dirty pass of %zu pages:\n",
	       b[0].npages);
	for (k = 0; k < N; k++) {
		printf("    %-11s", b[k].name);
		for (i = 0; i < NSTATS; i++)
			printf(" %s %ld", pf_stats[i], pf[k][i]);
		printf("\n");
	}
	for (k = 0; k < N; k++)
		bed_uninit(&b[k]);
}

static void spike_harvest(size_t size, unsigned int rounds)
{
	static const char flush_stat[] = "remote_tlb_flush_requests";
	static const unsigned int steps[] = { 1, 8, 0 };
	static const char *const names[] = {
		"anon-4k, KVM direct", "view-4k, KVM direct",
		"view-4k, KVM via provider", "kmig-today",
		"view-4k, ping, KVM direct",
	};
	enum { N = 5 };
	struct samples ns[N], rt = {};
	long flush[N];
	struct bed b[N];
	unsigned int i, k, r, s;
	char buf[96];

	bed_init(&b[0], MEM_ANON, size, true, false);
	bed_init(&b[1], MEM_VIEW, size, true, false);
	bed_init(&b[2], MEM_VIEW, size, true, true);
	bed_init(&b[3], MEM_KMIG, size, false, false);
	/* The round trip alone, KVM's calls left in the harvester's thread. */
	bed_init(&b[4], MEM_VIEW, size, true, true);
	b[4].ping_first = true;
	for (k = 0; k < N; k++) {
		guest_write(&b[k], 1, 0xff);
		harvest(&b[k]);
	}
	printf("spike 3: harvest get+clear, %zu MiB, %u rounds (us/harvest; ratio of medians, of minima to anon-4k KVM direct)\n",
	       size >> 20, rounds);
	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		size_t want = steps[s] ? b[0].npages / steps[s] : 0;

		memset(ns, 0, sizeof(ns));
		for (k = 0; k < N; k++)
			flush[k] = kvm_stat(&b[k], flush_stat);
		for (r = 0; r < rounds; r++)
			for (i = 0; i < N; i++) {
				k = (r + i) % N;
				if (steps[s])
					guest_write(&b[k], steps[s], r);
				samples_add(&ns[k], harvest(&b[k]) / 1e3);
				SPIKE_CHECK(dirty_count(&b[k]) == want,
					    "harvest saw every guest write");
			}
		printf(" %u%% dirty\n", steps[s] ? 100 / steps[s] : 0);
		for (k = 0; k < N; k++)
			print_row(names[k], &ns[k], &ns[0]);
		printf("  KVM remote_tlb_flush_requests per round (write + harvest):");
		for (k = 0; k < N; k++)
			printf(" %.1f", (double)(kvm_stat(&b[k], flush_stat) -
					 flush[k]) / rounds);
		printf("\n");
	}
	for (r = 0; r < rounds; r++) {
		uint64_t t0 = spike_now_ns();

		provider_call(&b[2], 'p');
		samples_add(&rt, (spike_now_ns() - t0) / 1e3);
	}
	printf("  provider round trip alone (us)   %s\n",
	       samples_fmt(&rt, buf, sizeof(buf)));
	for (k = 0; k < N; k++)
		bed_uninit(&b[k]);
}

static void huge_stats(const struct bed *b, const char *stage)
{
	const char *key = b->mem.kind == MEM_ANON_THP ? "AnonHugePages" :
						       "FilePmdMapped";

	printf("  %-9s %-30s pages_2m %5ld pages_4k %6ld %s %ld kB\n",
	       b->name, stage, kvm_stat(b, "pages_2m"),
	       kvm_stat(b, "pages_4k"), key, smaps_kb(b->mem.p, key));
}

static void spike_huge(size_t size, unsigned int rounds)
{
	static const enum mem_kind kinds[] = {
		MEM_VIEW_HUGE, MEM_ANON_THP, MEM_VIEW, MEM_ANON,
	};
	enum { N = sizeof(kinds) / sizeof(kinds[0]) };
	struct samples ns[N] = {};
	struct bed b[N];
	unsigned int i, k, r;
	char what[64];

	printf("spike 5: 2 MiB, %zu MiB slot (%zu 2 MiB pages), %u rounds\n",
	       size >> 20, size / SPIKE_2M, rounds);
	for (k = 0; k < 2; k++) {
		bed_init(&b[k], kinds[k], size, false, false);
		huge_stats(&b[k], "user memset");
		guest_write(&b[k], 1, 1);
		huge_stats(&b[k], "guest wrote all, no log");
		slot_flags(&b[k], KVM_MEM_LOG_DIRTY_PAGES);
		huge_stats(&b[k], "log started");
		guest_write(&b[k], 8, 2);
		huge_stats(&b[k], "guest wrote 12%, logging");
		harvest(&b[k]);
		SPIKE_CHECK(dirty_count(&b[k]) == b[k].npages / 8,
			    "KVM logged every guest write");
		guest_write(&b[k], 8, 3);
		harvest(&b[k]);
		huge_stats(&b[k], "harvested, wrote, harvested");
		slot_flags(&b[k], 0);
		huge_stats(&b[k], "log stopped");
		guest_write(&b[k], 1, 4);
		huge_stats(&b[k], "guest wrote all, no log");
	}
	for (k = 2; k < N; k++) {
		bed_init(&b[k], kinds[k], size, false, false);
		guest_write(&b[k], 1, 1);
	}
	for (r = 0; r < rounds; r++)
		for (i = 0; i < N; i++) {
			k = (r + i) % N;
			samples_add(&ns[k], guest_write(&b[k], 1, r));
		}
	printf("  guest write of every page, no log (ns/page; ratio of medians, of minima to anon-thp)\n");
	for (k = 0; k < N; k++) {
		snprintf(what, sizeof(what), "%s", b[k].name);
		print_row(what, &ns[k], &ns[1]);
	}
	for (k = 0; k < N; k++)
		bed_uninit(&b[k]);
}

int main(int argc, char **argv)
{
	unsigned int rounds;
	size_t size;

	if (argc != 4) {
		fprintf(stderr, "usage: kvmlog redirty|harvest|huge SIZE_MIB ROUNDS\n");
		return 2;
	}
	size = strtoul(argv[2], NULL, 0) << 20;
	rounds = strtoul(argv[3], NULL, 0);
	SPIKE_CHECK(size && !(size % SPIKE_2M) && DATA_GPA + size <= (3ul << 30),
		    "SIZE_MIB: a multiple of 2, below 3 GiB - 256 MiB");
	SPIKE_CHECK(rounds && rounds <= SPIKE_MAX_SAMPLES, "ROUNDS");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "redirty"))
		spike_redirty(size, rounds);
	else if (!strcmp(argv[1], "harvest"))
		spike_harvest(size, rounds);
	else if (!strcmp(argv[1], "huge"))
		spike_huge(size, rounds);
	else
		SPIKE_CHECK(false, "subcommand: redirty, harvest or huge");
	return 0;
}
