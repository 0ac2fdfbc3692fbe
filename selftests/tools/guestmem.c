// SPDX-License-Identifier: GPL-2.0
/*
 * guestmem: a kmig-vmm guest's memory, from outside the migration, for the
 * demo. It reaches guest RAM through the kmig context the VMM hands out
 * (`ctx`, Documentation/vmm.rst).
 *
 *   guestmem SOCK save DIR      write each slot as DIR/slot-ID.bin (pause
 *                               the guest first, or it keeps changing)
 *   guestmem SOCK compare DIR   compare each slot with DIR/slot-ID.bin,
 *                               page by page, leaving out the pages in the
 *                               slot's dirty log (`dirtylog at-resume`
 *                               restarts it at the resume)
 *
 * compare reads every page first and takes the dirty log afterwards: a
 * page outside that log was not written between the log's restart and
 * the read, so what was read is what the guest found at its resume,
 * however long ago that was. Exit status 0: saved, or every compared page
 * identical; 1: a compared page differs; 2: bad usage or an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "ctx.h"
#include "util.h"

#define PAGE		4096u
#define CHUNK		(2u << 20)
#define MAX_SLOTS	8

struct vm {
	struct vmm_client c;
	struct vmm_client_slot slot[MAX_SLOTS];
	unsigned int nslots;
	int ctx_fd;
};

struct tally {
	uint64_t pages, compared, excluded;
};

static void bit_set(uint64_t *map, uint64_t i)
{
	map[i / 64] |= 1ull << (i % 64);
}

static bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static int connect_vm(struct vm *vm, const char *sock)
{
	int ret = vmm_client_connect(&vm->c, sock, 2000);

	if (ret) {
		fprintf(stderr, "guestmem: cannot reach the VMM at %s: %s\n",
			sock, strerror(-ret));
		return ret;
	}
	ret = vmm_client_ctx(&vm->c, vm->slot, MAX_SLOTS, &vm->nslots,
			     &vm->ctx_fd);
	if (ret)
		fprintf(stderr, "guestmem: the VMM at %s gave no kmig context: %s\n",
			sock, vm->c.reply[0] ? vm->c.reply : strerror(-ret));
	return ret;
}

/* All of @len bytes to file @fd: 0 or -errno. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

static void slot_path(char *path, size_t n, const char *dir, uint32_t id)
{
	snprintf(path, n, "%s/slot-%u.bin", dir, id);
}

static int save_slot(const struct vm *vm, const struct vmm_client_slot *s,
		     const char *dir, uint8_t *buf)
{
	char path[4096];
	uint64_t off;
	int fd, ret = 0;

	slot_path(path, sizeof(path), dir, s->id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "guestmem: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (off = 0; off < s->size && !ret; off += CHUNK) {
		ret = kmig_ctx_read(vm->ctx_fd, s->id, off, buf, CHUNK);
		if (ret) {
			fprintf(stderr, "guestmem: slot %u at 0x%llx: cannot read it: %s\n",
				s->id, (unsigned long long)off, strerror(-ret));
			break;
		}
		ret = write_all(fd, buf, CHUNK);
		if (ret)
			fprintf(stderr, "guestmem: %s: %s\n", path, strerror(-ret));
	}
	if (close(fd) && !ret) {
		fprintf(stderr, "guestmem: %s: %s\n", path, strerror(errno));
		ret = -errno;
	}
	if (!ret)
		printf("slot %u: %llu bytes saved to %s\n", s->id,
		       (unsigned long long)s->size, path);
	return ret;
}

/* The image of slot @s, mapped read-only, or NULL. */
static const uint8_t *map_image(const struct vmm_client_slot *s,
				const char *dir)
{
	char path[4096];
	struct stat st;
	void *p;
	int fd;

	slot_path(path, sizeof(path), dir, s->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "guestmem: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size != s->size) {
		fprintf(stderr, "guestmem: %s: %lld bytes, slot %u has %llu\n",
			path, (long long)st.st_size, s->id,
			(unsigned long long)s->size);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "guestmem: %s: mmap: %s\n", path, strerror(errno));
		return NULL;
	}
	return p;
}

/* Read the whole slot; mark in @differ each page unlike the image's. */
static int diff_slot(const struct vm *vm, const struct vmm_client_slot *s,
		     const uint8_t *img, uint8_t *buf, uint64_t *differ)
{
	uint64_t off, p;
	int ret;

	for (off = 0; off < s->size; off += CHUNK) {
		ret = kmig_ctx_read(vm->ctx_fd, s->id, off, buf, CHUNK);
		if (ret) {
			fprintf(stderr, "guestmem: slot %u at 0x%llx: cannot read it: %s\n",
				s->id, (unsigned long long)off, strerror(-ret));
			return ret;
		}
		for (p = 0; p < CHUNK / PAGE; p++)
			if (memcmp(buf + p * PAGE, img + off + p * PAGE, PAGE))
				bit_set(differ, off / PAGE + p);
	}
	return 0;
}

/* Pages that differ and are not in @dirty; counts into @t. */
static int judge(const struct vmm_client_slot *s, const uint64_t *differ,
		 const uint64_t *dirty, struct tally *t)
{
	uint64_t p, npages = s->size / PAGE, bad = 0, excluded = 0;

	for (p = 0; p < npages; p++) {
		if (bit_test(dirty, p)) {
			excluded++;
			continue;
		}
		if (!bit_test(differ, p))
			continue;
		if (!bad++)
			fprintf(stderr, "guestmem: slot %u page %llu (guest physical 0x%llx) differs and was not written since the log restarted (armed with 'dirtylog at-resume'?)\n",
				s->id, (unsigned long long)p,
				(unsigned long long)(s->gpa + p * PAGE));
	}
	t->pages += npages;
	t->excluded += excluded;
	t->compared += npages - excluded;
	printf("slot %u: %llu pages: %llu compared, %llu of them differ; %llu left out, written since resume\n",
	       s->id, (unsigned long long)npages,
	       (unsigned long long)(npages - excluded),
	       (unsigned long long)bad, (unsigned long long)excluded);
	return bad ? 1 : 0;
}

static int compare_slot(const struct vm *vm, const struct vmm_client_slot *s,
			const char *dir, uint8_t *buf, struct tally *t)
{
	uint64_t npages = s->size / PAGE;
	size_t words = kmig_bitmap_words(npages);
	uint64_t *differ = calloc(words, 8), *dirty = calloc(words, 8);
	const uint8_t *img = map_image(s, dir);
	int ret = -ENOMEM;

	if (!img)
		ret = -ENOENT;
	else if (differ && dirty)
		ret = diff_slot(vm, s, img, buf, differ);
	if (!ret) {
		/* After the read: see the top of this file. */
		ret = kmig_ctx_dirty_log(vm->ctx_fd, s->id, npages, dirty, false);
		if (ret)
			fprintf(stderr, "guestmem: slot %u: no dirty log: %s\n",
				s->id, strerror(-ret));
	}
	if (!ret)
		ret = judge(s, differ, dirty, t);
	if (img)
		munmap((void *)img, s->size);
	free(differ);
	free(dirty);
	return ret;
}

static int run(struct vm *vm, bool save, const char *dir)
{
	struct tally t = { 0 };
	bool differ = false;
	unsigned int i;
	uint8_t *buf;
	int ret = 0;

	buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < vm->nslots && ret >= 0; i++) {
		if (vm->slot[i].size % CHUNK) {
			fprintf(stderr, "guestmem: slot %u: %llu bytes, not a multiple of 2 MiB\n",
				vm->slot[i].id,
				(unsigned long long)vm->slot[i].size);
			ret = -EINVAL;
		} else if (save) {
			ret = save_slot(vm, &vm->slot[i], dir, buf);
		} else {
			ret = compare_slot(vm, &vm->slot[i], dir, buf, &t);
			differ |= ret > 0;
		}
	}
	free(buf);
	if (ret >= 0 && differ)
		ret = 1;
	if (!save && ret >= 0)
		printf("%llu of %llu pages compared: %s; %llu left out as written since resume\n",
		       (unsigned long long)t.compared,
		       (unsigned long long)t.pages,
		       ret ? "some DIFFER" : "all identical",
		       (unsigned long long)t.excluded);
	return ret;
}

int main(int argc, char *argv[])
{
	struct vm vm = { .ctx_fd = -1 };
	bool save;
	int ret;

	if (argc != 4 || (strcmp(argv[2], "save") && strcmp(argv[2], "compare"))) {
		fprintf(stderr, "usage: guestmem SOCK save|compare DIR\n");
		return 2;
	}
	save = !strcmp(argv[2], "save");
	ret = connect_vm(&vm, argv[1]);
	if (!ret)
		ret = run(&vm, save, argv[3]);
	if (vm.ctx_fd >= 0)
		close(vm.ctx_fd);
	vmm_client_close(&vm.c);
	return ret < 0 ? 2 : ret;
}
