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

/* Bytes an fd source reads beyond what it needs, once batches go in place. */
#define KMIG_DEC_READ_AHEAD	4096u

/*
 * At least @len unconsumed bytes at d->in + d->in_off, reading more from
 * an fd source as needed: how many there are, fewer only at the end of
 * the input, or -errno.
 */
long kmig_dec_fill(struct kmig_dec *d, size_t len);
/* Take @len bytes filled before: where they are. */
const uint8_t *kmig_dec_consume(struct kmig_dec *d, size_t len);
/* The data handed to callbacks so far is about to be overwritten. */
void kmig_dec_release(struct kmig_dec *d);

/* Frame, check and deliver a RAM_PAGES record of payload length @len. */
int kmig_dec_batch(struct kmig_dec *d, uint32_t len);
/* Its meaning: body, flags, slot, pages (in d->bpages); 0 or -errno. */
int kmig_dec_batch_check(struct kmig_dec *d, uint8_t flags, uint32_t slot,
			 unsigned int n);
/* The consumer's destinations (d->bdata), or NULL ones: 0 or -errno. */
int kmig_dec_batch_dest(struct kmig_dec *d, uint32_t slot, unsigned int n);
/* Hand the verified batch (d->bpages, d->bdata) to its callback. */
int kmig_dec_batch_deliver(struct kmig_dec *d, uint32_t slot, unsigned int n);

#endif /* KMIG_STREAM_DEC_PRIV_H */
