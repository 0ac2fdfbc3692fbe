// SPDX-License-Identifier: GPL-2.0
/*
 * Device state through the device migration region
 * (Documentation/device-region.rst). The source reads chunks while the
 * device runs (RUNNING | SAVING) and the rest once stopped (SAVING), then
 * the config; each chunk is one DEVICE_STATE record of marker DATA_STATE,
 * the config one CONFIG_STATE, and every section part ends with
 * END_OF_STATE. The destination feeds the same packets to a device in
 * RESUMING; its state takes effect when it is set RUNNING after the guest's
 * vCPU state loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "mig.h"

#define F_STATE		offsetof(struct kmig_device_region, device_state)
#define F_PENDING	offsetof(struct kmig_device_region, pending_bytes)
#define F_OFFSET	offsetof(struct kmig_device_region, data_offset)
#define F_SIZE		offsetof(struct kmig_device_region, data_size)

static int rd64(int fd, off_t off, uint64_t *v)
{
	ssize_t n = pread(fd, v, 8, off);

	return n == 8 ? 0 : n < 0 ? -errno : -EIO;
}

static int wr64(int fd, off_t off, uint64_t v)
{
	ssize_t n = pwrite(fd, &v, 8, off);

	return n == 8 ? 0 : n < 0 ? -errno : -EIO;
}

int mig_dev_open(struct mig_device *d, char *err, size_t n)
{
	struct kmig_device_open arg = { .instance = d->instance };
	int kfd, fd;

	strcpy(arg.name, d->name);
	kfd = open("/dev/" KMIG_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (kfd < 0) {
		snprintf(err, n, "cannot open /dev/kmig: %s", strerror(errno));
		return -errno;
	}
	fd = ioctl(kfd, KMIG_DEVICE_OPEN, &arg);
	fd = fd < 0 ? -errno : fd;
	close(kfd);
	if (fd < 0) {
		snprintf(err, n, "cannot open device %s:%u: %s", d->name,
			 d->instance, fd == -ENOENT ? "no such device" :
			 fd == -EBUSY ? "another agent has it open" :
			 strerror(-fd));
		return fd;
	}
	d->fd = fd;
	d->data_max = arg.data_max;
	return 0;
}

void mig_dev_close(struct mig_device *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int mig_dev_reset(struct mig_device *d)
{
	return ioctl(d->fd, KMIG_DEVICE_RESET) ? -errno : 0;
}

int mig_dev_set_state(struct mig_device *d, uint32_t state)
{
	ssize_t n = pwrite(d->fd, &state, 4, F_STATE);

	return n == 4 ? 0 : n < 0 ? -errno : -EIO;
}

int mig_dev_read_chunk(struct mig_device *d, uint8_t *buf, uint64_t *size)
{
	uint64_t off;
	ssize_t n;
	int ret;

	ret = rd64(d->fd, F_OFFSET, &off);
	if (!ret)
		ret = rd64(d->fd, F_SIZE, size);
	if (ret)
		return ret;
	if (*size > d->data_max || *size > KMIG_STREAM_MAX_PAYLOAD - 64)
		return -EMSGSIZE;
	n = pread(d->fd, buf, *size, off);
	if (n != (ssize_t)*size)
		return n < 0 ? -errno : -EIO;
	d->bytes += *size;
	return 0;
}

int mig_dev_get_config(struct mig_device *d, uint8_t *buf, uint32_t *len)
{
	struct kmig_device_config cfg = {
		.data = (uintptr_t)buf, .size = KMIG_DEVICE_CONFIG_MAX,
	};

	if (ioctl(d->fd, KMIG_DEVICE_GET_CONFIG, &cfg))
		return -errno;
	*len = cfg.len;
	return 0;
}

static int save_chunk(struct mig_device *d, struct kmig_enc *e, uint8_t *buf,
		      uint64_t *size)
{
	int ret = mig_dev_read_chunk(d, buf, size);

	return ret ? ret : kmig_enc_device(e, KMIG_DEVPKT_DATA_STATE, buf,
					   *size);
}

int mig_dev_pending(struct mig_device *d, uint64_t *pending)
{
	return rd64(d->fd, F_PENDING, pending);
}

int mig_dev_save(struct mig_device *d, struct kmig_enc *e, uint32_t sec_id,
		 uint8_t sec_type, uint64_t budget, bool final)
{
	struct kmig_section sec = {
		.type = sec_type, .id = sec_id, .kind = KMIG_SEC_DEVICE,
		.instance = d->instance, .version = 1,
	};
	uint64_t pending, size, sent = 0;
	uint32_t cfg_len = 0;
	uint8_t *buf;
	int ret;

	buf = malloc(d->data_max > KMIG_DEVICE_CONFIG_MAX ? d->data_max :
		     KMIG_DEVICE_CONFIG_MAX);
	if (!buf)
		return -ENOMEM;
	snprintf(sec.name, sizeof(sec.name), "%s", d->name);
	ret = kmig_enc_section(e, &sec);
	while (!ret) {
		ret = rd64(d->fd, F_PENDING, &pending);
		if (ret || !pending || (budget && sent >= budget))
			break;
		ret = save_chunk(d, e, buf, &size);
		sent += size;
	}
	if (!ret && final) {
		ret = mig_dev_get_config(d, buf, &cfg_len);
		if (!ret)
			ret = kmig_enc_device(e, KMIG_DEVPKT_CONFIG_STATE, buf,
					      cfg_len);
	}
	if (!ret)
		ret = kmig_enc_device(e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	free(buf);
	return ret;
}

int mig_dev_load(struct mig_device *d, uint32_t marker, const void *data,
		 uint32_t size)
{
	struct kmig_device_config cfg;
	uint64_t off;
	ssize_t n;
	int ret;

	switch (marker) {
	case KMIG_DEVPKT_DATA_STATE:
		if (size > d->data_max)
			return -EMSGSIZE;
		ret = rd64(d->fd, F_OFFSET, &off);
		if (ret)
			return ret;
		n = pwrite(d->fd, data, size, off);
		if (n != (ssize_t)size)
			return n < 0 ? -errno : -EIO;
		d->bytes += size;
		return wr64(d->fd, F_SIZE, size);
	case KMIG_DEVPKT_CONFIG_STATE:
		cfg = (struct kmig_device_config) {
			.data = (uintptr_t)data, .size = size,
		};
		return ioctl(d->fd, KMIG_DEVICE_SET_CONFIG, &cfg) ? -errno : 0;
	case KMIG_DEVPKT_END_OF_STATE:
		return 0;
	}
	return -EPROTO;
}
