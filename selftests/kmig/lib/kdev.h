/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Selftest helpers for kmig's device migration region and for the
 * kmig-sample device. Every function returns 0 (or a value) or -errno.
 */
#ifndef KMIG_TEST_KDEV_H
#define KMIG_TEST_KDEV_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kmig.h>

#define SAMPLE_NAME	"kmig-sample"
#define SAMPLE_MODULE	"kmig_sample"
#define SAMPLE_VERSION	1
#define SAMPLE_RAM	(8u << 20)

/* The kmig-sample module, next to $KMIG_KO in samples/. */
int sample_module_path(char *buf, size_t size);
int sample_load(void);		/* 0 also when it is loaded already */
int sample_unload(void);
int sample_create(uint32_t id);
int sample_destroy(uint32_t id);
int sample_checksum(uint32_t id, uint32_t *crc);
int sample_set_rate(uint32_t id, uint32_t rate);
int sample_writes(uint32_t id, uint64_t *writes);
/* The instance's pending_bytes fails with -@err from now on (0: never). */
int sample_fail_pending(uint32_t id, int err);
/*
 * kmig-sample loaded with instances 1 and 2, and instance 1's region
 * opened: its fd (its data area's size in *@data_max), or -errno.
 */
int sample_pair_up(uint64_t *data_max);
/* Undoes sample_pair_up(): closes @fd (unless < 0), destroys, unloads. */
int sample_pair_down(int fd);

/* Region access: exactly one field at its offset. */
#define KDEV_STATE	offsetof(struct kmig_device_region, device_state)
#define KDEV_RESERVED	offsetof(struct kmig_device_region, reserved)
#define KDEV_PENDING	offsetof(struct kmig_device_region, pending_bytes)
#define KDEV_OFFSET	offsetof(struct kmig_device_region, data_offset)
#define KDEV_SIZE	offsetof(struct kmig_device_region, data_size)

int kdev_open(const char *name, uint32_t instance, uint64_t *data_max);
int kdev_read32(int fd, off_t off, uint32_t *val);
int kdev_write32(int fd, off_t off, uint32_t val);
int kdev_read64(int fd, off_t off, uint64_t *val);
int kdev_write64(int fd, off_t off, uint64_t val);
int kdev_state(int fd, uint32_t *state);
int kdev_set_state(int fd, uint32_t state);
int kdev_reset(int fd);

/*
 * A device's state as the agent streams it (Documentation/device-region.rst):
 * packets of a be64 marker; DEV_CONFIG_STATE and DEV_DATA_STATE packets
 * then carry a be64 size and that many bytes; END_OF_STATE ends a round.
 */
struct kdev_stream {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t chunks;		/* DEV_DATA_STATE packets */
};

void kdev_stream_free(struct kdev_stream *s);
int kdev_stream_put(struct kdev_stream *s, uint64_t marker, const void *data,
		    size_t size);
/* Offset of the @n-th DEV_DATA_STATE packet's bytes, or -ENOENT. */
long kdev_stream_chunk(const struct kdev_stream *s, size_t n, size_t *size);

/* Stages and appends one chunk (via pread, or from @map if not NULL). */
int kdev_save_chunk(int fd, struct kdev_stream *s, const void *map);
/* Appends chunks until at least @budget bytes went out or none is pending;
 * the pending_bytes read that ended it goes to *@pending.
 */
int kdev_save_round(int fd, struct kdev_stream *s, uint64_t budget,
		    uint64_t *pending);
int kdev_save_config(int fd, struct kdev_stream *s);
/* STOP -> SAVING, every chunk, the config, END_OF_STATE, -> STOP. */
int kdev_save_stopped(int fd, struct kdev_stream *s);

/*
 * Feeds a stream to a device in RESUMING: chunks through pwrite (or into
 * @map if not NULL) and data_size, config through KMIG_DEVICE_SET_CONFIG.
 * Stops at the first error and returns it.
 */
int kdev_resume(int fd, const struct kdev_stream *s, void *map);

#endif /* KMIG_TEST_KDEV_H */
