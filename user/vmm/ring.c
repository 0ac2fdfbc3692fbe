// SPDX-License-Identifier: GPL-2.0
/*
 * The ring device: the smallest device whose state load reads guest RAM
 * (Documentation/vmm.rst, "Ring device"). The guest's driver lays out a
 * descriptor page in its own memory and points the device at it, as a
 * virtio driver does with its queues: the device keeps the page's
 * address as its state and reads nothing when pointed there. Loading
 * that state reads the descriptor back from guest memory and checks it,
 * as QEMU's virtio load checks a queue's indices against guest memory:
 * on a postcopy destination that read may touch a page that has not
 * arrived, whose fault the agent must be serving by then
 * (Documentation/postcopy.rst, "Load and run").
 *
 * The guest payload has no driver for it: `ring GPA ENTRIES` also writes
 * a descriptor there on the guest's behalf; a test that plays the
 * driver writes its own through the kmig context and says `ring GPA`.
 * Only the control thread touches vmm->ring.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "enc.h"
#include "le.h"
#include "vmm.h"

/* The descriptor page, little endian: magic, entries, crc32c of the
 * entries, 0, then the entries (le64 each). */
#define DESC_HDR	16

static uint32_t entries_csum(const uint8_t *page, uint32_t entries)
{
	return kmig_crc32c(0, page + DESC_HDR, entries * 8ull);
}

/* Where the descriptor page at @gpa is mapped, or NULL with why. */
static uint8_t *desc_page(struct vmm *vmm, uint64_t gpa, char *err, size_t n)
{
	uint8_t *p;

	if (gpa % GUEST_PAGE_SIZE) {
		snprintf(err, n, "ring: descriptor GPA 0x%llx is not page aligned",
			 (unsigned long long)gpa);
		return NULL;
	}
	p = vmm_mem_hva(&vmm->mem, gpa, GUEST_PAGE_SIZE);
	if (!p)
		snprintf(err, n, "ring: descriptor GPA 0x%llx lies outside guest RAM",
			 (unsigned long long)gpa);
	return p;
}

/* What a driver would write at @p: @entries buffer addresses (another
 * call writes other ones, so its checksum differs), the header last. */
static void desc_write(struct vmm *vmm, uint8_t *p, uint32_t entries)
{
	uint64_t nonce = kmig_now_ns();
	uint32_t i;

	for (i = 0; i < entries; i++)
		put_le64(p + DESC_HDR + i * 8ull,
			 GUEST_WS_GPA + ((nonce + i * 0x9e3779b97f4a7c15ull) %
					 vmm->ws_pages) * GUEST_PAGE_SIZE);
	memset(p + DESC_HDR + entries * 8ull, 0,
	       GUEST_PAGE_SIZE - DESC_HDR - entries * 8ull);
	put_le32(p, VMM_RING_MAGIC);
	put_le32(p + 4, entries);
	put_le32(p + 8, entries_csum(p, entries));
	put_le32(p + 12, 0);
}

int vmm_ring_attach(struct vmm *vmm, uint64_t gpa, uint32_t entries,
		    char *err, size_t n)
{
	uint8_t *p;

	if (entries > VMM_RING_MAX) {
		snprintf(err, n, "ring: %u entries; 1..%u fit its page", entries,
			 VMM_RING_MAX);
		return -EINVAL;
	}
	p = desc_page(vmm, gpa, err, n);
	if (!p)
		return -EINVAL;
	if (entries && vmm->unmapped) {
		snprintf(err, n, "ring: guest RAM is unmapped: 'map' first");
		return -EBUSY;
	}
	if (entries)
		desc_write(vmm, p, entries);
	vmm->ring = (struct vmm_ring) { .on = true, .gpa = gpa };
	return 0;
}

int vmm_ring_save(const struct vmm_ring *r, struct kmig_enc *e, uint32_t id)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_FULL, .id = id,
		.kind = KMIG_SEC_DEVICE, .instance = 0, .version = 1,
		.name = VMM_RING_SECTION,
	};
	uint8_t st[VMM_RING_STATE_LEN];
	int ret;

	put_le64(st, r->gpa);
	ret = kmig_enc_section(e, &sec);
	if (!ret)
		ret = kmig_enc_device(e, KMIG_DEVPKT_DATA_STATE, st, sizeof(st));
	if (!ret)
		ret = kmig_enc_device(e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	sec.type = KMIG_REC_SECTION_FOOTER;
	return ret ? ret : kmig_enc_section(e, &sec);
}

int vmm_ring_decode(struct vmm_ring *r, uint32_t marker, const void *data,
		    uint32_t len, char *err, size_t n)
{
	if (marker == KMIG_DEVPKT_END_OF_STATE) {
		if (r->on)
			return 0;
		snprintf(err, n, "ring: END_OF_STATE without its state");
		return -ENODATA;
	}
	if (marker != KMIG_DEVPKT_DATA_STATE || r->on) {
		snprintf(err, n, "ring: unexpected %s packet",
			 r->on ? "second" : kmig_devpkt_name(marker));
		return -EPROTO;
	}
	if (len != VMM_RING_STATE_LEN) {
		snprintf(err, n, "ring: state of %u bytes, want %u", len,
			 VMM_RING_STATE_LEN);
		return -EMSGSIZE;
	}
	*r = (struct vmm_ring) { .on = true, .gpa = get_le64(data) };
	return 0;
}

/* Each entry is the address of a page of guest RAM. */
static int check_entries(struct vmm *vmm, const struct vmm_ring *r,
			 const uint8_t *page, uint32_t entries, char *err,
			 size_t n)
{
	uint64_t e;
	uint32_t i;

	for (i = 0; i < entries; i++) {
		e = get_le64(page + DESC_HDR + i * 8ull);
		if (e % GUEST_PAGE_SIZE ||
		    !vmm_mem_hva(&vmm->mem, e, GUEST_PAGE_SIZE)) {
			snprintf(err, n, "ring: descriptor at GPA 0x%llx: entry %u is 0x%llx, no page of guest RAM",
				 (unsigned long long)r->gpa, i,
				 (unsigned long long)e);
			return -EBADMSG;
		}
	}
	return 0;
}

int vmm_ring_check(struct vmm *vmm, const struct vmm_ring *r, char *err,
		   size_t n)
{
	uint8_t page[GUEST_PAGE_SIZE];
	uint32_t magic, entries, csum;
	const uint8_t *p;

	p = desc_page(vmm, r->gpa, err, n);
	if (!p)
		return -EINVAL;
	if (vmm->unmapped) {
		snprintf(err, n, "ring: guest RAM is unmapped: 'map' first");
		return -EBUSY;
	}
	/* The read that faults on a postcopy destination, page not there. */
	memcpy(page, p, sizeof(page));
	magic = get_le32(page);
	entries = get_le32(page + 4);
	if (magic != VMM_RING_MAGIC) {
		snprintf(err, n, "ring: descriptor at GPA 0x%llx: magic 0x%08x, want 0x%08x",
			 (unsigned long long)r->gpa, magic, VMM_RING_MAGIC);
		return -EBADMSG;
	}
	if (!entries || entries > VMM_RING_MAX) {
		snprintf(err, n, "ring: descriptor at GPA 0x%llx: %u entries, 1..%u fit its page",
			 (unsigned long long)r->gpa, entries, VMM_RING_MAX);
		return -EBADMSG;
	}
	csum = entries_csum(page, entries);
	if (csum != get_le32(page + 8)) {
		snprintf(err, n, "ring: descriptor at GPA 0x%llx: checksum 0x%08x, its header says 0x%08x",
			 (unsigned long long)r->gpa, csum, get_le32(page + 8));
		return -EBADMSG;
	}
	return check_entries(vmm, r, page, entries, err, n);
}
