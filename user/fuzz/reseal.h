/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stream fuzzers share: reseal() recomputes every CRC of a
 * mutated stream (header, batch page lists, records), so that the mutation
 * reaches the checks behind them.
 */
#ifndef KMIG_FUZZ_RESEAL_H
#define KMIG_FUZZ_RESEAL_H

#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"
#include "format.h"
#include "le.h"

/* A batch's list CRC, if its page count fits in its length. */
static inline void reseal_list(uint8_t *r, uint32_t len)
{
	unsigned int n;
	size_t end;

	if (r[0] != KMIG_REC_RAM_PAGES || len < KMIG_REC_RAM_PAGES_HDR_LEN)
		return;
	n = get_le16(r + 12);
	end = KMIG_STREAM_REC_HDR_SIZE + KMIG_REC_RAM_PAGES_HDR_LEN + 8 * n;
	if (end + KMIG_STREAM_CRC_SIZE <= KMIG_STREAM_REC_HDR_SIZE + len)
		put_le32(r + end, kmig_crc32c(0, r, end));
}

static inline void reseal(uint8_t *p, size_t n)
{
	size_t off = KMIG_STREAM_HEADER_SIZE;
	uint32_t len;

	if (n < KMIG_STREAM_HEADER_SIZE)
		return;
	put_le32(p + 12, kmig_crc32c(0, p, 12));
	while (off + KMIG_STREAM_REC_HDR_SIZE <= n) {
		len = get_le32(p + off + 4);
		if (len > KMIG_STREAM_MAX_PAYLOAD ||
		    off + KMIG_STREAM_REC_HDR_SIZE + len + 4 > n)
			return;
		reseal_list(p + off, len);
		put_le32(p + off + 8 + len, kmig_crc32c(0, p + off, 8 + len));
		off += KMIG_STREAM_REC_HDR_SIZE + len + KMIG_STREAM_CRC_SIZE;
	}
}

#endif /* KMIG_FUZZ_RESEAL_H */
