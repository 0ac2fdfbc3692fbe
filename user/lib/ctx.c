// SPDX-License-Identifier: GPL-2.0
/*
 * The single door to a kmig memory context (ctx.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"

#define PAGE	4096u

static int log_ioctl(int fd, unsigned long cmd, uint32_t slot,
		     uint32_t flags, uint64_t npages, uint64_t *bitmap)
{
	struct kmig_dirty_log log = {
		.slot = slot, .flags = flags, .num_pages = npages,
		.bitmap = (uintptr_t)bitmap,
	};

	return ioctl(fd, cmd, &log) ? -errno : 0;
}

int kmig_ctx_dirty_log(int fd, uint32_t slot, uint64_t npages,
		       uint64_t *bitmap, bool clear)
{
	return log_ioctl(fd, KMIG_GET_DIRTY_LOG, slot,
			 clear ? KMIG_DIRTY_LOG_CLEAR : 0, npages, bitmap);
}

int kmig_ctx_dirty_logs(int fd, unsigned int n, const uint32_t *slots,
			const uint64_t *npages, uint64_t *const *bitmaps,
			bool clear)
{
	struct kmig_dirty_log log[KMIG_LOG_MAX_SLOTS] = { 0 };
	struct kmig_dirty_logs set = {
		.count = n, .flags = clear ? KMIG_DIRTY_LOG_CLEAR : 0,
		.logs = (uintptr_t)log,
	};
	unsigned int i;

	if (!n || n > KMIG_LOG_MAX_SLOTS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		log[i].slot = slots[i];
		log[i].num_pages = npages[i];
		log[i].bitmap = (uintptr_t)bitmaps[i];
	}
	return ioctl(fd, KMIG_GET_DIRTY_LOGS, &set) ? -errno : 0;
}

int kmig_ctx_present(int fd, uint32_t slot, uint64_t npages,
		     uint64_t *bitmap)
{
	return log_ioctl(fd, KMIG_GET_PRESENT_BITMAP, slot, 0, npages, bitmap);
}

int kmig_ctx_set_logging(int fd, uint32_t slot, bool on)
{
	struct kmig_dirty_logging lg = {
		.slot = slot, .flags = on ? KMIG_DIRTY_LOGGING_ON : 0,
	};

	return ioctl(fd, KMIG_SET_DIRTY_LOGGING, &lg) ? -errno : 0;
}

void *kmig_ctx_map(int fd, uint32_t slot, uint64_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd,
		       KMIG_SLOT_OFFSET(slot));

	return p == MAP_FAILED ? NULL : p;
}

void *kmig_ctx_map_huge(int fd, uint32_t slot, uint64_t size, int prot)
{
	const uintptr_t huge = KMIG_HUGE_SIZE;
	size_t len = size + huge;
	uint8_t *r, *at, *p;
	int err;

	/* Room for an aligned start, the map put there, the rest let go. */
	r = mmap(NULL, len, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	at = (uint8_t *)(((uintptr_t)r + huge - 1) & ~(huge - 1));
	p = mmap(at, size, prot, MAP_SHARED | MAP_FIXED, fd,
		 KMIG_SLOT_OFFSET(slot));
	if (p == MAP_FAILED) {
		err = errno;
		munmap(r, len);
		errno = err;
		return NULL;
	}
	if (at > r)
		munmap(r, at - r);
	if (at + size < r + len)
		munmap(at + size, r + len - (at + size));
	/* Refused (no THP): the mapping works at 4 KiB all the same. */
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

int kmig_ctx_install_zero(int fd, uint32_t slot, const uint64_t *pages,
			  unsigned int n)
{
	struct kmig_install in = {
		.slot = slot, .flags = KMIG_INSTALL_ZERO,
		.pages = (uintptr_t)pages, .count = n,
	};

	return ioctl(fd, KMIG_INSTALL, &in) ? -errno : 0;
}

int kmig_ctx_write_pages(int fd, uint32_t slot, uint64_t first,
			 const struct iovec *iov, unsigned int n,
			 unsigned int *done)
{
	ssize_t w = 0;

	*done = 0;
	while (*done < n) {
		w = pwritev(fd, iov + *done, n - *done,
			    KMIG_SLOT_OFFSET(slot) + (first + *done) * PAGE);
		if (w <= 0 || w % PAGE)
			break;
		*done += w / PAGE;
	}
	if (*done == n)
		return 0;
	return w < 0 ? -errno : -EIO;
}

int kmig_ctx_read(int fd, uint32_t slot, uint64_t off, void *buf,
		  size_t len)
{
	ssize_t r = pread(fd, buf, len, KMIG_SLOT_OFFSET(slot) + off);

	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

int kmig_ctx_install_n(int fd, uint32_t slot, const uint64_t *pages,
		       const void *buf, unsigned int n,
		       unsigned int *installed)
{
	struct kmig_install in = {
		.slot = slot, .flags = buf ? 0 : KMIG_INSTALL_ZERO,
		.pages = (uintptr_t)pages, .buf = (uintptr_t)buf, .count = n,
	};
	int ret = ioctl(fd, KMIG_INSTALL, &in) ? -errno : 0;

	*installed = in.installed;
	return ret;
}

int kmig_ctx_install(int fd, uint32_t slot, const uint64_t *pages,
		     const void *buf, unsigned int n)
{
	unsigned int installed;

	return kmig_ctx_install_n(fd, slot, pages, buf, n, &installed);
}

int kmig_ctx_staging_fd(int fd)
{
	struct kmig_view v = { .flags = KMIG_VIEW_STAGING };
	int vfd = ioctl(fd, KMIG_VIEW_FD, &v);

	if (vfd >= 0)
		return vfd;
	/* API version 3 and older know no staging view */
	return errno == EINVAL ? -EOPNOTSUPP : -errno;
}

int kmig_ctx_stage(void *addr, size_t len)
{
	while (madvise(addr, len, MADV_POPULATE_WRITE))
		if (errno != EINTR)
			return errno == EHWPOISON ? -EFAULT : -errno;
	return 0;
}

int kmig_ctx_install_staged(int fd, uint32_t slot, const uint64_t *pages,
			    unsigned int n, uint8_t *status,
			    unsigned int *installed)
{
	struct kmig_install in = {
		.slot = slot, .flags = KMIG_INSTALL_STAGED,
		.pages = (uintptr_t)pages, .status = (uintptr_t)status,
		.count = n,
	};
	int ret = ioctl(fd, KMIG_INSTALL, &in) ? -errno : 0;

	*installed = in.installed;
	return ret;
}

static int set_missing(int fd, uint32_t slot, uint64_t first, uint64_t n,
		       uint32_t flags)
{
	struct kmig_range r = {
		.slot = slot, .flags = flags, .first_page = first,
		.num_pages = n,
	};

	return ioctl(fd, KMIG_SET_MISSING, &r) ? -errno : 0;
}

int kmig_ctx_set_missing(int fd, uint32_t slot, uint64_t first, uint64_t n)
{
	return set_missing(fd, slot, first, n, 0);
}

int kmig_ctx_set_missing_runs(int fd, uint32_t slot, const uint64_t *bm,
			      uint64_t npages, uint32_t flags, uint64_t *first,
			      uint64_t *n)
{
	uint64_t p = 0;
	int ret;

	while (p < npages) {
		for (; p < npages && !(bm[p / 64] & (1ull << (p % 64))); p++)
			;
		for (*first = p; p < npages && (bm[p / 64] & (1ull << (p % 64)));
		     p++)
			;
		*n = p - *first;
		if (!*n)
			continue;
		ret = set_missing(fd, slot, *first, *n, flags);
		if (ret)
			return ret;
	}
	return 0;
}

int kmig_fault_wait(int ffd, int stop_fd, struct kmig_fault *rec,
		    unsigned int max)
{
	struct pollfd p[2] = {
		{ .fd = ffd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	ssize_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return 0;
		if (!p[0].revents)
			continue;
		n = read(ffd, rec, max * sizeof(*rec));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		return n ? (int)(n / sizeof(*rec)) : -EIO;
	}
}

void kmig_fault_thread_stop(pthread_t t, bool *started, int stop_wr,
			    const char *who)
{
	if (!*started)
		return;
	if (write(stop_wr, "", 1) != 1)
		fprintf(stderr, "%s: cannot stop the fault thread: %s\n", who,
			strerror(errno));
	pthread_join(t, NULL);
	*started = false;
}

int kmig_ctx_fault_fd(int fd, uint32_t flags)
{
	struct kmig_fault_fd f = { .flags = flags };
	int ffd = ioctl(fd, KMIG_FAULT_FD, &f), ret;

	if (ffd < 0)
		return -errno;
	/*
	 * A record poll() reported can be gone by the read: a waiter whose
	 * page arrived meanwhile withdraws its own. A blocking read would
	 * then wait for the next fault, which may never come.
	 */
	if (fcntl(ffd, F_SETFL, fcntl(ffd, F_GETFL) | O_NONBLOCK)) {
		ret = -errno;
		close(ffd);
		return ret;
	}
	return ffd;
}

int kmig_ctx_stats(int fd, struct kmig_ctx_stats *st)
{
	return ioctl(fd, KMIG_GET_STATS, st) ? -errno : 0;
}
