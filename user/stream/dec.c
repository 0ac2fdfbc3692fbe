// SPDX-License-Identifier: GPL-2.0
/*
 * Stream decoder, framing half: the source (fd or buffer), the stream
 * header, record headers, length limits and CRC32C. dec_records.c checks
 * what a record says.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "dec_priv.h"
#include "le.h"

#define REC_MAX	(KMIG_STREAM_REC_HDR_SIZE + KMIG_STREAM_MAX_PAYLOAD + \
		 KMIG_STREAM_CRC_SIZE)
/*
 * An fd source reads into a buffer of this size (it stays in L2), grown
 * to REC_MAX for a larger record. Once a batch has gone to its caller's
 * destination, reads take only KMIG_DEC_READ_AHEAD bytes beyond the
 * record being read: more would be the next batch's pages, copied
 * instead of read in place.
 */
#define DEC_RBUF	(256u << 10)

static int init(struct kmig_dec *d, const struct kmig_dec_cfg *cfg)
{
	memset(d, 0, sizeof(*d));
	if (cfg->nslots > KMIG_STREAM_MAX_SLOTS || (cfg->nslots && !cfg->slots))
		return -EINVAL;
	d->cfg = *cfg;
	d->fd = -1;
	d->body = -1;
	d->cur_type = CUR_HEADER;
	return 0;
}

int kmig_dec_init_fd(struct kmig_dec *d, const struct kmig_dec_cfg *cfg,
		     int fd)
{
	int ret = init(d, cfg);

	if (ret)
		return ret;
	d->fd = fd;
	d->rcap = DEC_RBUF;
	d->rbuf = malloc(d->rcap);
	d->in = d->rbuf;
	return d->rbuf ? 0 : -ENOMEM;
}

int kmig_dec_init_buf(struct kmig_dec *d, const struct kmig_dec_cfg *cfg,
		      const void *buf, size_t len)
{
	int ret = init(d, cfg);

	d->in = buf;
	d->in_len = len;
	return ret;
}

void kmig_dec_free(struct kmig_dec *d)
{
	free(d->rbuf);
	d->rbuf = NULL;
	d->in = NULL;
}

const char *kmig_dec_error(const struct kmig_dec *d)
{
	return d->err;
}

int kmig_dec_fail(struct kmig_dec *d, int err, const char *fmt, ...)
{
	const char *name = d->cur_type < 0 ? NULL : kmig_rec_name(d->cur_type);
	va_list ap;
	int n;

	if (d->cur_type == CUR_HEADER)
		n = snprintf(d->err, sizeof(d->err),
			     "stream header at offset %llu: ",
			     (unsigned long long)d->offset);
	else if (d->cur_type == CUR_UNREAD)
		n = snprintf(d->err, sizeof(d->err),
			     "record #%llu at offset %llu: ",
			     (unsigned long long)d->records,
			     (unsigned long long)d->offset);
	else if (name)
		n = snprintf(d->err, sizeof(d->err),
			     "record #%llu %s at offset %llu: ",
			     (unsigned long long)d->records, name,
			     (unsigned long long)d->offset);
	else
		n = snprintf(d->err, sizeof(d->err),
			     "record #%llu type 0x%02x at offset %llu: ",
			     (unsigned long long)d->records, d->cur_type,
			     (unsigned long long)d->offset);
	va_start(ap, fmt);
	vsnprintf(d->err + n, sizeof(d->err) - n, fmt, ap);
	va_end(ap);
	d->state = KMIG_DEC_FAILED;
	return err;
}

void kmig_dec_release(struct kmig_dec *d)
{
	if (d->cfg.ops && d->cfg.ops->release)
		d->cfg.ops->release(d->cfg.opaque);
}

/* Room in rbuf for @len bytes from in_off: 0 or -ENOMEM. */
static int make_room(struct kmig_dec *d, size_t len)
{
	size_t have = d->in_len - d->in_off;
	uint8_t *p;

	if (d->in_off + len <= d->rcap)
		return 0;
	kmig_dec_release(d);
	memmove(d->rbuf, d->rbuf + d->in_off, have);
	d->in_off = 0;
	d->in_len = have;
	if (len <= d->rcap)
		return 0;
	p = realloc(d->rbuf, REC_MAX);
	if (!p)
		return -ENOMEM;
	d->rbuf = p;
	d->in = p;
	d->rcap = REC_MAX;
	return 0;
}

long kmig_dec_fill(struct kmig_dec *d, size_t len)
{
	size_t have = d->in_len - d->in_off, want, end;
	ssize_t n;
	int ret;

	if (d->fd < 0 || have >= len)
		return have;
	ret = make_room(d, len);
	if (ret)
		return ret;
	want = d->in_place ? len + KMIG_DEC_READ_AHEAD : d->rcap;
	end = d->in_off + want < d->rcap ? d->in_off + want : d->rcap;
	while (d->in_len - d->in_off < len) {
		n = read(d->fd, d->rbuf + d->in_len, end - d->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (!n)
			break;
		d->in_len += n;
	}
	return d->in_len - d->in_off;
}

const uint8_t *kmig_dec_consume(struct kmig_dec *d, size_t len)
{
	const uint8_t *p = d->in + d->in_off;

	d->in_off += len;
	d->pos += len;
	return p;
}

static int header(struct kmig_dec *d)
{
	const uint8_t *h;
	uint32_t magic, crc;
	long n;

	n = kmig_dec_fill(d, KMIG_STREAM_HEADER_SIZE);
	if (n < 0)
		return kmig_dec_fail(d, n, "reading the stream header: %s",
				     strerror(-n));
	if (n < KMIG_STREAM_HEADER_SIZE)
		return kmig_dec_fail(d, -ENODATA,
				     "truncated: the stream header ends after %ld of %d bytes",
				     n, KMIG_STREAM_HEADER_SIZE);
	h = kmig_dec_consume(d, KMIG_STREAM_HEADER_SIZE);
	magic = get_le32(h);
	if (magic != KMIG_STREAM_MAGIC)
		return kmig_dec_fail(d, -EPROTO,
				     "bad magic 0x%08x (a kmig stream starts with 0x%08x, \"KMIG\")",
				     magic, KMIG_STREAM_MAGIC);
	if (get_le16(h + 4) != KMIG_STREAM_VERSION)
		return kmig_dec_fail(d, -EPROTONOSUPPORT,
				     "unknown version %u (this decoder reads version %u)",
				     get_le16(h + 4), KMIG_STREAM_VERSION);
	crc = kmig_crc32c(0, h, 12);
	if (get_le32(h + 12) != crc)
		return kmig_dec_fail(d, -EBADMSG,
				     "CRC mismatch: stored 0x%08x, computed 0x%08x",
				     get_le32(h + 12), crc);
	if (get_le16(h + 6) != KMIG_STREAM_HEADER_SIZE || get_le32(h + 8))
		return kmig_dec_fail(d, -EPROTO,
				     "header length %u or reserved 0x%x invalid",
				     get_le16(h + 6), get_le32(h + 8));
	d->state = KMIG_DEC_CAPS;
	return 1;
}

/* A record other than a batch, whole in the input: checked, handed on. */
static int whole(struct kmig_dec *d, uint32_t len)
{
	size_t size = KMIG_STREAM_REC_HDR_SIZE + len + KMIG_STREAM_CRC_SIZE;
	uint32_t crc, stored;
	const uint8_t *r;
	long n;

	n = kmig_dec_fill(d, size);
	if (n < 0)
		return kmig_dec_fail(d, n, "reading the record: %s",
				     strerror(-n));
	if ((size_t)n < size)
		return kmig_dec_fail(d, -ENODATA,
				     "truncated: the record ends after %ld of %u bytes",
				     n - KMIG_STREAM_REC_HDR_SIZE,
				     len + KMIG_STREAM_CRC_SIZE);
	r = kmig_dec_consume(d, size);
	crc = kmig_crc32c(0, r, KMIG_STREAM_REC_HDR_SIZE + len);
	stored = get_le32(r + KMIG_STREAM_REC_HDR_SIZE + len);
	if (crc != stored)
		return kmig_dec_fail(d, -EBADMSG,
				     "CRC mismatch: stored 0x%08x, computed 0x%08x",
				     stored, crc);
	if (!kmig_rec_name(r[0]))
		return kmig_dec_fail(d, -EPROTO, "unknown record type 0x%02x",
				     r[0]);
	if (get_le16(r + 2))
		return kmig_dec_fail(d, -EPROTO, "reserved bytes 0x%04x not zero",
				     get_le16(r + 2));
	return kmig_dec_record(d, r[0], r[1], r + KMIG_STREAM_REC_HDR_SIZE, len);
}

static int record(struct kmig_dec *d)
{
	const uint8_t *r;
	uint32_t len;
	long n;
	int ret;

	d->offset = d->pos;
	d->cur_type = CUR_UNREAD;
	n = kmig_dec_fill(d, KMIG_STREAM_REC_HDR_SIZE);
	if (n < 0)
		return kmig_dec_fail(d, n, "reading a record: %s",
				     strerror(-n));
	if (!n)
		return kmig_dec_fail(d, -ENODATA,
				     "truncated: stream ends without END_OF_STREAM");
	r = d->in + d->in_off;
	d->cur_type = r[0];
	if (n < KMIG_STREAM_REC_HDR_SIZE)
		return kmig_dec_fail(d, -ENODATA,
				     "truncated: record header ends after %ld of %d bytes",
				     n, KMIG_STREAM_REC_HDR_SIZE);
	len = get_le32(r + 4);
	if (len > KMIG_STREAM_MAX_PAYLOAD)
		return kmig_dec_fail(d, -EMSGSIZE,
				     "length %u exceeds the limit of %u bytes",
				     len, KMIG_STREAM_MAX_PAYLOAD);
	if (r[0] == KMIG_REC_RAM_PAGES)
		ret = kmig_dec_batch(d, len);
	else
		ret = whole(d, len);
	if (ret < 0) {
		if (d->state != KMIG_DEC_FAILED)
			kmig_dec_fail(d, ret, "refused by its handler: %s",
				      strerror(-ret));
		return ret;
	}
	d->records++;
	return d->state == KMIG_DEC_DONE ? 0 : 1;
}

int kmig_dec_next(struct kmig_dec *d)
{
	int ret;

	switch (d->state) {
	case KMIG_DEC_HEADER:
		return header(d);
	case KMIG_DEC_DONE:
		return 0;
	case KMIG_DEC_FAILED:
		return -EPROTO;
	default:
		break;
	}
	ret = record(d);
	if (ret == 0 && d->fd < 0 && d->in_off != d->in_len) {
		d->state = KMIG_DEC_FAILED;
		snprintf(d->err, sizeof(d->err),
			 "%zu bytes of garbage after END_OF_STREAM at offset %zu",
			 d->in_len - d->in_off, d->in_off);
		return -EPROTO;
	}
	return ret;
}

int kmig_dec_run(struct kmig_dec *d)
{
	int ret;

	while ((ret = kmig_dec_next(d)) > 0)
		;
	kmig_dec_release(d);
	return ret;
}
