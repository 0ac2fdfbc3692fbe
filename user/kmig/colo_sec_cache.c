// SPDX-License-Identifier: GPL-2.0
/*
 * The secondary's RAM cache (Documentation/colo.rst): a checkpoint is
 * read whole into staging and CRC-checked; at its commit its pages go
 * into the cache, and every page either side dirtied since the last
 * commit is written from the cache into the VM by --threads threads,
 * each over its own part of every slot.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/kmig.h>

#include "colo_secondary.h"
#include "crc32c.h"
#include "ctx.h"
#include "le.h"
#include "util.h"

/* The cache starts as zeros, as the incoming VM's memory does. */
int colo_sec_cache_init(struct colo_sec *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		s->cache[i] = calloc(1, s->vm.slots[i].size);
		if (!s->cache[i])
			return fail(s, -ENOMEM, "no memory for the RAM cache of slot %u",
				    s->vm.slots[i].id);
	}
	return 0;
}

void colo_sec_cache_free(struct colo_sec *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++)
		free(s->cache[i]);
	free(s->stage);
}

static struct mig_slot *slot_of(struct colo_sec *s, uint32_t id,
				unsigned int *idx)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		if (s->vm.slots[i].id == id) {
			*idx = i;
			return &s->vm.slots[i];
		}
	}
	return NULL;
}

/*
 * Checkpoint @h's body into the staging and state buffers, CRC checked:
 * 0, -EBADMSG for a corrupt one, or the error that cut it.
 */
int colo_sec_receive(struct colo_sec *s, const struct colo_hdr *h,
		     const uint8_t hb[COLO_HDR_SIZE])
{
	size_t rec = COLO_REC_HDR_SIZE + MIG_PAGE, len;
	uint8_t tr[COLO_TRAILER_SIZE];
	uint32_t crc = kmig_crc32c(0, hb, COLO_HDR_SIZE);
	const char *what = h->magic == COLO_LIVE_MAGIC ? "live message" :
			   h->magic == COLO_STRM_MAGIC ?
			   "streamed pages for checkpoint" : "checkpoint";
	unsigned int idx;
	uint64_t i;
	int ret;

	if (h->npages > s->vm.mem_size / MIG_PAGE || h->flags & ~COLO_CKPT_ALL ||
	    h->vcpu_len > VMM_STATE_MAX || h->dev_len > COLO_DEV_MAX)
		return fail(s, -EBADMSG, "%s %llu: bad header (%llu pages, flags 0x%x, %u bytes of vCPU state, %u of device state)",
			    what, (unsigned long long)h->seq,
			    (unsigned long long)h->npages, h->flags,
			    h->vcpu_len, h->dev_len);
	len = h->npages * rec;
	if (len > s->stage_cap) {
		uint8_t *n = realloc(s->stage, len);

		if (!n)
			return fail(s, -ENOMEM, "%s %llu: no memory to stage %llu pages",
				    what, (unsigned long long)h->seq,
				    (unsigned long long)h->npages);
		s->stage = n;
		s->stage_cap = len;
	}
	ret = kmig_io_all(s->sock, s->stage, len, false);
	if (!ret)
		ret = kmig_io_all(s->sock, s->vcpu, h->vcpu_len, false);
	if (!ret)
		ret = colo_devbuf_read(s->sock, &s->dev, h->dev_len);
	if (!ret)
		ret = kmig_io_all(s->sock, tr, sizeof(tr), false);
	if (ret)
		return fail(s, ret, "%s %llu cut short: %s",
			    what, (unsigned long long)h->seq,
			    ret == -ETIMEDOUT ? "silent for --timeout" :
			    strerror(-ret));
	crc = kmig_crc32c(crc, s->stage, len);
	crc = kmig_crc32c(crc, s->vcpu, h->vcpu_len);
	crc = kmig_crc32c(crc, s->dev.buf, s->dev.len);
	if (get_le32(tr) != COLO_END_MAGIC || get_le32(tr + 4) != crc)
		return fail(s, -EBADMSG, "%s %llu: CRC mismatch (%08x sent, %08x computed): refused whole",
			    what, (unsigned long long)h->seq, get_le32(tr + 4), crc);
	/* a CKPT carries every --device's state, a LIVE none */
	if (h->magic == COLO_CKPT_MAGIC &&
	    colo_dev_check(&s->o, s->dev.buf, s->dev.len, s->err,
			   sizeof(s->err)))
		return fail(s, -EBADMSG, "checkpoint %llu: its device state is malformed: refused whole",
			    (unsigned long long)h->seq);
	for (i = 0; i < h->npages; i++) {
		const uint8_t *r = s->stage + i * rec;
		struct mig_slot *sl = slot_of(s, get_le32(r), &idx);

		if (!sl || get_le64(r + 8) >= sl->npages)
			return fail(s, -EBADMSG, "%s %llu: record %llu names page %llu of slot %u, which this VM has not",
				    what, (unsigned long long)h->seq,
				    (unsigned long long)i,
				    (unsigned long long)get_le64(r + 8),
				    get_le32(r));
	}
	return 0;
}

/* OR the VM's own dirty log into its bitmaps (@keep), or drop it. */
static int own_dirty(struct colo_sec *s, bool keep)
{
	return mig_vm_harvest(&s->vm, s->tmp, keep, NULL, s->err,
			      sizeof(s->err));
}

/* The pages marked to flush, in every slot. */
static uint64_t marked_pages(const struct colo_sec *s)
{
	uint64_t n = 0, w;
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++)
		for (w = 0; w < kmig_bitmap_words(s->vm.slots[i].npages); w++)
			n += __builtin_popcountll(s->vm.slots[i].bitmap[w]);
	return n;
}

/* Pages written with one pwritev() at most. */
#define FLUSH_RUN	64u

static bool marked(const struct mig_slot *sl, uint64_t pg)
{
	return sl->bitmap[pg / 64] & (1ull << (pg % 64));
}

/*
 * Each flush thread's share: pages [@from, @to) of every slot, so that
 * the threads of one flush write disjoint ranges, and their first error.
 */
struct flush_part {
	struct colo_sec *s;
	uint64_t from, to;		/* of each slot, in 1/threads */
	unsigned int nth, threads;
	uint64_t written;
	int ret;
	char why[160];
};

/* One thread's share: its marked pages, runs of them at once. */
static void *flush_part(void *arg)
{
	struct flush_part *f = arg;
	struct colo_sec *s = f->s;
	struct iovec iov[FLUSH_RUN];
	unsigned int i, n, done;
	uint64_t pg, first, end;

	for (i = 0; i < s->vm.nslots && !f->ret; i++) {
		struct mig_slot *sl = &s->vm.slots[i];

		pg = sl->npages * f->nth / f->threads;
		end = sl->npages * (f->nth + 1) / f->threads;
		for (; pg < end; pg++) {
			if (!marked(sl, pg))
				continue;
			first = pg;
			for (n = 0; n < FLUSH_RUN && pg < end && marked(sl, pg);
			     n++, pg++) {
				iov[n].iov_base = s->cache[i] + pg * MIG_PAGE;
				iov[n].iov_len = MIG_PAGE;
			}
			f->ret = kmig_ctx_write_pages(s->vm.ctx_fd, sl->id,
						      first, iov, n, &done);
			if (f->ret) {
				snprintf(f->why, sizeof(f->why),
					 "cannot write page %llu of slot %u: %s",
					 (unsigned long long)(first + done),
					 sl->id, strerror(-f->ret));
				break;
			}
			f->written += n;
			pg = first + n - 1;	/* the loop goes on after it */
		}
	}
	return NULL;
}

/*
 * Every marked page from the cache into the VM, with --threads threads
 * (this one included), each over its own part of every slot.
 */
static int flush_cache(struct colo_sec *s, uint64_t *written)
{
	struct flush_part part[COLO_MAX_THREADS] = { };
	pthread_t tid[COLO_MAX_THREADS];
	unsigned int i, started = 0;
	int ret = 0;

	for (i = 0; i < s->threads; i++)
		part[i] = (struct flush_part){ .s = s, .nth = i,
					       .threads = s->threads };
	for (i = 1; i < s->threads; i++, started++)
		if (pthread_create(&tid[i], NULL, flush_part, &part[i]))
			break;
	flush_part(&part[0]);
	/* a thread that could not start: its share here */
	for (i = started + 1; i < s->threads; i++)
		flush_part(&part[i]);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	*written = 0;
	for (i = 0; i < s->threads; i++) {
		*written += part[i].written;
		if (part[i].ret && !ret)
			ret = fail(s, part[i].ret, "%s", part[i].why);
	}
	for (i = 0; i < s->vm.nslots; i++)
		memset(s->vm.slots[i].bitmap, 0,
		       kmig_bitmap_words(s->vm.slots[i].npages) * 8);
	return ret;
}

/* The staged pages of @h into the RAM cache, each marked to flush. */
static void stage_to_cache(struct colo_sec *s, const struct colo_hdr *h)
{
	size_t rec = COLO_REC_HDR_SIZE + MIG_PAGE;
	unsigned int idx = 0;
	uint64_t i, pg;

	for (i = 0; i < h->npages; i++) {
		const uint8_t *r = s->stage + i * rec;
		struct mig_slot *sl = slot_of(s, get_le32(r), &idx);

		pg = get_le64(r + 8);
		memcpy(s->cache[idx] + pg * MIG_PAGE, r + COLO_REC_HDR_SIZE,
		       MIG_PAGE);
		sl->bitmap[pg / 64] |= 1ull << (pg % 64);
	}
}

/*
 * Write into the VM, from the cache, every page staged by @h (if any) and,
 * with @own_too, every page the VM wrote since the last write-back (its
 * own dirty log; else that log is dropped); then empty the log of what
 * this agent just wrote, which is no write of the guest's.
 */
int colo_sec_write_back(struct colo_sec *s, const struct colo_hdr *h,
			bool own_too, struct write_back *wb)
{
	uint64_t t;
	int ret;

	ret = own_dirty(s, own_too);
	if (ret)
		return ret;
	wb->own = own_too ? marked_pages(s) : 0;
	/* what streamed before the checkpoint first: its copies are later */
	if (h && h->magic == COLO_CKPT_MAGIC)
		colo_sec_stream_to_cache(s);
	if (h)
		stage_to_cache(s, h);
	t = kmig_now_ns();
	ret = flush_cache(s, &wb->written);
	wb->flush_ns = kmig_now_ns() - t;
	return ret ? ret : own_dirty(s, false);
}
