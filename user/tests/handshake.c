// SPDX-License-Identifier: GPL-2.0
/*
 * The return path (handshake.h) and the first-failure rule (link.h):
 * messages round-trip with their text; a corrupt message, another
 * migration's, or a truncated one is refused with its own error; the first
 * failure is the cause, and the peer's account replaces only an I/O error.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "crc32c.h"
#include "handshake.h"
#include "le.h"
#include "link.h"

static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				  13, 14, 15, 16 };

FIXTURE(rp) {
	int sv[2];
	struct mig_hs_out out;
	struct mig_hs_msg m;
	char err[256];
};

FIXTURE_SETUP(rp)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sv));
	mig_hs_out_init(&self->out, self->sv[0], uuid);
}

FIXTURE_TEARDOWN(rp)
{
	close(self->sv[0]);
	close(self->sv[1]);
}

static int recv_msg(FIXTURE_DATA(rp) *self)
{
	return mig_hs_recv(self->sv[1], uuid, &self->m, self->err,
			   sizeof(self->err));
}

TEST_F(rp, failed_carries_its_errno_and_text)
{
	uint8_t b[64];

	ASSERT_EQ(0, mig_hs_send(&self->out, MIG_HS_FAILED, EBADMSG,
				 "page channel 1: CRC mismatch"));
	ASSERT_EQ(0, recv_msg(self)) TH_LOG("%s", self->err);
	EXPECT_EQ(MIG_HS_FAILED, self->m.type);
	EXPECT_EQ(EBADMSG, self->m.value);
	EXPECT_STREQ("page channel 1: CRC mismatch", self->m.text);

	/* Layout: magic, type, text length, value, id, text, CRC. */
	ASSERT_EQ(0, mig_hs_send(&self->out, MIG_HS_GO, 1234, NULL));
	ASSERT_EQ(MIG_HS_HDR + 4, read(self->sv[1], b, sizeof(b)));
	EXPECT_EQ(MIG_HS_MAGIC, get_le32(b));
	EXPECT_EQ(MIG_HS_GO, get_le16(b + 4));
	EXPECT_EQ(0, get_le16(b + 6));
	EXPECT_EQ(1234, get_le64(b + 8));
	EXPECT_EQ(0, memcmp(b + 16, uuid, 16));
	EXPECT_EQ(kmig_crc32c(0, b, MIG_HS_HDR), get_le32(b + MIG_HS_HDR));
}

/* Many values in one write: each its own whole message, in order. */
TEST_F(rp, values_go_as_messages_in_one_write)
{
	uint64_t v[64];
	unsigned int i;

	for (i = 0; i < 64; i++)
		v[i] = MIG_HS_REQUEST_VALUE(i % 3, 1000 + 7 * i);
	ASSERT_EQ(0, mig_hs_send_values(&self->out, MIG_HS_REQUEST, v, 64));
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, recv_msg(self)) TH_LOG("%s", self->err);
		EXPECT_EQ(MIG_HS_REQUEST, self->m.type);
		EXPECT_EQ(v[i], self->m.value);
		EXPECT_STREQ("", self->m.text);
	}
}

TEST_F(rp, long_text_is_cut_to_the_limit)
{
	char text[MIG_HS_MAX_TEXT + 100];

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	ASSERT_EQ(0, mig_hs_send(&self->out, MIG_HS_UNSURE, 0, text));
	ASSERT_EQ(0, recv_msg(self)) TH_LOG("%s", self->err);
	EXPECT_EQ(MIG_HS_MAX_TEXT, strlen(self->m.text));
}

/* LOADED with byte @off flipped, its CRC computed after (@reseal) or
 * before the flip. */
static int flipped(FIXTURE_DATA(rp) *self, size_t off, bool reseal)
{
	uint8_t b[MIG_HS_HDR + 8];
	int ret;

	put_le32(b, MIG_HS_MAGIC);
	put_le16(b + 4, MIG_HS_LOADED);
	put_le16(b + 6, 4);
	put_le64(b + 8, 0);
	memcpy(b + 16, uuid, 16);
	memcpy(b + MIG_HS_HDR, "abcd", 4);
	if (reseal)
		b[off] ^= 0x40;
	put_le32(b + MIG_HS_HDR + 4, kmig_crc32c(0, b, MIG_HS_HDR + 4));
	if (!reseal)
		b[off] ^= 0x40;
	if (write(self->sv[0], b, sizeof(b)) != sizeof(b))
		return -EIO;
	ret = recv_msg(self);
	return ret;
}

TEST_F(rp, corrupt_message_is_refused)
{
	EXPECT_EQ(-EBADMSG, flipped(self, 9, false)) TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "CRC mismatch"));
}

TEST_F(rp, message_of_another_migration_is_refused)
{
	EXPECT_EQ(-EPROTO, flipped(self, 20, true));
	EXPECT_STREQ("handshake message LOADED of another migration",
		     self->err);
}

TEST_F(rp, unknown_type_is_refused)
{
	EXPECT_EQ(-EPROTO, flipped(self, 5, true));
	EXPECT_NE(NULL, strstr(self->err, "unknown handshake message type"));
}

TEST_F(rp, not_a_message_is_refused)
{
	EXPECT_EQ(-EPROTO, flipped(self, 0, true));
	EXPECT_NE(NULL, strstr(self->err, "not a handshake message"));
}

TEST_F(rp, truncated_message_is_a_closed_connection)
{
	uint8_t b[10] = { 0 };

	ASSERT_EQ(sizeof(b), write(self->sv[0], b, sizeof(b)));
	shutdown(self->sv[0], SHUT_WR);
	EXPECT_EQ(-ECONNRESET, recv_msg(self));
	EXPECT_STREQ("connection closed", self->err);
}

TEST(first_failure_is_the_cause_and_shuts_every_socket)
{
	struct mig_link l;
	char buf[256], c;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	mig_link_init(&l);
	mig_link_add(&l, sv[0]);
	EXPECT_EQ(0, mig_link_cause(&l, buf, sizeof(buf)));
	EXPECT_EQ(-EBADMSG, mig_link_fail(&l, -EBADMSG, "page channel %u: CRC mismatch", 1));
	EXPECT_EQ(-ENODATA, mig_link_fail(&l, -ENODATA, "main channel: truncated"));
	EXPECT_EQ(-EBADMSG, mig_link_cause(&l, buf, sizeof(buf)));
	EXPECT_STREQ("page channel 1: CRC mismatch", buf);
	/* Shut: the peer reads the end, this side can send no more. */
	EXPECT_EQ(0, read(sv[1], &c, 1));
	EXPECT_EQ(-1, send(sv[0], "x", 1, MSG_NOSIGNAL));
	/* A failure's peer account does not replace a local cause. */
	mig_link_peer_fail(&l, -EIO, "the destination failed", "main channel: truncated");
	EXPECT_EQ(-EBADMSG, mig_link_cause(&l, buf, sizeof(buf)));
	mig_link_destroy(&l);
	close(sv[0]);
	close(sv[1]);
}

TEST(peer_account_replaces_an_io_error)
{
	struct mig_link l;
	char buf[256];

	mig_link_init(&l);
	mig_link_io_fail(&l, -EPIPE, "page channel 1: Broken pipe");
	mig_link_peer_fail(&l, -EBADMSG, "the destination failed to load the guest",
			   "page channel 1: CRC mismatch");
	EXPECT_EQ(-EBADMSG, mig_link_cause(&l, buf, sizeof(buf)));
	EXPECT_STREQ("the destination failed to load the guest: page channel 1: CRC mismatch",
		     buf);
	mig_link_destroy(&l);
}

TEST(mailbox_wait_is_bounded_and_ends_on_failure)
{
	struct mig_link l;
	uint64_t value;
	uint16_t type;

	mig_link_init(&l);
	EXPECT_EQ(-EAGAIN, mig_link_take(&l, 50, &type, &value));
	mig_link_post(&l, 0, 0, -ETIMEDOUT);
	EXPECT_EQ(-ETIMEDOUT, mig_link_take(&l, 50, &type, &value));
	mig_link_post(&l, MIG_HS_LOADED, 7, 0);
	EXPECT_EQ(0, mig_link_take(&l, 50, &type, &value));
	EXPECT_EQ(MIG_HS_LOADED, type);
	EXPECT_EQ(7, value);
	mig_link_fail(&l, -EIO, "gone");
	EXPECT_EQ(-ECANCELED, mig_link_take(&l, 5000, &type, &value));
	mig_link_destroy(&l);
}

TEST_HARNESS_MAIN
