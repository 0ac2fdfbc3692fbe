// SPDX-License-Identifier: GPL-2.0
/*
 * Byte-exact checks of a migrated guest (pages.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "pages.h"

/* Guest memory through a context fd: slot @id's bytes from @id << 40. */
static uint64_t at(uint32_t slot, uint64_t off)
{
	return ((uint64_t)slot << 40) + off;
}

static long slot_differs(int ctx, const struct vmm_client_slot *sl,
			 pages_ref_fn ref, void *opaque, long *unlogged,
			 char *why, size_t n)
{
	uint64_t npages = sl->size / PAGES_PAGE, off, *log;
	uint8_t mine[PAGES_PAGE], theirs[PAGES_PAGE];
	long diff = 0;
	int ret;

	log = calloc(npages / 64 + 1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	ret = kmig_ctx_dirty_log(ctx, sl->id, npages, log, false);
	if (ret) {
		snprintf(why, n, "slot %u: no dirty log: %s", sl->id,
			 strerror(-ret));
		free(log);
		return ret;
	}
	for (off = 0; off < sl->size; off += PAGES_PAGE) {
		if (pread(ctx, mine, PAGES_PAGE, at(sl->id, off)) != PAGES_PAGE) {
			diff = -errno;
			snprintf(why, n, "slot %u: reading its memory: %m",
				 sl->id);
			break;
		}
		ret = ref(opaque, sl->id, sl->size, off, theirs, why, n);
		if (ret) {
			diff = ret;
			break;
		}
		if (!memcmp(mine, theirs, PAGES_PAGE))
			continue;
		diff++;
		if (!(log[off / PAGES_PAGE / 64] & (1ull << (off / PAGES_PAGE % 64))))
			(*unlogged)++;
	}
	free(log);
	return diff;
}

long pages_differ(const char *sock, pages_ref_fn ref, void *opaque,
		  struct vmm_status *st, long *unlogged, char *why, size_t n)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_client_slot slots[8];
	long diff = 0, d;
	unsigned int ns, i;
	int ctx;

	*unlogged = 0;
	if (vmm_client_connect(&c, sock, 5000) || vmm_client_cmd(&c, "pause") ||
	    vmm_client_status(&c, st) ||
	    vmm_client_ctx(&c, slots, 8, &ns, &ctx)) {
		snprintf(why, n, "the VMM on %s: %s", sock, c.reply);
		vmm_client_close(&c);
		return -EIO;
	}
	for (i = 0; i < ns; i++) {
		d = slot_differs(ctx, &slots[i], ref, opaque, unlogged, why, n);
		if (d < 0) {
			diff = d;
			break;
		}
		diff += d;
	}
	close(ctx);
	vmm_client_close(&c);
	return diff;
}

int pages_ref_images(void *opaque, uint32_t slot, uint64_t size, uint64_t off,
		     void *buf, char *why, size_t n)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/slot-%u.bin", (const char *)opaque,
		 slot);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lseek(fd, 0, SEEK_END) != (off_t)size ||
	    pread(fd, buf, PAGES_PAGE, off) != PAGES_PAGE) {
		ret = -EIO;
		snprintf(why, n, "%s: missing or not %llu bytes", path,
			 (unsigned long long)size);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int pages_vmm_open(struct pages_vmm *v, const char *sock, char *why,
		   size_t n)
{
	v->c.fd = -1;
	v->ctx = -1;
	if (vmm_client_connect(&v->c, sock, 5000) ||
	    vmm_client_ctx(&v->c, v->slot, 8, &v->nslots, &v->ctx)) {
		snprintf(why, n, "the VMM on %s: %s", sock, v->c.reply);
		pages_vmm_close(v);
		return -EIO;
	}
	return 0;
}

void pages_vmm_close(struct pages_vmm *v)
{
	if (v->ctx >= 0)
		close(v->ctx);
	v->ctx = -1;
	vmm_client_close(&v->c);
}

int pages_ref_vmm(void *opaque, uint32_t slot, uint64_t size, uint64_t off,
		  void *buf, char *why, size_t n)
{
	struct pages_vmm *v = opaque;
	unsigned int i;

	for (i = 0; i < v->nslots; i++)
		if (v->slot[i].id == slot)
			break;
	if (i == v->nslots || v->slot[i].size != size) {
		snprintf(why, n, "slot %u: not of the same size on both VMMs",
			 slot);
		return -EINVAL;
	}
	if (pread(v->ctx, buf, PAGES_PAGE, at(slot, off)) != PAGES_PAGE) {
		snprintf(why, n, "slot %u: reading the reference: %m", slot);
		return -EIO;
	}
	return 0;
}
