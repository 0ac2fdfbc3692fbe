// SPDX-License-Identifier: GPL-2.0
/*
 * --kvm-log=ring: KVM's dirty rings as the source of the vCPUs' writes
 * (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, or KVM_CAP_DIRTY_LOG_RING where only
 * that exists). Each vCPU has a ring of {flags, slot, offset} entries
 * that KVM fills as it logs a write; the VMM reaps every ring into a
 * pending bitmap per slot, marks the entries harvested and asks KVM to
 * re-protect their pages (KVM_RESET_DIRTY_RINGS). A HARVEST (kvmlog.c)
 * reaps, then hands over and empties the pending bitmaps of its slots.
 *
 * Why a reap sees every write made before the request: KVM pushes an
 * entry while it handles the write fault of a logged page, in the vCPU's
 * thread, before the faulting write can complete; its own writes (pfn
 * caches, kvm_vcpu_map()) are pushed before KVM_RUN returns. The entry's
 * flags are published with a release store and read here with an
 * acquire load. The exception is Intel's PML, which buffers the logged
 * GPAs in hardware until the vCPU exits: there a reap would need every
 * vCPU kicked out first, which this provider does not do, so it refuses
 * to start when kvm_intel's pml is on. The last harvest of a migration
 * runs with the vCPUs paused, out of KVM_RUN: it sees everything.
 *
 * A full ring (entries - KVM's reserve) makes its vCPU exit with
 * KVM_EXIT_DIRTY_RING_FULL before it enters the guest again; the vCPU
 * thread then reaps and resets (vcpu.c) and re-enters.
 *
 * Locking: dring_lock covers every vCPU's ring pointer and next index,
 * the pending bitmaps and the counters; reaping and KVM_RESET_DIRTY_RINGS happen
 * under it, so entries are marked and reset by one reaper at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

static uint64_t slot_pages(const struct vmm_slot *s)
{
	return s->size / 4096;
}

static uint64_t slot_words(const struct vmm_slot *s)
{
	return (slot_pages(s) + 63) / 64;
}

/* True when kvm_intel logs through PML, whose buffer a reap cannot see. */
static bool pml_on(void)
{
	FILE *f = fopen("/sys/module/kvm_intel/parameters/pml", "r");
	int c = EOF;

	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c == 'Y' || c == '1';
}

int vmm_dring_enable(struct vmm *vmm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL };
	uint64_t bytes = (uint64_t)vmm->dring_entries *
			 sizeof(struct kvm_dirty_gfn);
	unsigned int i;
	int max, ret;

	if (pml_on()) {
		fprintf(stderr, "kmig-vmm: --kvm-log=ring: kvm_intel logs through PML, whose buffered writes a harvest would miss without kicking every vCPU; load kvm_intel with pml=0 or use --kvm-log\n");
		return -EOPNOTSUPP;
	}
	max = ioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, cap.cap);
	if (max <= 0) {
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
		max = ioctl(vmm->vm_fd, KVM_CHECK_EXTENSION, cap.cap);
	}
	if (max <= 0) {
		fprintf(stderr, "kmig-vmm: --kvm-log=ring: KVM has no dirty ring (neither KVM_CAP_DIRTY_LOG_RING_ACQ_REL nor KVM_CAP_DIRTY_LOG_RING)\n");
		return -EOPNOTSUPP;
	}
	if (bytes > (uint64_t)max) {
		fprintf(stderr, "kmig-vmm: --dirty-ring %u: KVM takes at most %llu entries\n",
			vmm->dring_entries,
			(unsigned long long)(max / sizeof(struct kvm_dirty_gfn)));
		return -EINVAL;
	}
	cap.args[0] = bytes;
	if (ioctl(vmm->vm_fd, KVM_ENABLE_CAP, &cap)) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --kvm-log=ring: enabling a ring of %u entries: %s\n",
			vmm->dring_entries, strerror(-ret));
		return ret;
	}
	pthread_mutex_init(&vmm->dring_lock, NULL);
	for (i = 0; i < vmm->mem.nslots; i++) {
		vmm->dring_pending[i] = calloc(slot_words(&vmm->mem.slot[i]),
					       sizeof(uint64_t));
		if (!vmm->dring_pending[i]) {
			vmm_dring_disable(vmm);
			return -ENOMEM;
		}
	}
	fprintf(stderr, "kmig-vmm: dirty ring%s, %u entries a vCPU\n",
		cap.cap == KVM_CAP_DIRTY_LOG_RING ? " (not acq/rel)" : "",
		vmm->dring_entries);
	return 0;
}

void vmm_dring_disable(struct vmm *vmm)
{
	unsigned int i;

	for (i = 0; i < VMM_MAX_SLOTS; i++) {
		free(vmm->dring_pending[i]);
		vmm->dring_pending[i] = NULL;
	}
}

static size_t ring_bytes(const struct vmm *vmm)
{
	return (size_t)vmm->dring_entries * sizeof(struct kvm_dirty_gfn);
}

int vmm_dring_map(struct vmm *vmm, struct vmm_vcpu *v)
{
	void *p;
	int ret;

	if (!vmm->dring_entries)
		return 0;
	p = mmap(NULL, ring_bytes(vmm), PROT_READ | PROT_WRITE, MAP_SHARED,
		 v->fd, KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
	if (p == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: vCPU %u: mapping its dirty ring: %s\n",
			v->index, strerror(-ret));
		return ret;
	}
	/* The provider thread may be reaping already. */
	pthread_mutex_lock(&vmm->dring_lock);
	v->dring = p;
	v->dring_next = 0;
	pthread_mutex_unlock(&vmm->dring_lock);
	return 0;
}

void vmm_dring_unmap(struct vmm *vmm, struct vmm_vcpu *v)
{
	if (!v->dring)
		return;
	pthread_mutex_lock(&vmm->dring_lock);
	munmap(v->dring, ring_bytes(vmm));
	v->dring = NULL;
	pthread_mutex_unlock(&vmm->dring_lock);
}

/* The index in vmm->mem.slot[] of KVM's slot @kslot, or -1. */
static int slot_index(struct vmm *vmm, uint32_t kslot)
{
	struct vmm_slot *s;

	if (kslot >> 16)		/* another address space (SMM) */
		return -1;
	s = vmm_mem_slot(&vmm->mem, kslot);
	return s ? s - vmm->mem.slot : -1;
}

/* Reap @v's ring into the pending bitmaps; returns the entries taken. */
static uint64_t reap_one(struct vmm *vmm, struct vmm_vcpu *v)
{
	uint32_t mask = vmm->dring_entries - 1;
	struct kvm_dirty_gfn *e;
	uint64_t n = 0;
	int i;

	for (;;) {
		e = &v->dring[v->dring_next & mask];
		/* Pairs with KVM's release of the flags: slot, offset valid. */
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		i = slot_index(vmm, e->slot);
		if (i >= 0 && e->offset < slot_pages(&vmm->mem.slot[i]))
			vmm->dring_pending[i][e->offset / 64] |=
				1ull << (e->offset % 64);
		/* Harvested: KVM may re-protect the page and reuse the entry. */
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		v->dring_next++;
		n++;
	}
	return n;
}

/* Reap every ring and reset them. Called with dring_lock. */
static int reap_locked(struct vmm *vmm)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < vmm->nvcpus; i++)
		if (vmm->vcpu[i].dring)
			n += reap_one(vmm, &vmm->vcpu[i]);
	vmm->dring_reaped += n;
	if (n && ioctl(vmm->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		return -errno;
	return 0;
}

int vmm_dring_reap(struct vmm *vmm, bool full)
{
	int ret;

	pthread_mutex_lock(&vmm->dring_lock);
	if (full)
		vmm->dring_full++;
	ret = reap_locked(vmm);
	pthread_mutex_unlock(&vmm->dring_lock);
	return ret;
}

void vmm_dring_take(struct vmm *vmm, const struct vmm_slot *s, uint64_t *bm)
{
	uint64_t *p = vmm->dring_pending[s - vmm->mem.slot];
	size_t len = slot_words(s) * sizeof(uint64_t);

	pthread_mutex_lock(&vmm->dring_lock);
	if (bm)
		memcpy(bm, p, len);
	memset(p, 0, len);
	pthread_mutex_unlock(&vmm->dring_lock);
}
