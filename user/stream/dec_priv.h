/* SPDX-License-Identifier: GPL-2.0 */
/* Decoder internals shared by dec.c (framing) and dec_records.c. */
#ifndef KMIG_STREAM_DEC_PRIV_H
#define KMIG_STREAM_DEC_PRIV_H

#include "dec.h"

/* Record the refusal of the current record; returns @err. */
int kmig_dec_fail(struct kmig_dec *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Check a framed, CRC-checked record and hand it to its callback. */
int kmig_dec_record(struct kmig_dec *d, uint8_t type, uint8_t flags,
		    const uint8_t *pl, uint32_t len);

#endif /* KMIG_STREAM_DEC_PRIV_H */
