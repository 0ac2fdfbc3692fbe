// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot files in selftests (snapfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "snap.h"
#include "snapfile.h"

/* Slot @slot of the context @ctx through a mapping of it, into @mem. */
static int read_mapped(int ctx, const struct vmm_client_slot *slot,
		       uint8_t *mem)
{
	void *map = kmig_ctx_map(ctx, slot->id, slot->size, PROT_READ);

	if (!map)
		return -errno;
	memcpy(mem, map, slot->size);
	munmap(map, slot->size);
	return 0;
}

/*
 * Slot @i of @s in @fd and slot @slot of the context @ctx, read by pread
 * or (@mapped) through a mapping: 0, 1, -errno.
 */
static int slot_differs(int fd, const struct kmig_snap *s, unsigned int i,
			int ctx, const struct vmm_client_slot *slot,
			bool mapped, char *why, size_t n)
{
	uint8_t *file = calloc(1, s->slot[i].size), *mem = malloc(slot->size);
	int ret = file && mem ? 0 : -ENOMEM;

	if (!ret && s->slot[i].size != slot->size)
		ret = 1;
	if (!ret && mapped)	/* first: while a lazy restore still runs */
		ret = read_mapped(ctx, slot, mem);
	else if (!ret)
		ret = kmig_ctx_read(ctx, slot->id, 0, mem, slot->size);
	if (!ret)
		ret = kmig_snap_read_slot(fd, s, i, file, why, n);
	if (!ret && memcmp(file, mem, slot->size))
		ret = 1;
	if (ret == 1)
		snprintf(why, n, "slot %u differs", slot->id);
	free(file);
	free(mem);
	return ret;
}

int snap_ctx_open(struct vmm_proc *v, struct snap_ctx *c)
{
	struct vmm_client cl = { .fd = -1 };
	int ret;

	c->fd = -1;
	c->n = 0;
	ret = vmm_connect(v, &cl);
	if (!ret)
		ret = vmm_client_ctx(&cl, c->slots, SNAP_CTX_SLOTS, &c->n,
				     &c->fd);
	vmm_client_close(&cl);
	return ret;
}

void snap_ctx_close(struct snap_ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int snap_ctx_differs(const struct snap_ctx *c, const char *path,
		     bool mapped, char *why, size_t n)
{
	struct kmig_snap s;
	unsigned int i;
	int fd, ret;

	snprintf(why, n, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, n, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = kmig_snap_open(fd, &s, why, n);
	if (ret) {
		close(fd);
		return ret;
	}
	if (c->n != s.nslots)
		ret = 1;
	for (i = 0; !ret && i < c->n; i++)
		ret = slot_differs(fd, &s, i, c->fd, &c->slots[i], mapped, why,
				   n);
	kmig_snap_close(&s);
	close(fd);
	return ret;
}

int snap_memory_differs(struct vmm_proc *v, const char *path, char *why,
			size_t n)
{
	struct snap_ctx c;
	int ret;

	ret = snap_ctx_open(v, &c);
	if (!ret)
		ret = snap_ctx_differs(&c, path, false, why, n);
	else
		snprintf(why, n, "the VMM's context: %s", strerror(-ret));
	snap_ctx_close(&c);
	return ret;
}

const char *snap_vmm_state(struct vmm_proc *v)
{
	static struct vmm_status st;

	if (vmm_status(v, &st))
		return "gone";
	return st.state;
}
