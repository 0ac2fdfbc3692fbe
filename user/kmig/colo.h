/* SPDX-License-Identifier: GPL-2.0 */
/*
 * COLO in its periodic-checkpoint mode (Documentation/colo.rst):
 * `kmig colo primary` (colo_primary.c) checkpoints a running guest into
 * `kmig colo secondary` (colo_secondary.c), which keeps a RAM cache and
 * applies a checkpoint to its paused VM only once all of it arrived and
 * its CRC checked. colo.c holds the dispatch, the wire format's helpers
 * and the guest memory checksum both sides compute.
 *
 * Wire format, one TCP connection, little endian (colo.rst's table):
 *
 *   primary -> secondary
 *     HELLO   magic "KMIGCOLO", version, nslots, then per slot
 *             id, 0, gpa, size                         (16 + 24 * nslots)
 *     CKPT    header: magic, flags, seq, npages, vcpu_len, 0   (32 bytes)
 *             npages records: slot, 0, page, 4096 bytes of data
 *             vcpu_len bytes of vCPU state (the VMM's `save` stream)
 *             trailer: magic, CRC32C of header, records and state
 *     BYE     a header with the BYE magic, the rest 0: the primary
 *             stops protecting on purpose; no takeover follows
 *   secondary -> primary
 *     ACK     magic, status (0 or -errno), seq, memory CRC, 0  (24 bytes)
 */
#ifndef KMIG_COLO_H
#define KMIG_COLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define COLO_MAGIC		"KMIGCOLO"
#define COLO_VERSION		1u
#define COLO_HELLO_SIZE		16u
#define COLO_HELLO_SLOT_SIZE	24u

#define COLO_CKPT_MAGIC		0x54504b43u	/* "CKPT" */
#define COLO_BYE_MAGIC		0x20455942u	/* "BYE " */
#define COLO_END_MAGIC		0x444e4543u	/* "CEND" */
#define COLO_ACK_MAGIC		0x4b434143u	/* "CACK" */

#define COLO_HDR_SIZE		32u
#define COLO_REC_HDR_SIZE	16u
#define COLO_TRAILER_SIZE	8u
#define COLO_ACK_SIZE		24u

/* Checkpoint flags. */
#define COLO_CKPT_VERIFY	0x1u	/* ACK carries the memory's CRC */
#define COLO_CKPT_ALL		COLO_CKPT_VERIFY

/* Default period between checkpoints, and silence before a peer is lost. */
#define COLO_CHECKPOINT_MS	200u
#define COLO_TIMEOUT_S		5u

struct colo_hdr {
	uint32_t magic, flags;
	uint64_t seq, npages;
	uint32_t vcpu_len;
};

struct colo_ack {
	int32_t status;
	uint64_t seq;
	uint32_t memcrc;
};

void colo_hdr_encode(const struct colo_hdr *h, uint8_t b[COLO_HDR_SIZE]);
void colo_hdr_decode(struct colo_hdr *h, const uint8_t b[COLO_HDR_SIZE]);
void colo_ack_encode(const struct colo_ack *a, uint8_t b[COLO_ACK_SIZE]);
/* 0, or -EPROTO when @b is not an ACK. */
int colo_ack_decode(struct colo_ack *a, const uint8_t b[COLO_ACK_SIZE]);

/* HELLO for @vm: its length in *@len, malloc'd; NULL when out of memory. */
uint8_t *colo_hello_encode(const struct mig_vm *vm, size_t *len);
/* HELLO's fixed part: 0 and the slot count, or -EPROTO with why in @err. */
int colo_hello_check(const uint8_t b[COLO_HELLO_SIZE], uint32_t *nslots,
		     char *err, size_t n);

/*
 * CRC32C of every slot of @vm in slot order, each page read from the
 * context (a page without memory reads as zeros): what both sides
 * compare after a commit. 0 with it in *@crc, or -errno.
 */
int colo_mem_crc(const struct mig_vm *vm, uint32_t *crc);

/*
 * --timeout S of either role, a peer silent this long is lost, 1..3600
 * (not the migrations' 1..86400 s), into o->io_timeout_s: the tail of
 * each role's mig_own_opt.
 */
struct mig_opts;
int colo_parse_timeout(struct mig_opts *o, int c);

/* The secondary's --control socket: one line, one answer (jobctl.h). */
#define COLO_CTL_FAILOVER	"failover"

/* `kmig colo primary`, `kmig colo secondary`, `kmig colo failover`. */
int colo_primary_main(int argc, char *argv[]);
int colo_secondary_main(int argc, char *argv[]);
int colo_failover_main(int argc, char *argv[]);

#endif /* KMIG_COLO_H */
