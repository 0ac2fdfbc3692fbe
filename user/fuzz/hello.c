// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the channel hello.
 *
 * Input: a mode byte, then up to KMIG_HELLO_SIZE bytes of hello (zeros
 * after a short one). Mode bit 0 set: the CRC is recomputed first, so the
 * fuzzer reaches the checks behind it.
 *
 * The invariants: a refusal is one of the documented errors and says why;
 * a hello that decodes encodes back to the same bytes (nothing in it is
 * ignored); and whatever the encoder accepts, the decoder accepts as is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "hello.h"
#include "le.h"

static void check_decode(const uint8_t in[KMIG_HELLO_SIZE])
{
	uint8_t again[KMIG_HELLO_SIZE];
	struct kmig_hello h;
	char err[160];
	int ret;

	err[0] = 0;
	ret = kmig_hello_decode(&h, in, err, sizeof(err));
	if (ret < 0) {
		if (ret != -EPROTO && ret != -EPROTONOSUPPORT &&
		    ret != -EBADMSG)
			abort();
		if (strncmp(err, "channel hello: ", 15) || !err[15])
			abort();	/* a refusal names the fault */
		if (kmig_hello_decode(&h, in, NULL, 0) != ret)
			abort();	/* no room for a message: same verdict */
		return;
	}
	if (ret || err[0] || h.channel >= h.nchannels ||
	    h.nchannels > KMIG_HELLO_MAX_CHANNELS)
		abort();
	if (kmig_hello_encode(&h, again) || memcmp(again, in, sizeof(again)))
		abort();	/* a byte the decoder ignored */
}

/* The input's first bytes as a hello to encode. */
static void check_encode(const uint8_t in[KMIG_HELLO_SIZE])
{
	struct kmig_hello h, back;
	uint8_t out[KMIG_HELLO_SIZE];
	char err[160];
	int ret;

	h.channel = get_le16(in);
	h.nchannels = get_le16(in + 2);
	memcpy(h.uuid, in + 4, sizeof(h.uuid));
	ret = kmig_hello_encode(&h, out);
	if (ret == -EINVAL)
		return;
	if (ret || kmig_hello_decode(&back, out, err, sizeof(err)) ||
	    back.channel != h.channel || back.nchannels != h.nchannels ||
	    memcmp(back.uuid, h.uuid, sizeof(h.uuid)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t in[KMIG_HELLO_SIZE] = { 0 };

	if (!size)
		return 0;
	memcpy(in, data + 1, size - 1 < sizeof(in) ? size - 1 : sizeof(in));
	if (data[0] & 1)
		put_le32(in + KMIG_HELLO_OFF_CRC,
			 kmig_crc32c(0, in, KMIG_HELLO_OFF_CRC));
	check_decode(in);
	check_encode(in);
	return 0;
}
