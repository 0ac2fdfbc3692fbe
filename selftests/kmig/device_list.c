// SPDX-License-Identifier: GPL-2.0
/*
 * The device list: registration and its lifecycle, the netlink device
 * get and dump (a dump that outlives devices it listed, malformed
 * selectors), what netlink reports of a device's state, and `kmig
 * devices` (Documentation/device-region.rst). Uses the kmig-sample module
 * built next to $KMIG_KO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "kdev.h"
#include "kmig.h"
#include "kselftest_harness.h"
#include "netlink.h"
#include "sample_fixture.h"

#define RUNNING		KMIG_DEVICE_STATE_RUNNING
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define PRECOPY		(RUNNING | SAVING)
#define ERROR		KMIG_DEVICE_STATE_ERROR

/* More devices than one dump message holds (about 44). */
#define DUMP_DEVS	60

static int find_dev(struct __test_metadata *_metadata, uint32_t instance,
		    struct kmig_dev_info *out)
{
	struct kmig_dev_info devs[16];
	struct kmig_nl nl;
	size_t n, i;

	ASSERT_EQ(0, kmig_nl_open(&nl));
	EXPECT_EQ(0, kmig_nl_dev_list(&nl, devs, 16, &n));
	kmig_nl_close(&nl);
	EXPECT_GE(16, n);
	for (i = 0; i < n && i < 16; i++) {
		if (!strcmp(devs[i].name, SAMPLE_NAME) &&
		    devs[i].instance == instance) {
			*out = devs[i];
			return 1;
		}
	}
	return 0;
}

TEST_F(region, registration_lifecycle)
{
	struct kmig_dev_info dev;
	uint64_t max;
	int fd;

	EXPECT_EQ(2, kmig_objects_now().obj_devices);
	EXPECT_EQ(1, kmig_objects_now().obj_device_files);

	ASSERT_TRUE(find_dev(_metadata, 2, &dev));
	EXPECT_EQ(SAMPLE_VERSION, dev.version);
	EXPECT_EQ(RUNNING, dev.state);
	EXPECT_EQ(0, dev.pending_bytes);
	EXPECT_EQ(0, dev.open);
	ASSERT_TRUE(find_dev(_metadata, 1, &dev));
	EXPECT_EQ(1, dev.open);

	/* (name, instance) is unique. */
	EXPECT_EQ(-EEXIST, sample_create(2));

	ASSERT_EQ(0, sample_create(3));
	EXPECT_EQ(3, kmig_objects_now().obj_devices);
	fd = kdev_open(SAMPLE_NAME, 3, &max);
	ASSERT_LE(0, fd);
	EXPECT_EQ(self->data_max, max);
	close(fd);
	ASSERT_EQ(0, sample_destroy(3));
	EXPECT_FALSE(find_dev(_metadata, 3, &dev));
	EXPECT_EQ(2, kmig_objects_now().obj_devices);
	EXPECT_EQ(-ENOENT, kdev_open(SAMPLE_NAME, 3, NULL));
	EXPECT_EQ(-ENOENT, kdev_open("no-such-device", 1, NULL));
}

TEST_F(region, netlink_doit_selects_one_device)
{
	struct kmig_dev_info dev;
	struct kmig_nl nl;

	ASSERT_EQ(0, kmig_nl_open(&nl));
	EXPECT_EQ(0, kmig_nl_dev_get(&nl, SAMPLE_NAME, 2, &dev));
	EXPECT_STREQ(SAMPLE_NAME, dev.name);
	EXPECT_EQ(2, dev.instance);
	EXPECT_EQ(-ENOENT, kmig_nl_dev_get(&nl, SAMPLE_NAME, 99, &dev));
	TH_LOG("extack: %s", nl.err_msg);
	EXPECT_STRNE("", nl.err_msg);
	kmig_nl_close(&nl);
}

TEST_F(region, netlink_malformed_dev_get_is_refused)
{
	char buf[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct kmig_nl nl;

	ASSERT_EQ(0, kmig_nl_open(&nl));
	/* doit without a device. */
	nlh = kmig_nl_msg(&nl, buf, KMIG_CMD_DEV_GET, 0);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&nl, nlh, NULL, NULL));
	EXPECT_STRNE("", nl.err_msg);
	/* A name without an instance. */
	nlh = kmig_nl_msg(&nl, buf, KMIG_CMD_DEV_GET, 0);
	nest = mnl_attr_nest_start(nlh, KMIG_A_DEV);
	mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME, SAMPLE_NAME);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&nl, nlh, NULL, NULL));
	EXPECT_STRNE("", nl.err_msg);
	/* An attribute the selector does not take. */
	nlh = kmig_nl_msg(&nl, buf, KMIG_CMD_DEV_GET, 0);
	nest = mnl_attr_nest_start(nlh, KMIG_A_DEV);
	mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME, SAMPLE_NAME);
	mnl_attr_put_u32(nlh, KMIG_A_DEV_INSTANCE, 1);
	mnl_attr_put_u32(nlh, KMIG_A_DEV_STATE, 0);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&nl, nlh, NULL, NULL));
	EXPECT_STRNE("", nl.err_msg);
	TH_LOG("extack: %s", nl.err_msg);
	/* A name too long to be one. */
	nlh = kmig_nl_msg(&nl, buf, KMIG_CMD_DEV_GET, 0);
	nest = mnl_attr_nest_start(nlh, KMIG_A_DEV);
	mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME,
			  "a-name-longer-than-thirty-one-characters");
	mnl_attr_put_u32(nlh, KMIG_A_DEV_INSTANCE, 1);
	mnl_attr_nest_end(nlh, nest);
	EXPECT_NE(0, kmig_nl_call(&nl, nlh, NULL, NULL));
	EXPECT_STRNE("", nl.err_msg);
	kmig_nl_close(&nl);
}

/* Instances of kmig-sample seen in a device dump, message by message. */
struct dump_seen {
	uint8_t seen[DUMP_DEVS + 200];
	int other;
};

static int count_dev(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr, *a;
	struct dump_seen *d = data;
	uint32_t inst = ~0u;
	bool sample = false;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != KMIG_A_DEV)
			continue;
		mnl_attr_for_each_nested(a, attr) {
			if (mnl_attr_get_type(a) == KMIG_A_DEV_NAME)
				sample = !strcmp(mnl_attr_get_str(a),
						 SAMPLE_NAME);
			if (mnl_attr_get_type(a) == KMIG_A_DEV_INSTANCE)
				inst = mnl_attr_get_u32(a);
		}
	}
	if (sample && inst < DUMP_DEVS + 200)
		d->seen[inst]++;
	else
		d->other++;
	return MNL_CB_OK;
}

/*
 * The dump takes several messages; between the first (built when the
 * request is sent, about 44 devices) and the rest, ten devices it already
 * listed go away. Every device is still listed exactly once: none of the
 * later ones is skipped.
 */
TEST_F(region, device_dump_survives_unregister)
{
	static struct dump_seen d;
	char buf[KMIG_NL_BUFSIZE], rbuf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct kmig_nl nl;
	int i, ret, bad = 0;
	ssize_t len;

	for (i = 100; i < 100 + DUMP_DEVS; i++)
		ASSERT_EQ(0, sample_create(i));
	ASSERT_EQ(0, kmig_nl_open(&nl));
	nlh = kmig_nl_msg(&nl, buf, KMIG_CMD_DEV_GET, NLM_F_DUMP);
	ASSERT_LE(0, mnl_socket_sendto(nl.sock, nlh, nlh->nlmsg_len));
	for (i = 100; i < 110; i++)
		ASSERT_EQ(0, sample_destroy(i));
	do {
		len = mnl_socket_recvfrom(nl.sock, rbuf, sizeof(rbuf));
		ASSERT_LT(0, len);
		ret = mnl_cb_run(rbuf, len, nlh->nlmsg_seq, nl.portid,
				 count_dev, &d);
	} while (ret > 0);
	EXPECT_EQ(0, ret);
	kmig_nl_close(&nl);
	for (i = 0; i < 100 + DUMP_DEVS; i++) {
		uint8_t want = i == 1 || i == 2 || i >= 100;

		if (d.seen[i] != want) {
			TH_LOG("instance %d seen %u times", i, d.seen[i]);
			bad++;
		}
	}
	EXPECT_EQ(0, bad);
	for (i = 110; i < 100 + DUMP_DEVS; i++)
		sample_destroy(i);
}

TEST_F(region, netlink_reports_state_and_pending_bytes)
{
	struct kmig_dev_info dev;
	uint64_t pending;

	ASSERT_EQ(0, kdev_set_state(self->fd, SAVING));
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &pending));
	EXPECT_EQ(SAMPLE_RAM, pending);
	ASSERT_TRUE(find_dev(_metadata, 1, &dev));
	EXPECT_EQ(SAVING, dev.state);
	EXPECT_EQ(pending, dev.pending_bytes);
}

/*
 * Netlink reports what the fd's holder last read and never asks the
 * driver: a driver whose pending_bytes fails is not failed by a reader,
 * only by the holder's own read.
 */
TEST_F(region, netlink_never_asks_the_driver)
{
	struct kmig_dev_info dev;
	uint64_t pending;
	struct kmig_nl nl;
	int i;

	ASSERT_EQ(0, kdev_set_state(self->fd, PRECOPY));
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &pending));
	ASSERT_EQ(0, sample_fail_pending(1, EIO));
	ASSERT_EQ(0, kmig_nl_open(&nl));
	for (i = 0; i < 3; i++) {
		ASSERT_TRUE(find_dev(_metadata, 1, &dev));
		EXPECT_EQ(PRECOPY, dev.state) TH_LOG("a dump failed the device");
		EXPECT_EQ(pending, dev.pending_bytes);
		ASSERT_EQ(0, kmig_nl_dev_get(&nl, SAMPLE_NAME, 1, &dev));
		EXPECT_EQ(PRECOPY, dev.state) TH_LOG("a get failed the device");
		EXPECT_EQ(pending, dev.pending_bytes);
	}
	kmig_nl_close(&nl);

	/* The holder's read does ask, and the failure is the device's. */
	EXPECT_EQ(-EIO, kdev_read64(self->fd, KDEV_PENDING, &pending));
	ASSERT_TRUE(find_dev(_metadata, 1, &dev));
	EXPECT_EQ(ERROR, dev.state);
	EXPECT_EQ(0, sample_fail_pending(1, 0));
}

TEST_F(region, agent_lists_devices)
{
	const char *project = getenv("KMIG_PROJECT");
	char cmd[4096], line[256], name[64], state[32], open[8];
	unsigned int inst, version;
	unsigned long long pending;
	uint64_t read_pending;
	int found = 0;
	FILE *p;

	if (!project)
		SKIP(return, "KMIG_PROJECT is not set (the test bed sets it)");
	ASSERT_EQ(0, kdev_set_state(self->fd, PRECOPY));
	/* Netlink shows what the fd's holder last read, never asks the driver. */
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &read_pending));
	snprintf(cmd, sizeof(cmd), "%s/build/kmig devices", project);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%63s %u %u %31s %llu %7s", name, &inst,
			   &version, state, &pending, open) != 6 ||
		    strcmp(name, SAMPLE_NAME))
			continue;
		found++;
		EXPECT_EQ(SAMPLE_VERSION, version);
		if (inst == 1) {
			EXPECT_STREQ("precopy", state);
			EXPECT_EQ(SAMPLE_RAM, pending);
			EXPECT_STREQ("yes", open);
		} else {
			EXPECT_STREQ("running", state);
			EXPECT_STREQ("no", open);
		}
	}
	EXPECT_EQ(0, pclose(p));
	EXPECT_EQ(2, found);
}


TEST_HARNESS_MAIN
