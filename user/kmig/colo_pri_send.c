// SPDX-License-Identifier: GPL-2.0
/*
 * What `kmig colo primary` sends (Documentation/colo.rst, the message
 * table): a message's header, its pages as records in batches, the vCPU
 * and device state, and the trailer with the CRC of all of it; the
 * devices' state saved at the pause; and the tests' points and
 * corruptions along the way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_primary.h"
#include "crc32c.h"
#include "le.h"
#include "util.h"

static int send_all(struct colo_pri *p, const void *b, size_t len,
		    uint32_t *crc)
{
	int ret;

	*crc = kmig_crc32c(*crc, b, len);
	ret = kmig_io_all(p->sock, (void *)b, len, true);
	if (ret)
		return fail(p, ret, "checkpoint %llu: cannot send to the secondary: %s",
			    (unsigned long long)p->seq, strerror(-ret));
	return 0;
}

/*
 * Tests: KMIG_STOP_AT=colo-WHAT-SEQ stops this agent at point WHAT of
 * checkpoint SEQ (util.h): paused, the guest paused and nothing sent;
 * mid-checkpoint, its first COLO_PRI_BATCH pages
 * sent (all, if fewer), its other pages, vCPU state and trailer not;
 * before-ack, sent whole and its ACK not read; released, its output
 * released. colo-mid-stream-SEQ-M: the same point of STRM message M
 * (0, 1, ...) sent after checkpoint SEQ committed;
 * colo-streamed-SEQ-M: that message sent whole.
 * KMIG_DELAY_AT=colo-WHAT-SEQ:MS holds its main thread there MS ms
 * instead, the heartbeat going on.
 */
void colo_pri_stop_point(const struct colo_pri *p, const char *what)
{
	char point[64];

	if (p->live)
		return;
	if (p->streaming)
		snprintf(point, sizeof(point), "colo-%s-%llu-%llu", what,
			 (unsigned long long)p->seq,
			 (unsigned long long)p->stream_msgs);
	else
		snprintf(point, sizeof(point), "colo-%s-%llu", what,
			 (unsigned long long)p->seq);
	kmig_stop_at(point);
	kmig_delay_at(point);
}

/*
 * Tests: KMIG_COLO_CORRUPT=SEQ sends checkpoint SEQ with a wrong CRC;
 * KMIG_COLO_CORRUPT_STREAM=SEQ, the STRM messages sent after it;
 * KMIG_COLO_CORRUPT_DEVICE=SEQ with a byte of its first device's first
 * chunk changed, under a right CRC (the device's own check finds it).
 */
static bool corrupt_point(const struct colo_pri *p, const char *var)
{
	const char *at = getenv(var);

	return at && strtoull(at, NULL, 10) == p->seq;
}

/* The first @max pages in the bitmaps as records, in batches; each
 * one's bit cleared once sent. */
static int send_pages(struct colo_pri *p, uint32_t *crc, uint64_t max)
{
	size_t rec = COLO_REC_HDR_SIZE + MIG_PAGE, fill = 0;
	uint64_t pg, sent = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < p->vm.nslots && sent < max; i++) {
		struct mig_slot *sl = &p->vm.slots[i];

		for (pg = 0; pg < sl->npages && sent < max; pg++) {
			uint8_t *r = p->buf + fill;

			if (!(sl->bitmap[pg / 64] & (1ull << (pg % 64))))
				continue;
			sl->bitmap[pg / 64] &= ~(1ull << (pg % 64));
			sent++;
			memset(r, 0, COLO_REC_HDR_SIZE);
			put_le32(r, sl->id);
			put_le64(r + 8, pg);
			memcpy(r + COLO_REC_HDR_SIZE, sl->map + pg * MIG_PAGE,
			       MIG_PAGE);
			fill += rec;
			if (fill < rec * COLO_PRI_BATCH)
				continue;
			ret = send_all(p, p->buf, fill, crc);
			if (ret)
				return ret;
			fill = 0;
		}
	}
	return fill ? send_all(p, p->buf, fill, crc) : 0;
}

/* Header, records, vCPU state, trailer (colo_primary.h). */
int colo_pri_send_msg(struct colo_pri *p, uint64_t seq, uint64_t npages,
		      const uint8_t *vcpu, size_t vlen)
{
	struct colo_hdr h = {
		.magic = p->live ? COLO_LIVE_MAGIC :
			 p->streaming ? COLO_STRM_MAGIC : COLO_CKPT_MAGIC,
		.seq = seq, .npages = npages, .vcpu_len = vlen,
		.dev_len = p->live || p->streaming ? 0 : p->dev.len,
		.flags = p->verify && !p->live && !p->streaming ?
			 COLO_CKPT_VERIFY : 0,
	};
	uint8_t hb[COLO_HDR_SIZE], tr[COLO_TRAILER_SIZE];
	uint64_t first = npages < COLO_PRI_BATCH ? npages : COLO_PRI_BATCH;
	uint32_t crc = 0;
	int ret;

	colo_hdr_encode(&h, hb);
	ret = send_all(p, hb, sizeof(hb), &crc);
	/* the tests' point in the middle: after one batch, or all if fewer */
	if (!ret)
		ret = send_pages(p, &crc, first);
	if (!ret) {
		colo_pri_stop_point(p, p->streaming ? "mid-stream" :
						      "mid-checkpoint");
		ret = send_pages(p, &crc, npages - first);
	}
	if (!ret && vlen)
		ret = send_all(p, vcpu, vlen, &crc);
	if (!ret && h.dev_len)
		ret = send_all(p, p->dev.buf, h.dev_len, &crc);
	if (ret)
		return colo_pri_stream_why(p, ret);
	if (!p->live && corrupt_point(p, p->streaming ?
				      "KMIG_COLO_CORRUPT_STREAM" :
				      "KMIG_COLO_CORRUPT"))
		crc ^= 1;
	put_le32(tr, COLO_END_MAGIC);
	put_le32(tr + 4, crc);
	ret = kmig_io_all(p->sock, tr, sizeof(tr), true);
	if (ret)
		fail(p, ret, "checkpoint %llu: cannot send its trailer: %s",
		     (unsigned long long)p->seq, strerror(-ret));
	return ret ? colo_pri_stream_why(p, ret) : 0;
}

/* Tests: a byte of the last device's first chunk changed (the earlier
 * devices' state is intact: they take it, and must give it up). */
static void corrupt_last_device(struct colo_pri *p)
{
	size_t at = 0;
	unsigned int i;

	for (i = 0; i + 1 < p->o.ndevs; i++)
		at += COLO_DEV_HDR_SIZE + get_le32(p->dev.buf + at);
	at += COLO_DEV_HDR_SIZE + COLO_DEV_PKT_SIZE + 64;
	if (at < p->dev.len)
		p->dev.buf[at] ^= 0x5a;
}

/*
 * The guest paused: every --device's whole state into p->dev, each
 * device stopped (stop-and-copy), and with --verify its CRC.
 */
int colo_pri_save_devices(struct colo_pri *p)
{
	uint64_t t0 = kmig_now_ns();
	int ret;

	if (!p->o.ndevs)
		return 0;
	ret = colo_dev_save(&p->o, &p->dev, p->err, sizeof(p->err));
	if (ret)
		return ret;
	p->dev_save_ns = kmig_now_ns() - t0;
	p->devcrc = p->verify ? kmig_crc32c(0, p->dev.buf, p->dev.len) : 0;
	if (corrupt_point(p, "KMIG_COLO_CORRUPT_DEVICE"))
		corrupt_last_device(p);
	return 0;
}

/* ", devices N bytes[, crc X]" for the checkpoint's line, "" without. */
const char *colo_pri_devices_str(struct colo_pri *p)
{
	static char s[128];

	if (!p->o.ndevs)
		return "";
	snprintf(s, sizeof(s), ", devices %zu bytes saved in %.2f ms, sent with the rest in %.2f ms",
		 p->dev.len, p->dev_save_ns / 1e6, p->send_ns / 1e6);
	if (p->verify)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), ", device crc %08x",
			 p->devcrc);
	return s;
}
