// SPDX-License-Identifier: GPL-2.0
/* Channel hello encoding and checking. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "hello.h"
#include "le.h"

static int valid_channel(uint16_t channel, uint16_t n)
{
	return n && n <= KMIG_HELLO_MAX_CHANNELS && channel < n;
}

int kmig_hello_encode(const struct kmig_hello *h,
		      uint8_t out[KMIG_HELLO_SIZE])
{
	if (!valid_channel(h->channel, h->nchannels))
		return -EINVAL;
	memset(out, 0, KMIG_HELLO_SIZE);
	put_le32(out + KMIG_HELLO_OFF_MAGIC, KMIG_HELLO_MAGIC);
	put_le16(out + KMIG_HELLO_OFF_VERSION, KMIG_HELLO_VERSION);
	put_le16(out + KMIG_HELLO_OFF_CHANNEL, h->channel);
	put_le16(out + KMIG_HELLO_OFF_NCHANNELS, h->nchannels);
	memcpy(out + KMIG_HELLO_OFF_UUID, h->uuid, sizeof(h->uuid));
	put_le32(out + KMIG_HELLO_OFF_CRC,
		 kmig_crc32c(0, out, KMIG_HELLO_OFF_CRC));
	return 0;
}

#define FAIL(err, ...)	(snprintf(msg, errlen, "channel hello: " __VA_ARGS__), \
			 (err))

int kmig_hello_decode(struct kmig_hello *h, const uint8_t in[KMIG_HELLO_SIZE],
		      char *msg, size_t errlen)
{
	uint32_t magic = get_le32(in + KMIG_HELLO_OFF_MAGIC);
	uint32_t crc = kmig_crc32c(0, in, KMIG_HELLO_OFF_CRC);
	unsigned int i;

	if (magic != KMIG_HELLO_MAGIC)
		return FAIL(-EPROTO, "bad magic 0x%08x (expected 0x%08x, \"KMCH\")",
			    magic, KMIG_HELLO_MAGIC);
	if (get_le16(in + KMIG_HELLO_OFF_VERSION) != KMIG_HELLO_VERSION)
		return FAIL(-EPROTONOSUPPORT, "unknown version %u (expected %u)",
			    get_le16(in + KMIG_HELLO_OFF_VERSION),
			    KMIG_HELLO_VERSION);
	if (get_le32(in + KMIG_HELLO_OFF_CRC) != crc)
		return FAIL(-EBADMSG, "CRC mismatch: stored 0x%08x, computed 0x%08x",
			    get_le32(in + KMIG_HELLO_OFF_CRC), crc);
	for (i = KMIG_HELLO_OFF_FLAGS; i < KMIG_HELLO_OFF_CRC; i++) {
		if (i == KMIG_HELLO_OFF_UUID)
			i += sizeof(h->uuid);
		if (in[i])
			return FAIL(-EPROTO, "reserved byte %u is 0x%02x",
				    i, in[i]);
	}
	h->channel = get_le16(in + KMIG_HELLO_OFF_CHANNEL);
	h->nchannels = get_le16(in + KMIG_HELLO_OFF_NCHANNELS);
	if (!valid_channel(h->channel, h->nchannels))
		return FAIL(-EPROTO, "channel %u of %u (at most %u channels)",
			    h->channel, h->nchannels, KMIG_HELLO_MAX_CHANNELS);
	memcpy(h->uuid, in + KMIG_HELLO_OFF_UUID, sizeof(h->uuid));
	if (msg && errlen)
		msg[0] = 0;
	return 0;
}
