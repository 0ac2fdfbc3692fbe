/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy recovery on the wire, both sides (Documentation/postcopy.rst,
 * Documentation/stream-format.rst "Postcopy recovery").
 *
 * A new connection from the source carries the resume hello: the
 * recovery's id (the uuid of its return-path messages) and the source's
 * slots. The destination answers with its received-page bitmap: per slot
 * the pages that have memory in its module context, little-endian words,
 * versioned, one CRC32C over the whole. Each side refuses a peer whose
 * slots are not its own, and the source uses nothing of a bitmap before
 * all of it has passed its checks.
 *
 * Functions return 0 or -errno, with why in @err where they take one.
 */
#ifndef KMIG_RECOVER_H
#define KMIG_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "handshake.h"

struct mig_blocktime;

/* The hello for @vm's slots: a buffer to free, its length in *@len. */
uint8_t *mig_rc_hello_encode(const struct mig_vm *vm, const uint8_t uuid[16],
			     size_t *len);
/* Destination: read the hello from @fd; it must name @vm's slots. */
int mig_rc_recv_hello(int fd, const struct mig_vm *vm, uint8_t uuid[16],
		      char *err, size_t n);

/* Each slot's ->present as the received-page bitmap (a buffer to free). */
uint8_t *mig_rc_bitmap_encode(const struct mig_vm *vm, size_t *len);
/*
 * Source: read a received-page bitmap from @fd into each slot's ->bitmap,
 * which is changed only once the whole bitmap passed every check.
 */
int mig_rc_recv_bitmap(int fd, struct mig_vm *vm, char *err, size_t n);

/*
 * The destination's fault thread, in postcopy and in its recovery: each
 * record of fault fd @ffd becomes a REQUEST on @out (counted in
 * *@requests, and told to @bt unless NULL) until @stop_fd is readable; a
 * broken fault fd or return path fails @link. Returns when it ends.
 */
void mig_pc_forward_faults(int ffd, int stop_fd, struct mig_hs_out *out,
			   struct mig_link *link, uint64_t *requests,
			   struct mig_blocktime *bt);

#endif /* KMIG_RECOVER_H */
