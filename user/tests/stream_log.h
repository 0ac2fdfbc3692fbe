/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test helper for the stream tests: decoder callbacks that log every typed
 * record (data summarised by its CRC32C) so a test can compare what came
 * out with what went in.
 */
#ifndef KMIG_TEST_STREAM_LOG_H
#define KMIG_TEST_STREAM_LOG_H

#include <string.h>

#include "crc32c.h"
#include "dec.h"
#include "enc.h"

enum ev_kind { EV_CAPS = 1, EV_SECTION, EV_CMD, EV_PAGE, EV_ZERO, EV_VCPU,
	       EV_DEVICE, EV_EOS, EV_DISCARD };

struct ev {
	int kind;
	uint64_t a, b, c;	/* caps; slot/page/count; vcpu/part/len ... */
	uint32_t crc;		/* of the data, when there is data */
	char name[KMIG_STREAM_MAX_NAME + 1];
};

#define LOG_MAX	4096

struct ev_log {
	unsigned int n;
	int fail_at;		/* a callback returns -ECANCELED at event n */
	struct ev ev[LOG_MAX];
};

static inline int log_add(struct ev_log *l, int kind, uint64_t a, uint64_t b,
			  uint64_t c, const void *data, uint32_t len)
{
	struct ev *e;

	if (l->fail_at && (int)l->n + 1 == l->fail_at)
		return -ECANCELED;
	if (l->n == LOG_MAX)
		return -ENOSPC;
	e = &l->ev[l->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->a = a;
	e->b = b;
	e->c = c;
	e->crc = data ? kmig_crc32c(0, data, len) : 0;
	return 0;
}

static inline int log_caps(void *o, uint64_t agreed)
{
	return log_add(o, EV_CAPS, agreed, 0, 0, NULL, 0);
}

static inline int log_section(void *o, const struct kmig_section *s)
{
	struct ev_log *l = o;
	int ret = log_add(l, EV_SECTION, s->type, s->id,
			  (uint64_t)s->kind << 32 | (uint64_t)s->instance << 16,
			  NULL, 0);

	if (!ret)
		memcpy(l->ev[l->n - 1].name, s->name, sizeof(s->name));
	return ret;
}

static inline int log_cmd(void *o, const struct kmig_scmd *c)
{
	uint64_t v = c->id == KMIG_SCMD_PING ? c->token :
		     c->id == KMIG_SCMD_ROUND_SYNC ? c->round :
		     c->id == KMIG_SCMD_CHANNELS ? c->channels.count : 0;

	return log_add(o, EV_CMD, c->id, v, 0,
		       c->id == KMIG_SCMD_CHANNELS ? c->channels.uuid : NULL,
		       16);
}

static inline int log_page(void *o, uint32_t slot, uint64_t page,
			   const void *data)
{
	return log_add(o, EV_PAGE, slot, page, 1, data, KMIG_STREAM_PAGE_SIZE);
}

static inline int log_zero(void *o, uint32_t slot, uint64_t page,
			   uint32_t count)
{
	return log_add(o, EV_ZERO, slot, page, count, NULL, 0);
}

static inline int log_discard(void *o, uint32_t slot, uint64_t page,
			      uint32_t count)
{
	return log_add(o, EV_DISCARD, slot, page, count, NULL, 0);
}

static inline int log_vcpu(void *o, uint32_t vcpu, uint16_t part,
			   const void *data, uint32_t len)
{
	return log_add(o, EV_VCPU, vcpu, part, len, data, len);
}

static inline int log_device(void *o, uint16_t instance, uint32_t marker,
			     const void *data, uint32_t size)
{
	return log_add(o, EV_DEVICE, instance, marker, size, data, size);
}

static inline int log_eos(void *o)
{
	return log_add(o, EV_EOS, 0, 0, 0, NULL, 0);
}

static const struct kmig_dec_ops log_ops = {
	.caps = log_caps, .section = log_section, .cmd = log_cmd,
	.page = log_page, .zero = log_zero, .discard = log_discard,
	.vcpu = log_vcpu,
	.device = log_device, .eos = log_eos,
};

/* Two slots: id 0 with 16 pages, id 0x10001 (address space 1) with 256. */
static const struct kmig_slot test_slots[] = {
	{ .id = 0, .npages = 16 },
	{ .id = 0x10001, .npages = 256 },
};

static inline struct kmig_dec_cfg log_cfg(struct ev_log *l)
{
	struct kmig_dec_cfg cfg = {
		.slots = test_slots, .nslots = 2,
		.caps_supported = KMIG_SCAP_ALL,
		.ops = &log_ops, .opaque = l,
	};
	return cfg;
}

/* Decode @len bytes at @buf with the log callbacks: 0 or -errno, the
 * decoder's message copied to @err. */
static inline int log_decode(struct ev_log *l, const void *buf, size_t len,
			     char *err, size_t errlen)
{
	struct kmig_dec_cfg cfg = log_cfg(l);
	struct kmig_dec d;
	int ret;

	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	snprintf(err, errlen, "%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	return ret;
}

#endif /* KMIG_TEST_STREAM_LOG_H */
