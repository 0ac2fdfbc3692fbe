// SPDX-License-Identifier: GPL-2.0
/*
 * The staging view of a VM's slots, and a batch's pages staged in it
 * (stage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "stage.h"

/* $KMIG_STAGED_INSTALL=0 forces copy installs (tests, benches). */
static bool staging_wanted(void)
{
	const char *v = getenv("KMIG_STAGED_INSTALL");

	return !v || strcmp(v, "0");
}

int kmig_stage_map(const struct mig_vm *vm, uint8_t **map, const char *what)
{
	int vfd, ret = 0;
	unsigned int i;

	for (i = 0; i < vm->nslots; i++)
		map[i] = NULL;
	if (vm->plain)
		return -ENODEV;
	if (!staging_wanted()) {
		fprintf(stderr, "kmig: %s are copied (KMIG_STAGED_INSTALL=0)\n",
			what);
		return -ECANCELED;
	}
	vfd = kmig_ctx_staging_fd(vm->ctx_fd);
	if (vfd < 0)
		ret = vfd;
	for (i = 0; !ret && i < vm->nslots; i++) {
		if (vm->slots[i].huge)
			continue;
		map[i] = kmig_ctx_map(vfd, vm->slots[i].id, vm->slots[i].size,
				      PROT_READ | PROT_WRITE);
		if (!map[i])
			ret = -errno;
	}
	if (vfd >= 0)
		close(vfd);
	if (!ret)
		return 0;
	if (ret == -EOPNOTSUPP)
		fprintf(stderr, "kmig: kmig.ko has no staged install (before API version 4): %s are copied\n",
			what);
	else
		fprintf(stderr, "kmig: cannot map the staging view: %s; %s are copied\n",
			strerror(-ret), what);
	kmig_stage_unmap(vm, map);
	return ret;
}

void kmig_stage_unmap(const struct mig_vm *vm, uint8_t **map)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++) {
		if (map[i])
			munmap(map[i], vm->slots[i].size);
		map[i] = NULL;
	}
}

/* Pages @i..@j - 1, one at a time: one that cannot be staged is copied. */
static int stage_each(uint8_t *view, const uint64_t *pages, unsigned int i,
		      unsigned int j, uint8_t *how, uint64_t *first,
		      uint64_t *last)
{
	int ret;

	for (; i < j; i++) {
		ret = kmig_ctx_stage(view + pages[i] * MIG_PAGE, MIG_PAGE);
		if (ret == -EFAULT) {
			how[i] = KMIG_STAGE_COPY;
		} else if (ret) {
			*first = *last = pages[i];
			return ret;
		}
	}
	return 0;
}

int kmig_stage_pages(uint8_t *view, const uint64_t *pages, unsigned int n,
		     uint8_t *how, uint64_t *first, uint64_t *last)
{
	unsigned int i, j;
	int ret;

	for (i = 0; i < n; i = j) {
		j = i + 1;
		if (how[i] != KMIG_STAGE_STAGED)
			continue;
		while (j < n && how[j] == KMIG_STAGE_STAGED &&
		       pages[j] == pages[j - 1] + 1)
			j++;
		ret = kmig_ctx_stage(view + pages[i] * MIG_PAGE,
				     (size_t)(j - i) * MIG_PAGE);
		if (ret == -EFAULT) {
			ret = stage_each(view, pages, i, j, how, first, last);
		} else if (ret) {
			*first = pages[i];
			*last = pages[j - 1];
		}
		if (ret)
			return ret;
	}
	return 0;
}
