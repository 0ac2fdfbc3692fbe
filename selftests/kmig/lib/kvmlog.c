// SPDX-License-Identifier: GPL-2.0
/* A KVM log provider thread for selftests: see kvmlog.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kmig.h>
#include <linux/kvm.h>

#include "kvmlog.h"

int kmig_view(int ctx, uint32_t flags)
{
	struct kmig_view v = { .flags = flags };
	int fd = ioctl(ctx, KMIG_VIEW_FD, &v);

	return fd < 0 ? -errno : fd;
}

void *kmig_view_map(int ctx, uint32_t flags, uint32_t slot, uint64_t size)
{
	int fd = kmig_view(ctx, flags), err;
	void *p;

	if (fd < 0) {
		errno = -fd;
		return MAP_FAILED;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 KMIG_SLOT_OFFSET(slot));
	err = errno;
	close(fd);
	errno = err;
	return p;
}

static int set_log(struct kvmlog *p, uint32_t s, bool on)
{
	return __vm_set_memslot(p->vm, s, on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
				p->slot[s].gpa, p->slot[s].size,
				p->slot[s].hva);
}

/* KVM_GET_DIRTY_LOG then KVM_CLEAR_DIRTY_LOG of what it returned. */
static int harvest(struct kvmlog *p, uint32_t s, uint64_t *bm)
{
	uint64_t npages = p->slot[s].size / 4096;
	struct kvm_dirty_log get = { .slot = s, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clr = {
		.slot = s, .num_pages = npages, .dirty_bitmap = bm,
	};

	if (ioctl(p->vm->fd, KVM_GET_DIRTY_LOG, &get) ||
	    ioctl(p->vm->fd, KVM_CLEAR_DIRTY_LOG, &clr))
		return -errno;
	return 0;
}

static void answer(struct kvmlog *p, const struct kmig_log_request *rq)
{
	struct kmig_log_provided a = { .seq = rq->seq };
	uint64_t *bm = NULL, size = 0, off = 0;
	uint32_t i, s;

	for (i = 0; i < rq->nslots; i++)
		size += (p->slot[rq->slots[i]].size / 4096 + 63) / 64 * 8;
	if (rq->op == KMIG_LOG_HARVEST) {
		bm = calloc(1, size ? size : 8);
		if (!bm)
			a.status = -ENOMEM;
	}
	for (i = 0; i < rq->nslots && !a.status; i++) {
		s = rq->slots[i];
		if (s >= KVMLOG_SLOTS || !p->slot[s].size)
			a.status = -ENOENT;
		else if (rq->op == KMIG_LOG_HARVEST)
			a.status = harvest(p, s, bm + off / 8);
		else
			a.status = set_log(p, s, rq->op == KMIG_LOG_START);
		off += (p->slot[s].size / 4096 + 63) / 64 * 8;
	}
	if (bm && !a.status) {
		a.nslots = rq->nslots;
		a.bitmaps = (uintptr_t)bm;
		a.size = size;
	}
	ioctl(p->fd, KMIG_LOG_PROVIDED, &a);
	free(bm);
	p->requests++;
}

static void *provider(void *arg)
{
	struct kvmlog *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	struct kmig_log_request rq;

	while (!p->stop) {
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if (read(p->fd, &rq, sizeof(rq)) == sizeof(rq))
			answer(p, &rq);
	}
	return NULL;
}

int kvmlog_start(struct kvmlog *p, int ctx, struct vm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	struct kmig_log_provider lp = { 0 };

	memset(p, 0, sizeof(*p));
	p->vm = vm;
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap))
		return -errno;
	p->fd = ioctl(ctx, KMIG_LOG_PROVIDER_FD, &lp);
	if (p->fd < 0)
		return -errno;
	if (pthread_create(&p->thread, NULL, provider, p)) {
		close(p->fd);
		return -EAGAIN;
	}
	return 0;
}

void kvmlog_slot(struct kvmlog *p, uint32_t slot, uint64_t gpa,
		 uint64_t size, void *hva)
{
	p->slot[slot].gpa = gpa;
	p->slot[slot].size = size;
	p->slot[slot].hva = hva;
}

void kvmlog_stop(struct kvmlog *p)
{
	p->stop = true;
	pthread_join(p->thread, NULL);
	close(p->fd);
}
