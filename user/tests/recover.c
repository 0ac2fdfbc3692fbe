// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy recovery's wire (recover.h): the resume hello and the
 * received-page bitmap round-trip over a socket pair; a bitmap with a bad
 * CRC, version, slot or tail bit, or cut short, is refused with its own
 * error and leaves the receiver's bitmaps as they were; a hello naming
 * other slots is refused. The fault thread's REQUESTs: one write a read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "crc32c.h"
#include "format.h"
#include "le.h"
#include "handshake.h"
#include "recover.h"

#define NPAGES0	100	/* not a multiple of 64: a tail word */
#define NPAGES1	128

FIXTURE(rc) {
	int sv[2];
	struct mig_vm src, dst;
	char err[256];
};

static void vm_init(struct mig_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->nslots = 2;
	vm->slots[0].id = 0;
	vm->slots[0].npages = NPAGES0;
	vm->slots[1].id = 3;
	vm->slots[1].npages = NPAGES1;
	for (unsigned int i = 0; i < 2; i++) {
		vm->slots[i].present = calloc(2, 8);
		vm->slots[i].bitmap = calloc(2, 8);
	}
}

static void vm_free(struct mig_vm *vm)
{
	for (unsigned int i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].present);
		free(vm->slots[i].bitmap);
	}
}

FIXTURE_SETUP(rc)
{
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sv));
	vm_init(&self->src);
	vm_init(&self->dst);
	/* the destination has pages 1, 64 and 99 of slot 0, all of slot 3 */
	self->dst.slots[0].present[0] = 2;
	self->dst.slots[0].present[1] = 1ull | 1ull << 35;
	self->dst.slots[1].present[0] = ~0ull;
	self->dst.slots[1].present[1] = ~0ull;
	self->src.slots[0].bitmap[0] = 0x5a5a;
}

FIXTURE_TEARDOWN(rc)
{
	close(self->sv[0]);
	close(self->sv[1]);
	vm_free(&self->src);
	vm_free(&self->dst);
}

/* The destination's bitmap, changed by @edit, to the source. */
static int send_bitmap(FIXTURE_DATA(rc) *self, void (*edit)(uint8_t *, size_t *))
{
	size_t len;
	uint8_t *b = mig_rc_bitmap_encode(&self->dst, &len);
	int ret;

	if (!b)
		return -ENOMEM;
	if (edit)
		edit(b, &len);
	ret = write(self->sv[1], b, len) == (ssize_t)len ? 0 : -EIO;
	free(b);
	shutdown(self->sv[1], SHUT_WR);
	return ret;
}

static void recrc(uint8_t *b, size_t len)
{
	put_le32(b + len - 4, kmig_crc32c(0, b, len - 4));
}

static void flip_bit(uint8_t *b, size_t *len)
{
	(void)len;
	b[KMIG_RBITMAP_HDR_SIZE + KMIG_RBITMAP_SLOT_SIZE] ^= 4;
}

static void version_2(uint8_t *b, size_t *len)
{
	put_le16(b + 4, 2);
	recrc(b, *len);
}

static void other_slot(uint8_t *b, size_t *len)
{
	put_le32(b + KMIG_RBITMAP_HDR_SIZE, 7);
	recrc(b, *len);
}

static void tail_bit(uint8_t *b, size_t *len)
{
	/* page 100 of slot 0: past its 100 pages */
	b[KMIG_RBITMAP_HDR_SIZE + KMIG_RBITMAP_SLOT_SIZE + 8 + 4] |= 0x10;
	recrc(b, *len);
}

static void cut_short(uint8_t *b, size_t *len)
{
	(void)b;
	*len -= 9;
}

TEST_F(rc, bitmap_round_trips)
{
	ASSERT_EQ(0, send_bitmap(self, NULL));
	ASSERT_EQ(0, mig_rc_recv_bitmap(self->sv[0], &self->src, self->err,
					sizeof(self->err))) TH_LOG("%s", self->err);
	EXPECT_EQ(2ull, self->src.slots[0].bitmap[0]);
	EXPECT_EQ(1ull | 1ull << 35, self->src.slots[0].bitmap[1]);
	EXPECT_EQ(~0ull, self->src.slots[1].bitmap[1]);
}

#define REFUSED(name, edit, want, msg)					\
TEST_F(rc, name)							\
{									\
	ASSERT_EQ(0, send_bitmap(self, edit));				\
	EXPECT_EQ(want, mig_rc_recv_bitmap(self->sv[0], &self->src,	\
					   self->err, sizeof(self->err))); \
	EXPECT_NE(NULL, strstr(self->err, msg)) TH_LOG("%s", self->err); \
	/* nothing of it used */					\
	EXPECT_EQ(0x5a5aull, self->src.slots[0].bitmap[0]);		\
}

REFUSED(bitmap_bad_crc_refused, flip_bit, -EBADMSG, "CRC mismatch")
REFUSED(bitmap_version_refused, version_2, -EPROTONOSUPPORT, "version 2")
REFUSED(bitmap_other_slot_refused, other_slot, -EINVAL, "slot 7")
REFUSED(bitmap_tail_bit_refused, tail_bit, -EPROTO, "past its last page")
REFUSED(bitmap_cut_short_refused, cut_short, -ECONNRESET, "closed")

TEST_F(rc, hello_round_trips_and_names_the_slots)
{
	uint8_t uuid[16] = { 9, 8, 7 }, got[16];
	size_t len;
	uint8_t *b = mig_rc_hello_encode(&self->src, uuid, &len);

	ASSERT_NE(NULL, b);
	ASSERT_EQ((ssize_t)len, write(self->sv[1], b, len));
	ASSERT_EQ(0, mig_rc_recv_hello(self->sv[0], &self->dst, got,
				       self->err, sizeof(self->err)));
	EXPECT_EQ(0, memcmp(uuid, got, 16));
	/* a destination with slot 3 of another size refuses it */
	self->dst.slots[1].npages = 64;
	ASSERT_EQ((ssize_t)len, write(self->sv[1], b, len));
	EXPECT_EQ(-EINVAL, mig_rc_recv_hello(self->sv[0], &self->dst, got,
					     self->err, sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "slot 3 of 128 pages")) TH_LOG("%s", self->err);
	free(b);
}

struct fwd {
	int ffd, stop_fd;
	struct mig_hs_out out;
	struct mig_link link;
	uint64_t requests;
};

static void *forward(void *arg)
{
	struct fwd *f = arg;

	mig_pc_forward_faults(f->ffd, f->stop_fd, &f->out, &f->link,
			      &f->requests, NULL);
	return NULL;
}

/*
 * The fault records of one read go out as their REQUESTs in one write
 * (a packet of a SOCK_SEQPACKET pair is one write): the source's reader
 * wakes once for them, not once each.
 */
TEST(fault_records_of_one_read_are_requested_in_one_write)
{
	struct kmig_fault rec[3] = {
		{ .slot = 0, .page = 7, .tid = 100 },
		{ .slot = 3, .page = 99, .tid = 101 },
		{ .slot = 0, .page = 64, .tid = 100 },
	};
	uint8_t uuid[16] = { 9 }, buf[4 * MIG_HS_MAX_MSG];
	struct mig_hs_msg m;
	int faults[2], stop[2], sv[2];
	char err[256];
	struct fwd f;
	pthread_t t;
	ssize_t n;

	ASSERT_EQ(0, pipe(faults));
	ASSERT_EQ(0, pipe(stop));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	memset(&f, 0, sizeof(f));
	f.ffd = faults[0];
	f.stop_fd = stop[0];
	mig_hs_out_init(&f.out, sv[0], uuid);
	mig_link_init(&f.link);
	ASSERT_EQ(sizeof(rec), write(faults[1], rec, sizeof(rec)));
	ASSERT_EQ(0, pthread_create(&t, NULL, forward, &f));

	n = recv(sv[1], buf, sizeof(buf), 0);
	ASSERT_EQ(3 * (MIG_HS_HDR + 4), n);
	for (unsigned int i = 0; i < 3; i++) {
		ASSERT_EQ(0, mig_hs_decode(buf + i * (MIG_HS_HDR + 4),
					   MIG_HS_HDR + 4, uuid, &m, err,
					   sizeof(err))) TH_LOG("%s", err);
		EXPECT_EQ(MIG_HS_REQUEST, m.type);
		EXPECT_EQ(MIG_HS_REQUEST_VALUE(rec[i].slot, rec[i].page),
			  m.value);
	}
	ASSERT_EQ(1, write(stop[1], "", 1));
	pthread_join(t, NULL);
	EXPECT_EQ(3, f.requests);
	EXPECT_FALSE(mig_link_failed(&f.link));
	mig_link_destroy(&f.link);
	close(faults[0]);
	close(faults[1]);
	close(stop[0]);
	close(stop[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
