// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's device parts (user/kmig/colo_dev.c) without a device: the
 * hello's --device list, sent and checked over a socket pair (the same
 * kinds in the same order pass, whatever the instances; another count or
 * kind is refused naming both lists), and the DEVS section's checks (a
 * well-formed one passes; a wrong index, a missing end, two configs, a
 * chunk above data_max, a cut block or bytes after the last are
 * refused).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "colo.h"
#include "le.h"
#include "mig.h"
#include "format.h"

static void add_dev(struct mig_opts *o, const char *name, uint32_t inst)
{
	struct mig_device *d = &o->devs[o->ndevs++];

	memset(d, 0, sizeof(*d));
	strcpy(d->name, name);
	d->instance = inst;
	d->fd = -1;
	d->data_max = 64;
}

/* The primary's list @p sent, read against @s: what the read says. */
static int hello(struct mig_opts *p, struct mig_opts *s, char *err,
		 size_t n)
{
	uint8_t *b;
	size_t len;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	b = colo_dev_hello_encode(p, &len);
	ret = b && write(sv[0], b, len) == (ssize_t)len ? 0 : -EIO;
	free(b);
	if (!ret)
		ret = colo_dev_hello_read(sv[1], s, err, n);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

TEST(hello_pairs_kinds_in_order)
{
	struct mig_opts p = { 0 }, s = { 0 };
	char err[512] = "";

	add_dev(&p, "kmig-sample", 1);
	add_dev(&p, "kmig-sample", 2);
	add_dev(&s, "kmig-sample", 3);
	add_dev(&s, "kmig-sample", 4);
	EXPECT_EQ(0, hello(&p, &s, err, sizeof(err))) TH_LOG("%s", err);

	s.ndevs = 1;
	EXPECT_EQ(-ENODEV, hello(&p, &s, err, sizeof(err)));
	EXPECT_STREQ("the primary checkpoints devices (kmig-sample:1, kmig-sample:2), this secondary takes (kmig-sample:3): give both the same kinds of --device in the same order",
		     err);

	err[0] = 0;
	s.ndevs = 0;
	add_dev(&s, "kmig-sample", 3);
	add_dev(&s, "other", 4);
	EXPECT_EQ(-ENODEV, hello(&p, &s, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "this secondary takes (kmig-sample:3, other:4)"));

	err[0] = 0;
	p.ndevs = 0;
	EXPECT_EQ(-ENODEV, hello(&p, &s, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "checkpoints devices (none)"));
	s.ndevs = 0;
	EXPECT_EQ(0, hello(&p, &s, err, sizeof(err)));
}

/* A packet of @marker with @size bytes of @fill at @b: its length. */
static size_t pkt(uint8_t *b, uint32_t marker, uint64_t size, uint8_t fill)
{
	put_le32(b, marker);
	put_le32(b + 4, 0);
	put_le64(b + 8, size);
	memset(b + COLO_DEV_PKT_SIZE, fill, size);
	return COLO_DEV_PKT_SIZE + size;
}

/* Device @index's block at @b: two chunks, a config, the end. */
static size_t block(uint8_t *b, uint32_t index, uint64_t chunk)
{
	size_t n = COLO_DEV_HDR_SIZE;

	n += pkt(b + n, KMIG_DEVPKT_DATA_STATE, chunk, 1);
	n += pkt(b + n, KMIG_DEVPKT_DATA_STATE, 8, 2);
	n += pkt(b + n, KMIG_DEVPKT_CONFIG_STATE, 12, 3);
	n += pkt(b + n, KMIG_DEVPKT_END_OF_STATE, 0, 0);
	put_le32(b, n - COLO_DEV_HDR_SIZE);
	put_le32(b + 4, index);
	return n;
}

FIXTURE(devs) {
	struct mig_opts o;
	uint8_t b[1024];
	size_t first, len;
	char err[512];
};

FIXTURE_SETUP(devs)
{
	memset(self, 0, sizeof(*self));
	add_dev(&self->o, "kmig-sample", 3);
	add_dev(&self->o, "kmig-sample", 4);
	self->first = block(self->b, 0, 32);
	self->len = self->first + block(self->b + self->first, 1, 32);
}

FIXTURE_TEARDOWN(devs)
{
}

TEST_F(devs, well_formed_passes)
{
	EXPECT_EQ(0, colo_dev_check(&self->o, self->b, self->len, self->err,
				    sizeof(self->err))) TH_LOG("%s", self->err);
}

TEST_F(devs, wrong_index_refused)
{
	put_le32(self->b + self->first + 4, 0);
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len,
					   self->err, sizeof(self->err)));
}

TEST_F(devs, missing_device_or_extra_bytes_refused)
{
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->first,
					   self->err, sizeof(self->err)));
	self->err[0] = 0;
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len + 1,
					   self->err, sizeof(self->err)));
	EXPECT_STREQ("1 bytes after the last device's state", self->err);
	self->err[0] = 0;
	/* a block longer than what is left */
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len - 1,
					   self->err, sizeof(self->err)));
}

TEST_F(devs, no_end_or_two_configs_refused)
{
	/* the end of device 1 made a second config */
	put_le32(self->b + self->len - COLO_DEV_PKT_SIZE,
		 KMIG_DEVPKT_CONFIG_STATE);
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len,
					   self->err, sizeof(self->err)));
	EXPECT_STREQ("device 1: its state has 2 configs and no end",
		     self->err);
}

TEST_F(devs, chunk_above_data_max_refused)
{
	self->len = block(self->b, 0, 65);
	self->len += block(self->b + self->len, 1, 32);
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len,
					   self->err, sizeof(self->err)));
	self->err[0] = 0;
	self->len = block(self->b, 0, 64);
	self->len += block(self->b + self->len, 1, 32);
	EXPECT_EQ(0, colo_dev_check(&self->o, self->b, self->len, self->err,
				    sizeof(self->err))) TH_LOG("%s", self->err);
}

TEST_F(devs, unknown_marker_refused)
{
	put_le32(self->b + COLO_DEV_HDR_SIZE, KMIG_DEVPKT_SETUP_STATE);
	EXPECT_EQ(-EBADMSG, colo_dev_check(&self->o, self->b, self->len,
					   self->err, sizeof(self->err)));
}

TEST_HARNESS_MAIN
