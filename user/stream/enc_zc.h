/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The encoder's MSG_ZEROCOPY writer (enc_zc.c), for enc.c only.
 */
#ifndef KMIG_STREAM_ENC_ZC_H
#define KMIG_STREAM_ENC_ZC_H

#include <sys/uio.h>

#include "enc.h"

/*
 * Write @iov[0..@cnt) with MSG_ZEROCOPY, then wait until the kernel has
 * let go of every page of it: on return the memory may change. 0 or
 * -errno (-ETIMEDOUT when the kernel did not for the encoder's timeout).
 */
int kmig_enc_zc_write(struct kmig_enc *e, struct iovec *iov, int cnt);

#endif /* KMIG_STREAM_ENC_ZC_H */
