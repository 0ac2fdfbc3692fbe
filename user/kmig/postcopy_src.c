// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of postcopy (postcopy.h, Documentation/postcopy.rst).
 *
 * At the end of a precopy round: pause the guest, take the final harvest,
 * save the vCPU state and mark the guest as gone from here. The main
 * channel then carries POSTCOPY, the discard list (the harvest's pages:
 * the destination has them stale or not at all), the opening of the
 * urgent section, the vCPU state and POSTCOPY_RUN. From then on the main
 * channel is the urgent path (postcopy_urgent.c): each page request of
 * the return path is answered there, and nothing else is written on it
 * but keepalives; the page channels push every page of the discard list
 * meanwhile (each says POSTCOPY first), their cursor moved to each
 * requested page. Once they are done the main stream ends, and the
 * destination's COMPLETE ends the migration. A destination that takes
 * nothing more of the stream and says neither RESUMED nor COMPLETE is
 * given up (mig_reply_overdue()), the guest perhaps running there.
 *
 * A huge slot (KMIG_SLOT_HUGE) goes in whole 2 MiB blocks, so that the
 * destination can install each in one call, as one folio: its discard
 * list is widened to whole blocks (widen_to_blocks()), the push takes a
 * block per chunk (mig_slot_chunk()), and a request is answered with its
 * whole block.
 *
 * For tests, $KMIG_PUSH_AFTER_FAULT=1 holds the push until the guest has
 * faulted at the destination, =never until --timeout passes (an idle
 * link with pages missing: faults are still answered) (push_after_fault()),
 * and $KMIG_DELAY_AT=pc-push:MS holds it MS longer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "postcopy_src.h"
#include "util.h"

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)
#define io_fail(x, ret, ...) mig_link_io_fail(&(x)->link, ret, __VA_ARGS__)

bool postcopy_due(struct precopy_src *s)
{
	if (!s->o.postcopy)
		return false;
	if (s->o.postcopy_on_start)
		return mig_jobctl_postcopy(&s->ctl);
	if (s->o.postcopy_ms)
		return kmig_now_ns() - s->job.start_ns >=
		       s->o.postcopy_ms * 1000000ull;
	return s->round + 1 >= s->o.postcopy_rounds;
}

/*
 * A huge slot's discard list in whole blocks: a block with any page dirty
 * at the pause goes whole, so that it can come back as one 2 MiB folio
 * (the destination discards its stale pages and the clean ones with
 * them). The guest is paused: the push and the answers send the clean
 * pages as they were sent before, and nothing is lost. Returns the pages
 * added.
 */
static uint64_t widen_to_blocks(struct precopy_src *s)
{
	const unsigned int words = MIG_BLOCK_PAGES / 64;
	uint64_t w, added = 0, any;
	unsigned int i, k;

	for (i = 0; i < s->vm.nslots; i++) {
		const struct mig_slot *sl = &s->vm.slots[i];

		if (!sl->huge)
			continue;
		/* whole blocks: mig_vm_attach() checked the size */
		for (w = 0; w < kmig_bitmap_words(sl->npages); w += words) {
			for (any = 0, k = 0; k < words; k++)
				any |= sl->bitmap[w + k];
			if (!any)
				continue;
			for (k = 0; k < words; k++) {
				added += 64 - __builtin_popcountll(sl->bitmap[w + k]);
				sl->bitmap[w + k] = ~0ull;
			}
		}
	}
	return added;
}

/* Runs of the final harvest's pages as RAM_DISCARD records. */
static int send_discards(struct precopy_src *s, struct kmig_enc *e)
{
	uint64_t p, first, n = 0;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < s->vm.nslots && !ret; i++) {
		const struct mig_slot *sl = &s->vm.slots[i];

		for (p = 0; p < sl->npages && !ret; p++) {
			if (!(sl->bitmap[p / 64] & (1ull << (p % 64))))
				continue;
			for (first = p; p < sl->npages &&
			     p - first < KMIG_STREAM_MAX_ZERO_RUN &&
			     (sl->bitmap[p / 64] & (1ull << (p % 64))); p++)
				;
			ret = kmig_enc_discard(e, sl->id, first, p - first);
			n += p - first;
			p--;
		}
	}
	s->job.pc_discarded = n;
	return ret;
}

/*
 * POSTCOPY, the discard list, the urgent section opened, the vCPU state,
 * POSTCOPY_RUN: everything the destination reads before it runs the guest.
 */
static int send_package(struct precopy_src *s, const uint8_t *vbuf,
			size_t vlen)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_POSTCOPY };
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_FULL, .id = MIG_DISCARD_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "discard",
	};
	struct kmig_enc *e = &s->ch[0].enc;
	int ret;

	precopy_main_begin(s);
	ret = kmig_enc_cmd(e, &cmd);
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	if (!ret)
		ret = send_discards(s, e);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	sec = (struct kmig_section) {
		.type = KMIG_REC_SECTION_START, .id = MIG_URGENT_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "urgent",
	};
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	ret = precopy_main_end(s, ret);
	if (!ret)
		ret = precopy_send_vcpus(s, vbuf, vlen);
	/* the devices stopped at the pause: all their state, the config */
	if (!ret)
		ret = precopy_send_devices(s, KMIG_REC_SECTION_END, true);
	cmd.id = KMIG_SCMD_POSTCOPY_RUN;
	if (!ret)
		ret = precopy_send_cmd(s, &cmd);
	return ret;
}

/* Every page channel says POSTCOPY; the push starts unless @hold. */
static int start_push(struct precopy_src *s, bool hold)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_POSTCOPY };
	unsigned int i;
	int ret = 0;

	for (i = 1; i < s->o.channels && !ret; i++) {
		mig_chan_begin(&s->ch[i]);
		/* the senders are between rounds: nobody reads the rate */
		if (s->o.postcopy_bandwidth)
			s->ch[i].rate = s->o.postcopy_bandwidth /
					(s->o.channels - 1);
		ret = kmig_enc_cmd(&s->ch[i].enc, &cmd);
		if (!ret)
			ret = kmig_enc_flush(&s->ch[i].enc);
		mig_chan_end(&s->ch[i]);
		if (ret)
			return io_fail(s, ret, "page channel %u: %s", i,
				       strerror(-ret));
	}
	if (!hold)
		mig_senders_post(&s->senders, s->round, KMIG_REC_SECTION_END,
				 true);
	return 0;
}

/*
 * Returns true if the push is to wait for the guest's first fault at the
 * destination: for tests ($KMIG_PUSH_AFTER_FAULT=1), whose postcopy must
 * outlast that fault on a kernel of any speed; with =never, for the idle
 * link of a test whose guest faults only on its own stale counters, it
 * waits for --timeout whatever faults come. Meanwhile the page channels
 * carry keepalives only, and the answers go out as ever.
 */
static bool push_after_fault(void)
{
	const char *v = getenv("KMIG_PUSH_AFTER_FAULT");

	return v && (!strcmp(v, "1") || !strcmp(v, "never"));
}

static bool push_never(void)
{
	const char *v = getenv("KMIG_PUSH_AFTER_FAULT");

	return v && !strcmp(v, "never");
}

/*
 * After RESUMED, the held push: it starts at the first fault's request
 * (not with =never), once --timeout has passed without one (the
 * destination's stats then say no fault), or not at all when the link
 * failed.
 */
static int push_at_fault(struct precopy_src *s)
{
	uint64_t since = kmig_now_ns(), limit = s->o.timeout_ms * 1000000ull;
	struct pc_src *pc = s->pc;
	struct timespec until;
	bool never = push_never();

	pthread_mutex_lock(&pc->lock);
	while ((never || !pc->faults) && !mig_link_failed(&s->link) &&
	       (!limit || kmig_now_ns() - since < limit)) {
		until = kmig_deadline(200);
		pthread_cond_timedwait(&pc->cond, &pc->lock, &until);
	}
	pthread_mutex_unlock(&pc->lock);
	kmig_delay_at("pc-push");	/* a test's look at the job meanwhile */
	if (mig_link_failed(&s->link))
		return -ECANCELED;
	mig_senders_post(&s->senders, s->round, KMIG_REC_SECTION_END, true);
	return 0;
}

/* The next return-path message, which must be @want. */
static int expect(struct precopy_src *s, uint16_t want, uint64_t *value)
{
	struct mig_reply_wait w;
	uint16_t type;
	int ret;

	mig_reply_wait_init(&w, s->ch, s->o.channels, s->o.io_timeout_s);
	/* meanwhile (RESUMED came) the progress line goes on */
	while ((ret = mig_link_take(&s->link, MIG_TICK_MS, &type,
				    value)) == -EAGAIN) {
		postcopy_progress(s);
		if (s->job.pc_running)
			mig_progress(&s->o, &s->job);
		if (!mig_reply_overdue(&w))
			continue;
		s->pc->gave_up = true;
		return fail(s, -ETIMEDOUT, "the destination did not say %s within --io-timeout, %u s, of last taking bytes of the stream (%llu not taken); %s, its copy here stays paused",
			    mig_hs_name(want), s->o.io_timeout_s,
			    (unsigned long long)mig_reply_untaken(&w),
			    want == MIG_HS_COMPLETE ?
			    "the guest runs at the destination (it said RESUMED)" :
			    "the destination was told to run the guest and may run it");
	}
	if (ret == -ECANCELED)
		return ret;
	if (ret)
		return io_fail(s, ret, "the return path broke while waiting for %s: %s",
			       mig_hs_name(want), strerror(-ret));
	if (type != want)
		return fail(s, -EPROTO, "%s from the destination, expected %s",
			    mig_hs_name(type), mig_hs_name(want));
	return 0;
}

/* The urgent section's end, the main stream's last round sync and end. */
static int end_main(struct precopy_src *s)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_END, .id = MIG_URGENT_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "urgent",
	};
	int ret;

	precopy_main_begin(s);
	ret = kmig_enc_section(&s->ch[0].enc, &sec);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&s->ch[0].enc, &sec);
	ret = precopy_main_end(s, ret);
	return ret ? ret : precopy_main_round_sync(s, true);
}

static int pc_init(struct precopy_src *s)
{
	struct pc_src *pc = calloc(1, sizeof(*pc));
	unsigned int i;

	if (!pc)
		return fail(s, -ENOMEM, "out of memory");
	pc->cap = 256;
	pc->q = malloc(pc->cap * sizeof(*pc->q));
	if (!pc->q) {
		free(pc);
		return fail(s, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&pc->lock, NULL);
	kmig_cond_init(&pc->cond);
	s->pc = pc;
	for (i = 0; i < s->vm.nslots; i++) {
		pc->sent[i] = calloc(kmig_bitmap_words(s->vm.slots[i].npages), 8);
		if (!pc->sent[i])
			return fail(s, -ENOMEM, "out of memory");
		if (s->vm.slots[i].huge && !pc->block) {
			pc->block = malloc(MIG_BLOCK_PAGES * MIG_PAGE);
			if (!pc->block)
				return fail(s, -ENOMEM, "out of memory");
		}
	}
	s->job.postcopy = true;
	if (mig_senders_seekable(&s->senders))
		return fail(s, -ENOMEM, "out of memory");
	return pc_urgent_start(s);
}

/*
 * Page channels' pages so far, and into @bytes (unless NULL) their bytes
 * (atomic: their senders count them).
 */
static uint64_t pushed(struct precopy_src *s, uint64_t *bytes)
{
	uint64_t n = 0, b = 0;
	unsigned int i;

	for (i = 1; i < s->o.channels; i++) {
		n += __atomic_load_n(&s->ch[i].pages, __ATOMIC_RELAXED) +
		     __atomic_load_n(&s->ch[i].zero, __ATOMIC_RELAXED);
		b += __atomic_load_n(&s->ch[i].bytes, __ATOMIC_RELAXED);
	}
	if (bytes)
		*bytes = b;
	return n;
}

void postcopy_progress(struct precopy_src *s)
{
	struct pc_src *pc = s->pc;
	uint64_t bytes;

	if (!pc || !pc->resumed)
		return;
	s->job.pc_running = true;
	s->job.pc_requests = __atomic_load_n(&pc->requests, __ATOMIC_RELAXED);
	s->job.pc_faults = __atomic_load_n(&pc->faults, __ATOMIC_RELAXED);
	s->job.pc_pushed = pushed(s, &bytes) - pc->pushed_before;
	s->job.pc_background_bytes = bytes - pc->bytes_before;
	s->job.pc_urgent_bytes = __atomic_load_n(&s->ch[0].enc.bytes,
						 __ATOMIC_RELAXED) -
				 pc->urgent_before;
	s->job.pc_prefetched = __atomic_load_n(&pc->prefetched,
					       __ATOMIC_RELAXED);
	pthread_mutex_lock(&pc->lock);
	memcpy(s->job.pc_wait_us, pc->wait_us, sizeof(pc->wait_us));
	memcpy(s->job.pc_answer_us, pc->answer_us, sizeof(pc->answer_us));
	pthread_mutex_unlock(&pc->lock);
	/* the push sends each page of the discard list once */
	s->job.pc_remaining = s->job.pc_discarded > s->job.pc_pushed ?
			      s->job.pc_discarded - s->job.pc_pushed : 0;
}

int postcopy_run(struct precopy_src *s)
{
	uint64_t dirty = 0, value, widened = 0;
	bool hold = push_after_fault();
	uint8_t *vbuf = NULL;
	size_t vlen = 0;
	int ret;

	s->round++;
	ret = precopy_pause(s, &dirty, &vbuf, &vlen);
	if (!ret)
		widened = widen_to_blocks(s);
	if (!ret)
		ret = precopy_mark_gone(s);
	/* a test's fault after the switch, before anything of it is sent */
	if (!ret)
		kmig_stop_at("switchover");
	if (!ret)
		ret = pc_init(s);
	if (!ret)
		ret = send_package(s, vbuf, vlen);
	free(vbuf);
	if (ret)
		return ret;
	/* It may run there from now on: here only after its FAILED. */
	s->handed_over = true;
	mig_hs_reader_go_sent(&s->rp);
	s->pc->pushed_before = pushed(s, &s->pc->bytes_before);
	s->pc->urgent_before = __atomic_load_n(&s->ch[0].enc.bytes,
					       __ATOMIC_RELAXED);
	ret = start_push(s, hold);
	if (!ret)
		ret = expect(s, MIG_HS_RESUMED, &value);
	if (ret)
		return ret;
	s->pc->resumed = true;
	s->job.downtime_ms = value / 1000;
	if (hold) {
		ret = push_at_fault(s);
		if (ret)
			return ret;
	}
	ret = mig_senders_wait(&s->senders);
	postcopy_stop(s);
	if (!ret)
		ret = end_main(s);
	if (!ret)
		ret = expect(s, MIG_HS_COMPLETE, &value);
	postcopy_progress(s);
	s->job.pc_running = false;
	if (getenv("KMIG_DEBUG"))
		fprintf(stderr, "postcopy: %llu pages discarded (%llu to make whole blocks), %llu requests (%llu faults), %llu answered\n",
			(unsigned long long)s->job.pc_discarded,
			(unsigned long long)widened,
			(unsigned long long)s->pc->requests,
			(unsigned long long)s->pc->faults,
			(unsigned long long)s->pc->answered);
	return ret;
}

void postcopy_failed(struct precopy_src *s)
{
	if (!s->pc->resumed && !s->pc->gave_up &&
	    mig_hs_peer_failed(&s->link))
		s->handed_over = false;
}

void postcopy_free(struct precopy_src *s)
{
	struct pc_src *pc = s->pc;
	unsigned int i;

	if (!pc)
		return;
	postcopy_stop(s);
	pthread_cond_destroy(&pc->cond);
	pthread_mutex_destroy(&pc->lock);
	for (i = 0; i < MIG_MAX_SLOTS; i++)
		free(pc->sent[i]);
	free(pc->block);
	free(pc->q);
	free(pc);
	s->pc = NULL;
}
