// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the return path and switchover messages
 * (handshake.h): FAILED, LOADED, PING, RESUMED, UNSURE from the
 * destination, GO from the source.
 *
 * Input: a mode byte, then the bytes on the connection. Mode bit 0 set:
 * the CRC behind the text the header announces is recomputed first. Bit 1
 * set: the migration id expected is the message's own (else 16 zeros).
 *
 * The invariants: a refusal is -EPROTO or -EBADMSG and says why; a
 * message that decodes encodes back to the same bytes (but for text cut
 * at a NUL); and mig_hs_recv() reading the bytes from a socket agrees
 * with the decoder given them: same verdict, same message, or "connection
 * closed" when they end early.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crc32c.h"
#include "handshake.h"
#include "le.h"

struct verdict {
	int ret;
	struct mig_hs_msg m;
	char err[256];
};

/* Every CRC the fuzzer cannot be expected to guess, right. */
static void reseal(uint8_t *b, size_t len)
{
	size_t tlen;

	if (len < MIG_HS_HDR)
		return;
	tlen = get_le16(b + 6);
	if (MIG_HS_HDR + tlen + 4 <= len)
		put_le32(b + MIG_HS_HDR + tlen,
			 kmig_crc32c(0, b, MIG_HS_HDR + tlen));
}

/* The message decoded, or the refusal checked. */
static void decode(const uint8_t *b, size_t len, const uint8_t uuid[16],
		   struct verdict *v)
{
	uint8_t again[MIG_HS_MAX_MSG];
	size_t n;

	v->err[0] = 0;
	v->ret = mig_hs_decode(b, len, uuid, &v->m, v->err, sizeof(v->err));
	if (v->ret) {
		if ((v->ret != -EPROTO && v->ret != -EBADMSG) || !v->err[0])
			abort();	/* a refusal names the fault */
		return;
	}
	if (!v->m.type || v->m.type > MIG_HS_TYPE_MAX ||
	    !strcmp(mig_hs_name(v->m.type), "unknown"))
		abort();
	if (strlen(v->m.text) != len - MIG_HS_HDR - 4)
		return;		/* a NUL in the text: it ends there */
	n = mig_hs_encode(again, uuid, v->m.type, v->m.value, v->m.text);
	if (n != len || memcmp(again, b, len))
		abort();	/* a byte the decoder ignored */
}

/* The same bytes through mig_hs_recv(), the peer closing after them. */
static void recv_sock(const uint8_t *b, size_t len, const uint8_t uuid[16],
		      struct verdict *v)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (len && send(sv[1], b, len, MSG_NOSIGNAL) != (ssize_t)len)
		abort();
	close(sv[1]);
	v->err[0] = 0;
	v->ret = mig_hs_recv(sv[0], uuid, &v->m, v->err, sizeof(v->err));
	close(sv[0]);
}

/* What the socket reader should have said: the decoder's verdict on
 * the message the header announces, or EOF before its end. */
static void same(const uint8_t *b, size_t len, const uint8_t uuid[16],
		 const struct verdict *s)
{
	struct verdict d;
	int more = MIG_HS_HDR;
	char err[256];

	if (len >= MIG_HS_HDR)
		more += mig_hs_decode_head(b, err, sizeof(err));
	if (len < MIG_HS_HDR || (more >= MIG_HS_HDR && len < (size_t)more)) {
		if (s->ret != -ECONNRESET || strcmp(s->err, "connection closed"))
			abort();
		return;
	}
	decode(b, more < MIG_HS_HDR ? MIG_HS_HDR : more, uuid, &d);
	if (d.ret != s->ret || strcmp(d.err, s->err))
		abort();
	if (!d.ret && (d.m.type != s->m.type || d.m.value != s->m.value ||
		       strcmp(d.m.text, s->m.text)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t uuid[16] = { 0 };
	struct verdict whole, sock;
	size_t len;
	uint8_t *b;

	if (!size || size - 1 > 2 * MIG_HS_MAX_MSG)
		return 0;
	len = size - 1;
	b = malloc(len ? len : 1);
	if (!b)
		abort();
	memcpy(b, data + 1, len);
	if (data[0] & 1)
		reseal(b, len);
	if (data[0] & 2 && len >= 32)
		memcpy(uuid, b + 16, 16);
	decode(b, len, uuid, &whole);
	recv_sock(b, len, uuid, &sock);
	same(b, len, uuid, &sock);
	free(b);
	return 0;
}
