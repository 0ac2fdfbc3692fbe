// SPDX-License-Identifier: GPL-2.0
/*
 * Channel hello: 64 bytes that round-trip, with every field at its
 * documented offset, and every fault refused with its own error.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "hello.h"
#include "crc32c.h"
#include "le.h"

static const struct kmig_hello hello = {
	.channel = 3, .nchannels = 5,
	.uuid = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
		  0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21 },
};

static void reseal(uint8_t *b)
{
	put_le32(b + KMIG_HELLO_OFF_CRC, kmig_crc32c(0, b, KMIG_HELLO_OFF_CRC));
}

TEST(round_trip_and_layout)
{
	uint8_t b[KMIG_HELLO_SIZE], zero[28] = { 0 };
	struct kmig_hello h;
	char err[128];

	ASSERT_EQ(64, sizeof(b));
	ASSERT_EQ(0, kmig_hello_encode(&hello, b));
	EXPECT_EQ(0, memcmp(b, "KMCH\x01\x00\x03\x00\x05\x00\x00\x00", 12));
	EXPECT_EQ(0, memcmp(b + 16, hello.uuid, 16));
	EXPECT_EQ(0, memcmp(b + 32, zero, sizeof(zero)));
	EXPECT_EQ(kmig_crc32c(0, b, 60), get_le32(b + 60));
	memset(&h, 0, sizeof(h));
	ASSERT_EQ(0, kmig_hello_decode(&h, b, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(3, h.channel);
	EXPECT_EQ(5, h.nchannels);
	EXPECT_EQ(0, memcmp(h.uuid, hello.uuid, 16));
}

TEST(encode_refuses_bad_channels)
{
	struct kmig_hello h = hello;
	uint8_t b[KMIG_HELLO_SIZE];

	h.channel = 5;
	EXPECT_EQ(-EINVAL, kmig_hello_encode(&h, b));
	h.channel = 0;
	h.nchannels = 0;
	EXPECT_EQ(-EINVAL, kmig_hello_encode(&h, b));
	h.nchannels = KMIG_HELLO_MAX_CHANNELS + 1;
	EXPECT_EQ(-EINVAL, kmig_hello_encode(&h, b));
	h.nchannels = KMIG_HELLO_MAX_CHANNELS;
	h.channel = KMIG_HELLO_MAX_CHANNELS - 1;
	EXPECT_EQ(0, kmig_hello_encode(&h, b));
}

TEST(faults)
{
	uint8_t b[KMIG_HELLO_SIZE];
	struct kmig_hello h;
	char err[128];
	int i;

	kmig_hello_encode(&hello, b);
	b[0] = 'Q';
	EXPECT_EQ(-EPROTO, kmig_hello_decode(&h, b, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "bad magic")) TH_LOG("%s", err);

	kmig_hello_encode(&hello, b);
	put_le16(b + 4, 9);
	reseal(b);
	EXPECT_EQ(-EPROTONOSUPPORT, kmig_hello_decode(&h, b, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "unknown version 9")) TH_LOG("%s", err);

	kmig_hello_encode(&hello, b);
	b[20] ^= 1;
	EXPECT_EQ(-EBADMSG, kmig_hello_decode(&h, b, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "CRC mismatch")) TH_LOG("%s", err);

	kmig_hello_encode(&hello, b);
	put_le16(b + 6, 5);
	reseal(b);
	EXPECT_EQ(-EPROTO, kmig_hello_decode(&h, b, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "channel 5 of 5")) TH_LOG("%s", err);

	/* every reserved byte, one at a time */
	for (i = 10; i < 60; i++) {
		if (i >= 16 && i < 32)
			continue;
		kmig_hello_encode(&hello, b);
		b[i] = 0x80;
		reseal(b);
		EXPECT_EQ(-EPROTO, kmig_hello_decode(&h, b, err, sizeof(err)))
			TH_LOG("byte %d", i);
	}
}

TEST_HARNESS_MAIN
