// SPDX-License-Identifier: GPL-2.0
/*
 * What a guest pays to reach its memory (issue 11): a KVM guest's memory
 * accesses on a kmig KMIG_SLOT_HUGE | KMIG_SLOT_KVM_LOG slot, mapped by
 * KVM through a guest view, against the same on anonymous memory with
 * MADV_HUGEPAGE (what QEMU's RAM is with transparent huge pages), and a
 * kmig order-0 slot for reference.
 *
 * Three VMs, one per backing, each with a REGION of data at DATA_GPA and
 * the same guest code: 32-bit flat mode, no guest paging, so that every
 * access is translated by KVM's mapping alone (2 MiB or 4 KiB entries).
 * Two patterns: a read-modify-write of a random byte (xorshift32) over
 * the region, and one per 4 KiB page in turn (a new page at every
 * access, where 4 KiB entries miss the TLB every time and 2 MiB ones
 * once in 512). Every page is written once before timing, so no run
 * faults; the anonymous region's THP are made by the host's write
 * faults first (anon_populate() says why). A run's access count is set once, for all backings, from a
 * short run on anonymous memory. The runs alternate between the
 * backings, REPS rounds; a row
 * gives the medians (ns per guest access) and the ratio, the lines under
 * the table the ranges and what backs each region: KVM's pages_2m for
 * each VM (debugfs), FilePmdMapped and AnonHugePages (smaps_rollup).
 */
#include <fcntl.h>
#include <linux/kmig.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "kvm.h"
#include "kvmlog.h"

#define PAGE		4096ul
#define HUGE		(2ul << 20)
#define REGION		(64ul << 20)
#define DATA_GPA	0x10000000ul
#define RAND_GPA	0x1000ul
#define STRIDE_GPA	0x1100ul
#define REPS		7
/* A run's length: about RUN_NS, between MIN_ACCESSES and MAX_ACCESSES. */
#define RUN_NS		250e6
#define MIN_ACCESSES	4096u
#define MAX_ACCESSES	(1u << 22)

/*
 * 32-bit, esi the xorshift32 state, edi REGION - 1, ebx DATA_GPA:
 * 1:	mov eax, esi; shl eax, 13; xor esi, eax
 *	mov eax, esi; shr eax, 17; xor esi, eax
 *	mov eax, esi; shl eax, 5; xor esi, eax
 *	mov eax, esi; and eax, edi; add byte [ebx + eax], 1
 *	dec ecx; jnz 1b; hlt
 */
static const uint8_t rand_code[] = {
	0x89, 0xf0, 0xc1, 0xe0, 0x0d, 0x31, 0xc6,
	0x89, 0xf0, 0xc1, 0xe8, 0x11, 0x31, 0xc6,
	0x89, 0xf0, 0xc1, 0xe0, 0x05, 0x31, 0xc6,
	0x89, 0xf0, 0x21, 0xf8, 0x80, 0x04, 0x03, 0x01,
	0x49, 0x75, 0xe0, 0xf4,
};

/*
 * The same registers, edx the step:
 * 1:	add eax, edx; and eax, edi; add byte [ebx + eax], 1
 *	dec ecx; jnz 1b; hlt
 */
static const uint8_t stride_code[] = {
	0x01, 0xd0, 0x21, 0xf8, 0x80, 0x04, 0x03, 0x01,
	0x49, 0x75, 0xf5, 0xf4,
};

enum backing { KMIG_HUGE, ANON_THP, KMIG_4K, NBACKINGS };

static const char *const names[NBACKINGS] = {
	"kmig huge slot", "anonymous THP", "kmig order-0 slot",
};

struct guest {
	struct vm vm;
	struct vcpu vcpu;
	uint8_t *low;
	int ctx;			/* -1: anonymous memory */
	uint8_t *map;			/* what the data mmap() returned */
	size_t map_len;
	uint8_t *mem;			/* the region KVM maps */
};

/* A kmig slot of @flags, KVM mapping its guest view. */
static void kmig_backing(struct guest *g, uint32_t flags)
{
	struct kmig_memslot ms = {
		.slot = 1,
		.flags = flags | KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG,
		.guest_phys_addr = DATA_GPA, .memory_size = REGION,
	};
	int v;

	g->ctx = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	BENCH_CHECK(g->ctx >= 0, "open /dev/kmig");
	BENCH_CHECK(!ioctl(g->ctx, KMIG_SET_MEMSLOT, &ms), "KMIG_SET_MEMSLOT");
	v = kmig_view(g->ctx, KMIG_VIEW_GUEST);
	BENCH_CHECK(v >= 0, "KMIG_VIEW_FD");
	g->map_len = REGION;
	g->map = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, v,
		      ms.offset);
	close(v);
	BENCH_CHECK(g->map != MAP_FAILED, "mmap the guest view");
	g->mem = g->map;
}

/* Anonymous memory, 2 MiB aligned, MADV_HUGEPAGE. */
static void anon_backing(struct guest *g)
{
	uintptr_t a;

	g->ctx = -1;
	g->map_len = REGION + HUGE;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(g->map != MAP_FAILED, "mmap anonymous memory");
	a = ((uintptr_t)g->map + HUGE - 1) & ~(HUGE - 1);
	g->mem = (uint8_t *)a;
	BENCH_CHECK(!madvise(g->mem, REGION, MADV_HUGEPAGE),
		    "MADV_HUGEPAGE");
}

static void guest_init(struct guest *g, enum backing b)
{
	memset(g, 0, sizeof(*g));
	if (b == ANON_THP)
		anon_backing(g);
	else
		kmig_backing(g, b == KMIG_HUGE ? KMIG_SLOT_HUGE : 0);
	g->low = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(g->low != MAP_FAILED, "mmap guest code");
	memcpy(g->low + RAND_GPA, rand_code, sizeof(rand_code));
	memcpy(g->low + STRIDE_GPA, stride_code, sizeof(stride_code));
	vm_create(&g->vm);
	vm_set_memslot(&g->vm, 0, 0, 0, 0x10000, g->low);
	vm_set_memslot(&g->vm, 1, 0, DATA_GPA, REGION, g->mem);
	vcpu_create(&g->vcpu, &g->vm, RAND_GPA);
	vcpu_set_flat32(&g->vcpu);
}

static void guest_uninit(struct guest *g)
{
	vcpu_destroy(&g->vcpu);
	vm_destroy(&g->vm);
	munmap(g->low, 0x10000);
	munmap(g->map, g->map_len);
	if (g->ctx >= 0)
		close(g->ctx);
}

/* The guest runs @count accesses of the code at @rip: ns per access. */
static double guest_run(struct guest *g, uint64_t rip, uint32_t count,
			uint32_t seed)
{
	struct kvm_regs regs = {
		.rip = rip, .rflags = 2, .rbx = DATA_GPA, .rcx = count,
		.rdx = PAGE, .rsi = seed, .rdi = REGION - 1,
	};
	uint64_t t;

	vcpu_set_regs(&g->vcpu, &regs);
	t = bench_now_ns();
	BENCH_CHECK(vcpu_run(&g->vcpu) == KVM_EXIT_HLT, "a guest run to hlt");
	return (double)(bench_now_ns() - t) / count;
}

/* KVM's 2 MiB mappings of @vm (its debugfs directory), or -1. */
static long vm_pages_2m(const struct vm *vm)
{
	char path[96];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/pages_2m",
		 (int)getpid(), vm->fd);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* The access count of a run of the code at @rip: about RUN_NS on @g. */
static uint32_t calibrate(struct guest *g, uint64_t rip)
{
	double n = RUN_NS / guest_run(g, rip, MIN_ACCESSES, 1);

	if (n < MIN_ACCESSES)
		return MIN_ACCESSES;
	return n > MAX_ACCESSES ? MAX_ACCESSES : (uint32_t)n;
}

/*
 * What backs the regions: KVM's 2 MiB mappings of each VM, and the
 * process's PMD-mapped file memory (the huge slot's guest view: the
 * order-0 slot's has none) and anonymous THP (the anonymous region).
 */
static void print_backing(struct guest *g, const char *when)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	long pmd = -1, thp = -1;
	char line[256];
	int b;

	for (b = 0; b < NBACKINGS; b++)
		printf("  %-18s %s: KVM pages_2m %ld (of %lu)\n", names[b],
		       when, vm_pages_2m(&g[b].vm), REGION / HUGE);
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "FilePmdMapped: %ld", &pmd);
		sscanf(line, "AnonHugePages: %ld", &thp);
	}
	if (f)
		fclose(f);
	printf("  process %s: FilePmdMapped %ld kB, AnonHugePages %ld kB (each of %lu)\n",
	       when, pmd, thp, REGION >> 10);
}

/* /proc/vmstat's counter @name, or -1. */
static long vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long v, n = -1;

	while (f && fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			n = v;
	if (f)
		fclose(f);
	return n;
}

/*
 * The anonymous region's THP, each made by a write fault of the host's:
 * the guest's first access to a page reads it (KVM faults it in read
 * only, the huge zero page), and a write fault on the huge zero page
 * maps 4 KiB pages, which khugepaged collapses later, during the runs.
 */
static void anon_populate(struct guest *g)
{
	long alloc = vmstat("thp_fault_alloc");
	unsigned long off;

	for (off = 0; off < REGION; off += HUGE)
		g->mem[off] = 0;
	printf("  anonymous THP: %ld THP faults for %lu blocks\n",
	       vmstat("thp_fault_alloc") - alloc, REGION / HUGE);
}

static void print_load(const char *when)
{
	char line[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			strcpy(line, "?\n");
		fclose(f);
	}
	printf("  load average %s: %s", when, line);
}

/* Median of @v (REPS values), sorting a copy; min and max out. */
static double stats(const double *v, double *min, double *max)
{
	double s[REPS];

	memcpy(s, v, sizeof(s));
	bench_sort(s, REPS);
	*min = s[0];
	*max = s[REPS - 1];
	return s[REPS / 2];
}

static void rows(const char *what, double t[NBACKINGS][REPS])
{
	double lo[NBACKINGS], hi[NBACKINGS], med[NBACKINGS], r[REPS];
	double rlo, rhi, rmed;
	char label[96];
	int b, i;

	for (b = 0; b < NBACKINGS; b++)
		med[b] = stats(t[b], &lo[b], &hi[b]);
	for (i = 0; i < REPS; i++)
		r[i] = t[ANON_THP][i] / t[KMIG_HUGE][i];
	rmed = stats(r, &rlo, &rhi);
	snprintf(label, sizeof(label), "%s, kmig huge slot", what);
	bench_row(label, "ns/access", med[KMIG_HUGE], med[ANON_THP],
		  "anonymous THP");
	snprintf(label, sizeof(label), "%s, kmig order-0 slot", what);
	bench_row(label, "ns/access", med[KMIG_4K], med[ANON_THP],
		  "anonymous THP");
	for (b = 0; b < NBACKINGS; b++)
		printf("  %-18s %.1f .. %.1f ns/access\n", names[b], lo[b],
		       hi[b]);
	printf("  speed, kmig huge / anonymous THP, per round: median %.3f, range %.3f .. %.3f\n",
	       rmed, rlo, rhi);
}

int main(void)
{
	static double rnd[NBACKINGS][REPS], seq[NBACKINGS][REPS];
	struct guest g[NBACKINGS];
	uint32_t nrnd, nseq;
	int r, k, b;

	bench_header("Guest memory access on 2 MiB backing: kmig huge slot vs anonymous THP (ns per guest access)");
	print_load("before");
	for (b = 0; b < NBACKINGS; b++) {
		guest_init(&g[b], b);
		if (b == ANON_THP)
			anon_populate(&g[b]);
		/* every page written once, then once more at random */
		guest_run(&g[b], STRIDE_GPA, REGION / PAGE, 0);
		guest_run(&g[b], RAND_GPA, MIN_ACCESSES, 1);
	}
	/*
	 * KVM may map THP 4 KiB at first (seen on 6.12): passes over the
	 * region, up to 20, until it maps both 2 MiB backings whole.
	 */
	for (r = 0; r < 20; r++) {
		if (vm_pages_2m(&g[KMIG_HUGE].vm) >= (long)(REGION / HUGE) &&
		    vm_pages_2m(&g[ANON_THP].vm) >= (long)(REGION / HUGE))
			break;
		for (b = 0; b < NBACKINGS; b++)
			guest_run(&g[b], STRIDE_GPA, REGION / PAGE, 0);
	}
	printf("  extra passes before KVM mapped both 2 MiB: %d\n", r);
	print_backing(g, "warm");
	nrnd = calibrate(&g[ANON_THP], RAND_GPA);
	nseq = calibrate(&g[ANON_THP], STRIDE_GPA);
	printf("  accesses a run: %u random, %u strided, %d rounds\n", nrnd,
	       nseq, REPS);
	for (r = 0; r < REPS; r++) {
		for (k = 0; k < NBACKINGS; k++) {
			b = (r + k) % NBACKINGS;
			rnd[b][r] = guest_run(&g[b], RAND_GPA, nrnd, r + 2);
		}
		for (k = 0; k < NBACKINGS; k++) {
			b = (r + k) % NBACKINGS;
			seq[b][r] = guest_run(&g[b], STRIDE_GPA, nseq, 0);
		}
	}
	rows("random byte RMW", rnd);
	rows("one access a 4 KiB page", seq);
	print_backing(g, "after");
	for (b = 0; b < NBACKINGS; b++)
		guest_uninit(&g[b]);
	print_load("after");
	return 0;
}
