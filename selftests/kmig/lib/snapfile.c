// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot files in selftests (snapfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "snap.h"
#include "snapfile.h"

/* Slot @i of @s in @fd and slot @id of the context @ctx: 0, 1, -errno. */
static int slot_differs(int fd, const struct kmig_snap *s, unsigned int i,
			int ctx, const struct vmm_client_slot *slot, char *why,
			size_t n)
{
	uint8_t *file = calloc(1, s->slot[i].size), *mem = malloc(slot->size);
	int ret = file && mem ? 0 : -ENOMEM;

	if (!ret && s->slot[i].size != slot->size)
		ret = 1;
	if (!ret)
		ret = kmig_snap_read_slot(fd, s, i, file, why, n);
	if (!ret)
		ret = kmig_ctx_read(ctx, slot->id, 0, mem, slot->size);
	if (!ret && memcmp(file, mem, slot->size))
		ret = 1;
	if (ret == 1)
		snprintf(why, n, "slot %u differs", slot->id);
	free(file);
	free(mem);
	return ret;
}

int snap_memory_differs(struct vmm_proc *v, const char *path, char *why,
			size_t n)
{
	struct vmm_client_slot slots[8];
	struct vmm_client c = { .fd = -1 };
	unsigned int i, ns = 0;
	struct kmig_snap s;
	int fd, ctx = -1, ret;

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
	ret = vmm_connect(v, &c);
	if (!ret)
		ret = vmm_client_ctx(&c, slots, 8, &ns, &ctx);
	if (!ret && ns != s.nslots)
		ret = 1;
	for (i = 0; !ret && i < ns; i++)
		ret = slot_differs(fd, &s, i, ctx, &slots[i], why, n);
	if (ctx >= 0)
		close(ctx);
	vmm_client_close(&c);
	kmig_snap_close(&s);
	close(fd);
	return ret;
}

const char *snap_vmm_state(struct vmm_proc *v)
{
	static struct vmm_status st;

	if (vmm_status(v, &st))
		return "gone";
	return st.state;
}
