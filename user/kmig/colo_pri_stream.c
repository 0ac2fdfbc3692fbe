// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo primary --stream MS`: between checkpoints, while the guest
 * runs, the pages it dirtied go ahead to the secondary in STRM messages,
 * so that a checkpoint's pause carries only what the guest dirtied since
 * the last of them (Documentation/colo.rst, "Streaming").
 *
 * Why a page sent early is never stale at the commit: the harvest
 * empties the dirty log and re-arms every page it reports before it
 * returns (kernel/dirty.c), and the page is read only after that. A
 * write that lands after the harvest is in the next one, whose copy goes
 * later on the same connection (another STRM message, or the checkpoint
 * itself, in its pause); the secondary applies them in order, so the
 * last copy of each page is the one it keeps. A page not written again
 * since its last harvest reads the same then as at the pause.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "colo_primary.h"
#include "util.h"

/* All the pages of the guest: an epoch streams no more than that. */
static uint64_t vm_pages(const struct colo_pri *p)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < p->vm.nslots; i++)
		n += p->vm.slots[i].npages;
	return n;
}

/*
 * What the guest dirtied since the last harvest, in STRM messages of at
 * most COLO_STRM_PAGES pages, numbered for the checkpoint to come. A
 * guest that rewrites its pages faster than they go would send them
 * again and again: once an epoch has streamed as many pages as the
 * guest has, the rest waits for the pause.
 */
int colo_pri_stream(struct colo_pri *p)
{
	uint64_t npages, left, n;
	int ret;

	if (p->streamed >= vm_pages(p))
		return 0;
	ret = colo_pri_collect(p, &npages);
	p->streaming = true;
	for (left = npages; !ret && left; left -= n) {
		n = left < COLO_STRM_PAGES ? left : COLO_STRM_PAGES;
		ret = colo_pri_send_msg(p, p->seq + 1, n, NULL, 0);
		if (ret)
			break;
		colo_pri_stop_point(p, "streamed");
		p->stream_msgs++;
		p->streamed += n;
	}
	p->streaming = false;
	return ret;
}

/*
 * The secondary wrote before the ACK of checkpoint @seq: a NACK of the
 * STRM messages for it (it refused one whole and gives up), or the end
 * of the connection.
 */
int colo_pri_stream_answer(struct colo_pri *p, uint64_t seq)
{
	uint8_t b[COLO_ACK_SIZE];
	struct colo_ack a;
	int ret;

	ret = kmig_io_all(p->sock, b, sizeof(b), false);
	if (ret)
		return fail(p, ret, "the secondary is lost after checkpoint %llu: %s",
			    (unsigned long long)p->seq,
			    ret == -ECONNRESET ? "it closed the connection" :
			    strerror(-ret));
	if (colo_ack_decode(&a, b) || a.seq != seq || !a.status ||
	    !a.streamed)
		return fail(p, -EPROTO, "checkpoint %llu: the secondary answered something else than a refusal while pages streamed",
			    (unsigned long long)seq);
	p->refused = true;
	return fail(p, a.status, "checkpoint %llu: the secondary refused its streamed pages: %s",
		    (unsigned long long)seq, strerror(-a.status));
}

/*
 * The secondary closes the connection once it refused a STRM message,
 * so the next send may fail before the NACK is read: the NACK is still
 * there to read (data received before a reset is read first).
 */
int colo_pri_stream_why(struct colo_pri *p, int ret)
{
	if (!p->stream_ms || p->live || (ret != -EPIPE && ret != -ECONNRESET))
		return ret;
	p->err[0] = 0;
	return colo_pri_stream_answer(p, p->streaming ? p->seq + 1 : p->seq);
}

const char *colo_pri_stream_note(const struct colo_pri *p, char *buf,
				 size_t n)
{
	if (!p->stream_ms)
		return "";
	snprintf(buf, n, ", %llu streamed before in %llu messages",
		 (unsigned long long)p->streamed,
		 (unsigned long long)p->stream_msgs);
	return buf;
}

void colo_pri_stream_next(struct colo_pri *p)
{
	p->streamed_sum += p->streamed;
	p->streamed = 0;
	p->stream_msgs = 0;
}
