// SPDX-License-Identifier: GPL-2.0
/*
 * The resume hello and the received-page bitmap of postcopy recovery
 * (recover.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "blocktime.h"
#include "crc32c.h"
#include "format.h"
#include "le.h"
#include "recover.h"
#include "util.h"

static void put_slot(uint8_t *p, const struct mig_slot *sl)
{
	put_le32(p, sl->id);
	put_le32(p + 4, 0);
	put_le64(p + 8, sl->npages);
}

/* A slot entry of the peer: it must be @sl, the same position here. */
static int check_slot(const uint8_t *p, const struct mig_slot *sl,
		      const char *what, char *err, size_t n)
{
	uint32_t id = get_le32(p);
	uint64_t npages = get_le64(p + 8);

	if (get_le32(p + 4)) {
		snprintf(err, n, "%s: slot %u: reserved bits set", what, id);
		return -EPROTO;
	}
	if (id != sl->id || npages != sl->npages) {
		snprintf(err, n,
			 "%s: slot %u of %llu pages where this VM has slot %u of %llu pages",
			 what, id, (unsigned long long)npages, sl->id,
			 (unsigned long long)sl->npages);
		return -EINVAL;
	}
	return 0;
}

uint8_t *mig_rc_hello_encode(const struct mig_vm *vm, const uint8_t uuid[16],
			     size_t *len)
{
	size_t size = KMIG_RESUME_HDR_SIZE +
		      vm->nslots * KMIG_RESUME_SLOT_SIZE + 4;
	uint8_t *b = calloc(1, size), *p;
	unsigned int i;

	if (!b)
		return NULL;
	put_le32(b, KMIG_RESUME_MAGIC);
	put_le16(b + 4, KMIG_RESUME_VERSION);
	put_le16(b + 6, vm->nslots);
	memcpy(b + 8, uuid, 16);
	p = b + KMIG_RESUME_HDR_SIZE;
	for (i = 0; i < vm->nslots; i++, p += KMIG_RESUME_SLOT_SIZE)
		put_slot(p, &vm->slots[i]);
	put_le32(p, kmig_crc32c(0, b, p - b));
	*len = size;
	return b;
}

/* The peer's header: magic, version, and as many slots as @vm. */
static int check_head(const uint8_t *b, uint32_t magic, uint16_t version,
		      const struct mig_vm *vm, const char *what, char *err,
		      size_t n)
{
	if (get_le32(b) != magic) {
		snprintf(err, n, "%s: bad magic 0x%08x", what, get_le32(b));
		return -EPROTO;
	}
	if (get_le16(b + 4) != version) {
		snprintf(err, n, "%s: version %u, this agent speaks %u", what,
			 get_le16(b + 4), version);
		return -EPROTONOSUPPORT;
	}
	if (get_le16(b + 6) != vm->nslots) {
		snprintf(err, n, "%s: %u slots where this VM has %u", what,
			 get_le16(b + 6), vm->nslots);
		return -EINVAL;
	}
	return 0;
}

static int io_err(int ret, const char *what, char *err, size_t n)
{
	snprintf(err, n, "%s: %s", what,
		 ret == -ECONNRESET ? "the connection closed" : strerror(-ret));
	return ret;
}

int mig_rc_recv_hello(int fd, const struct mig_vm *vm, uint8_t uuid[16],
		      char *err, size_t n)
{
	uint8_t b[KMIG_RESUME_HDR_SIZE + MIG_MAX_SLOTS * KMIG_RESUME_SLOT_SIZE + 4];
	const char *what = "the resume hello";
	size_t len = KMIG_RESUME_HDR_SIZE;
	unsigned int i;
	int ret;

	ret = kmig_io_all(fd, b, len, false);
	if (ret)
		return io_err(ret, what, err, n);
	ret = check_head(b, KMIG_RESUME_MAGIC, KMIG_RESUME_VERSION, vm, what,
			 err, n);
	if (ret)
		return ret;
	ret = kmig_io_all(fd, b + len, vm->nslots * KMIG_RESUME_SLOT_SIZE + 4,
			  false);
	if (ret)
		return io_err(ret, what, err, n);
	len += vm->nslots * KMIG_RESUME_SLOT_SIZE;
	if (kmig_crc32c(0, b, len) != get_le32(b + len)) {
		snprintf(err, n, "%s: CRC mismatch", what);
		return -EBADMSG;
	}
	for (i = 0; i < vm->nslots; i++) {
		ret = check_slot(b + KMIG_RESUME_HDR_SIZE +
				 i * KMIG_RESUME_SLOT_SIZE, &vm->slots[i],
				 what, err, n);
		if (ret)
			return ret;
	}
	memcpy(uuid, b + 8, 16);
	return 0;
}

uint8_t *mig_rc_bitmap_encode(const struct mig_vm *vm, size_t *len)
{
	size_t size = KMIG_RBITMAP_HDR_SIZE + 4;
	uint8_t *b, *p;
	unsigned int i;
	uint64_t w;

	for (i = 0; i < vm->nslots; i++)
		size += KMIG_RBITMAP_SLOT_SIZE +
			8 * kmig_bitmap_words(vm->slots[i].npages);
	b = calloc(1, size);
	if (!b)
		return NULL;
	put_le32(b, KMIG_RBITMAP_MAGIC);
	put_le16(b + 4, KMIG_RBITMAP_VERSION);
	put_le16(b + 6, vm->nslots);
	p = b + KMIG_RBITMAP_HDR_SIZE;
	for (i = 0; i < vm->nslots; i++) {
		const struct mig_slot *sl = &vm->slots[i];

		put_slot(p, sl);
		p += KMIG_RBITMAP_SLOT_SIZE;
		for (w = 0; w < kmig_bitmap_words(sl->npages); w++, p += 8)
			put_le64(p, sl->present[w]);
	}
	put_le32(p, kmig_crc32c(0, b, p - b));
	*len = size;
	return b;
}

/* Bits past the slot's last page must be clear. */
static bool tail_clear(const uint64_t *bm, uint64_t npages)
{
	return !(npages % 64) || !(bm[npages / 64] >> (npages % 64));
}

int mig_rc_recv_bitmap(int fd, struct mig_vm *vm, char *err, size_t n)
{
	const char *what = "the received-page bitmap";
	uint64_t *bm[MIG_MAX_SLOTS] = { NULL };
	uint8_t h[KMIG_RBITMAP_SLOT_SIZE];
	uint32_t crc;
	unsigned int i;
	uint64_t w;
	int ret;

	ret = kmig_io_all(fd, h, KMIG_RBITMAP_HDR_SIZE, false);
	if (ret)
		return io_err(ret, what, err, n);
	ret = check_head(h, KMIG_RBITMAP_MAGIC, KMIG_RBITMAP_VERSION, vm, what,
			 err, n);
	if (ret)
		return ret;
	crc = kmig_crc32c(0, h, KMIG_RBITMAP_HDR_SIZE);
	for (i = 0; i < vm->nslots && !ret; i++) {
		struct mig_slot *sl = &vm->slots[i];
		size_t words = kmig_bitmap_words(sl->npages);

		ret = kmig_io_all(fd, h, KMIG_RBITMAP_SLOT_SIZE, false);
		if (ret)
			break;
		ret = check_slot(h, sl, what, err, n);
		if (ret)
			goto out;
		crc = kmig_crc32c(crc, h, KMIG_RBITMAP_SLOT_SIZE);
		bm[i] = malloc(words * 8);
		if (!bm[i]) {
			snprintf(err, n, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		ret = kmig_io_all(fd, bm[i], words * 8, false);
		if (ret)
			break;
		crc = kmig_crc32c(crc, bm[i], words * 8);
		for (w = 0; w < words; w++)
			bm[i][w] = get_le64((const uint8_t *)&bm[i][w]);
	}
	if (!ret)
		ret = kmig_io_all(fd, h, 4, false);
	if (ret) {
		io_err(ret, what, err, n);
		goto out;
	}
	if (get_le32(h) != crc) {
		snprintf(err, n, "%s: CRC mismatch", what);
		ret = -EBADMSG;
		goto out;
	}
	for (i = 0; i < vm->nslots; i++) {
		if (tail_clear(bm[i], vm->slots[i].npages))
			continue;
		snprintf(err, n, "%s: slot %u: bits past its last page",
			 what, vm->slots[i].id);
		ret = -EPROTO;
		goto out;
	}
	for (i = 0; i < vm->nslots; i++)
		memcpy(vm->slots[i].bitmap, bm[i],
		       8 * kmig_bitmap_words(vm->slots[i].npages));
out:
	for (i = 0; i < vm->nslots; i++)
		free(bm[i]);
	return ret;
}

void mig_pc_forward_faults(int ffd, int stop_fd, struct mig_hs_out *out,
			   struct mig_link *link, uint64_t *requests,
			   struct mig_blocktime *bt)
{
	struct pollfd p[2] = {
		{ .fd = ffd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	struct kmig_fault rec[32];
	uint64_t req[32];
	ssize_t n, i;
	int ret;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (p[1].revents)
			return;
		if (!p[0].revents)
			continue;
		kmig_delay_at("pc-fault-read");	/* a test's late read */
		n = read(ffd, rec, sizeof(rec));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			mig_link_fail(link, n ? -errno : -EIO, "the fault fd: %s",
				      n ? strerror(errno) : "closed");
			return;
		}
		n /= sizeof(rec[0]);
		for (i = 0; i < n; i++) {
			if (bt)
				mig_bt_fault(bt, rec[i].slot, rec[i].page,
					     rec[i].tid);
			req[i] = MIG_HS_REQUEST_VALUE(rec[i].slot, rec[i].page);
		}
		/* the records of one read in one write: one wake-up there */
		ret = n == 1 ? mig_hs_send(out, MIG_HS_REQUEST, req[0], NULL) :
		      mig_hs_send_values(out, MIG_HS_REQUEST, req, n);
		if (ret) {
			mig_link_io_fail(link, ret,
					 "cannot request page %llu of slot %u%s: %s",
					 (unsigned long long)rec[0].page,
					 rec[0].slot,
					 n > 1 ? " and the faults after it" : "",
					 strerror(-ret));
			return;
		}
		__atomic_fetch_add(requests, n, __ATOMIC_RELAXED);
	}
}
