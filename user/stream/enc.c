// SPDX-License-Identifier: GPL-2.0
/*
 * Stream encoder. Records are built in a staging buffer, checksummed there
 * and written out in large chunks; pages given by reference are written
 * from where they are, between the staged bytes around them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc32c.h"
#include "enc.h"
#include "enc_zc.h"
#include "le.h"

#define FLUSH_AT	(256u << 10)
/* Pages by reference before a flush: each takes two iovecs of IOV_MAX. */
#define MAX_REFS	((IOV_MAX - 1) / 2)

void kmig_enc_init_fd(struct kmig_enc *e, int fd)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
}

void kmig_enc_init_mem(struct kmig_enc *e)
{
	kmig_enc_init_fd(e, -1);
}

const uint8_t *kmig_enc_mem(const struct kmig_enc *e, size_t *len)
{
	*len = e->len;
	return e->buf;
}

void kmig_enc_free(struct kmig_enc *e)
{
	free(e->buf);
	free(e->refs);
	e->buf = NULL;
	e->refs = NULL;
	e->len = e->cap = 0;
	e->nrefs = 0;
}

void kmig_enc_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	struct iovec *v = *iov;
	int c = *cnt;

	while (c && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		c--;
	}
	if (c) {
		v->iov_base = (uint8_t *)v->iov_base + n;
		v->iov_len -= n;
	}
	*iov = v;
	*cnt = c;
}

static int writev_all(int fd, struct iovec *iov, int cnt)
{
	ssize_t n;

	for (;;) {
		kmig_enc_iov_advance(&iov, &cnt, 0);
		if (!cnt)
			return 0;
		n = writev(fd, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		kmig_enc_iov_advance(&iov, &cnt, n);
	}
}

int kmig_enc_flush(struct kmig_enc *e)
{
	struct iovec iov[2 * MAX_REFS + 1];
	size_t from = 0;
	unsigned int i;
	int cnt = 0, ret;

	if (e->err || e->fd < 0)
		return e->err;
	for (i = 0; i < e->nrefs; i++) {
		const struct kmig_enc_ref *r = &e->refs[i];

		if (r->at > from)
			iov[cnt++] = (struct iovec) { e->buf + from,
						      r->at - from };
		/* A batch's pages next to each other: one iovec. */
		else if (i && r->at == r[-1].at && r->data ==
			 (uint8_t *)r[-1].data + KMIG_STREAM_PAGE_SIZE) {
			iov[cnt - 1].iov_len += KMIG_STREAM_PAGE_SIZE;
			continue;
		}
		iov[cnt++] = (struct iovec) { (void *)r->data,
					      KMIG_STREAM_PAGE_SIZE };
		from = r->at;
	}
	iov[cnt++] = (struct iovec) { e->buf + from, e->len - from };
	ret = e->zerocopy ? kmig_enc_zc_write(e, iov, cnt) :
			    writev_all(e->fd, iov, cnt);
	if (ret) {
		e->err = ret;
		return ret;
	}
	__atomic_fetch_add(&e->bytes, e->len + (uint64_t)e->nrefs *
			   KMIG_STREAM_PAGE_SIZE, __ATOMIC_RELAXED);
	e->len = 0;
	e->nrefs = 0;
	return 0;
}

/* Room for @n more bytes; returns their offset or -errno. */
static long reserve(struct kmig_enc *e, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (e->err)
		return e->err;
	if (e->len + n > e->cap) {
		cap = e->cap ? e->cap : 64 << 10;
		while (cap < e->len + n)
			cap *= 2;
		p = realloc(e->buf, cap);
		if (!p)
			return -ENOMEM;
		e->buf = p;
		e->cap = cap;
	}
	e->len += n;
	return e->len - n;
}

/* Seal a record started at @off: CRC over its header and payload. */
static int seal(struct kmig_enc *e, long off, size_t body)
{
	uint8_t *p = e->buf + off;

	put_le32(p + body, kmig_crc32c(0, p, body));
	e->records++;
	if (e->fd >= 0 && e->len >= FLUSH_AT)
		return kmig_enc_flush(e);
	return 0;
}

/* Start a record; *@pl points at its payload until the next reserve(). */
static long begin(struct kmig_enc *e, uint8_t type, uint8_t flags,
		  uint32_t len, uint8_t **pl)
{
	long off;
	uint8_t *p;

	if (len > KMIG_STREAM_MAX_PAYLOAD)
		return -EMSGSIZE;
	off = reserve(e, KMIG_STREAM_REC_HDR_SIZE + len + KMIG_STREAM_CRC_SIZE);
	if (off < 0)
		return off;
	p = e->buf + off;
	p[0] = type;
	p[1] = flags;
	put_le16(p + 2, 0);
	put_le32(p + 4, len);
	*pl = p + KMIG_STREAM_REC_HDR_SIZE;
	return off;
}

static int end(struct kmig_enc *e, long off)
{
	uint32_t len = get_le32(e->buf + off + 4);

	return seal(e, off, KMIG_STREAM_REC_HDR_SIZE + len);
}

int kmig_enc_record(struct kmig_enc *e, uint8_t type, uint8_t flags,
		    const void *payload, uint32_t len)
{
	uint8_t *pl;
	long off;

	off = begin(e, type, flags, len, &pl);
	if (off < 0)
		return off;
	if (len)
		memcpy(pl, payload, len);
	return end(e, off);
}

int kmig_enc_header(struct kmig_enc *e)
{
	long off = reserve(e, KMIG_STREAM_HEADER_SIZE);
	uint8_t *p;

	if (off < 0)
		return off;
	p = e->buf + off;
	put_le32(p, KMIG_STREAM_MAGIC);
	put_le16(p + 4, KMIG_STREAM_VERSION);
	put_le16(p + 6, KMIG_STREAM_HEADER_SIZE);
	put_le32(p + 8, 0);
	put_le32(p + 12, kmig_crc32c(0, p, 12));
	return 0;
}

int kmig_enc_caps(struct kmig_enc *e, uint64_t required, uint64_t optional)
{
	uint8_t pl[KMIG_REC_CAPS_LEN];

	put_le64(pl, required);
	put_le64(pl + 8, optional);
	e->psum = kmig_psum_of_caps(required);
	return kmig_enc_record(e, KMIG_REC_CAPS, 0, pl, sizeof(pl));
}

int kmig_enc_section(struct kmig_enc *e, const struct kmig_section *s)
{
	uint8_t pl[KMIG_REC_SECTION_HDR_LEN + KMIG_STREAM_MAX_NAME];
	size_t nlen;

	e->cont_valid = false;
	switch (s->type) {
	case KMIG_REC_SECTION_START:
	case KMIG_REC_SECTION_FULL:
		nlen = strnlen(s->name, sizeof(s->name));
		if (!nlen || nlen > KMIG_STREAM_MAX_NAME)
			return -EINVAL;
		put_le32(pl, s->id);
		put_le16(pl + 4, s->kind);
		put_le16(pl + 6, s->instance);
		put_le32(pl + 8, s->version);
		pl[12] = nlen;
		memcpy(pl + KMIG_REC_SECTION_HDR_LEN, s->name, nlen);
		return kmig_enc_record(e, s->type, 0, pl,
				       KMIG_REC_SECTION_HDR_LEN + nlen);
	case KMIG_REC_SECTION_PART:
	case KMIG_REC_SECTION_END:
	case KMIG_REC_SECTION_FOOTER:
		put_le32(pl, s->id);
		return kmig_enc_record(e, s->type, 0, pl,
				       KMIG_REC_SECTION_ID_LEN);
	}
	return -EINVAL;
}

int kmig_enc_cmd(struct kmig_enc *e, const struct kmig_scmd *c)
{
	uint8_t pl[KMIG_REC_COMMAND_HDR_LEN + 32] = { 0 };
	uint8_t *a = pl + KMIG_REC_COMMAND_HDR_LEN;
	int len = kmig_scmd_len(c->id);

	if (len < 0)
		return -EINVAL;
	put_le16(pl, c->id);
	put_le16(pl + 2, 0);
	switch (c->id) {
	case KMIG_SCMD_PING:
		put_le32(a, c->token);
		break;
	case KMIG_SCMD_ROUND_SYNC:
		put_le64(a, c->round);
		break;
	case KMIG_SCMD_CHANNELS:
		put_le16(a, c->channels.count);
		put_le16(a + 2, 0);
		memcpy(a + 4, c->channels.uuid, 16);
		break;
	}
	return kmig_enc_record(e, KMIG_REC_COMMAND, 0, pl,
			       KMIG_REC_COMMAND_HDR_LEN + len);
}

/* Slot prefix of a RAM record, or the CONTINUE flag instead. */
static uint8_t ram_flags(struct kmig_enc *e, uint32_t slot, uint32_t *hdr)
{
	if (e->cont_valid && e->cont_slot == slot) {
		*hdr = 0;
		return KMIG_RECF_CONTINUE;
	}
	*hdr = KMIG_REC_RAM_SLOT_LEN;
	return 0;
}

int kmig_enc_page(struct kmig_enc *e, uint32_t slot, uint64_t page,
		  const void *data)
{
	uint32_t hdr;
	uint8_t flags = ram_flags(e, slot, &hdr);
	uint8_t *pl;
	long off;

	off = begin(e, KMIG_REC_RAM_PAGE, flags, hdr + KMIG_REC_RAM_PAGE_LEN,
		    &pl);
	if (off < 0)
		return off;
	if (hdr)
		put_le32(pl, slot);
	put_le64(pl + hdr, page);
	memcpy(pl + hdr + 8, data, KMIG_STREAM_PAGE_SIZE);
	e->cont_slot = slot;
	e->cont_valid = true;
	return end(e, off);
}

/* Page @data goes out at @at of the staged bytes (written by kmig_enc_flush()). */
static int add_ref(struct kmig_enc *e, size_t at, const void *data)
{
	if (!e->refs) {
		e->refs = calloc(MAX_REFS, sizeof(*e->refs));
		if (!e->refs)
			return e->err = -ENOMEM;
	}
	e->refs[e->nrefs++] = (struct kmig_enc_ref) { .at = at, .data = data };
	return 0;
}

int kmig_enc_page_ref(struct kmig_enc *e, uint32_t slot, uint64_t page,
		      const void *data)
{
	uint32_t hdr, len, crc;
	uint8_t flags = ram_flags(e, slot, &hdr);
	uint8_t *pl;
	long off;
	int ret;

	if (e->fd < 0)
		return kmig_enc_page(e, slot, page, data);
	len = hdr + KMIG_REC_RAM_PAGE_LEN;
	/* The staged part: record header, slot and page number, CRC. */
	off = begin(e, KMIG_REC_RAM_PAGE, flags, len - KMIG_STREAM_PAGE_SIZE,
		    &pl);
	if (off < 0)
		return off;
	put_le32(e->buf + off + 4, len);
	if (hdr)
		put_le32(pl, slot);
	put_le64(pl + hdr, page);
	crc = kmig_crc32c(0, e->buf + off, KMIG_STREAM_REC_HDR_SIZE + hdr + 8);
	crc = kmig_crc32c(crc, data, KMIG_STREAM_PAGE_SIZE);
	put_le32(pl + hdr + 8, crc);
	ret = add_ref(e, pl + hdr + 8 - e->buf, data);
	if (ret)
		return ret;
	e->cont_slot = slot;
	e->cont_valid = true;
	e->records++;
	if (e->nrefs == MAX_REFS ||
	    e->len + e->nrefs * KMIG_STREAM_PAGE_SIZE >= FLUSH_AT)
		return kmig_enc_flush(e);
	return 0;
}

/*
 * The staged part of a RAM_PAGES: record header, batch header, page list,
 * page sums (computed here when @crcs is NULL) and the list CRC, which
 * begin() reserved where other records have their CRC. Returns its
 * offset; the pages follow it.
 */
static long pages_head(struct kmig_enc *e, uint32_t slot,
		       const uint64_t *pages, unsigned int n,
		       const void *const *data, const uint32_t *crcs)
{
	size_t list = KMIG_REC_RAM_PAGES_LIST_LEN(n);
	unsigned int i;
	uint8_t *pl;
	long off;

	off = begin(e, KMIG_REC_RAM_PAGES, 0, list, &pl);
	if (off < 0)
		return off;
	put_le32(e->buf + off + 4, KMIG_REC_RAM_PAGES_LEN(n));
	put_le32(pl, slot);
	put_le16(pl + 4, n);
	put_le16(pl + 6, 0);
	for (i = 0; i < n; i++) {
		put_le64(pl + KMIG_REC_RAM_PAGES_HDR_LEN + 8 * i, pages[i]);
		put_le32(pl + KMIG_REC_RAM_PAGES_HDR_LEN + 8 * n + 4 * i,
			 crcs ? crcs[i] : kmig_enc_page_sum(e, data[i]));
	}
	put_le32(pl + list, kmig_crc32c(0, e->buf + off,
					KMIG_STREAM_REC_HDR_SIZE + list));
	e->records++;
	return off;
}

/* The memory sink's RAM_PAGES: everything copied. */
static int pages_mem(struct kmig_enc *e, uint32_t slot, const uint64_t *pages,
		     unsigned int n, const void *const *data,
		     const uint32_t *crcs)
{
	unsigned int i;
	long off;

	off = pages_head(e, slot, pages, n, data, crcs);
	if (off < 0)
		return off;
	off = reserve(e, (size_t)n * KMIG_STREAM_PAGE_SIZE);
	if (off < 0)
		return off;
	for (i = 0; i < n; i++)
		memcpy(e->buf + off + (size_t)i * KMIG_STREAM_PAGE_SIZE,
		       data[i], KMIG_STREAM_PAGE_SIZE);
	return 0;
}

static int check_batch(const uint64_t *pages, unsigned int n)
{
	unsigned int i;

	if (!n || n > KMIG_STREAM_MAX_BATCH)
		return -EINVAL;
	for (i = 1; i < n; i++)
		if (pages[i] <= pages[i - 1])
			return -EINVAL;
	return 0;
}

int kmig_enc_pages(struct kmig_enc *e, uint32_t slot, const uint64_t *pages,
		   unsigned int n, const void *const *data)
{
	return kmig_enc_pages_crc(e, slot, pages, n, data, NULL);
}

int kmig_enc_pages_crc(struct kmig_enc *e, uint32_t slot,
		       const uint64_t *pages, unsigned int n,
		       const void *const *data, const uint32_t *crcs)
{
	unsigned int i;
	long off;
	int ret;

	ret = check_batch(pages, n);
	if (ret)
		return ret;
	e->cont_slot = slot;
	e->cont_valid = true;
	if (e->fd < 0)
		return pages_mem(e, slot, pages, n, data, crcs);
	if (e->nrefs + n > MAX_REFS) {
		ret = kmig_enc_flush(e);
		if (ret)
			return ret;
	}
	off = pages_head(e, slot, pages, n, data, crcs);
	if (off < 0)
		return off;
	for (i = 0; i < n; i++) {
		ret = add_ref(e, e->len, data[i]);
		if (ret)
			return ret;
	}
	if (e->len + e->nrefs * KMIG_STREAM_PAGE_SIZE >= FLUSH_AT)
		return kmig_enc_flush(e);
	return 0;
}

int kmig_enc_zero(struct kmig_enc *e, uint32_t slot, uint64_t page,
		  uint32_t count)
{
	uint32_t hdr;
	uint8_t flags = ram_flags(e, slot, &hdr);
	uint8_t pl[KMIG_REC_RAM_SLOT_LEN + KMIG_REC_RAM_ZERO_LEN];

	if (!count || count > KMIG_STREAM_MAX_ZERO_RUN)
		return -EINVAL;
	if (hdr)
		put_le32(pl, slot);
	put_le64(pl + hdr, page);
	put_le32(pl + hdr + 8, count);
	e->cont_slot = slot;
	e->cont_valid = true;
	return kmig_enc_record(e, KMIG_REC_RAM_ZERO, flags, pl,
			       hdr + KMIG_REC_RAM_ZERO_LEN);
}

int kmig_enc_discard(struct kmig_enc *e, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	uint8_t pl[KMIG_REC_RAM_DISCARD_LEN];

	if (!count || count > KMIG_STREAM_MAX_ZERO_RUN)
		return -EINVAL;
	put_le32(pl, slot);
	put_le64(pl + 4, page);
	put_le32(pl + 12, count);
	return kmig_enc_record(e, KMIG_REC_RAM_DISCARD, 0, pl, sizeof(pl));
}

int kmig_enc_vcpu(struct kmig_enc *e, uint32_t vcpu, uint16_t part,
		  const void *data, uint32_t len)
{
	uint8_t *pl;
	long off;

	if (len > KMIG_STREAM_MAX_VCPU_PART)
		return -EMSGSIZE;
	off = begin(e, KMIG_REC_VCPU_STATE, 0, KMIG_REC_VCPU_HDR_LEN + len,
		    &pl);
	if (off < 0)
		return off;
	put_le32(pl, vcpu);
	put_le16(pl + 4, part);
	put_le16(pl + 6, 0);
	if (len)
		memcpy(pl + KMIG_REC_VCPU_HDR_LEN, data, len);
	return end(e, off);
}

int kmig_enc_device(struct kmig_enc *e, uint32_t marker, const void *data,
		    uint32_t size)
{
	uint8_t *pl;
	long off;

	if (size > KMIG_STREAM_MAX_PAYLOAD - KMIG_REC_DEVICE_HDR_LEN)
		return -EMSGSIZE;
	off = begin(e, KMIG_REC_DEVICE_STATE, 0,
		    KMIG_REC_DEVICE_HDR_LEN + size, &pl);
	if (off < 0)
		return off;
	put_le32(pl, marker);
	put_le32(pl + 4, 0);
	put_le64(pl + 8, size);
	if (size)
		memcpy(pl + KMIG_REC_DEVICE_HDR_LEN, data, size);
	return end(e, off);
}

int kmig_enc_eos(struct kmig_enc *e)
{
	uint8_t pl[KMIG_REC_EOS_LEN];
	int ret;

	put_le64(pl, e->records);
	ret = kmig_enc_record(e, KMIG_REC_END_OF_STREAM, 0, pl, sizeof(pl));
	return ret ? ret : kmig_enc_flush(e);
}
