// SPDX-License-Identifier: GPL-2.0
/*
 * The secondary's side of --stream (Documentation/colo.rst,
 * "Streaming"): STRM messages come between checkpoints with pages the
 * primary's guest dirtied while it ran. They belong to the checkpoint to
 * come and must not reach the RAM cache before it commits: the cache is
 * the last committed checkpoint, what a takeover resumes from. So they
 * are staged here, one copy per page (a page streamed again replaces its
 * copy, which bounds the staging to the guest's size), and that
 * checkpoint's commit puts them into the cache first, its own pages
 * after them: of a page in both, the checkpoint's copy is the later one
 * and wins. A checkpoint that never commits drops them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo_secondary.h"
#include "le.h"

/* The index of slot @id in s->vm.slots (the records were checked). */
static unsigned int slot_index(const struct colo_sec *s, uint32_t id)
{
	unsigned int i;

	for (i = 0; i + 1 < s->vm.nslots; i++)
		if (s->vm.slots[i].id == id)
			break;
	return i;
}

/* Room for one more copy: 0, or -ENOMEM. Never more than the guest's. */
static int stream_room(struct colo_sec *s)
{
	struct colo_stream *st = &s->strm;
	uint64_t max = s->vm.mem_size / MIG_PAGE;
	uint64_t cap = st->cap ? st->cap * 2 : 256;
	struct colo_stream_page *pages;
	uint8_t *data;

	if (st->n < st->cap)
		return 0;
	cap = cap < max ? cap : max;
	if (st->n >= cap)
		return -ENOMEM;		/* cannot happen: one copy a page */
	data = realloc(st->data, cap * MIG_PAGE);
	if (!data)
		return -ENOMEM;
	st->data = data;
	pages = realloc(st->pages, cap * sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	st->pages = pages;
	st->cap = cap;
	return 0;
}

/* Per slot, where each page's copy is: allocated at the first STRM. */
static int stream_index(struct colo_sec *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		if (s->strm.at[i])
			continue;
		s->strm.at[i] = calloc(s->vm.slots[i].npages, sizeof(uint32_t));
		if (!s->strm.at[i])
			return -ENOMEM;
	}
	return 0;
}

/* The records of the STRM message in s->stage into the staging. */
static int stream_stage(struct colo_sec *s, const struct colo_hdr *h)
{
	size_t rec = COLO_REC_HDR_SIZE + MIG_PAGE;
	struct colo_stream *st = &s->strm;
	unsigned int si;
	uint64_t i, pg;
	uint32_t *at;
	int ret;

	ret = stream_index(s);
	for (i = 0; !ret && i < h->npages; i++) {
		const uint8_t *r = s->stage + i * rec;

		si = slot_index(s, get_le32(r));
		pg = get_le64(r + 8);
		at = &st->at[si][pg];
		if (!*at) {
			ret = stream_room(s);
			if (ret)
				break;
			st->pages[st->n] = (struct colo_stream_page){
				.slot = si, .page = pg };
			*at = ++st->n;
		}
		memcpy(st->data + (uint64_t)(*at - 1) * MIG_PAGE,
		       r + COLO_REC_HDR_SIZE, MIG_PAGE);
	}
	if (ret)
		return fail(s, ret, "checkpoint %llu: no memory to stage %llu streamed pages",
			    (unsigned long long)h->seq,
			    (unsigned long long)st->n + 1);
	st->msgs++;
	st->received += h->npages;
	return 0;
}

int colo_sec_stream_receive(struct colo_sec *s, const struct colo_hdr *h,
			    const uint8_t hb[COLO_HDR_SIZE])
{
	int ret;

	if (!s->committed)
		return fail(s, -EPROTO, "streamed pages for checkpoint %llu before checkpoint 0 committed",
			    (unsigned long long)h->seq);
	if (h->seq != s->last + 1 || h->flags || h->vcpu_len || !h->npages ||
	    h->npages > COLO_STRM_PAGES)
		return fail(s, -EPROTO, "streamed pages for checkpoint %llu (%llu pages, flags 0x%x, %u bytes of vCPU state) after checkpoint %llu",
			    (unsigned long long)h->seq,
			    (unsigned long long)h->npages, h->flags,
			    h->vcpu_len, (unsigned long long)s->last);
	ret = colo_sec_receive(s, h, hb);
	return ret ? ret : stream_stage(s, h);
}

void colo_sec_stream_to_cache(struct colo_sec *s)
{
	struct colo_stream *st = &s->strm;
	struct mig_slot *sl;
	uint64_t i, pg;
	unsigned int si;

	for (i = 0; i < st->n; i++) {
		si = st->pages[i].slot;
		pg = st->pages[i].page;
		sl = &s->vm.slots[si];
		memcpy(s->cache[si] + pg * MIG_PAGE, st->data + i * MIG_PAGE,
		       MIG_PAGE);
		sl->bitmap[pg / 64] |= 1ull << (pg % 64);
		st->at[si][pg] = 0;
	}
	if (st->msgs)
		fprintf(stderr, "kmig colo secondary: checkpoint %llu: %llu pages streamed in %llu messages before it, %llu of them distinct, into the cache first\n",
			(unsigned long long)s->last + 1,
			(unsigned long long)st->received,
			(unsigned long long)st->msgs,
			(unsigned long long)st->n);
	st->n = 0;
	st->msgs = 0;
	st->received = 0;
}

void colo_sec_stream_end(struct colo_sec *s)
{
	struct colo_stream *st = &s->strm;
	unsigned int i;

	if (st->msgs)
		fprintf(stderr, "kmig colo secondary: checkpoint %llu never committed: its %llu streamed pages (%llu messages) dropped\n",
			(unsigned long long)s->last + 1,
			(unsigned long long)st->received,
			(unsigned long long)st->msgs);
	for (i = 0; i < MIG_MAX_SLOTS; i++)
		free(st->at[i]);
	free(st->data);
	free(st->pages);
	memset(st, 0, sizeof(*st));
}
