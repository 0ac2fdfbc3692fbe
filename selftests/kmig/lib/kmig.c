// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for kmig's guest memory selftests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kmig.h"
#include "kvm.h"

int kmig_open(void)
{
	int fd = open("/dev/kmig", O_RDWR | O_CLOEXEC);

	KVM_ASSERT(fd >= 0, "open /dev/kmig");
	return fd;
}

int __kmig_set_memslot(int fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		       uint64_t size)
{
	struct kmig_memslot ms = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
	};

	if (ioctl(fd, KMIG_SET_MEMSLOT, &ms))
		return -errno;
	if (size && ms.offset != KMIG_SLOT_OFFSET(slot))
		return -EPROTO;
	return 0;
}

void kmig_set_memslot(int fd, uint32_t slot, uint32_t flags, uint64_t gpa,
		      uint64_t size)
{
	int ret = __kmig_set_memslot(fd, slot, flags, gpa, size);

	errno = -ret;
	KVM_ASSERT(!ret, "kmig slot %u", slot);
}

void *kmig_map(int fd, uint32_t slot, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       KMIG_SLOT_OFFSET(slot));

	KVM_ASSERT(p != MAP_FAILED, "mmap kmig slot %u", slot);
	return p;
}

int __kmig_fault_fd(int fd, uint32_t flags)
{
	struct kmig_fault_fd args = { .flags = flags };
	int ffd = ioctl(fd, KMIG_FAULT_FD, &args);

	return ffd < 0 ? -errno : ffd;
}

int __kmig_install(int fd, uint32_t slot, uint32_t flags,
		   const uint64_t *pages, const void *buf, uint8_t *status,
		   uint32_t count, uint32_t *installed)
{
	struct kmig_install args = {
		.slot = slot,
		.flags = flags,
		.pages = (uintptr_t)pages,
		.buf = (uintptr_t)buf,
		.status = (uintptr_t)status,
		.count = count,
	};
	int ret = ioctl(fd, KMIG_INSTALL, &args) ? -errno : 0;

	if (installed)
		*installed = args.installed;
	return ret;
}

void kmig_stats(int fd, struct kmig_ctx_stats *st)
{
	KVM_ASSERT(!ioctl(fd, KMIG_GET_STATS, st), "KMIG_GET_STATS");
}

uint64_t kmig_ctx_pages(int fd)
{
	struct kmig_ctx_stats st;

	kmig_stats(fd, &st);
	return st.pages;
}

int __kmig_dirty(int fd, unsigned long cmd, uint32_t slot, uint32_t flags,
		 uint64_t first, uint64_t num, uint64_t *bitmap)
{
	struct kmig_dirty_log a = {
		.slot = slot,
		.flags = flags,
		.first_page = first,
		.num_pages = num,
		.bitmap = (uintptr_t)bitmap,
	};

	return ioctl(fd, cmd, &a) ? -errno : 0;
}

void kmig_objects(struct kmig_info *info)
{
	struct kmig_nl nl;
	int ret;

	ret = kmig_nl_open(&nl);
	errno = -ret;
	KVM_ASSERT(!ret, "kmig netlink");
	ret = kmig_nl_get_info(&nl, info);
	errno = -ret;
	KVM_ASSERT(!ret, "KMIG_CMD_GET_INFO");
	kmig_nl_close(&nl);
}

struct kmig_info kmig_objects_now(void)
{
	struct kmig_info info;

	kmig_objects(&info);
	return info;
}

bool kmig_objects_zero(void)
{
	struct kmig_info i;

	kmig_objects(&i);
	if (!(i.obj_files | i.obj_contexts | i.obj_slots | i.obj_pages |
	      i.obj_fault_files))
		return true;
	fprintf(stderr, "# left over: files %llu contexts %llu slots %llu pages %llu fault fds %llu\n",
		(unsigned long long)i.obj_files,
		(unsigned long long)i.obj_contexts,
		(unsigned long long)i.obj_slots,
		(unsigned long long)i.obj_pages,
		(unsigned long long)i.obj_fault_files);
	return false;
}

long kmig_fault_hold_us(long us)
{
	static const char path[] = "/sys/module/kmig/parameters/fault_hold_us";
	FILE *f = fopen(path, "r+");
	long old = -EIO;

	if (!f)
		return -errno;
	if (fscanf(f, "%ld", &old) != 1)
		old = -EIO;
	if (old >= 0 && us >= 0 &&
	    (fseek(f, 0, SEEK_SET) || fprintf(f, "%ld\n", us) < 0 || fflush(f)))
		old = -errno;
	fclose(f);
	return old;
}

int kmig_read_faults(int ffd, struct kmig_fault *recs, int n)
{
	struct pollfd pfd = { .fd = ffd, .events = POLLIN };
	int got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&pfd, 1, 5000) != 1)
			break;
		r = read(ffd, recs + got, (n - got) * sizeof(*recs));
		if (r <= 0 || r % sizeof(*recs))
			return -1;
		got += r / sizeof(*recs);
	}
	return got;
}

bool kmig_pte_present(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &e, sizeof(e), (uintptr_t)p / PAGE_SZ * sizeof(e)) !=
	    sizeof(e))
		e = 0;
	close(fd);
	return e >> 63;
}

bool kmig_wait_waiters(int fd, uint64_t n, int ms)
{
	struct kmig_ctx_stats st;
	struct timespec ts = { 0, 1000000 };

	for (; ms >= 0; ms--) {
		kmig_stats(fd, &st);
		if (st.waiters == n)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

int kmig_write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#define NUMA_DEBUGFS "/sys/kernel/debug/sched/numa_balancing/"

int kmig_numa_balancing_fast(void)
{
	static const char *const knobs[][2] = {
		{ NUMA_DEBUGFS "scan_delay_ms", "0" },
		{ NUMA_DEBUGFS "scan_period_min_ms", "10" },
		{ NUMA_DEBUGFS "scan_period_max_ms", "20" },
		{ NUMA_DEBUGFS "scan_size_mb", "1024" },
		{ "/proc/sys/kernel/numa_balancing", "1" },
	};
	unsigned int i;
	int ret;

	if (access("/sys/devices/system/node/node1", F_OK))
		return -ENODEV;
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		ret = kmig_write_str(knobs[i][0], knobs[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

void kmig_numa_balancing_off(void)
{
	kmig_write_str("/proc/sys/kernel/numa_balancing", "0");
}

long kmig_file_counter(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	long v, ret = -1;
	char key[64];

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			ret = v;
	fclose(f);
	return ret;
}

long kmig_vmstat(const char *name)
{
	return kmig_file_counter("/proc/vmstat", name);
}

long kmig_pmd_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	const char *name = "FilePmdMapped:";
	char line[256];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (uintptr_t)addr;
			continue;
		}
		if (in && !strncmp(line, name, strlen(name))) {
			kb = strtol(line + strlen(name), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/*
 * Netlink in the network namespace of process @pid: a context shows only
 * in its opener's namespace.
 */
static int nl_open_at(pid_t pid, struct kmig_nl *nl)
{
	int here, there, ret = -EIO;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	there = open(path, O_RDONLY | O_CLOEXEC);
	if (here >= 0 && there >= 0 && !setns(there, CLONE_NEWNET)) {
		ret = kmig_nl_open(nl) ? -EIO : 0;
		if (setns(here, CLONE_NEWNET))
			abort();
	}
	if (here >= 0)
		close(here);
	if (there >= 0)
		close(there);
	return ret;
}

/* In @nl's list, the context that process @pid opened (the last one). */
static int find_owned(struct kmig_nl *nl, pid_t pid, struct kmig_nl_ctx *out)
{
	struct kmig_nl_ctx ctx[16];
	int n, i, ret = -ENOENT;

	if (kmig_nl_ctx_list(nl, ctx, 16, &n))
		return -ENOENT;
	for (i = 0; i < n && i < 16; i++)
		if (ctx[i].owner == (uint32_t)pid) {
			*out = ctx[i];
			ret = 0;
		}
	return ret;
}

/* At most @limit pages for the context of the VMM with process id @pid. */
int ctx_page_limit_of(pid_t pid, uint64_t limit)
{
	struct kmig_nl_ctx ctx;
	struct kmig_nl nl;
	int ret;

	if (nl_open_at(pid, &nl))
		return -EIO;
	ret = find_owned(&nl, pid, &ctx);
	if (!ret)
		ret = kmig_nl_ctx_set_page_limit(&nl, ctx.id, limit);
	kmig_nl_close(&nl);
	return ret;
}

/* The context of the VMM with process id @pid, as netlink lists it. */
int ctx_of(pid_t pid, struct kmig_nl_ctx *out)
{
	struct kmig_nl nl;
	int ret;

	if (nl_open_at(pid, &nl))
		return -EIO;
	ret = find_owned(&nl, pid, out);
	kmig_nl_close(&nl);
	return ret;
}

int ctx_stats_of(pid_t pid, struct kmig_nl_ctx *ctx, struct kmig_nl_stats *st)
{
	struct kmig_nl nl;
	int ret;

	if (nl_open_at(pid, &nl))
		return -EIO;
	ret = find_owned(&nl, pid, ctx);
	if (!ret)
		ret = kmig_nl_ctx_stats(&nl, ctx->id, st);
	kmig_nl_close(&nl);
	return ret;
}

int ctx_tracking_of(pid_t pid)
{
	struct kmig_nl_ctx ctx;
	int ret = ctx_of(pid, &ctx);

	return ret ? ret : !!(ctx.mode & KMIG_CTX_MODE_DIRTY_LOG);
}
