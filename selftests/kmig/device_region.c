// SPDX-License-Identifier: GPL-2.0
/*
 * Device migration region: opening, unregistering and unloading under an
 * open fd, every state transition and every malformed access
 * (Documentation/device-region.rst); device_list.c has its listing. Uses
 * the kmig-sample module built next to $KMIG_KO.
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

#include "kdev.h"
#include "kmig.h"
#include "kselftest_harness.h"
#include "sample_fixture.h"

#define STOP		KMIG_DEVICE_STATE_STOP
#define RUNNING		KMIG_DEVICE_STATE_RUNNING
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define RESUMING	KMIG_DEVICE_STATE_RESUMING
#define PRECOPY		(RUNNING | SAVING)
#define ERROR		KMIG_DEVICE_STATE_ERROR

#define DATA_OFFSET	4096

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
	EXPECT_EQ(2, kmig_objects_now().obj_devices);
	ASSERT_EQ(0, sample_create(1));
	EXPECT_EQ(3, kmig_objects_now().obj_devices);
	expect_gone(_metadata, self->fd, map);

	munmap(map, self->data_max);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(2, kmig_objects_now().obj_devices);
	EXPECT_EQ(0, kmig_objects_now().obj_device_files);
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
	EXPECT_EQ(1, kmig_objects_now().obj_devices);
	EXPECT_EQ(0, kmig_objects_now().obj_device_files);
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
	EXPECT_EQ(2, kmig_objects_now().obj_devices);

	munmap(map, self->data_max);
	close(fd2);
	EXPECT_EQ(1, kmig_objects_now().obj_devices);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, kmig_objects_now().obj_devices);
	EXPECT_EQ(0, kmig_objects_now().obj_device_files);
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
