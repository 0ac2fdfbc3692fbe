// SPDX-License-Identifier: GPL-2.0
/*
 * Stream decoder, RAM_PAGES framing. The record header, batch header,
 * page list and page sums come first and carry their own CRC: they are
 * read and checked (that CRC, then dec_records.c's checks) before any
 * page is. The pages then go straight to the consumer's destinations,
 * read from the socket into them, and are summed where they landed; or,
 * without destinations, they stay in the input like any record. With
 * CRC32C sums one running CRC covers the batch, compared with the page
 * sums folded together; only when that fails is each page checked alone,
 * to name the torn ones. XXH64 sums do not fold: each page is summed as
 * soon as it has landed whole.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc32c.h"
#include "dec_priv.h"
#include "le.h"
#include "psum.h"

#define PAGE		KMIG_STREAM_PAGE_SIZE
/* Offset in the record of the list CRC, and of the pages. */
#define LIST_END(n)	(KMIG_STREAM_REC_HDR_SIZE + \
			 KMIG_REC_RAM_PAGES_LIST_LEN(n))
#define DATA_AT(n)	(LIST_END(n) + KMIG_STREAM_CRC_SIZE)
#define PAGE_NR_AT	(KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_PAGES_HDR_LEN)
#define PAGE_CRC_AT(n)	(PAGE_NR_AT + 8 * (n))

/* What the batch's pages gave as they landed: with CRC32C sums the running
 * CRC of all of them; with XXH64 sums how many pages were summed, in
 * order, and how many of those disagreed with their sum. */
struct landing {
	enum kmig_psum psum;
	uint32_t crc;
	unsigned int summed, bad;
};

/* Bytes [@from, @from + @len) of the batch have landed, at @to. */
static void landed(struct kmig_dec *d, struct landing *l, const uint8_t *to,
		   size_t from, size_t len)
{
	if (l->psum == KMIG_PSUM_CRC32C) {
		l->crc = kmig_crc32c(l->crc, to, len);
		return;
	}
	for (; (l->summed + 1) * (size_t)PAGE <= from + len; l->summed++)
		l->bad += kmig_page_sum(l->psum, d->bdata[l->summed]) !=
			  d->bcrc[l->summed];
}

static int truncated(struct kmig_dec *d, long got, size_t want)
{
	if (got < 0)
		return kmig_dec_fail(d, got, "reading the record: %s",
				     strerror(-got));
	return kmig_dec_fail(d, -ENODATA,
			     "truncated: the record ends after %ld of %zu bytes",
			     got, want);
}

/*
 * Read and check everything before the pages, and take it from the
 * input: the batch's size, or -errno.
 */
static int head(struct kmig_dec *d, uint32_t len, uint32_t *slot)
{
	const size_t fixed = PAGE_NR_AT;
	const uint8_t *r;
	uint32_t stored, crc;
	unsigned int n, i;
	long got;
	int ret;

	got = kmig_dec_fill(d, fixed);
	if (got < (long)fixed)
		return truncated(d, got, fixed);
	r = d->in + d->in_off;
	n = get_le16(r + 12);
	if (!n || n > KMIG_STREAM_MAX_BATCH)
		return kmig_dec_fail(d, -EMSGSIZE,
				     "a batch of %u pages (1..%u)", n,
				     KMIG_STREAM_MAX_BATCH);
	if (len != KMIG_REC_RAM_PAGES_LEN(n))
		return kmig_dec_fail(d, -EMSGSIZE,
				     "length %u, a batch of %u pages is %u bytes",
				     len, n, KMIG_REC_RAM_PAGES_LEN(n));
	got = kmig_dec_fill(d, DATA_AT(n));
	if (got < (long)DATA_AT(n))
		return truncated(d, got, DATA_AT(n));
	r = d->in + d->in_off;
	crc = kmig_crc32c(0, r, LIST_END(n));
	stored = get_le32(r + LIST_END(n));
	if (stored != crc)
		return kmig_dec_fail(d, -EBADMSG,
				     "page list CRC mismatch: stored 0x%08x, computed 0x%08x",
				     stored, crc);
	if (get_le16(r + 2) || get_le16(r + 14))
		return kmig_dec_fail(d, -EPROTO,
				     "reserved bytes 0x%04x 0x%04x not zero",
				     get_le16(r + 2), get_le16(r + 14));
	for (i = 0; i < n; i++) {
		d->bpages[i] = get_le64(r + PAGE_NR_AT + 8 * i);
		d->bcrc[i] = get_le32(r + PAGE_CRC_AT(n) + 4 * i);
	}
	*slot = get_le32(r + 8);
	ret = kmig_dec_batch_check(d, r[1], *slot, n);
	if (ret)
		return ret;
	kmig_dec_consume(d, DATA_AT(n));
	return n;
}

/* Bytes of the batch's pages from byte @from on that lie next to each
 * other at their destinations (a run of consecutive pages is one). */
static size_t contiguous(const struct kmig_dec *d, unsigned int n, size_t from)
{
	unsigned int i = from / PAGE;
	const uint8_t *end = (uint8_t *)d->bdata[i] + PAGE;

	for (i++; i < n && d->bdata[i] == end; i++)
		end += PAGE;
	return (size_t)i * PAGE - from;
}

static uint8_t *dest(const struct kmig_dec *d, size_t from)
{
	return (uint8_t *)d->bdata[from / PAGE] + from % PAGE;
}

/* Bytes [@from, @from + @len) of the batch's @n pages at their places:
 * copied there from @src (if not NULL), then landed(). */
static void at_dest(struct kmig_dec *d, unsigned int n, size_t from,
		    size_t len, const uint8_t *src, struct landing *l)
{
	size_t k;
	uint8_t *to;

	while (len) {
		k = contiguous(d, n, from);
		k = k < len ? k : len;
		to = dest(d, from);
		if (src) {
			memcpy(to, src, k);
			src += k;
		}
		landed(d, l, to, from, k);
		from += k;
		len -= k;
	}
}

/* iovecs for the pages from byte @from on (a run of consecutive pages
 * is one), then the input's tail. */
static int iovecs(struct kmig_dec *d, unsigned int n, size_t from,
		  struct iovec *iov)
{
	size_t total = (size_t)n * PAGE, k;
	int cnt = 0;

	for (; from < total; from += k) {
		k = contiguous(d, n, from);
		iov[cnt++] = (struct iovec) { dest(d, from), k };
	}
	iov[cnt++] = (struct iovec) { d->rbuf + d->in_len,
				      KMIG_DEC_READ_AHEAD };
	return cnt;
}

/*
 * The pages to their destinations: what the input holds already is
 * copied, the rest read from the socket in place (with at most
 * KMIG_DEC_READ_AHEAD bytes after them into the input). Each piece is
 * summed where it landed, right after it landed.
 */
static int in_place(struct kmig_dec *d, unsigned int n, struct landing *l)
{
	struct iovec iov[KMIG_STREAM_MAX_BATCH + 1];
	size_t total = (size_t)n * PAGE, done, k;
	ssize_t got;

	d->in_place = true;
	done = d->in_len - d->in_off < total ? d->in_len - d->in_off : total;
	at_dest(d, n, 0, done, kmig_dec_consume(d, done), l);
	if (done == total)
		return 0;
	if (d->fd < 0)
		return truncated(d, DATA_AT(n) + done, DATA_AT(n) + total);
	/* The input is empty: start it over. */
	kmig_dec_release(d);
	d->in_off = d->in_len = 0;
	while (done < total) {
		got = readv(d->fd, iov, iovecs(d, n, done, iov));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return truncated(d, errno == EAGAIN ? -ETIMEDOUT : -errno,
					 0);
		if (!got)
			return truncated(d, DATA_AT(n) + done,
					 DATA_AT(n) + total);
		k = (size_t)got < total - done ? (size_t)got : total - done;
		at_dest(d, n, done, k, NULL, l);
		done += k;
		d->pos += k;
		d->in_len += got - k;
	}
	return 0;
}

/* No destinations: the pages stay in the input, like any record. */
static int in_input(struct kmig_dec *d, unsigned int n, struct landing *l)
{
	size_t total = (size_t)n * PAGE;
	const uint8_t *p;
	unsigned int i;
	long got;

	got = kmig_dec_fill(d, total);
	if (got < (long)total)
		return truncated(d, got < 0 ? got : (long)DATA_AT(n) + got,
				 DATA_AT(n) + total);
	p = kmig_dec_consume(d, total);
	for (i = 0; i < n; i++)
		d->bdata[i] = (void *)(p + (size_t)i * PAGE);
	landed(d, l, p, 0, total);
	return 0;
}

/*
 * The pages whose own sum fails, once the batch's check did: refused, or with
 * a @torn callback, named to it one by one, then handed over with the
 * others unless it refused one.
 */
static int torn(struct kmig_dec *d, uint32_t slot, unsigned int n, bool placed)
{
	enum kmig_psum psum = kmig_psum_of_caps(d->caps);
	unsigned int i, bad = 0, first = 0;
	uint32_t crc = 0, c;
	int ret;

	for (i = 0; i < n; i++) {
		c = kmig_page_sum(psum, d->bdata[i]);
		d->btorn[i] = c != d->bcrc[i];
		if (d->btorn[i] && !bad++) {
			first = i;
			crc = c;
		}
	}
	if (!d->cfg.ops || !d->cfg.ops->torn || !bad)
		return kmig_dec_fail(d, -EBADMSG,
				     "%s mismatch: page %llu (%u of the batch's %u) stored 0x%08x, computed 0x%08x%s; %u page%s torn",
				     psum == KMIG_PSUM_XXH64 ? "XXH64" : "CRC",
				     (unsigned long long)d->bpages[first],
				     first + 1, n, d->bcrc[first], crc,
				     placed ? " where it landed" : "", bad,
				     bad == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		if (!d->btorn[i])
			continue;
		ret = d->cfg.ops->torn(d->cfg.opaque, slot, d->bpages[i]);
		if (ret)
			return ret;
	}
	return kmig_dec_batch_deliver(d, slot, n);
}

int kmig_dec_batch(struct kmig_dec *d, uint32_t len)
{
	struct landing l = { .psum = kmig_psum_of_caps(d->caps) };
	uint32_t slot = 0, want;
	unsigned int i;
	bool placed;
	int n, ret;

	n = head(d, len, &slot);
	if (n < 0)
		return n;
	ret = kmig_dec_batch_dest(d, slot, n);
	if (ret)
		return ret;
	placed = d->bdata[0];
	ret = placed ? in_place(d, n, &l) : in_input(d, n, &l);
	if (ret)
		return ret;
	if (l.psum == KMIG_PSUM_XXH64) {
		if (l.bad)
			return torn(d, slot, n, placed);
		return kmig_dec_batch_deliver(d, slot, n);
	}
	want = d->bcrc[0];
	for (i = 1; i < (unsigned int)n; i++)
		want = kmig_crc32c_combine(want, d->bcrc[i], PAGE);
	if (l.crc != want)
		return torn(d, slot, n, placed);
	return kmig_dec_batch_deliver(d, slot, n);
}
