// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM: equal slots laid out back to back from guest physical 0, each
 * a shared mapping of a backend's fd: a slot of one /dev/kmig context (the
 * default, what the agent migrates), or a memfd per slot (--backend memfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "vmm.h"

static int memfd_create_slot(struct vmm_slot *slot)
{
	char name[32];

	snprintf(name, sizeof(name), "kmig-vmm-slot%u", slot->id);
	slot->fd = memfd_create(name, MFD_CLOEXEC);
	if (slot->fd < 0)
		return -errno;
	if (ftruncate(slot->fd, slot->size))
		goto err_size;
	slot->hva = mmap(NULL, slot->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 slot->fd, 0);
	if (slot->hva == MAP_FAILED)
		goto err_size;
	return 0;

err_size:
	close(slot->fd);
	slot->fd = -1;
	return -errno;
}

static void memfd_destroy_slot(struct vmm_slot *slot)
{
	munmap(slot->hva, slot->size);
	close(slot->fd);
}

const struct vmm_mem_backend vmm_mem_memfd = {
	.name = "memfd",
	.create = memfd_create_slot,
	.destroy = memfd_destroy_slot,
};

/*
 * The kmig backend: one /dev/kmig context for the whole VM (a process runs
 * one VM), a slot of it per VMM slot, created with a dirty log that is
 * stopped at once: the agent starts it for a migration and harvests writes
 * (including KVM's own) while the guest runs, and stops it afterwards.
 * Every slot shares the context fd; slot S is mapped at KMIG_SLOT_OFFSET(S).
 */
static int kmig_ctx = -1;
static int kmig_guest = -1;		/* --kvm-log: the guest view fd */
static unsigned int kmig_users;

/*
 * The guest view of @slot, at @addr if not NULL (MAP_FIXED). kmig places
 * a new one 2 MiB aligned, so a huge slot's folios map with PMDs and KVM
 * maps them 2 MiB (gpa and address agree modulo 2 MiB).
 */
static int kmig_map_guest(struct vmm_slot *slot, void *addr)
{
	struct kmig_view v = { .flags = KMIG_VIEW_GUEST };
	void *p;

	if (kmig_guest < 0) {
		kmig_guest = ioctl(kmig_ctx, KMIG_VIEW_FD, &v);
		if (kmig_guest < 0)
			return -errno;
	}
	p = mmap(addr, slot->size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | (addr ? MAP_FIXED : 0), kmig_guest,
		 slot->offset);
	if (p == MAP_FAILED)
		return -errno;
	slot->guest_hva = p;
	return 0;
}

static void kmig_close(void)
{
	if (kmig_guest >= 0)
		close(kmig_guest);
	kmig_guest = -1;
	close(kmig_ctx);
	kmig_ctx = -1;
}

static int kmig_create_slot(struct vmm_slot *slot)
{
	struct kmig_memslot ms = {
		.slot = slot->id, .flags = KMIG_SLOT_DIRTY_LOG |
			(slot->kvm_log ? KMIG_SLOT_KVM_LOG : 0) |
			(slot->huge ? KMIG_SLOT_HUGE : 0),
		.guest_phys_addr = slot->gpa, .memory_size = slot->size,
	};
	struct kmig_dirty_logging lg = { .flags = 0 };	/* stopped */
	int ret;

	if (kmig_ctx < 0) {
		kmig_ctx = open("/dev/" KMIG_DEVICE_NAME, O_RDWR | O_CLOEXEC);
		if (kmig_ctx < 0) {
			ret = -errno;
			fprintf(stderr, "kmig-vmm: cannot open /dev/kmig: %s%s\n",
				strerror(errno), errno == ENOENT ?
				" (load kmig.ko, or use --backend memfd)" : "");
			return ret;
		}
	}
	if (ioctl(kmig_ctx, KMIG_SET_MEMSLOT, &ms)) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: slot %u: KMIG_SET_MEMSLOT: %s\n",
			slot->id, strerror(errno));
		goto err_slot;
	}
	lg.slot = slot->id;
	if (ioctl(kmig_ctx, KMIG_SET_DIRTY_LOGGING, &lg)) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: slot %u: KMIG_SET_DIRTY_LOGGING: %s\n",
			slot->id, strerror(errno));
		ms.memory_size = 0;
		ioctl(kmig_ctx, KMIG_SET_MEMSLOT, &ms);
		goto err_slot;
	}
	slot->hva = mmap(NULL, slot->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 kmig_ctx, ms.offset);
	if (slot->hva == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: slot %u: mmap: %s\n", slot->id,
			strerror(errno));
		ms.memory_size = 0;
		ioctl(kmig_ctx, KMIG_SET_MEMSLOT, &ms);
		goto err_slot;
	}
	slot->fd = kmig_ctx;
	slot->offset = ms.offset;
	if (slot->kvm_log) {
		ret = kmig_map_guest(slot, NULL);
		if (ret) {
			fprintf(stderr, "kmig-vmm: slot %u: guest view: %s\n",
				slot->id, strerror(-ret));
			munmap(slot->hva, slot->size);
			ms.memory_size = 0;
			ioctl(kmig_ctx, KMIG_SET_MEMSLOT, &ms);
			goto err_slot;
		}
	}
	kmig_users++;
	return 0;

err_slot:
	if (!kmig_users)
		kmig_close();
	return ret;
}

static void kmig_destroy_slot(struct vmm_slot *slot)
{
	munmap(slot->hva, slot->size);
	if (slot->guest_hva)
		munmap(slot->guest_hva, slot->size);
	if (!--kmig_users)
		kmig_close();
}

static int kmig_log_restart(struct vmm_slot *slot)
{
	struct kmig_dirty_logging lg = {
		.slot = slot->id, .flags = KMIG_DIRTY_LOGGING_ON,
	};

	return ioctl(slot->fd, KMIG_SET_DIRTY_LOGGING, &lg) ? -errno : 0;
}

static int kmig_remap(struct vmm_slot *slot)
{
	void *p = mmap(slot->hva, slot->size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, slot->fd, slot->offset);

	if (p == MAP_FAILED)
		return -errno;
	return slot->guest_hva ? kmig_map_guest(slot, slot->guest_hva) : 0;
}

const struct vmm_mem_backend vmm_mem_kmig = {
	.name = "kmig",
	.create = kmig_create_slot,
	.destroy = kmig_destroy_slot,
	.log_restart = kmig_log_restart,
	.remap = kmig_remap,
};

void *vmm_mem_kvm_hva(const struct vmm_slot *s)
{
	return s->guest_hva ? s->guest_hva : s->hva;
}

int vmm_mem_create(struct vmm_mem *mem, const struct vmm_mem_backend *b,
		   uint64_t size, unsigned int nslots, unsigned int flags)
{
	uint64_t each;
	unsigned int i;
	int ret;

	if (!nslots || nslots > VMM_MAX_SLOTS)
		return -EINVAL;
	each = size / nslots;
	if (each % (2u << 20) || each * nslots != size)
		return -EINVAL;
	memset(mem, 0, sizeof(*mem));
	mem->backend = b;
	mem->size = size;
	mem->kvm_log = flags & VMM_MEM_KVM_LOG;
	for (i = 0; i < nslots; i++) {
		mem->slot[i].id = i;
		mem->slot[i].kvm_log = flags & VMM_MEM_KVM_LOG;
		mem->slot[i].huge = flags & VMM_MEM_HUGE;
		mem->slot[i].gpa = i * each;
		mem->slot[i].size = each;
		ret = b->create(&mem->slot[i]);
		if (ret) {
			mem->nslots = i;
			vmm_mem_destroy(mem);
			return ret;
		}
	}
	mem->nslots = nslots;
	return 0;
}

void vmm_mem_destroy(struct vmm_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nslots; i++)
		mem->backend->destroy(&mem->slot[i]);
	mem->nslots = 0;
}

/* Give every page of guest RAM its memory now, as QEMU's -mem-prealloc. */
int vmm_mem_prealloc(struct vmm_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nslots; i++)
		if (madvise(mem->slot[i].hva, mem->slot[i].size,
			    MADV_POPULATE_WRITE))
			return -errno;
	return 0;
}

struct vmm_slot *vmm_mem_slot(struct vmm_mem *mem, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < mem->nslots; i++)
		if (mem->slot[i].id == id)
			return &mem->slot[i];
	return NULL;
}

void *vmm_mem_hva(struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	struct vmm_slot *s;
	unsigned int i;

	for (i = 0; i < mem->nslots; i++) {
		s = &mem->slot[i];
		if (gpa >= s->gpa && gpa - s->gpa < s->size &&
		    len <= s->size - (gpa - s->gpa))
			return (uint8_t *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

int vmm_mem_log_restart(struct vmm_mem *mem, char *err, size_t n)
{
	unsigned int i;
	int ret;

	if (!mem->backend->log_restart) {
		snprintf(err, n, "guest RAM (backend %s) has no dirty log",
			 mem->backend->name);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < mem->nslots; i++) {
		ret = mem->backend->log_restart(&mem->slot[i]);
		if (ret) {
			snprintf(err, n, "slot %u: cannot restart its dirty log: %s",
				 mem->slot[i].id, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int vmm_mem_unmap(struct vmm_mem *mem, char *err, size_t n)
{
	unsigned int i;
	void *p;

	if (!mem->backend->remap) {
		snprintf(err, n, "guest RAM (backend %s) cannot be unmapped",
			 mem->backend->name);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < mem->nslots; i++) {
		/* one call: the range is never free for another mapping */
		p = mmap(mem->slot[i].hva, mem->slot[i].size, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
			 -1, 0);
		if (p != MAP_FAILED && mem->slot[i].guest_hva)
			p = mmap(mem->slot[i].guest_hva, mem->slot[i].size,
				 PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			snprintf(err, n, "slot %u: cannot unmap it: %s",
				 mem->slot[i].id, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int vmm_mem_remap(struct vmm_mem *mem, char *err, size_t n)
{
	unsigned int i;
	int ret;

	for (i = 0; i < mem->nslots; i++) {
		ret = mem->backend->remap(&mem->slot[i]);
		if (ret) {
			snprintf(err, n, "slot %u: cannot map it again: %s",
				 mem->slot[i].id, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * mincore() reports the page cache of a mapped file: a kmig page in
 * missing mode is not there until its install. A page never touched is
 * not there either, though a read would give zeros: the caller does
 * without it, as for a missing one.
 */
bool vmm_mem_resident(const void *p, size_t len)
{
	const long page = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
	uintptr_t end = (uintptr_t)p + len;
	unsigned char in;

	for (; a < end; a += page)
		if (mincore((void *)a, page, &in) || !(in & 1))
			return false;
	return true;
}
