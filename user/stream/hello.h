/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Channel hello: the first 64 bytes on each connection of a migration,
 * naming the migration (uuid) and the channel (0 = main, 1.. = pages).
 */
#ifndef KMIG_STREAM_HELLO_H
#define KMIG_STREAM_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct kmig_hello {
	uint16_t channel;
	uint16_t nchannels;		/* main channel included */
	uint8_t uuid[16];
};

/* 0, or -EINVAL when channel >= nchannels or nchannels is out of range. */
int kmig_hello_encode(const struct kmig_hello *h,
		      uint8_t out[KMIG_HELLO_SIZE]);
/* 0 or -errno (-EPROTO, -EPROTONOSUPPORT, -EBADMSG), with a message in
 * @err naming the fault. */
int kmig_hello_decode(struct kmig_hello *h, const uint8_t in[KMIG_HELLO_SIZE],
		      char *err, size_t errlen);

#endif /* KMIG_STREAM_HELLO_H */
