// SPDX-License-Identifier: GPL-2.0
/*
 * A VM's memory as the agent sees it (mig.h, struct mig_vm): the VMM's
 * context attached and its slots mapped, their dirty logs started,
 * harvested and stopped, and which of their pages have memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "mig.h"

/*
 * Map slot @s for the agent. Read-only, a KMIG_SLOT_KVM_LOG slot is mapped
 * through a guest view (*@view, asked for at the first such slot): nothing
 * is written through it, so nothing needs kmig's log, and a huge slot's
 * folios map with one PMD each, one read fault per 2 MiB where a tracked
 * view (VM_NOHUGEPAGE) takes one per fault-around window. Any other slot,
 * or any mapping to be written, is a tracked view: the context fd's; a
 * huge slot's to be written with one writable PMD per 2 MiB folio
 * (kmig_ctx_map_huge()): the destination writes every page of a block it
 * receives, and a write fault a 4 KiB page cost it 5 to 6% of the bed's
 * CPU (Documentation/benchmarks.rst, "Where the CPU goes"). The first
 * write to a folio logs all of it; nothing logs a slot the agent
 * receives or restores into.
 */
static void *map_slot(int ctx_fd, int *view, const struct mig_slot *s,
		      int prot)
{
	struct kmig_view v = { .flags = KMIG_VIEW_GUEST };
	void *p;

	if (prot == PROT_READ && *view == -1) {
		*view = ioctl(ctx_fd, KMIG_VIEW_FD, &v);
		if (*view < 0)
			*view = -2;	/* none: tracked views only */
	}
	if (prot == PROT_READ && *view >= 0) {
		/* EINVAL: not a KVM_LOG slot, which a tracked view serves. */
		p = kmig_ctx_map(*view, s->id, s->size, prot);
		if (p)
			return p;
	}
	if (s->huge && (prot & PROT_WRITE))
		return kmig_ctx_map_huge(ctx_fd, s->id, s->size, prot);
	return kmig_ctx_map(ctx_fd, s->id, s->size, prot);
}

/* The `ctx` reply: ok N ID:GPA:SIZE ... with the context fd. */
int mig_vm_attach(struct mig_vm *vm, const char *path, int prot,
		  char *err, size_t n)
{
	struct vmm_client_slot cs[MIG_MAX_SLOTS];
	unsigned int i, ns;
	int view = -1;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->ctx_fd = -1;
	ret = vmm_client_connect(&vm->vmm, path, 5000);
	if (ret) {
		snprintf(err, n, "cannot connect to the VMM at %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	ret = vmm_client_ctx(&vm->vmm, cs, MIG_MAX_SLOTS, &ns, &vm->ctx_fd);
	if (ret) {
		snprintf(err, n, "the VMM at %s gave no kmig context: %s%s%s",
			 path, strerror(-ret), vm->vmm.reply[0] ? ": " : "",
			 vm->vmm.reply);
		vmm_client_close(&vm->vmm);
		return ret;
	}
	vm->nslots = ns;
	for (i = 0; i < ns; i++) {
		struct mig_slot *s = &vm->slots[i];

		s->id = cs[i].id;
		s->gpa = cs[i].gpa;
		s->size = cs[i].size;
		s->npages = cs[i].size / MIG_PAGE;
		s->huge = cs[i].huge;
		vm->mem_size += s->size;
		if (!s->size || s->size % MIG_PAGE || s->id >= KMIG_MAX_SLOTS) {
			snprintf(err, n, "slot %u: bad slot from the VMM", s->id);
			ret = -EINVAL;
			break;
		}
		if (s->huge && (s->gpa | s->size) % KMIG_HUGE_SIZE) {
			snprintf(err, n, "slot %u: huge, but not in whole 2 MiB pages (gpa 0x%llx, size 0x%llx)",
				 s->id, (unsigned long long)s->gpa,
				 (unsigned long long)s->size);
			ret = -EINVAL;
			break;
		}
		s->bitmap = calloc(kmig_bitmap_words(s->npages), 8);
		s->written = calloc(kmig_bitmap_words(s->npages), 8);
		if (!s->bitmap || !s->written) {
			snprintf(err, n, "slot %u: out of memory", s->id);
			ret = -ENOMEM;
			break;
		}
		if (!prot)
			continue;
		s->map = map_slot(vm->ctx_fd, &view, s, prot);
		if (!s->map) {
			ret = -errno;
			snprintf(err, n, "slot %u: cannot map it: %s", s->id,
				 strerror(-ret));
			break;
		}
	}
	if (view >= 0)
		close(view);		/* the mappings keep it */
	if (ret) {
		vm->nslots = i + 1;
		mig_vm_detach(vm);
	}
	return ret;
}

int mig_vm_attach_status(struct mig_vm *vm, const char *path, int prot,
			 struct vmm_status *st, char *err, size_t n)
{
	int ret;

	ret = mig_vm_attach(vm, path, prot, err, n);
	if (ret)
		return ret;
	ret = vmm_client_status(&vm->vmm, st);
	if (ret) {
		snprintf(err, n, "VMM status: %s", strerror(-ret));
		mig_vm_detach(vm);
	}
	return ret;
}

uint64_t *mig_vm_bitmap_buf(const struct mig_vm *vm)
{
	size_t words = 1;
	unsigned int i;

	for (i = 0; i < vm->nslots; i++)
		if (kmig_bitmap_words(vm->slots[i].npages) > words)
			words = kmig_bitmap_words(vm->slots[i].npages);
	return calloc(words, 8);
}

void mig_vm_detach(struct mig_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].bitmap);
		free(vm->slots[i].written);
		free(vm->slots[i].present);
		if (vm->slots[i].map)
			munmap(vm->slots[i].map, vm->slots[i].size);
	}
	vm->nslots = 0;
	if (vm->ctx_fd >= 0)
		close(vm->ctx_fd);
	vm->ctx_fd = -1;
	vmm_client_close(&vm->vmm);
}

/* Why a slot has no dirty log. */
static const char *no_log_hint(int ret)
{
	if (ret == -ENODEV)
		return " (the VMM did not create it with dirty logging)";
	/* Model (b): KVM's part of the log comes from the VMM. */
	if (ret == -EPIPE)
		return " (the VMM's KVM log provider is gone: the vCPUs' writes cannot be read)";
	if (ret == -ETIMEDOUT)
		return " (the VMM's KVM log provider did not answer)";
	return "";
}

int mig_vm_set_logging(const struct mig_vm *vm, bool on, char *err,
		       size_t n)
{
	unsigned int i;
	int ret, first = 0;

	for (i = 0; i < vm->nslots && !(on && first); i++) {
		ret = kmig_ctx_set_logging(vm->ctx_fd, vm->slots[i].id, on);
		if (ret && !first)
			first = mig_fail(err, n, ret,
					 "cannot %s dirty logging of slot %u: %s%s",
					 on ? "start" : "stop", vm->slots[i].id,
					 strerror(-ret), no_log_hint(ret));
	}
	return first;
}

/*
 * Every slot's log in one call (KMIG_GET_DIRTY_LOGS), into @buf (every
 * slot's words back to back): KVM's part costs one request to the VMM a
 * pass, not one a slot. -ENOTTY from an older module.
 */
static int harvest_set(struct mig_vm *vm, uint64_t *buf)
{
	uint64_t *bm[MIG_MAX_SLOTS], npages[MIG_MAX_SLOTS];
	uint32_t ids[MIG_MAX_SLOTS];
	unsigned int i;

	for (i = 0; i < vm->nslots; i++) {
		ids[i] = vm->slots[i].id;
		npages[i] = vm->slots[i].npages;
		bm[i] = buf;
		buf += kmig_bitmap_words(vm->slots[i].npages);
	}
	return kmig_ctx_dirty_logs(vm->ctx_fd, vm->nslots, ids, npages, bm,
				   true);
}

/* OR @bm into @sl's bitmap with @keep; add the pages it then marks. */
static void harvest_keep(struct mig_slot *sl, const uint64_t *bm, bool keep,
			 uint64_t *marked)
{
	uint64_t w;

	for (w = 0; w < kmig_bitmap_words(sl->npages); w++) {
		if (keep)
			sl->bitmap[w] |= bm[w];
		*marked += __builtin_popcountll(sl->bitmap[w]);
	}
}

int mig_vm_harvest(struct mig_vm *vm, uint64_t *tmp, bool keep,
		   uint64_t *dirty, char *err, size_t n)
{
	uint64_t marked = 0, words = 0, *buf, *bm;
	struct mig_slot *sl;
	unsigned int i;
	int set, ret;

	for (i = 0; i < vm->nslots; i++)
		words += kmig_bitmap_words(vm->slots[i].npages);
	buf = malloc(words ? words * 8 : 8);
	if (!buf) {
		snprintf(err, n, "out of memory for the dirty logs");
		return -ENOMEM;
	}
	set = vm->nslots ? harvest_set(vm, buf) : 0;
	if (set && set != -ENOTTY) {
		free(buf);
		return mig_fail(err, n, set,
				"cannot harvest the dirty logs of %u slots: %s%s",
				vm->nslots, strerror(-set), no_log_hint(set));
	}
	for (i = 0, bm = buf; i < vm->nslots; i++) {
		sl = &vm->slots[i];
		if (set) {	/* an older module: one call a slot */
			bm = tmp;
			ret = kmig_ctx_dirty_log(vm->ctx_fd, sl->id,
						 sl->npages, bm, true);
			if (ret) {
				free(buf);
				return mig_fail(err, n, ret,
						"cannot harvest the dirty log of slot %u: %s%s",
						sl->id, strerror(-ret),
						no_log_hint(ret));
			}
		}
		if (keep || dirty)
			harvest_keep(sl, bm, keep, &marked);
		if (!set)
			bm += kmig_bitmap_words(sl->npages);
	}
	free(buf);
	if (dirty)
		*dirty = marked;
	return 0;
}

int mig_vm_log_start(struct mig_vm *vm, uint64_t *tmp, char *err, size_t n)
{
	char why[64];
	int ret;

	ret = mig_vm_set_logging(vm, true, err, n);
	if (ret)
		return ret;
	ret = mig_vm_harvest(vm, tmp, false, NULL, err, n);
	if (ret)
		mig_vm_set_logging(vm, false, why, sizeof(why));
	return ret;
}

int mig_vm_present(struct mig_vm *vm, char *err, size_t n)
{
	struct mig_slot *sl;
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nslots; i++) {
		sl = &vm->slots[i];
		sl->present = calloc(kmig_bitmap_words(sl->npages), 8);
		if (!sl->present) {
			snprintf(err, n, "out of memory");
			return -ENOMEM;
		}
		ret = kmig_ctx_present(vm->ctx_fd, sl->id, sl->npages,
				       sl->present);
		if (ret) {
			snprintf(err, n,
				 "cannot tell the pages of slot %u with memory: %s",
				 sl->id, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void mig_vm_present_free(struct mig_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].present);
		vm->slots[i].present = NULL;
	}
}

uint64_t *mig_slot_present(int ctx_fd, uint32_t id, uint64_t npages,
			   int *ret, char *err, size_t n)
{
	uint64_t *present = calloc(kmig_bitmap_words(npages), 8);

	*ret = present ? kmig_ctx_present(ctx_fd, id, npages, present) :
	       -ENOMEM;
	if (!*ret)
		return present;
	snprintf(err, n, "slot %u: which pages are here: %s", id,
		 strerror(-*ret));
	free(present);
	return NULL;
}
