// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the stream decoder and the channel hello.
 *
 * Input: one mode byte, then the stream. Mode bit 0 set: the target first
 * recomputes every CRC32C it can frame (a batch's list CRC too), so the
 * fuzzer reaches the checks behind the CRC instead of stopping at it.
 * Mode bit 1 set: batches are received in place, straight into slot
 * memory. Mode bit 2 set: torn pages are taken. The callbacks write into real slot memory and abort on any page
 * outside a slot, so a decoder that let one through crashes here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "dec.h"
#include "hello.h"
#include "le.h"
#include "reseal.h"

#define SLOT0_PAGES	16
#define SLOT1_PAGES	64

static uint8_t slot0[SLOT0_PAGES][KMIG_STREAM_PAGE_SIZE];
static uint8_t slot1[SLOT1_PAGES][KMIG_STREAM_PAGE_SIZE];

static const struct kmig_slot slots[] = {
	{ .id = 0, .npages = SLOT0_PAGES },
	{ .id = 0x10001, .npages = SLOT1_PAGES },
};

static uint8_t *slot_page(uint32_t slot, uint64_t page)
{
	if (slot == 0 && page < SLOT0_PAGES)
		return slot0[page];
	if (slot == 0x10001 && page < SLOT1_PAGES)
		return slot1[page];
	abort();	/* the decoder let a page outside its slot through */
}

static int on_page(void *o, uint32_t slot, uint64_t page, const void *data)
{
	memcpy(slot_page(slot, page), data, KMIG_STREAM_PAGE_SIZE);
	return 0;
}

static int on_zero(void *o, uint32_t slot, uint64_t page, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		memset(slot_page(slot, page + i), 0, KMIG_STREAM_PAGE_SIZE);
	return 0;
}

static volatile uint32_t sink;

static int on_blob(const void *data, uint32_t len)
{
	sink += kmig_crc32c(0, data, len);	/* touch every byte */
	return 0;
}

static int on_vcpu(void *o, uint32_t vcpu, uint16_t part, const void *data,
		   uint32_t len)
{
	if (vcpu >= KMIG_STREAM_MAX_VCPUS || !kmig_vcpu_part_name(part))
		abort();
	return on_blob(data, len);
}

static int on_device(void *o, uint16_t instance, uint32_t marker,
		     const void *data, uint32_t size)
{
	if (!kmig_devpkt_name(marker))
		abort();
	return on_blob(data, size);
}

static int on_dest(void *o, uint32_t slot, const uint64_t *pages,
		   unsigned int n, void **dst)
{
	unsigned int i;

	if (!n || n > KMIG_STREAM_MAX_BATCH)
		abort();
	for (i = 0; i < n; i++)
		dst[i] = slot_page(slot, pages[i]);
	return 0;
}

static int on_pages(void *o, uint32_t slot, const uint64_t *pages,
		    unsigned int n, const void *const *data)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (data[i] != slot_page(slot, pages[i]))
			abort();	/* not where it was asked to go */
	return 0;
}

static int on_torn(void *o, uint32_t slot, uint64_t page)
{
	slot_page(slot, page);
	return 0;
}

static const struct kmig_dec_ops ops[4] = {
	{ .page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	  .device = on_device },
	{ .page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	  .device = on_device, .pages_dest = on_dest, .pages = on_pages },
	{ .page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	  .device = on_device, .torn = on_torn },
	{ .page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	  .device = on_device, .pages_dest = on_dest, .pages = on_pages,
	  .torn = on_torn },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmig_dec_cfg cfg = {
		.slots = slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL,
		.ops = size ? &ops[data[0] >> 1 & 3] : &ops[0],
	};
	struct kmig_hello h;
	struct kmig_dec d;
	uint8_t *copy;
	char err[128];
	int ret;

	if (!size)
		return 0;
	if (size - 1 >= KMIG_HELLO_SIZE)
		kmig_hello_decode(&h, data + 1, err, sizeof(err));
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 1)
		reseal(copy, size - 1);
	if (kmig_dec_init_buf(&d, &cfg, copy, size - 1) == 0) {
		ret = kmig_dec_run(&d);
		/* every refusal says why */
		if (ret < 0 && !kmig_dec_error(&d)[0] && ret != -ENOMEM)
			abort();
		if (ret == 0 && d.state != KMIG_DEC_DONE)
			abort();
	}
	kmig_dec_free(&d);
	free(copy);
	return 0;
}
