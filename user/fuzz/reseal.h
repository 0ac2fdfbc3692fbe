/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stream fuzzers share: reseal() recomputes every CRC of a
 * mutated stream (header, batches' page sums and list CRCs, records), so
 * that the mutation reaches the checks behind them. Page sums are those
 * the stream's first CAPS record requires.
 */
#ifndef KMIG_FUZZ_RESEAL_H
#define KMIG_FUZZ_RESEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"
#include "format.h"
#include "le.h"
#include "psum.h"

/*
 * A batch's page sums (@psum) and list CRC, if its length is its page
 * count's: returns the bytes after its record header (a batch has no
 * record CRC), or 0 for any other record.
 */
static inline size_t reseal_batch(uint8_t *r, uint32_t len,
				  enum kmig_psum psum)
{
	const size_t hdr = KMIG_STREAM_REC_HDR_SIZE;
	unsigned int n, i;
	size_t list, data;

	if (r[0] != KMIG_REC_RAM_PAGES || len < KMIG_REC_RAM_PAGES_HDR_LEN)
		return 0;
	n = get_le16(r + 12);
	if (len != KMIG_REC_RAM_PAGES_LEN(n))
		return 0;
	list = hdr + KMIG_REC_RAM_PAGES_LIST_LEN(n);
	data = list + KMIG_STREAM_CRC_SIZE;
	for (i = 0; i < n; i++)
		put_le32(r + hdr + KMIG_REC_RAM_PAGES_HDR_LEN + 8 * n + 4 * i,
			 kmig_page_sum(psum, r + data + (size_t)i *
				       KMIG_STREAM_PAGE_SIZE));
	put_le32(r + list, kmig_crc32c(0, r, list));
	return len;
}

static inline void reseal(uint8_t *p, size_t n)
{
	size_t off = KMIG_STREAM_HEADER_SIZE, batch;
	enum kmig_psum psum = KMIG_PSUM_CRC32C;
	bool caps = false;
	uint32_t len;

	if (n < KMIG_STREAM_HEADER_SIZE)
		return;
	put_le32(p + 12, kmig_crc32c(0, p, 12));
	while (off + KMIG_STREAM_REC_HDR_SIZE <= n) {
		len = get_le32(p + off + 4);
		if (len > KMIG_STREAM_MAX_PAYLOAD ||
		    off + KMIG_STREAM_REC_HDR_SIZE + len + 4 > n)
			return;
		if (p[off] == KMIG_REC_CAPS && len == KMIG_REC_CAPS_LEN &&
		    !caps) {
			caps = true;
			psum = kmig_psum_of_caps(get_le64(p + off + 8));
		}
		batch = reseal_batch(p + off, len, psum);
		if (batch) {
			off += KMIG_STREAM_REC_HDR_SIZE + batch;
			continue;
		}
		put_le32(p + off + 8 + len, kmig_crc32c(0, p + off, 8 + len));
		off += KMIG_STREAM_REC_HDR_SIZE + len + KMIG_STREAM_CRC_SIZE;
	}
}

#endif /* KMIG_FUZZ_RESEAL_H */
