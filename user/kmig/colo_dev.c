// SPDX-License-Identifier: GPL-2.0
/*
 * Device state in COLO checkpoints (Documentation/colo.rst, "Devices"):
 * the --device list both roles announce and check in the hello, and each
 * checkpoint's DEVS section, saved whole while the guest is paused and
 * loaded whole at the secondary's commit, all devices or none.
 *
 * The section is each --device's block in order: len u32 (bytes of its
 * packets), index u32; then packets of marker u32, 0 u32, size u64 and
 * size bytes: DATA_STATE chunks, one CONFIG_STATE, END_OF_STATE last
 * (user/stream/format.h's markers, as a DEVICE_STATE record carries
 * them). A device's saved state defines all of it (device-region.rst,
 * "Total loads"), so the secondary's device is never reset before a
 * load, and a load it refuses leaves it as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kmig.h>

#include "colo.h"
#include "crc32c.h"
#include "le.h"
#include "mig.h"
#include "util.h"

#define STOP		KMIG_DEVICE_STATE_STOP
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define RESUMING	KMIG_DEVICE_STATE_RESUMING

static const char *dev_str(const struct mig_device *d, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%u", d->name, d->instance);
	return buf;
}

uint8_t *colo_dev_hello_encode(const struct mig_opts *o, size_t *len)
{
	uint8_t *b, *p;
	unsigned int i;

	*len = COLO_HELLO_DEVS_SIZE + COLO_HELLO_DEV_SIZE * o->ndevs;
	b = calloc(1, *len);
	if (!b)
		return NULL;
	put_le32(b, o->ndevs);
	for (i = 0; i < o->ndevs; i++) {
		p = b + COLO_HELLO_DEVS_SIZE + COLO_HELLO_DEV_SIZE * i;
		memcpy(p, o->devs[i].name, strlen(o->devs[i].name));
		put_le32(p + 32, o->devs[i].instance);
	}
	return b;
}

/* "NAME:INST, NAME:INST" of a list, "none" when empty. */
static void list_str(char *buf, size_t n, unsigned int count,
		     const char names[][33], const uint32_t *inst)
{
	size_t at = 0;
	unsigned int i;

	snprintf(buf, n, "none");
	for (i = 0; i < count && at < n; i++)
		at += snprintf(buf + at, n - at, "%s%s:%u", i ? ", " : "",
			       names[i], inst[i]);
}

int colo_dev_hello_read(int sock, const struct mig_opts *o, char *err,
			size_t n)
{
	char theirs[MIG_MAX_DEVICES][33] = { }, ours[MIG_MAX_DEVICES][33];
	uint32_t tinst[MIG_MAX_DEVICES], oinst[MIG_MAX_DEVICES], count, i;
	uint8_t b[COLO_HELLO_DEV_SIZE];
	char tl[MIG_MAX_DEVICES * 48], ol[MIG_MAX_DEVICES * 48];
	bool same;
	int ret;

	ret = kmig_io_all(sock, b, COLO_HELLO_DEVS_SIZE, false);
	if (ret)
		return mig_fail(err, n, ret, "the primary's hello is cut: %s",
				strerror(-ret));
	count = get_le32(b);
	if (count > MIG_MAX_DEVICES || get_le32(b + 4))
		return mig_fail(err, n, -EPROTO, "the primary announces %u devices (0..%u)",
				count, MIG_MAX_DEVICES);
	same = count == o->ndevs;
	for (i = 0; i < count; i++) {
		ret = kmig_io_all(sock, b, COLO_HELLO_DEV_SIZE, false);
		if (ret)
			return mig_fail(err, n, ret, "the primary's hello is cut: %s",
					strerror(-ret));
		memcpy(theirs[i], b, 32);
		tinst[i] = get_le32(b + 32);
		if (!memchr(b, 0, 32) || !theirs[i][0])
			return mig_fail(err, n, -EPROTO, "the primary's device %u has no name",
					i);
		if (i < o->ndevs && strcmp(theirs[i], o->devs[i].name))
			same = false;
	}
	if (same)
		return 0;
	for (i = 0; i < o->ndevs; i++) {
		snprintf(ours[i], sizeof(ours[i]), "%s", o->devs[i].name);
		oinst[i] = o->devs[i].instance;
	}
	list_str(tl, sizeof(tl), count, theirs, tinst);
	list_str(ol, sizeof(ol), o->ndevs, ours, oinst);
	return mig_fail(err, n, -ENODEV, "the primary checkpoints devices (%s), this secondary takes (%s): give both the same kinds of --device in the same order",
			tl, ol);
}

int colo_dev_open_all(struct mig_opts *o, uint32_t state, char *err,
		      size_t n)
{
	unsigned int i;
	int ret;

	for (i = 0; i < o->ndevs; i++) {
		ret = mig_dev_open(&o->devs[i], err, n);
		if (ret)
			return ret;
	}
	return colo_dev_set_all(o, state, err, n);
}

int colo_dev_set_all(struct mig_opts *o, uint32_t state, char *err,
		     size_t n)
{
	char name[48];
	unsigned int i;
	int ret;

	for (i = 0; i < o->ndevs; i++) {
		ret = mig_dev_set_state(&o->devs[i], state);
		if (ret)
			return mig_fail(err, n, ret, "device %s: cannot enter state %u: %s",
					dev_str(&o->devs[i], name, sizeof(name)),
					state, strerror(-ret));
	}
	return 0;
}

void colo_dev_close_all(struct mig_opts *o, uint32_t state)
{
	unsigned int i;

	for (i = 0; i < o->ndevs; i++) {
		if (o->devs[i].fd >= 0)
			mig_dev_set_state(&o->devs[i], state);
		mig_dev_close(&o->devs[i]);
	}
}

void colo_devbuf_free(struct colo_devbuf *b)
{
	free(b->buf);
	*b = (struct colo_devbuf){ };
}

/* Room for @more bytes at the end of @b: 0 or -ENOMEM. */
static int reserve(struct colo_devbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 1u << 20;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p)
		return -ENOMEM;
	b->buf = p;
	b->cap = cap;
	return 0;
}

/* A packet's header at @p, its @size bytes to follow. */
static void put_packet(uint8_t *p, uint32_t marker, uint64_t size)
{
	put_le32(p, marker);
	put_le32(p + 4, 0);
	put_le64(p + 8, size);
}

/* Device @d's whole state as its block at the end of @b. */
static int save_one(struct mig_device *d, uint32_t index,
		    struct colo_devbuf *b)
{
	size_t start = b->len;
	uint64_t pending, size;
	uint32_t cfg;
	int ret;

	ret = reserve(b, COLO_DEV_HDR_SIZE);
	if (ret)
		return ret;
	b->len += COLO_DEV_HDR_SIZE;
	/* stop-and-copy: the device stops, every byte of it is pending */
	ret = mig_dev_set_state(d, SAVING);
	while (!ret) {
		ret = mig_dev_pending(d, &pending);
		if (ret || !pending)
			break;
		ret = reserve(b, COLO_DEV_PKT_SIZE + d->data_max);
		if (!ret)
			ret = mig_dev_read_chunk(d, b->buf + b->len +
						 COLO_DEV_PKT_SIZE, &size);
		if (ret)
			break;
		put_packet(b->buf + b->len, KMIG_DEVPKT_DATA_STATE, size);
		b->len += COLO_DEV_PKT_SIZE + size;
	}
	if (!ret)
		ret = reserve(b, 2 * COLO_DEV_PKT_SIZE + KMIG_DEVICE_CONFIG_MAX);
	if (!ret)
		ret = mig_dev_get_config(d, b->buf + b->len + COLO_DEV_PKT_SIZE,
					 &cfg);
	if (ret)
		return ret;
	put_packet(b->buf + b->len, KMIG_DEVPKT_CONFIG_STATE, cfg);
	b->len += COLO_DEV_PKT_SIZE + cfg;
	put_packet(b->buf + b->len, KMIG_DEVPKT_END_OF_STATE, 0);
	b->len += COLO_DEV_PKT_SIZE;
	if (b->len - start - COLO_DEV_HDR_SIZE > COLO_DEV_MAX)
		return -EMSGSIZE;
	put_le32(b->buf + start, b->len - start - COLO_DEV_HDR_SIZE);
	put_le32(b->buf + start + 4, index);
	return 0;
}

int colo_dev_save(struct mig_opts *o, struct colo_devbuf *b, char *err,
		  size_t n)
{
	char name[48];
	unsigned int i;
	int ret;

	b->len = 0;
	for (i = 0; i < o->ndevs; i++) {
		ret = save_one(&o->devs[i], i, b);
		if (ret)
			return mig_fail(err, n, ret, "device %s: cannot save its state: %s",
					dev_str(&o->devs[i], name, sizeof(name)),
					strerror(-ret));
	}
	if (b->len > COLO_DEV_MAX)
		return mig_fail(err, n, -EMSGSIZE, "the devices' state is %zu bytes, more than a checkpoint carries (%u)",
				b->len, COLO_DEV_MAX);
	return 0;
}

/*
 * Walk device @i's block in @b at *@at: its packets' extent in [*@from,
 * *@to), *@at moved past it. 0, or -EBADMSG with why in @err.
 */
static int block(const uint8_t *b, size_t len, unsigned int i, size_t *at,
		 size_t *from, size_t *to, char *err, size_t n)
{
	uint32_t blen;

	if (len - *at < COLO_DEV_HDR_SIZE)
		return mig_fail(err, n, -EBADMSG, "device %u: its state is missing",
				i);
	blen = get_le32(b + *at);
	if (get_le32(b + *at + 4) != i || blen > len - *at - COLO_DEV_HDR_SIZE)
		return mig_fail(err, n, -EBADMSG, "device %u: its place holds %u bytes for device %u",
				i, blen, get_le32(b + *at + 4));
	*from = *at + COLO_DEV_HDR_SIZE;
	*to = *from + blen;
	*at = *to;
	return 0;
}

/* The next packet of a block at *@at (< @to): 0, *@at past it; or -EBADMSG. */
static int packet(const uint8_t *b, size_t *at, size_t to, uint32_t *marker,
		  const uint8_t **data, uint64_t *size)
{
	if (to - *at < COLO_DEV_PKT_SIZE)
		return -EBADMSG;
	*marker = get_le32(b + *at);
	*size = get_le64(b + *at + 8);
	if (get_le32(b + *at + 4) || *size > to - *at - COLO_DEV_PKT_SIZE)
		return -EBADMSG;
	*data = b + *at + COLO_DEV_PKT_SIZE;
	*at += COLO_DEV_PKT_SIZE + *size;
	return 0;
}

int colo_dev_check(const struct mig_opts *o, const uint8_t *b, size_t len,
		   char *err, size_t n)
{
	size_t at = 0, p, to;
	unsigned int i, configs;
	const uint8_t *data;
	uint32_t marker = 0;
	uint64_t size;
	int ret;

	for (i = 0; i < o->ndevs; i++) {
		ret = block(b, len, i, &at, &p, &to, err, n);
		if (ret)
			return ret;
		configs = 0;
		while (p < to) {
			if (packet(b, &p, to, &marker, &data, &size) ||
			    (marker != KMIG_DEVPKT_DATA_STATE &&
			     marker != KMIG_DEVPKT_CONFIG_STATE &&
			     marker != KMIG_DEVPKT_END_OF_STATE) ||
			    (marker == KMIG_DEVPKT_END_OF_STATE &&
			     (size || p != to)) ||
			    size > (marker == KMIG_DEVPKT_CONFIG_STATE ?
				    KMIG_DEVICE_CONFIG_MAX :
				    o->devs[i].data_max))
				return mig_fail(err, n, -EBADMSG, "device %u: a bad packet at byte %zu of its block",
						i, p);
			configs += marker == KMIG_DEVPKT_CONFIG_STATE;
		}
		if (marker != KMIG_DEVPKT_END_OF_STATE || configs != 1)
			return mig_fail(err, n, -EBADMSG, "device %u: its state has %u configs and %s",
					i, configs,
					marker == KMIG_DEVPKT_END_OF_STATE ?
					"an end" : "no end");
	}
	if (at != len)
		return mig_fail(err, n, -EBADMSG, "%zu bytes after the last device's state",
				len - at);
	return 0;
}

/* Device @d's block [@from, @to) of @b, the device in RESUMING. */
static int feed(struct mig_device *d, const uint8_t *b, size_t from,
		size_t to, char *err, size_t n)
{
	const uint8_t *data;
	uint32_t marker = 0;
	uint64_t size = 0;
	char name[48];
	int ret = 0;

	while (!ret && from < to) {
		ret = packet(b, &from, to, &marker, &data, &size);
		if (!ret)
			ret = mig_dev_load(d, marker, data, size);
		if (ret)
			return mig_fail(err, n, ret, "device %s refused its state (%s, %llu bytes): %s",
					dev_str(d, name, sizeof(name)),
					kmig_devpkt_name(marker),
					(unsigned long long)size,
					strerror(-ret));
	}
	return 0;
}

/*
 * Devices [@first, @last) leave RESUMING, or the error state a refused
 * load put them in, without what they were given: the driver drops the
 * load under way (the reset), the device keeps its previous state, and
 * stops again.
 */
static void abandon(struct mig_opts *o, unsigned int first,
		    unsigned int last)
{
	unsigned int i;

	for (i = first; i < last; i++) {
		mig_dev_reset(&o->devs[i]);
		mig_dev_set_state(&o->devs[i], STOP);
	}
}

/* Devices [0, @upto) loaded whole from @b (checked), left stopped. */
static int load_some(struct mig_opts *o, const uint8_t *b, size_t len,
		     unsigned int upto, unsigned int *took, char *err,
		     size_t n)
{
	size_t at = 0, from[MIG_MAX_DEVICES], to[MIG_MAX_DEVICES];
	char name[48];
	unsigned int i;
	int ret;

	*took = 0;
	for (i = 0; i < upto; i++) {
		ret = block(b, len, i, &at, &from[i], &to[i], err, n);
		if (!ret)
			ret = mig_dev_set_state(&o->devs[i], RESUMING);
		if (!ret)
			ret = feed(&o->devs[i], b, from[i], to[i], err, n);
		if (ret) {
			abandon(o, 0, i + 1);
			return mig_fail(err, n, ret, "device %s cannot resume: %s",
					dev_str(&o->devs[i], name, sizeof(name)),
					strerror(-ret));
		}
	}
	/* every device took every packet: now each makes its state its own */
	for (i = 0; i < upto; i++, (*took)++) {
		ret = mig_dev_set_state(&o->devs[i], STOP);
		if (ret) {
			abandon(o, i, upto);
			return mig_fail(err, n, ret, "device %s refused its state as a whole: %s",
					dev_str(&o->devs[i], name, sizeof(name)),
					strerror(-ret));
		}
	}
	return 0;
}

int colo_dev_load(struct mig_opts *o, const struct colo_devbuf *b,
		  const struct colo_devbuf *last, char *err, size_t n)
{
	unsigned int took, back;
	int ret;

	if (!o->ndevs)
		return 0;
	ret = load_some(o, b->buf, b->len, o->ndevs, &took, err, n);
	if (!ret || !took)
		return ret;
	/*
	 * Devices [0, took) have the refused checkpoint's state: back to the
	 * last committed one (none before checkpoint 0: nothing to keep).
	 */
	if (last && last->len &&
	    !load_some(o, last->buf, last->len, took, &back, err, n))
		return ret;
	return mig_fail(err, n, -EIO, "%u devices keep the refused state",
			took);
}

int colo_devbuf_read(int sock, struct colo_devbuf *b, size_t len)
{
	int ret;

	b->len = 0;
	ret = reserve(b, len);
	if (!ret)
		ret = kmig_io_all(sock, b->buf, len, false);
	if (!ret)
		b->len = len;
	return ret;
}

int colo_dev_crc(struct mig_opts *o, struct colo_devbuf *scratch,
		 uint32_t *crc, char *err, size_t n)
{
	int ret = colo_dev_save(o, scratch, err, n);

	if (!ret)
		ret = colo_dev_set_all(o, STOP, err, n);
	*crc = ret ? 0 : kmig_crc32c(0, scratch->buf, scratch->len);
	return ret;
}
