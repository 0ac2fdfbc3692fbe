// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo ROLE`: the dispatch to the primary and the secondary, and
 * what both use of the wire format (colo.h) and of guest memory.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/kmig.h>

#include "colo.h"
#include "crc32c.h"
#include "ctx.h"
#include "le.h"
#include "mig.h"
#include "subcommands.h"

void colo_hdr_encode(const struct colo_hdr *h, uint8_t b[COLO_HDR_SIZE])
{
	memset(b, 0, COLO_HDR_SIZE);
	put_le32(b, h->magic);
	put_le32(b + 4, h->flags);
	put_le64(b + 8, h->seq);
	put_le64(b + 16, h->npages);
	put_le32(b + 24, h->vcpu_len);
	put_le32(b + 28, h->dev_len);
}

void colo_hdr_decode(struct colo_hdr *h, const uint8_t b[COLO_HDR_SIZE])
{
	h->magic = get_le32(b);
	h->flags = get_le32(b + 4);
	h->seq = get_le64(b + 8);
	h->npages = get_le64(b + 16);
	h->vcpu_len = get_le32(b + 24);
	h->dev_len = get_le32(b + 28);
}

void colo_ack_encode(const struct colo_ack *a, uint8_t b[COLO_ACK_SIZE])
{
	memset(b, 0, COLO_ACK_SIZE);
	put_le32(b, COLO_ACK_MAGIC);
	put_le32(b + 4, (uint32_t)a->status);
	put_le64(b + 8, a->seq);
	put_le32(b + 16, a->memcrc);
	put_le32(b + 20, a->devcrc);
	put_le32(b + 24, a->streamed);
}

int colo_ack_decode(struct colo_ack *a, const uint8_t b[COLO_ACK_SIZE])
{
	if (get_le32(b) != COLO_ACK_MAGIC)
		return -EPROTO;
	a->status = (int32_t)get_le32(b + 4);
	a->seq = get_le64(b + 8);
	a->memcrc = get_le32(b + 16);
	a->devcrc = get_le32(b + 20);
	a->streamed = get_le32(b + 24) == 1;
	return 0;
}

uint8_t *colo_hello_encode(const struct mig_vm *vm, size_t *len)
{
	uint8_t *b, *p;
	unsigned int i;

	*len = COLO_HELLO_SIZE + COLO_HELLO_SLOT_SIZE * vm->nslots;
	b = calloc(1, *len);
	if (!b)
		return NULL;
	memcpy(b, COLO_MAGIC, 8);
	put_le32(b + 8, COLO_VERSION);
	put_le32(b + 12, vm->nslots);
	for (i = 0; i < vm->nslots; i++) {
		p = b + COLO_HELLO_SIZE + COLO_HELLO_SLOT_SIZE * i;
		put_le32(p, vm->slots[i].id);
		put_le64(p + 8, vm->slots[i].gpa);
		put_le64(p + 16, vm->slots[i].size);
	}
	return b;
}

int colo_hello_check(const uint8_t b[COLO_HELLO_SIZE], uint32_t *nslots,
		     char *err, size_t n)
{
	if (memcmp(b, COLO_MAGIC, 8)) {
		snprintf(err, n, "the peer is not a kmig COLO primary (bad magic)");
		return -EPROTO;
	}
	if (get_le32(b + 8) != COLO_VERSION) {
		snprintf(err, n, "the primary speaks COLO version %u, this secondary %u",
			 get_le32(b + 8), COLO_VERSION);
		return -EPROTO;
	}
	*nslots = get_le32(b + 12);
	if (!*nslots || *nslots > MIG_MAX_SLOTS) {
		snprintf(err, n, "the primary announces %u slots (1..%u)",
			 *nslots, MIG_MAX_SLOTS);
		return -EPROTO;
	}
	return 0;
}

int colo_mem_crc(const struct mig_vm *vm, uint32_t *crc)
{
	const uint64_t chunk = 1u << 20;
	uint64_t off, len;
	unsigned int i;
	uint32_t c = 0;
	uint8_t *buf;
	int ret = 0;

	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < vm->nslots && !ret; i++) {
		const struct mig_slot *sl = &vm->slots[i];

		for (off = 0; off < sl->size && !ret; off += len) {
			len = sl->size - off < chunk ? sl->size - off : chunk;
			ret = kmig_ctx_read(vm->ctx_fd, sl->id, off, buf, len);
			if (!ret)
				c = kmig_crc32c(c, buf, len);
		}
	}
	free(buf);
	*crc = c;
	return ret;
}

int colo_parse_shared(struct mig_opts *o, int c, struct colo_hb *hb)
{
	uint64_t v;

	if (c != MIG_OPT_TIMEOUT)
		return colo_parse_heartbeat(o, c, hb);
	if (mig_parse_u64(o->cmd, "--timeout", optarg, 1, 3600, &v))
		return -EINVAL;
	o->io_timeout_s = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kmig colo <role> [<args>]\n\nRoles:\n"
		"  primary     Run the guest and checkpoint it into a secondary\n"
		"  secondary   Keep a checkpointed copy, take over when the primary is lost\n"
		"  failover    Make a secondary take over now\n"
		"  checkpoint  Make a primary take a checkpoint now\n"
		"  protect     Protect an unprotected primary with a new secondary\n"
		"\n'kmig colo <role> --help' shows a role's options.\n");
}

int colo_main(int argc, char *argv[])
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "primary"))
		return colo_primary_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "secondary"))
		return colo_secondary_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "failover"))
		return colo_failover_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "checkpoint"))
		return colo_checkpoint_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "protect"))
		return colo_protect_main(argc - 1, argv + 1);
	fprintf(stderr, "kmig colo: unknown role '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
