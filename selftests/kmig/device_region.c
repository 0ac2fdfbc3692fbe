// SPDX-License-Identifier: GPL-2.0
/*
 * Device migration region: registration lifecycle, the netlink device list,
 * opening, unregistering and unloading under an open fd, every state
 * transition and every malformed access (Documentation/device-region.rst).
 * Uses the kmig-sample module built next to $KMIG_KO.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "kdev.h"
#include "kselftest_harness.h"
#include "netlink.h"

#define STOP		KMIG_DEVICE_STATE_STOP
#define RUNNING		KMIG_DEVICE_STATE_RUNNING
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define RESUMING	KMIG_DEVICE_STATE_RESUMING
#define PRECOPY		(RUNNING | SAVING)
#define ERROR		KMIG_DEVICE_STATE_ERROR

#define DATA_OFFSET	4096
/* More devices than one dump message holds (about 44). */
#define DUMP_DEVS	60

static struct kmig_info info_now(struct __test_metadata *_metadata)
{
	struct kmig_info info;
	struct kmig_nl nl;

	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_get_info(&nl, &info));
	kmig_nl_close(&nl);
	return info;
}

FIXTURE(region) {
	struct kmig_info before;
	int fd;
	uint64_t data_max;
};

FIXTURE_SETUP(region)
{
	self->fd = -1;
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	ASSERT_EQ(0, sample_load());
	self->before = info_now(_metadata);
	ASSERT_EQ(0, sample_create(1));
	ASSERT_EQ(0, sample_create(2));
	self->fd = kdev_open(SAMPLE_NAME, 1, &self->data_max);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(region)
{
	struct kmig_info after;
	int ret;

	if (self->fd >= 0)
		close(self->fd);
	if (!getenv("KMIG_KO"))
		return;
	sample_destroy(1);
	sample_destroy(2);
	ret = sample_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
	after = info_now(_metadata);
	EXPECT_EQ(0, after.obj_devices);
	EXPECT_EQ(0, after.obj_device_files);
}

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

	EXPECT_EQ(2, info_now(_metadata).obj_devices);
	EXPECT_EQ(1, info_now(_metadata).obj_device_files);

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
	EXPECT_EQ(3, info_now(_metadata).obj_devices);
	fd = kdev_open(SAMPLE_NAME, 3, &max);
	ASSERT_LE(0, fd);
	EXPECT_EQ(self->data_max, max);
	close(fd);
	ASSERT_EQ(0, sample_destroy(3));
	EXPECT_FALSE(find_dev(_metadata, 3, &dev));
	EXPECT_EQ(2, info_now(_metadata).obj_devices);
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

TEST_F(region, second_open_is_refused)
{
	int fd;

	EXPECT_EQ(-EBUSY, kdev_open(SAMPLE_NAME, 1, NULL));
	close(self->fd);
	self->fd = -1;
	fd = kdev_open(SAMPLE_NAME, 1, NULL);
	ASSERT_LE(0, fd);
	close(fd);
}

TEST_F(region, malformed_open_is_refused)
{
	struct kmig_device_open arg = { .instance = 2 };
	int kfd;

	kfd = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kfd);
	strcpy(arg.name, SAMPLE_NAME);
	arg.flags = 1;
	EXPECT_EQ(-1, ioctl(kfd, KMIG_DEVICE_OPEN, &arg));
	EXPECT_EQ(EINVAL, errno);
	arg.flags = 0;
	memset(arg.name, 'x', sizeof(arg.name));
	EXPECT_EQ(-1, ioctl(kfd, KMIG_DEVICE_OPEN, &arg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(kfd, KMIG_DEVICE_OPEN, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(kfd, _IO(KMIG_IOC_MAGIC, 0x5f)));
	EXPECT_EQ(ENOTTY, errno);
	close(kfd);
}

/* Every access after unregistering gets -ENODEV; the mapping stays valid. */
static void expect_gone(struct __test_metadata *_metadata, int fd,
			volatile uint8_t *map)
{
	struct kmig_device_config cfg = { 0 };
	uint32_t v32;
	uint64_t v64;
	void *m;

	EXPECT_EQ(-ENODEV, kdev_read32(fd, KDEV_STATE, &v32));
	EXPECT_EQ(-ENODEV, kdev_write32(fd, KDEV_STATE, STOP));
	EXPECT_EQ(-ENODEV, kdev_read64(fd, KDEV_PENDING, &v64));
	EXPECT_EQ(-ENODEV, kdev_read64(fd, KDEV_OFFSET, &v64));
	EXPECT_EQ(-ENODEV, kdev_reset(fd));
	EXPECT_EQ(-1, ioctl(fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_EQ(ENODEV, errno);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, DATA_OFFSET);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(ENODEV, errno);
	if (map) {
		map[0] = 0x5a;
		EXPECT_EQ(0x5a, map[0]);
	}
}

TEST_F(region, unregister_while_open)
{
	uint8_t *map;

	map = mmap(NULL, self->data_max, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, DATA_OFFSET);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, kdev_set_state(self->fd, PRECOPY));

	ASSERT_EQ(0, sample_destroy(1));
	expect_gone(_metadata, self->fd, map);
	/* The struct lives on with the fd; the name is free again. */
	EXPECT_EQ(2, info_now(_metadata).obj_devices);
	ASSERT_EQ(0, sample_create(1));
	EXPECT_EQ(3, info_now(_metadata).obj_devices);
	expect_gone(_metadata, self->fd, map);

	munmap(map, self->data_max);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(2, info_now(_metadata).obj_devices);
	EXPECT_EQ(0, info_now(_metadata).obj_device_files);
}

struct racer {
	int fd;
	unsigned long accesses;
	int last;
};

/* Saves in a loop until the device goes away under it. */
static void *save_until_gone(void *arg)
{
	struct racer *r = arg;
	uint64_t pending, off;
	uint8_t buf[4096];
	int ret;

	for (;;) {
		ret = kdev_read64(r->fd, KDEV_PENDING, &pending);
		if (!ret && !pending) {
			/* Start over: a new precopy sends everything again. */
			ret = kdev_set_state(r->fd, RUNNING);
			if (!ret)
				ret = kdev_set_state(r->fd, PRECOPY);
		} else if (!ret) {
			ret = kdev_read64(r->fd, KDEV_OFFSET, &off);
			if (!ret && pread(r->fd, buf, sizeof(buf), off) < 0)
				ret = -errno;
		}
		r->accesses++;
		if (ret) {
			r->last = ret;
			return NULL;
		}
	}
}

TEST_F(region, unregister_races_accesses)
{
	struct racer r = { .fd = self->fd };
	pthread_t thread;

	ASSERT_EQ(0, sample_set_rate(1, 20000));
	ASSERT_EQ(0, kdev_set_state(self->fd, PRECOPY));
	ASSERT_EQ(0, pthread_create(&thread, NULL, save_until_gone, &r));
	usleep(200000);
	ASSERT_EQ(0, sample_destroy(1));
	pthread_join(thread, NULL);
	EXPECT_EQ(-ENODEV, r.last);
	EXPECT_LT(10, r.accesses);
	TH_LOG("%lu accesses before the device went away", r.accesses);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(1, info_now(_metadata).obj_devices);
	EXPECT_EQ(0, info_now(_metadata).obj_device_files);
}

TEST_F(region, module_unload_while_open)
{
	uint8_t *map;
	int fd2;

	fd2 = kdev_open(SAMPLE_NAME, 2, NULL);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdev_set_state(fd2, RESUMING));
	map = mmap(NULL, self->data_max, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, DATA_OFFSET);
	ASSERT_NE(MAP_FAILED, map);

	/* Device fds pin kmig, not the driver. */
	ASSERT_EQ(0, sample_unload());
	expect_gone(_metadata, self->fd, map);
	expect_gone(_metadata, fd2, NULL);
	EXPECT_EQ(2, info_now(_metadata).obj_devices);

	munmap(map, self->data_max);
	close(fd2);
	EXPECT_EQ(1, info_now(_metadata).obj_devices);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, info_now(_metadata).obj_devices);
	EXPECT_EQ(0, info_now(_metadata).obj_device_files);
}

/* The specification's transitions, independent of the kernel's table. */
static int transition_valid(uint32_t from, uint32_t to)
{
	switch (from) {
	case STOP:
		return to == RUNNING || to == SAVING || to == RESUMING;
	case RUNNING:
		return to == STOP || to == SAVING || to == PRECOPY ||
		       to == RESUMING;
	case PRECOPY:
		return to == SAVING || to == RUNNING;
	case SAVING:
		return to == STOP || to == RUNNING;
	case RESUMING:
		return to == STOP || to == RUNNING;
	}
	return 0;
}

/* From a reset (RUNNING), the shortest way to @state. */
static void reach(struct __test_metadata *_metadata, int fd, uint32_t state)
{
	uint32_t now;

	ASSERT_EQ(0, kdev_reset(fd));
	ASSERT_EQ(0, kdev_state(fd, &now));
	ASSERT_EQ(RUNNING, now);
	if (state == RUNNING)
		return;
	if (state == ERROR) {
		/* Leaving RESUMING with nothing loaded fails in the driver. */
		ASSERT_EQ(0, kdev_set_state(fd, RESUMING));
		ASSERT_EQ(-ENODATA, kdev_set_state(fd, STOP));
	} else {
		ASSERT_EQ(0, kdev_set_state(fd, state));
	}
	ASSERT_EQ(0, kdev_state(fd, &now));
	ASSERT_EQ(state, now);
}

TEST_F(region, every_state_transition)
{
	static const uint32_t from[] = {
		STOP, RUNNING, PRECOPY, SAVING, RESUMING, ERROR,
	};
	static const uint32_t to[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80000001,
	};
	uint32_t now, exp_state;
	unsigned int i, j;
	int ret, exp_ret;

	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		for (j = 0; j < sizeof(to) / sizeof(to[0]); j++) {
			if (from[i] == ERROR) {
				/* Only a reset leaves the error state. */
				exp_ret = -EINVAL;
				exp_state = ERROR;
			} else if (from[i] == to[j]) {
				exp_ret = 0;
				exp_state = from[i];
			} else if (!transition_valid(from[i], to[j])) {
				exp_ret = -EINVAL;
				exp_state = from[i];
			} else if (from[i] == RESUMING) {
				/* Valid, but the driver got no state. */
				exp_ret = -ENODATA;
				exp_state = ERROR;
			} else {
				exp_ret = 0;
				exp_state = to[j];
			}
			reach(_metadata, self->fd, from[i]);
			ret = kdev_set_state(self->fd, to[j]);
			ASSERT_EQ(0, kdev_state(self->fd, &now));
			EXPECT_EQ(exp_ret, ret) {
				TH_LOG("from %#x to %#x", from[i], to[j]);
			}
			EXPECT_EQ(exp_state, now) {
				TH_LOG("from %#x to %#x", from[i], to[j]);
			}
		}
	}
	ASSERT_EQ(0, kdev_reset(self->fd));
}

static int pread_err(int fd, size_t len, off_t off)
{
	uint8_t buf[64];

	return pread(fd, buf, len, off) < 0 ? -errno : 0;
}

static int pwrite_err(int fd, size_t len, off_t off)
{
	uint8_t buf[64] = { 0 };

	return pwrite(fd, buf, len, off) < 0 ? -errno : 0;
}

TEST_F(region, malformed_field_accesses)
{
	static const struct { size_t len; off_t off; } bad[] = {
		{ 1, 0 }, { 2, 0 }, { 8, 0 }, { 32, 0 }, { 4, 1 }, { 4, 2 },
		{ 8, 4 }, { 4, 8 }, { 4, 12 }, { 8, 12 }, { 2, 16 }, { 4, 16 },
		{ 16, 16 }, { 4, 24 }, { 8, 28 }, { 4, 32 }, { 8, 32 },
		{ 8, 40 }, { 8, DATA_OFFSET - 8 },
	};
	uint32_t v32;
	uint64_t v64;
	unsigned int i;

	ASSERT_EQ(0, kdev_set_state(self->fd, SAVING));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, pread_err(self->fd, bad[i].len,
					     bad[i].off)) {
			TH_LOG("pread %zu bytes at %ld", bad[i].len,
			       (long)bad[i].off);
		}
		EXPECT_EQ(-EINVAL, pwrite_err(self->fd, bad[i].len,
					      bad[i].off)) {
			TH_LOG("pwrite %zu bytes at %ld", bad[i].len,
			       (long)bad[i].off);
		}
	}
	/* Read-only fields. */
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_PENDING, 0));
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_OFFSET, DATA_OFFSET));
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE, 4096));
	/* reserved reads 0 and ignores writes. */
	EXPECT_EQ(0, kdev_write32(self->fd, KDEV_RESERVED, 0xdead));
	EXPECT_EQ(0, kdev_read32(self->fd, KDEV_RESERVED, &v32));
	EXPECT_EQ(0, v32);
	/* None of that changed the device. */
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(SAVING, v32);
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &v64));
	EXPECT_EQ(SAMPLE_RAM, v64);
}

TEST_F(region, save_protocol_errors)
{
	uint64_t pending, again, off, size, total;
	uint8_t *buf;
	uint32_t v32;

	buf = malloc(self->data_max + 1);
	ASSERT_NE(NULL, buf);

	/* Outside SAVING, the save fields refuse. */
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_PENDING, &pending));
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_OFFSET, &off));
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_SIZE, &size));
	EXPECT_EQ(-EINVAL, pread_err(self->fd, 8, DATA_OFFSET));

	ASSERT_EQ(0, kdev_set_state(self->fd, SAVING));
	/* pending_bytes has no side effect. */
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &pending));
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &again));
	EXPECT_EQ(pending, again);
	EXPECT_EQ(SAMPLE_RAM, pending);
	/* Nothing staged yet. */
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_SIZE, &size));
	EXPECT_EQ(-EINVAL, pread_err(self->fd, 8, DATA_OFFSET));

	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_OFFSET, &off));
	EXPECT_EQ(DATA_OFFSET, off);
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_SIZE, &size));
	total = size;
	EXPECT_LT(0, size);
	EXPECT_GE(self->data_max, size);
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &again));
	EXPECT_GT(pending, again);

	/* Within data_size: whole or in parts. Past it: refused. */
	EXPECT_EQ(size, pread(self->fd, buf, size, off));
	EXPECT_EQ(16, pread(self->fd, buf, 16, off + size - 16));
	EXPECT_EQ(-1, pread(self->fd, buf, size + 1, off));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pread(self->fd, buf, 1, off + size));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pread(self->fd, buf, 8, off + self->data_max));
	EXPECT_EQ(EINVAL, errno);
	/* No writing while saving. */
	EXPECT_EQ(-EINVAL, pwrite_err(self->fd, 8, off));
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE, size));

	/* Each data_offset read stages the next chunk, until none is left. */
	while (again) {
		ASSERT_EQ(0, kdev_read64(self->fd, KDEV_OFFSET, &off));
		ASSERT_EQ(0, kdev_read64(self->fd, KDEV_SIZE, &size));
		total += size;
		ASSERT_EQ(0, kdev_read64(self->fd, KDEV_PENDING, &again));
	}
	EXPECT_LT(SAMPLE_RAM, total);
	EXPECT_EQ(-ENODATA, kdev_read64(self->fd, KDEV_OFFSET, &off));
	/* That failure is not a device error. */
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(SAVING, v32);
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_SIZE, &size));

	/* Leaving SAVING drops the staged chunk. */
	ASSERT_EQ(0, kdev_set_state(self->fd, RUNNING));
	ASSERT_EQ(0, kdev_set_state(self->fd, SAVING));
	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_OFFSET, &off));
	ASSERT_EQ(0, kdev_set_state(self->fd, STOP));
	EXPECT_EQ(-EINVAL, pread_err(self->fd, 8, DATA_OFFSET));
	free(buf);
}

TEST_F(region, resume_protocol_errors)
{
	uint64_t off, pending, size;
	uint32_t v32;

	ASSERT_EQ(0, kdev_set_state(self->fd, RESUMING));
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_PENDING, &pending));
	EXPECT_EQ(-EINVAL, kdev_read64(self->fd, KDEV_SIZE, &size));
	EXPECT_EQ(-EINVAL, pread_err(self->fd, 8, DATA_OFFSET));
	/* data_size before data_offset was read. */
	EXPECT_EQ(0, pwrite_err(self->fd, 8, DATA_OFFSET));
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE, 8));

	ASSERT_EQ(0, kdev_read64(self->fd, KDEV_OFFSET, &off));
	EXPECT_EQ(DATA_OFFSET, off);
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE, 0));
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE,
					self->data_max + 1));
	EXPECT_EQ(-EINVAL, kdev_write32(self->fd, KDEV_SIZE, 8));
	EXPECT_EQ(-EINVAL, pwrite_err(self->fd, 8,
				      off + self->data_max - 4));
	EXPECT_EQ(-EINVAL, pwrite_err(self->fd, 1, off + self->data_max));
	EXPECT_EQ(0, pwrite_err(self->fd, 8, off + self->data_max - 8));
	/* None of the refusals was a device error. */
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(RESUMING, v32);

	/* Garbage is a driver error: the device reports the error state. */
	EXPECT_EQ(-EINVAL, kdev_write64(self->fd, KDEV_SIZE, 8));
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(ERROR, v32);
	EXPECT_EQ(-EINVAL, kdev_set_state(self->fd, STOP));
	ASSERT_EQ(0, kdev_reset(self->fd));
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(RUNNING, v32);
}

TEST_F(region, config_ioctl_errors)
{
	uint8_t buf[KMIG_DEVICE_CONFIG_MAX + 1];
	struct kmig_device_config cfg = {
		.data = (uintptr_t)buf,
		.size = sizeof(buf),
	};
	uint32_t v32;

	/* Saving config needs a stopped device. */
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, kdev_set_state(self->fd, PRECOPY));
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, kdev_set_state(self->fd, SAVING));
	ASSERT_EQ(0, ioctl(self->fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_LT(0, cfg.len);
	cfg.size = cfg.len - 1;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(cfg.size + 1, cfg.len);
	cfg.data = 8;
	cfg.size = sizeof(buf);
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_GET_CONFIG, &cfg));
	EXPECT_EQ(EFAULT, errno);

	/* Loading config needs RESUMING and a sane size. */
	cfg.data = (uintptr_t)buf;
	cfg.size = 64;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_SET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, kdev_set_state(self->fd, STOP));
	ASSERT_EQ(0, kdev_set_state(self->fd, RESUMING));
	cfg.size = 0;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_SET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	cfg.size = KMIG_DEVICE_CONFIG_MAX + 1;
	EXPECT_EQ(-1, ioctl(self->fd, KMIG_DEVICE_SET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, kdev_state(self->fd, &v32));
	EXPECT_EQ(RESUMING, v32);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(KMIG_IOC_MAGIC, 0x5e)));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(region, mmap_rules)
{
	void *m;

	m = mmap(NULL, self->data_max, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	m = mmap(NULL, self->data_max + 4096, PROT_READ, MAP_SHARED,
		 self->fd, DATA_OFFSET);
	EXPECT_EQ(MAP_FAILED, m);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, self->fd, DATA_OFFSET);
	EXPECT_EQ(MAP_FAILED, m);
	m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->fd, DATA_OFFSET);
	ASSERT_NE(MAP_FAILED, m);
	munmap(m, 8192);
}

struct hammer {
	int fd;
	int stop;
	unsigned long toggles;
	int bad;
};

static void *toggle_state(void *arg)
{
	struct hammer *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (kdev_set_state(h->fd, h->toggles & 1 ? RUNNING : STOP))
			h->bad++;
		__atomic_add_fetch(&h->toggles, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* One thread flips the state while this one reads it: each read sees a
 * whole, valid state, and no transition fails.
 */
TEST_F(region, accesses_are_serialised)
{
	struct hammer h = { .fd = self->fd };
	unsigned long reads;
	pthread_t thread;
	uint32_t state;

	ASSERT_EQ(0, pthread_create(&thread, NULL, toggle_state, &h));
	/* At least 500 reads, overlapping at least 100 transitions. */
	for (reads = 0; reads < 500 ||
	     __atomic_load_n(&h.toggles, __ATOMIC_RELAXED) < 100; reads++) {
		ASSERT_EQ(0, kdev_state(self->fd, &state));
		EXPECT_TRUE(state == RUNNING || state == STOP);
		if (reads >= 500)
			usleep(1000);
		ASSERT_GT(100000, reads);
	}
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	EXPECT_EQ(0, h.bad);
	TH_LOG("%lu reads during %lu transitions", reads, h.toggles);
}

TEST_HARNESS_MAIN
