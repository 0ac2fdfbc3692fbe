/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Streams of RAM_PAGES for the stream tests: a destination of two slots
 * whose consumer counts what it gets, a stream of every RAM record kind,
 * and its decoding through a buffer or a socket in pieces.
 */
#ifndef KMIG_TESTS_STREAM_PAGES_H
#define KMIG_TESTS_STREAM_PAGES_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream_log.h"

#define PAGE	KMIG_STREAM_PAGE_SIZE

/* The destination's memory: test_slots' two slots, 16 and 256 pages. */
static uint8_t guest0[16][PAGE], guest1[256][PAGE];
/* What the source sent, page by page, for the check. */
static uint8_t src0[16][PAGE], src1[256][PAGE];

static struct {
	unsigned int dests, batches, pages, misplaced;
	unsigned int torn;	/* torn pages named */
	uint64_t torn_page;	/* the last one */
	int dest_ret;		/* pages_dest returns this */
	bool null_dest;		/* ... or leaves a destination NULL */
} rx;
/* What begin()'s CAPS require: 0, or KMIG_SCAP_PAGE_XXH64. */
static uint64_t rx_caps;

static inline uint8_t *guest_page(uint32_t slot, uint64_t page)
{
	return slot ? guest1[page] : guest0[page];
}

static inline int rx_dest(void *o, uint32_t slot, const uint64_t *pages,
			  unsigned int n, void **dst)
{
	unsigned int i;

	rx.dests++;
	if (rx.dest_ret)
		return rx.dest_ret;
	for (i = 0; i < n; i++)
		dst[i] = rx.null_dest && i == n - 1 ? NULL :
			 guest_page(slot, pages[i]);
	return 0;
}

static inline int rx_pages(void *o, uint32_t slot, const uint64_t *pages,
			   unsigned int n, const void *const *data)
{
	unsigned int i;

	rx.batches++;
	rx.pages += n;
	for (i = 0; i < n; i++)
		rx.misplaced += data[i] != guest_page(slot, pages[i]);
	return 0;
}

static inline int rx_page(void *o, uint32_t slot, uint64_t page,
			  const void *data)
{
	rx.pages++;
	memcpy(guest_page(slot, page), data, PAGE);
	return 0;
}

static inline int rx_zero(void *o, uint32_t slot, uint64_t page,
			  uint32_t count)
{
	while (count--)
		memset(guest_page(slot, page++), 0, PAGE);
	return 0;
}

static inline int rx_torn(void *o, uint32_t slot, uint64_t page)
{
	rx.torn++;
	rx.torn_page = page;
	return 0;
}

static const struct kmig_dec_ops in_place_ops = {
	.pages_dest = rx_dest, .pages = rx_pages, .page = rx_page,
	.zero = rx_zero,
};

/* ... and taking torn pages. */
static const struct kmig_dec_ops torn_ops = {
	.pages_dest = rx_dest, .pages = rx_pages, .page = rx_page,
	.zero = rx_zero, .torn = rx_torn,
};

/* Without destinations the pages come one by one, from the input. */
static const struct kmig_dec_ops page_ops = {
	.page = rx_page, .zero = rx_zero,
};

static inline void reset(void)
{
	memset(&rx, 0, sizeof(rx));
	memset(guest0, 0xee, sizeof(guest0));
	memset(guest1, 0xee, sizeof(guest1));
}

static inline bool guest_untouched(void)
{
	size_t i;

	for (i = 0; i < sizeof(guest0); i++)
		if (((uint8_t *)guest0)[i] != 0xee)
			return false;
	for (i = 0; i < sizeof(guest1); i++)
		if (((uint8_t *)guest1)[i] != 0xee)
			return false;
	return true;
}

static inline void begin(struct kmig_enc *e)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_FULL, .id = 1,
				  .kind = KMIG_SEC_RAM, .name = "ram" };

	kmig_enc_header(e);
	kmig_enc_caps(e, rx_caps, 0);
	kmig_enc_section(e, &s);
}

static inline void finish(struct kmig_enc *e)
{
	struct kmig_section s = { .type = KMIG_REC_SECTION_FOOTER, .id = 1 };

	kmig_enc_section(e, &s);
	kmig_enc_eos(e);
}

/*
 * A stream of every RAM record kind: batches of 1, 128 and 100 pages,
 * a single page, zero runs (one with CONTINUE after a batch). Sends
 * src0/src1's pages; returns how many pages went in batches.
 */
static inline unsigned int everything(struct kmig_enc *e)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	unsigned int seed = 4, i, n;
	size_t b;

	for (b = 0; b < sizeof(src0); b++)
		((uint8_t *)src0)[b] = rand_r(&seed);
	for (b = 0; b < sizeof(src1); b++)
		((uint8_t *)src1)[b] = rand_r(&seed);
	begin(e);
	pages[0] = 7;
	data[0] = src0[7];
	kmig_enc_pages(e, 0, pages, 1, data);
	for (i = 0; i < 128; i++) {
		pages[i] = 2 * i;
		data[i] = src1[2 * i];
	}
	kmig_enc_pages(e, 0x10001, pages, 128, data);
	kmig_enc_zero(e, 0x10001, 1, 1);	/* CONTINUE */
	memset(src1[1], 0, PAGE);
	kmig_enc_page(e, 0, 8, src0[8]);
	for (i = 0, n = 0; i < 256 && n < 100; i++)
		if (i % 2 && i > 1) {
			pages[n] = i;
			data[n++] = src1[i];
		}
	kmig_enc_pages(e, 0x10001, pages, n, data);
	kmig_enc_zero(e, 0, 0, 7);
	memset(src0, 0, 7 * PAGE);
	finish(e);
	return 1 + 128 + 100;
}

/* The pages everything() sent are where they belong. */
static inline bool guest_matches(void)
{
	unsigned int i;

	for (i = 0; i < 9; i++)
		if (memcmp(guest0[i], src0[i], PAGE))
			return false;
	for (i = 0; i < 202; i++)
		if (memcmp(guest1[i], src1[i], PAGE))
			return false;
	return true;
}

struct writer {
	int fd;
	const uint8_t *buf;
	size_t len;
	unsigned int seed;	/* 0: one write; else random pieces */
	bool ok;
};

static inline void *writer(void *arg)
{
	struct writer *w = arg;
	size_t off = 0, k;
	ssize_t n;

	w->ok = true;
	while (off < w->len) {
		k = w->len - off;
		if (w->seed && k > 1)
			k = 1 + rand_r(&w->seed) % (k < 9000 ? k : 9000);
		n = send(w->fd, w->buf + off, k, MSG_NOSIGNAL);
		if (n <= 0) {
			w->ok = false;
			break;
		}
		off += n;
	}
	close(w->fd);
	return NULL;
}

/* Decode @len bytes of @buf sent through a socket in pieces. */
static inline int decode_socket(const struct kmig_dec_ops *ops,
				const uint8_t *buf, size_t len,
				unsigned int seed, bool *in_place, char *err)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL, .ops = ops,
	};
	struct writer w = { .buf = buf, .len = len, .seed = seed };
	struct kmig_dec d;
	pthread_t t;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	w.fd = sv[1];
	if (pthread_create(&t, NULL, writer, &w))
		return -EAGAIN;
	ret = kmig_dec_init_fd(&d, &cfg, sv[0]);
	if (!ret)
		ret = kmig_dec_run(&d);
	snprintf(err, 256, "%s", kmig_dec_error(&d));
	if (in_place)
		*in_place = d.in_place;
	kmig_dec_free(&d);
	close(sv[0]);
	pthread_join(t, NULL);
	return ret;
}

static inline int decode_buf(const struct kmig_dec_ops *ops,
			     const uint8_t *buf, size_t len, char *err)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL, .ops = ops,
	};
	struct kmig_dec d;
	int ret;

	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	snprintf(err, 256, "%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	return ret;
}

#endif /* KMIG_TESTS_STREAM_PAGES_H */
