// SPDX-License-Identifier: GPL-2.0
/*
 * --kvm-log: kmig's KVM log provider (memory model (b),
 * Documentation/memory-model.rst). The vCPUs write guest RAM through the
 * guest views, which kmig does not log; KVM does, with manual-protect
 * dirty logging, and only this process may read KVM's log. So a thread
 * reads kmig's requests from the provider fd: START and STOP toggle
 * KVM_MEM_LOG_DIRTY_PAGES on the slots, HARVEST answers with
 * KVM_GET_DIRTY_LOG and clears what it got with KVM_CLEAR_DIRTY_LOG;
 * with --kvm-log=ring, from KVM's dirty rings instead (dring.c).
 * The agent keeps asking kmig for one log per slot and never sees this.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "vmm.h"

static uint64_t bitmap_bytes(const struct vmm_slot *s)
{
	return (s->size / 4096 + 63) / 64 * 8;
}

static int set_logging(struct vmm *vmm, const struct vmm_slot *s, bool on)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->id,
		.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = (uintptr_t)vmm_mem_kvm_hva(s),
	};

	return ioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

/*
 * With the ring, START begins an empty log: what was reaped of the
 * slot before is dropped.
 */
static int start(struct vmm *vmm, const struct vmm_slot *s)
{
	int ret = 0;

	if (vmm->dring_entries) {
		ret = vmm_dring_reap(vmm, false);
		vmm_dring_take(vmm, s, NULL);
	}
	return ret ? ret : set_logging(vmm, s, true);
}

/*
 * Get the slot's log into @bm and clear (re-protect) what it holds; with
 * the ring, what the pass's reap (serve()) put in its pending bitmap.
 */
static int harvest(struct vmm *vmm, const struct vmm_slot *s, uint64_t *bm)
{
	struct kvm_dirty_log get = { .slot = s->id, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clear = {
		.slot = s->id, .num_pages = s->size / 4096, .dirty_bitmap = bm,
	};

	if (vmm->dring_entries) {
		vmm_dring_take(vmm, s, bm);
		return 0;
	}
	if (ioctl(vmm->vm_fd, KVM_GET_DIRTY_LOG, &get) ||
	    ioctl(vmm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear))
		return -errno;
	return 0;
}

/* Do @rq and answer it; a failed answer is kmig's to time out. */
static void serve(struct vmm *vmm, const struct kmig_log_request *rq)
{
	struct kmig_log_provided a = { .seq = rq->seq };
	const struct vmm_slot *s;
	uint64_t size = 0, off = 0;
	uint8_t *bm = NULL;
	uint32_t i;

	for (i = 0; i < rq->nslots && !a.status; i++) {
		s = vmm_mem_slot(&vmm->mem, rq->slots[i]);
		if (!s || !s->kvm_log)
			a.status = -ENOENT;
		else
			size += bitmap_bytes(s);
	}
	if (!a.status && rq->op == KMIG_LOG_HARVEST) {
		bm = malloc(size ? size : 1);
		if (!bm)
			a.status = -ENOMEM;
	}
	/* One reap of every ring a harvest pass, however many slots. */
	if (!a.status && rq->op == KMIG_LOG_HARVEST && vmm->dring_entries)
		a.status = vmm_dring_reap(vmm, false);
	for (i = 0; i < rq->nslots && !a.status; i++) {
		s = vmm_mem_slot(&vmm->mem, rq->slots[i]);
		if (rq->op == KMIG_LOG_HARVEST)
			a.status = harvest(vmm, s, (uint64_t *)(bm + off));
		else if (rq->op == KMIG_LOG_START)
			a.status = start(vmm, s);
		else if (rq->op == KMIG_LOG_STOP)
			a.status = set_logging(vmm, s, false);
		else
			a.status = -EOPNOTSUPP;
		off += bitmap_bytes(s);
	}
	if (!a.status && bm) {
		a.nslots = rq->nslots;
		a.bitmaps = (uintptr_t)bm;
		a.size = size;
	}
	if (ioctl(vmm->log_fd, KMIG_LOG_PROVIDED, &a))
		fprintf(stderr, "kmig-vmm: KVM log request %llu: answer refused: %s\n",
			(unsigned long long)rq->seq, strerror(errno));
	free(bm);
}

static void *provider(void *arg)
{
	struct vmm *vmm = arg;
	struct pollfd pfd = { .fd = vmm->log_fd, .events = POLLIN };
	struct kmig_log_request rq;

	while (!vmm->log_stop) {
		/* Bounded: the stop flag is looked at every 100 ms. */
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		kmig_delay_at("vmm-log-read");	/* a test's late read */
		if (read(vmm->log_fd, &rq, sizeof(rq)) == sizeof(rq))
			serve(vmm, &rq);
	}
	return NULL;
}

/* Manual-protect dirty logging, each page dirty at START if KVM can. */
static int bitmap_enable(struct vmm *vmm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	int have, ret;

	have = ioctl(vmm->vm_fd, KVM_CHECK_EXTENSION,
		     KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (have <= 0) {
		fprintf(stderr, "kmig-vmm: --kvm-log: KVM has no manual-protect dirty log\n");
		return -EOPNOTSUPP;
	}
	/* Every page dirty at START: KVM then write-protects at each clear. */
	if (have & KVM_DIRTY_LOG_INITIALLY_SET)
		cap.args[0] |= KVM_DIRTY_LOG_INITIALLY_SET;
	if (ioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap)) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --kvm-log: KVM_ENABLE_CAP: %s\n",
			strerror(-ret));
		return ret;
	}
	return 0;
}

int vmm_kvmlog_start(struct vmm *vmm)
{
	struct kmig_log_provider lp = { 0 };
	int ret;

	ret = vmm->dring_entries ? vmm_dring_enable(vmm) : bitmap_enable(vmm);
	if (ret)
		return ret;
	vmm->log_fd = ioctl(vmm->mem.slot[0].fd, KMIG_LOG_PROVIDER_FD, &lp);
	if (vmm->log_fd < 0) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --kvm-log: KMIG_LOG_PROVIDER_FD: %s\n",
			strerror(errno));
		goto err_ring;
	}
	/*
	 * Non-blocking: a request poll() reported is gone by the read if its
	 * caller gave up meanwhile, and a blocking read would then hold the
	 * thread, which vmm_kvmlog_stop() joins, until the next request.
	 */
	if (fcntl(vmm->log_fd, F_SETFL,
		  fcntl(vmm->log_fd, F_GETFL) | O_NONBLOCK)) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --kvm-log: O_NONBLOCK: %s\n",
			strerror(errno));
		close(vmm->log_fd);
		goto err_ring;
	}
	vmm->log_stop = false;
	ret = -pthread_create(&vmm->log_thread, NULL, provider, vmm);
	if (ret) {
		close(vmm->log_fd);
		goto err_ring;
	}
	vmm->log_running = true;
	return 0;

err_ring:
	vmm_dring_disable(vmm);
	return ret;
}

void vmm_kvmlog_stop(struct vmm *vmm)
{
	if (!vmm->log_running)
		return;
	vmm->log_stop = true;
	pthread_join(vmm->log_thread, NULL);
	close(vmm->log_fd);
	vmm->log_running = false;
	if (vmm->dring_entries)
		fprintf(stderr, "kmig-vmm: dirty ring: %llu entries reaped, %llu full-ring exits\n",
			(unsigned long long)vmm->dring_reaped,
			(unsigned long long)vmm->dring_full);
	vmm_dring_disable(vmm);
}
