// SPDX-License-Identifier: GPL-2.0
/*
 * Migrating kmig-sample devices through the region: precopy with the
 * mutator on, then stop-and-copy, then resume into another instance; total
 * loads of old checkpoints; corrupted streams that must leave the target
 * untouched; the mmap path against the pread path.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kdev.h"
#include "kselftest_harness.h"
#include "netlink.h"

#define STOP		KMIG_DEVICE_STATE_STOP
#define RUNNING		KMIG_DEVICE_STATE_RUNNING
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define RESUMING	KMIG_DEVICE_STATE_RESUMING
#define PRECOPY		(RUNNING | SAVING)
#define ERROR		KMIG_DEVICE_STATE_ERROR

/* Sizes from the sample's chunk format (samples/kmig-sample.c). */
#define CHUNK_HDR	24

FIXTURE(migrate) {
	int src;
	int dst;
	uint64_t data_max;
};

FIXTURE_SETUP(migrate)
{
	self->src = self->dst = -1;
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	ASSERT_EQ(0, sample_load());
	ASSERT_EQ(0, sample_create(1));
	ASSERT_EQ(0, sample_create(2));
	self->src = kdev_open(SAMPLE_NAME, 1, &self->data_max);
	ASSERT_LE(0, self->src);
	self->dst = kdev_open(SAMPLE_NAME, 2, NULL);
	ASSERT_LE(0, self->dst);
}

FIXTURE_TEARDOWN(migrate)
{
	struct kmig_info info;
	struct kmig_nl nl;
	int ret;

	if (self->src >= 0)
		close(self->src);
	if (self->dst >= 0)
		close(self->dst);
	if (!getenv("KMIG_KO"))
		return;
	sample_destroy(1);
	sample_destroy(2);
	sample_destroy(3);
	ret = sample_unload();
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);

	/* Nothing a migration created outlives it. */
	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_get_info(&nl, &info));
	kmig_nl_close(&nl);
	EXPECT_EQ(0, info.obj_devices);
	EXPECT_EQ(0, info.obj_device_files);
}

static uint32_t checksum(struct __test_metadata *_metadata, uint32_t id)
{
	uint32_t crc;

	ASSERT_EQ(0, sample_checksum(id, &crc));
	return crc;
}

static uint32_t state_of(struct __test_metadata *_metadata, int fd)
{
	uint32_t state;

	ASSERT_EQ(0, kdev_state(fd, &state));
	return state;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Waits until instance @id has made at least @steps more mutator steps. */
static void wait_steps(struct __test_metadata *_metadata, uint32_t id,
		       uint64_t steps)
{
	uint64_t start, now;
	int i;

	ASSERT_EQ(0, sample_writes(id, &start));
	for (i = 0; i < 500; i++) {
		ASSERT_EQ(0, sample_writes(id, &now));
		if (now - start >= steps)
			return;
		usleep(10000);
	}
	ASSERT_TRUE(0) {
		TH_LOG("instance %u: mutator made %llu of %llu steps in 5 s",
		       id, (unsigned long long)(now - start),
		       (unsigned long long)steps);
	}
}

/* Resumes @s into @fd (RESUMING -> STOP) and checks it is accepted. */
static void resume_ok(struct __test_metadata *_metadata, int fd,
		      const struct kdev_stream *s)
{
	ASSERT_EQ(0, kdev_set_state(fd, STOP));
	ASSERT_EQ(0, kdev_set_state(fd, RESUMING));
	ASSERT_EQ(0, kdev_resume(fd, s, NULL));
	ASSERT_EQ(0, kdev_set_state(fd, STOP));
}

TEST_F(migrate, precopy_then_stop_and_copy_then_resume)
{
	uint64_t pending = 0, precopy_bytes, writes_before, writes_after;
	const uint64_t small = 64 * 1024;
	struct kdev_stream s = { 0 };
	double t0, t1, t2;
	int rounds = 0;
	uint32_t crc;

	ASSERT_EQ(0, sample_set_rate(1, 5000));
	wait_steps(_metadata, 1, 20);
	ASSERT_EQ(0, sample_writes(1, &writes_before));

	/* Precopy: the device keeps running and dirtying pages. */
	t0 = now_ms();
	ASSERT_EQ(0, kdev_set_state(self->src, PRECOPY));
	do {
		ASSERT_EQ(0, kdev_save_round(self->src, &s, SAMPLE_RAM,
					     &pending));
		rounds++;
		if (rounds == 1) {
			/* Pages written after they were sent are pending. */
			wait_steps(_metadata, 1, 50);
			ASSERT_EQ(0, kdev_read64(self->src, KDEV_PENDING,
						 &pending));
			EXPECT_LT(0, pending);
		}
		TH_LOG("precopy round %d: %zu chunks, %zu bytes, %llu pending",
		       rounds, s.chunks, s.len, (unsigned long long)pending);
	} while (pending > small && rounds < 20);
	EXPECT_GE(small, pending);
	precopy_bytes = s.len;
	ASSERT_EQ(0, sample_writes(1, &writes_after));
	EXPECT_LT(writes_before, writes_after);
	/* Every page at least once: the first round alone is 8 MiB. */
	EXPECT_LT(SAMPLE_RAM, precopy_bytes);

	/* Stop-and-copy: the remainder and the config. */
	t1 = now_ms();
	ASSERT_EQ(0, kdev_set_state(self->src, SAVING));
	crc = checksum(_metadata, 1);
	ASSERT_EQ(0, kdev_save_round(self->src, &s, UINT64_MAX, &pending));
	EXPECT_EQ(0, pending);
	ASSERT_EQ(0, kdev_save_config(self->src, &s));
	ASSERT_EQ(0, kdev_stream_put(&s, KMIG_DEV_END_OF_STATE, NULL, 0));
	ASSERT_EQ(0, kdev_set_state(self->src, STOP));
	t2 = now_ms();
	/* Stopped: the mutator made no step since SAVING. */
	EXPECT_EQ(crc, checksum(_metadata, 1));
	TH_LOG("precopy %d rounds %.0f ms %llu bytes; stop-and-copy %.1f ms %llu bytes",
	       rounds, t1 - t0, (unsigned long long)precopy_bytes, t2 - t1,
	       (unsigned long long)(s.len - precopy_bytes));

	/* The target starts out different, and ends up equal. */
	EXPECT_NE(crc, checksum(_metadata, 2));
	resume_ok(_metadata, self->dst, &s);
	EXPECT_EQ(crc, checksum(_metadata, 2));
	EXPECT_EQ(STOP, state_of(_metadata, self->dst));

	/* And it runs on from there. */
	ASSERT_EQ(0, sample_set_rate(2, 2000));
	ASSERT_EQ(0, kdev_set_state(self->dst, RUNNING));
	wait_steps(_metadata, 2, 1);
	EXPECT_NE(crc, checksum(_metadata, 2));
	kdev_stream_free(&s);
}

TEST_F(migrate, total_load_of_an_old_checkpoint)
{
	struct kdev_stream s = { 0 };
	uint32_t crc;
	int fd3;

	/* Checkpoint N of a device that has been running. */
	ASSERT_EQ(0, sample_set_rate(1, 5000));
	wait_steps(_metadata, 1, 50);
	ASSERT_EQ(0, kdev_save_stopped(self->src, &s));
	crc = checksum(_metadata, 1);

	/* The device diverges: RAM, registers and FIFO move on. */
	ASSERT_EQ(0, kdev_set_state(self->src, RUNNING));
	wait_steps(_metadata, 1, 50);
	ASSERT_EQ(0, kdev_set_state(self->src, STOP));
	EXPECT_NE(crc, checksum(_metadata, 1));

	/* Loading checkpoint N gives exactly N, with no reset first. */
	resume_ok(_metadata, self->src, &s);
	EXPECT_EQ(crc, checksum(_metadata, 1));

	/* Onto an instance that ran its own course. */
	ASSERT_EQ(0, sample_set_rate(2, 5000));
	wait_steps(_metadata, 2, 50);
	resume_ok(_metadata, self->dst, &s);
	EXPECT_EQ(crc, checksum(_metadata, 2));

	/* Onto a fresh instance that never ran a step. */
	ASSERT_EQ(0, sample_create(3));
	fd3 = kdev_open(SAMPLE_NAME, 3, NULL);
	ASSERT_LE(0, fd3);
	EXPECT_NE(crc, checksum(_metadata, 3));
	resume_ok(_metadata, fd3, &s);
	EXPECT_EQ(crc, checksum(_metadata, 3));
	close(fd3);
	kdev_stream_free(&s);
}

/*
 * Feeds @s to the target, expecting @err from the step that meets the
 * damage, then checks the target reports the error state and kept its
 * state, and that a reset brings it back.
 */
static void resume_fails(struct __test_metadata *_metadata, int fd,
			 uint32_t id, const struct kdev_stream *s, int err)
{
	uint32_t before = checksum(_metadata, id);
	int ret;

	ASSERT_EQ(0, kdev_set_state(fd, STOP));
	ASSERT_EQ(0, kdev_set_state(fd, RESUMING));
	ret = kdev_resume(fd, s, NULL);
	if (!ret)
		ret = kdev_set_state(fd, STOP);
	EXPECT_EQ(err, ret);
	EXPECT_EQ(ERROR, state_of(_metadata, fd));
	EXPECT_EQ(before, checksum(_metadata, id));
	ASSERT_EQ(0, kdev_reset(fd));
	EXPECT_EQ(RUNNING, state_of(_metadata, fd));
	EXPECT_EQ(before, checksum(_metadata, id));
}

static struct kdev_stream copy_stream(const struct kdev_stream *s)
{
	struct kdev_stream c = *s;

	c.buf = malloc(s->cap);
	if (c.buf)
		memcpy(c.buf, s->buf, s->len);
	return c;
}

TEST_F(migrate, corrupted_stream_leaves_target_untouched)
{
	struct kdev_stream s = { 0 }, bad;
	size_t size, last_size, cfg_off;
	uint64_t data_off;
	long off, last;
	uint32_t crc;

	ASSERT_EQ(0, kdev_save_stopped(self->src, &s));
	crc = checksum(_metadata, 1);
	ASSERT_LT(30, s.chunks);
	last = kdev_stream_chunk(&s, s.chunks - 1, &last_size);
	ASSERT_LT(0, last);
	/* The config packet follows the last chunk. */
	cfg_off = last + last_size + 16;

	/* Magic, version, RAM size, CRC of a chunk; then of the config. */
	static const struct {
		const char *what;
		int config;
		size_t at;
		uint8_t xor;
		int err;
	} damage[] = {
		{ "chunk magic", 0, 0, 0x01, -EINVAL },
		{ "chunk version", 0, 4, 0x02, -EPROTONOSUPPORT },
		{ "chunk RAM size", 0, 8, 0x10, -EINVAL },
		{ "chunk CRC", 0, 12, 0x80, -EBADMSG },
		{ "chunk page count", 0, 16, 0x01, -EBADMSG },
		{ "chunk payload", 0, CHUNK_HDR + 4 * 63 + 100, 0x40, -EBADMSG },
		{ "config magic", 1, 0, 0x01, -EINVAL },
		{ "config version", 1, 4, 0x01, -EPROTONOSUPPORT },
		{ "config payload", 1, 20, 0x01, -EBADMSG },
	};
	unsigned int i;

	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		bad = copy_stream(&s);
		ASSERT_NE(NULL, bad.buf);
		if (damage[i].config) {
			bad.buf[cfg_off + damage[i].at] ^= damage[i].xor;
		} else {
			off = kdev_stream_chunk(&bad, 5, &size);
			ASSERT_LT(0, off);
			bad.buf[off + damage[i].at] ^= damage[i].xor;
		}
		TH_LOG("damaged %s", damage[i].what);
		resume_fails(_metadata, self->dst, 2, &bad, damage[i].err);
		kdev_stream_free(&bad);
	}

	/* A stream cut short: the last chunk never arrives. */
	bad = copy_stream(&s);
	ASSERT_NE(NULL, bad.buf);
	memmove(bad.buf + last - 16, bad.buf + last + last_size,
		s.len - (last + last_size));
	bad.len -= last_size + 16;
	bad.chunks--;
	TH_LOG("stream without its last chunk");
	resume_fails(_metadata, self->dst, 2, &bad, -ENODATA);
	kdev_stream_free(&bad);

	/* A chunk sized differently from what its header says. */
	bad = copy_stream(&s);
	ASSERT_NE(NULL, bad.buf);
	off = kdev_stream_chunk(&bad, 0, &size);
	ASSERT_LT(0, off);
	size -= 4096;
	memcpy(bad.buf + off - 8, &(uint64_t){ htobe64(size) }, 8);
	TH_LOG("chunk cut short");
	ASSERT_EQ(0, kdev_set_state(self->dst, STOP));
	ASSERT_EQ(0, kdev_set_state(self->dst, RESUMING));
	ASSERT_EQ(0, kdev_read64(self->dst, KDEV_OFFSET, &data_off));
	ASSERT_EQ(size, pwrite(self->dst, bad.buf + off, size, data_off));
	EXPECT_EQ(-EBADMSG, kdev_write64(self->dst, KDEV_SIZE, size));
	EXPECT_EQ(ERROR, state_of(_metadata, self->dst));
	ASSERT_EQ(0, kdev_reset(self->dst));
	kdev_stream_free(&bad);

	/* After all that, the intact stream still loads. */
	EXPECT_NE(crc, checksum(_metadata, 2));
	resume_ok(_metadata, self->dst, &s);
	EXPECT_EQ(crc, checksum(_metadata, 2));
	kdev_stream_free(&s);
}

TEST_F(migrate, mmap_and_pread_paths_agree)
{
	struct kdev_stream via_pread = { 0 }, via_mmap = { 0 };
	uint64_t pending;
	uint8_t *src_map, *dst_map;
	uint32_t crc;

	src_map = mmap(NULL, self->data_max, PROT_READ, MAP_SHARED, self->src,
		       4096);
	ASSERT_NE(MAP_FAILED, src_map);
	dst_map = mmap(NULL, self->data_max, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->dst, 4096);
	ASSERT_NE(MAP_FAILED, dst_map);

	/* The same saves twice, through pread and through the mapping. */
	ASSERT_EQ(0, kdev_set_state(self->src, SAVING));
	crc = checksum(_metadata, 1);
	for (;;) {
		ASSERT_EQ(0, kdev_read64(self->src, KDEV_PENDING, &pending));
		if (!pending)
			break;
		ASSERT_EQ(0, kdev_save_chunk(self->src, &via_pread, NULL));
		/* The staged chunk, as the mapping sees it. */
		ASSERT_EQ(0, kdev_stream_put(&via_mmap, KMIG_DEV_DATA_STATE,
					     src_map,
					     via_pread.len - via_mmap.len - 16));
	}
	ASSERT_EQ(via_pread.len, via_mmap.len);
	EXPECT_EQ(0, memcmp(via_pread.buf, via_mmap.buf, via_pread.len));
	ASSERT_EQ(0, kdev_save_config(self->src, &via_pread));
	ASSERT_EQ(0, kdev_save_config(self->src, &via_mmap));
	ASSERT_EQ(0, kdev_set_state(self->src, STOP));

	/* Resuming through the mapping works as well as through pwrite. */
	ASSERT_EQ(0, kdev_set_state(self->dst, STOP));
	ASSERT_EQ(0, kdev_set_state(self->dst, RESUMING));
	ASSERT_EQ(0, kdev_resume(self->dst, &via_mmap, dst_map));
	ASSERT_EQ(0, kdev_set_state(self->dst, STOP));
	EXPECT_EQ(crc, checksum(_metadata, 2));

	munmap(src_map, self->data_max);
	munmap(dst_map, self->data_max);
	kdev_stream_free(&via_pread);
	kdev_stream_free(&via_mmap);
}

TEST_HARNESS_MAIN
