/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the encoder's two writers, writev (enc.c) and MSG_ZEROCOPY
 * (enc_zc.c): not for other users.
 */
#ifndef KMIG_STREAM_ENC_ZC_H
#define KMIG_STREAM_ENC_ZC_H

#include <sys/uio.h>

#include "enc.h"

/* Past @n bytes written of *@iov (*@cnt of them) and any empty iovecs. */
void kmig_enc_iov_advance(struct iovec **iov, int *cnt, size_t n);
/*
 * Write @iov[0..@cnt) with MSG_ZEROCOPY, then wait until the kernel has
 * let go of every page of it: on return the memory may change. 0 or
 * -errno (-ETIMEDOUT when the kernel did not for the encoder's timeout).
 */
int kmig_enc_zc_write(struct kmig_enc *e, struct iovec *iov, int cnt);

#endif /* KMIG_STREAM_ENC_ZC_H */
