// SPDX-License-Identifier: GPL-2.0
/*
 * Selftest helpers for the device migration region and kmig-sample.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdev.h"

#define SAMPLE_DEBUGFS	"/sys/kernel/debug/kmig-sample"

int sample_module_path(char *buf, size_t size)
{
	const char *ko = getenv("KMIG_KO");
	char *copy;
	int n;

	if (!ko)
		return -ENOENT;
	copy = strdup(ko);
	if (!copy)
		return -ENOMEM;
	n = snprintf(buf, size, "%s/samples/kmig-sample.ko", dirname(copy));
	free(copy);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int sample_load(void)
{
	char path[4096];
	int fd, ret;

	ret = sample_module_path(path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret == -EEXIST ? 0 : ret;
}

int sample_unload(void)
{
	return syscall(SYS_delete_module, SAMPLE_MODULE, O_NONBLOCK) ?
		-errno : 0;
}

static int write_file(const char *path, const char *text)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static int read_u64_file(const char *path, uint64_t *val)
{
	unsigned long long v;
	int ret = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%lli", &v) != 1)
		ret = ferror(f) ? -errno : -EPROTO;
	fclose(f);
	*val = v;
	return ret;
}

static int sample_ctl(const char *file, uint32_t id)
{
	char path[128], text[16];

	snprintf(path, sizeof(path), SAMPLE_DEBUGFS "/%s", file);
	snprintf(text, sizeof(text), "%u", id);
	return write_file(path, text);
}

int sample_create(uint32_t id)
{
	return sample_ctl("create", id);
}

int sample_destroy(uint32_t id)
{
	return sample_ctl("destroy", id);
}

int sample_checksum(uint32_t id, uint32_t *crc)
{
	char path[128];
	uint64_t v;
	int ret;

	snprintf(path, sizeof(path), SAMPLE_DEBUGFS "/%u/checksum", id);
	ret = read_u64_file(path, &v);
	*crc = v;
	return ret;
}

int sample_set_rate(uint32_t id, uint32_t rate)
{
	char path[128], text[16];

	snprintf(path, sizeof(path), SAMPLE_DEBUGFS "/%u/rate", id);
	snprintf(text, sizeof(text), "%u", rate);
	return write_file(path, text);
}

int sample_fail_pending(uint32_t id, int err)
{
	char path[128], text[16];

	snprintf(path, sizeof(path), SAMPLE_DEBUGFS "/%u/fail_pending", id);
	snprintf(text, sizeof(text), "%d", err);
	return write_file(path, text);
}

int sample_writes(uint32_t id, uint64_t *writes)
{
	char path[128];

	snprintf(path, sizeof(path), SAMPLE_DEBUGFS "/%u/writes", id);
	return read_u64_file(path, writes);
}

int sample_pair_up(uint64_t *data_max)
{
	int ret;

	ret = sample_load();
	if (!ret)
		ret = sample_create(1);
	if (!ret)
		ret = sample_create(2);
	return ret ? ret : kdev_open(SAMPLE_NAME, 1, data_max);
}

/* A test may have destroyed an instance or unloaded the module already. */
int sample_pair_down(int fd)
{
	int ret;

	if (fd >= 0)
		close(fd);
	sample_destroy(1);
	sample_destroy(2);
	ret = sample_unload();
	return ret == -ENOENT ? 0 : ret;
}

int kdev_open(const char *name, uint32_t instance, uint64_t *data_max)
{
	struct kmig_device_open arg = { .instance = instance };
	int kfd, fd;

	if (strlen(name) >= sizeof(arg.name))
		return -ENAMETOOLONG;
	strcpy(arg.name, name);
	kfd = open("/dev/kmig", O_RDWR | O_CLOEXEC);
	if (kfd < 0)
		return -errno;
	fd = ioctl(kfd, KMIG_DEVICE_OPEN, &arg);
	fd = fd < 0 ? -errno : fd;
	close(kfd);
	if (fd >= 0 && data_max)
		*data_max = arg.data_max;
	return fd;
}

static int pread_exact(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int pwrite_exact(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n = pwrite(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int kdev_read32(int fd, off_t off, uint32_t *val)
{
	return pread_exact(fd, val, sizeof(*val), off);
}

int kdev_write32(int fd, off_t off, uint32_t val)
{
	return pwrite_exact(fd, &val, sizeof(val), off);
}

int kdev_read64(int fd, off_t off, uint64_t *val)
{
	return pread_exact(fd, val, sizeof(*val), off);
}

int kdev_write64(int fd, off_t off, uint64_t val)
{
	return pwrite_exact(fd, &val, sizeof(val), off);
}

int kdev_state(int fd, uint32_t *state)
{
	return kdev_read32(fd, KDEV_STATE, state);
}

int kdev_set_state(int fd, uint32_t state)
{
	return kdev_write32(fd, KDEV_STATE, state);
}

int kdev_reset(int fd)
{
	return ioctl(fd, KMIG_DEVICE_RESET) ? -errno : 0;
}

void kdev_stream_free(struct kdev_stream *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static int stream_reserve(struct kdev_stream *s, size_t more)
{
	size_t cap = s->cap ? s->cap : 1 << 20;
	uint8_t *buf;

	while (cap - s->len < more)
		cap *= 2;
	if (cap == s->cap)
		return 0;
	buf = realloc(s->buf, cap);
	if (!buf)
		return -ENOMEM;
	s->buf = buf;
	s->cap = cap;
	return 0;
}

static void stream_put_be64(struct kdev_stream *s, uint64_t v)
{
	v = htobe64(v);
	memcpy(s->buf + s->len, &v, sizeof(v));
	s->len += sizeof(v);
}

int kdev_stream_put(struct kdev_stream *s, uint64_t marker, const void *data,
		    size_t size)
{
	int ret;

	ret = stream_reserve(s, 16 + size);
	if (ret)
		return ret;
	stream_put_be64(s, marker);
	if (marker == KMIG_DEV_END_OF_STATE)
		return 0;
	stream_put_be64(s, size);
	memcpy(s->buf + s->len, data, size);
	s->len += size;
	if (marker == KMIG_DEV_DATA_STATE)
		s->chunks++;
	return 0;
}

/* Walks the packets; calls @fn for each with its marker and payload. */
static int stream_walk(const struct kdev_stream *s,
		       int (*fn)(uint64_t marker, size_t off, size_t size,
				 void *arg),
		       void *arg)
{
	uint64_t marker, size;
	size_t off = 0;
	int ret;

	while (off < s->len) {
		if (s->len - off < 8)
			return -EPROTO;
		memcpy(&marker, s->buf + off, 8);
		marker = be64toh(marker);
		off += 8;
		size = 0;
		if (marker == KMIG_DEV_DATA_STATE ||
		    marker == KMIG_DEV_CONFIG_STATE) {
			if (s->len - off < 8)
				return -EPROTO;
			memcpy(&size, s->buf + off, 8);
			size = be64toh(size);
			off += 8;
			if (size > s->len - off)
				return -EPROTO;
		} else if (marker != KMIG_DEV_END_OF_STATE) {
			return -EPROTO;
		}
		ret = fn(marker, off, size, arg);
		if (ret)
			return ret;
		off += size;
	}
	return 0;
}

struct chunk_find {
	size_t n;
	size_t off;
	size_t size;
};

static int find_chunk(uint64_t marker, size_t off, size_t size, void *arg)
{
	struct chunk_find *f = arg;

	if (marker != KMIG_DEV_DATA_STATE)
		return 0;
	if (f->n--)
		return 0;
	f->off = off;
	f->size = size;
	return 1;
}

long kdev_stream_chunk(const struct kdev_stream *s, size_t n, size_t *size)
{
	struct chunk_find f = { .n = n };

	if (stream_walk(s, find_chunk, &f) != 1)
		return -ENOENT;
	*size = f.size;
	return f.off;
}

int kdev_save_chunk(int fd, struct kdev_stream *s, const void *map)
{
	uint64_t off, size;
	int ret;

	ret = kdev_read64(fd, KDEV_OFFSET, &off);
	if (ret)
		return ret;
	ret = kdev_read64(fd, KDEV_SIZE, &size);
	if (ret)
		return ret;
	ret = stream_reserve(s, 16 + size);
	if (ret)
		return ret;
	stream_put_be64(s, KMIG_DEV_DATA_STATE);
	stream_put_be64(s, size);
	if (map)
		memcpy(s->buf + s->len, map, size);
	else
		ret = pread_exact(fd, s->buf + s->len, size, off);
	if (ret)
		return ret;
	s->len += size;
	s->chunks++;
	return 0;
}

int kdev_save_round(int fd, struct kdev_stream *s, uint64_t budget,
		    uint64_t *pending)
{
	size_t start = s->len;
	int ret;

	for (;;) {
		ret = kdev_read64(fd, KDEV_PENDING, pending);
		if (ret || !*pending || s->len - start >= budget)
			break;
		ret = kdev_save_chunk(fd, s, NULL);
		if (ret)
			break;
	}
	if (!ret)
		ret = kdev_stream_put(s, KMIG_DEV_END_OF_STATE, NULL, 0);
	return ret;
}

int kdev_save_config(int fd, struct kdev_stream *s)
{
	static uint8_t buf[KMIG_DEVICE_CONFIG_MAX];
	struct kmig_device_config cfg = {
		.data = (uintptr_t)buf,
		.size = sizeof(buf),
	};

	if (ioctl(fd, KMIG_DEVICE_GET_CONFIG, &cfg))
		return -errno;
	return kdev_stream_put(s, KMIG_DEV_CONFIG_STATE, buf, cfg.len);
}

int kdev_save_stopped(int fd, struct kdev_stream *s)
{
	uint64_t pending;
	int ret;

	ret = kdev_set_state(fd, KMIG_DEVICE_STATE_SAVING);
	if (ret)
		return ret;
	do {
		ret = kdev_read64(fd, KDEV_PENDING, &pending);
		if (!ret && pending)
			ret = kdev_save_chunk(fd, s, NULL);
	} while (!ret && pending);
	if (!ret)
		ret = kdev_save_config(fd, s);
	if (!ret)
		ret = kdev_stream_put(s, KMIG_DEV_END_OF_STATE, NULL, 0);
	if (!ret)
		ret = kdev_set_state(fd, KMIG_DEVICE_STATE_STOP);
	return ret;
}

struct resume {
	const struct kdev_stream *s;
	int fd;
	void *map;
};

static int resume_packet(uint64_t marker, size_t off, size_t size, void *arg)
{
	struct resume *r = arg;
	const uint8_t *data = r->s->buf + off;
	struct kmig_device_config cfg;
	uint64_t data_off;
	int ret;

	switch (marker) {
	case KMIG_DEV_DATA_STATE:
		ret = kdev_read64(r->fd, KDEV_OFFSET, &data_off);
		if (ret)
			return ret;
		if (r->map)
			memcpy(r->map, data, size);
		else
			ret = pwrite_exact(r->fd, data, size, data_off);
		if (ret)
			return ret;
		return kdev_write64(r->fd, KDEV_SIZE, size);
	case KMIG_DEV_CONFIG_STATE:
		cfg = (struct kmig_device_config) {
			.data = (uintptr_t)data,
			.size = size,
		};
		return ioctl(r->fd, KMIG_DEVICE_SET_CONFIG, &cfg) ? -errno : 0;
	}
	return 0;
}

int kdev_resume(int fd, const struct kdev_stream *s, void *map)
{
	struct resume r = { .s = s, .fd = fd, .map = map };

	return stream_walk(s, resume_packet, &r);
}
