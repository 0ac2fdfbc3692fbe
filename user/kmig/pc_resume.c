// SPDX-License-Identifier: GPL-2.0
/*
 * kmig migrate --resume: the source's side of postcopy recovery
 * (postcopy.h, Documentation/postcopy.rst "Recovery").
 *
 * A new process, after the link (or an agent) was lost after RUN: the
 * source's VMM still holds the guest as it was at the pause (paused,
 * "migrated"). Connect the main channel to `kmig postcopy-recover`, send
 * its hello and the resume hello, read the destination's received-page
 * bitmap, connect the page channels (each with its hello, and TLS as the
 * main one), and push every page that has memory here and none there
 * over the page channels with the senders of a migration (sender.h),
 * one round of them. The main channel is the urgent path: page requests
 * on the return path are answered there (on a huge slot with their whole
 * 2 MiB block), by a thread of their own, never behind a background
 * page, and the push goes on from each. Once the
 * push is out, the main stream ends and the destination's COMPLETE ends
 * the recovery. Whatever fails, on any channel, the guest stays paused
 * here and the recovery can be run again.
 *
 * A destination that stops answering while its connections stay open is
 * lost after --io-timeout when it falls silent (the return path's reader,
 * a send that does not go). One that hangs with its keepalive going on
 * never says COMPLETE: it is given up once it has taken none of the
 * stream for --io-timeout (mig_reply_overdue()), as postcopy's source
 * gives it up; --timeout S bounds the whole recovery (past_deadline()),
 * the push and the wait for COMPLETE alike.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctx.h"
#include "handshake.h"
#include "hello.h"
#include "mig.h"
#include "postcopy.h"
#include "recover.h"
#include "sender.h"

#define RC_QUEUE	4096	/* requests not answered yet, at most */

struct rc_src {
	struct mig_opts *o;
	struct mig_job job;
	struct mig_vm vm;
	struct mig_link link;
	struct mig_hs_reader rp;
	struct mig_senders senders;
	unsigned int nchan;		/* main included */
	int sock[1 + MIG_MAX_CHANNELS];
	struct mig_chan ch[1 + MIG_MAX_CHANNELS];
	uint8_t uuid[16];
	/* the return path's requests, a ring, for the urgent thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t q[RC_QUEUE];
	unsigned int head, n;
	bool stop;
	pthread_t urgent;
	bool urgent_started;
	uint64_t answered;
	uint8_t *buf;			/* an answer: a page, or a block */
};

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

/*
 * Returns true if --timeout is given and has passed since the recovery
 * started; the recovery then fails, saying @what was still under way.
 */
static bool past_deadline(struct rc_src *s, const char *what)
{
	if (!s->o->timeout_ms ||
	    kmig_now_ns() - s->job.start_ns < s->o->timeout_ms * 1000000ull)
		return false;
	fail(s, -ETIMEDOUT, "the recovery did not complete within --timeout (%llu s): %s",
	     (unsigned long long)s->o->timeout_ms / 1000, what);
	return true;
}

/* The senders' tick, while the push goes on. */
static void push_tick(void *arg)
{
	past_deadline(arg, "the push of the pages the destination lacks was still under way");
}

/* The return path's reader: a REQUEST, checked, to the urgent thread. */
static int on_request(void *opaque, uint64_t value)
{
	struct rc_src *s = opaque;
	uint32_t slot = value >> 32;
	uint64_t page = value & 0xffffffffu;
	int i = mig_vm_slot_index(&s->vm, slot), ret = 0;

	if (i < 0 || page >= s->vm.slots[i].npages)
		return fail(s, -EPROTO,
			    "the destination requested page %llu of slot %u, which this VM does not have",
			    (unsigned long long)page, slot);
	pthread_mutex_lock(&s->lock);
	if (s->n < RC_QUEUE)
		s->q[(s->head + s->n++) % RC_QUEUE] = value;
	else
		ret = -ENOBUFS;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (ret)
		return fail(s, ret, "more than %u page requests pending",
			    RC_QUEUE);
	return 0;
}

/* Page @page of slot @sl, read into ->buf: a page, or a zero page. */
static int enc_page(struct rc_src *s, const struct mig_slot *sl,
		    uint64_t page)
{
	const void *data[1] = { s->buf };

	if (kmig_page_is_zero(s->buf)) {
		s->job.memory_constant++;
		return kmig_enc_zero(&s->ch[0].enc, sl->id, page, 1);
	}
	s->job.memory_normal++;
	return kmig_enc_pages(&s->ch[0].enc, sl->id, &page, 1, data);
}

/*
 * The pages [@first, @first + @n) of slot @sl, read into ->buf, in
 * records of pages in order: on the destination one install, one 2 MiB
 * folio where @n is a whole block none of which is there.
 */
static int enc_block(struct rc_src *s, const struct mig_slot *sl,
		     uint64_t first, unsigned int n)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t list[KMIG_STREAM_MAX_BATCH];
	unsigned int j, k;
	int ret = 0;

	for (j = 0; j < n && !ret; j += k) {
		for (k = 0; k < KMIG_STREAM_MAX_BATCH && j + k < n; k++) {
			list[k] = first + j + k;
			data[k] = s->buf + (size_t)(j + k) * MIG_PAGE;
		}
		ret = kmig_enc_pages(&s->ch[0].enc, sl->id, list, k, data);
	}
	s->job.memory_normal += n;
	return ret;
}

/*
 * Requested page @page of the @i-th slot, now, on the main channel, and
 * the push goes on from there. The push does not send it again unless it
 * already took its chunk (the destination installs the first copy). On a
 * huge slot the answer is the whole block (a page of it the destination
 * has stays as it is there), and the push then leaves the block alone or
 * sends all of it: a sender that skipped part of a block would split it.
 */
static int answer(struct rc_src *s, unsigned int i, uint64_t page)
{
	const struct mig_slot *sl = &s->vm.slots[i];
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_PART, .id = KMIG_RECOVER_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "recover",
	};
	struct kmig_enc *e = &s->ch[0].enc;
	uint64_t first = page, n = 1;
	int ret;

	if (sl->huge) {
		first = page - page % MIG_BLOCK_PAGES;
		n = sl->npages - first < MIG_BLOCK_PAGES ?
		    sl->npages - first : MIG_BLOCK_PAGES;
	}
	ret = kmig_ctx_read(s->vm.ctx_fd, sl->id, first * MIG_PAGE, s->buf,
			    n * MIG_PAGE);
	if (ret)
		return fail(s, ret, "cannot read pages %llu..%llu of slot %u: %s",
			    (unsigned long long)first,
			    (unsigned long long)(first + n - 1), sl->id,
			    strerror(-ret));
	if (sl->huge)
		mig_senders_claim(&s->senders, i, page);
	else
		__atomic_fetch_and(&sl->bitmap[page / 64],
				   ~(1ull << (page % 64)), __ATOMIC_RELAXED);
	mig_senders_seek(&s->senders, i, page);
	mig_chan_begin(&s->ch[0]);
	ret = kmig_enc_section(e, &sec);
	if (!ret)
		ret = sl->huge ? enc_block(s, sl, first, n) :
				 enc_page(s, sl, page);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &sec);
	if (!ret)
		ret = kmig_enc_flush(e);
	mig_chan_end(&s->ch[0]);
	if (ret)
		return mig_link_io_fail(&s->link, ret,
					"main channel: cannot answer a request: %s",
					strerror(-ret));
	return 0;
}

/*
 * The urgent thread: each request, oldest first, as it comes; once
 * stopped, those still queued, then it ends.
 */
static void *urgent(void *arg)
{
	struct rc_src *s = arg;
	uint64_t value;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->n && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->n)
			break;
		value = s->q[s->head];
		s->head = (s->head + 1) % RC_QUEUE;
		s->n--;
		pthread_mutex_unlock(&s->lock);
		if (answer(s, mig_vm_slot_index(&s->vm, value >> 32),
			   value & 0xffffffffu))
			return NULL;
		pthread_mutex_lock(&s->lock);
		s->answered++;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void stop_urgent(struct rc_src *s)
{
	if (!s->urgent_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->urgent, NULL);
	s->urgent_started = false;
}

/*
 * Channel @i of the recovery to --to, with its TLS and its hello; a
 * refusal is retried for 5 s (the destination may be starting).
 */
static int connect_chan(struct rc_src *s, unsigned int i)
{
	struct kmig_hello h = { .channel = i, .nchannels = s->nchan };
	uint64_t until = kmig_now_ns() + 5000000000ull;
	uint8_t hello[KMIG_HELLO_SIZE];
	char name[MIG_ADDR_STRLEN];
	int fd, ret;

	for (;;) {
		fd = socket(s->o->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
			    0);
		if (fd < 0)
			return fail(s, -errno, "socket: %s", strerror(errno));
		mig_sock_setup(fd, s->o->io_timeout_s);
		if (!connect(fd, (struct sockaddr *)&s->o->addr.ss,
			     s->o->addr.len))
			break;
		ret = -errno;
		close(fd);
		if (ret != -ECONNREFUSED || kmig_now_ns() > until)
			return fail(s, ret, "cannot connect %s %u to the destination at %s: %s",
				    i ? "page channel" : "main channel", i,
				    mig_addr_str(&s->o->addr.ss, name),
				    strerror(-ret));
		usleep(50000);
	}
	s->sock[i] = fd;
	mig_link_add(&s->link, fd);
	ret = mig_tls_client(s->o, &s->job, fd, s->job.error,
			     sizeof(s->job.error));
	if (ret)
		return fail(s, ret, "channel %u: %s", i, s->job.error);
	memcpy(h.uuid, s->uuid, 16);
	kmig_hello_encode(&h, hello);
	ret = kmig_io_all(fd, hello, sizeof(hello), true);
	if (ret)
		return mig_link_io_fail(&s->link, ret,
					"channel %u: cannot send the hello: %s",
					i, strerror(-ret));
	return 0;
}

/*
 * The main channel, the hello, the bitmap (each slot's ->bitmap is then
 * what the destination lacks), and the page channels.
 */
static int meet(struct rc_src *s)
{
	uint64_t w, need = 0;
	unsigned int i;
	uint8_t *hello;
	size_t len;
	int ret;

	if (getrandom(s->uuid, sizeof(s->uuid), 0) != sizeof(s->uuid))
		return fail(s, -EIO, "getrandom: %s", strerror(errno));
	ret = connect_chan(s, 0);
	if (ret)
		return ret;
	hello = mig_rc_hello_encode(&s->vm, s->uuid, &len);
	if (!hello)
		return fail(s, -ENOMEM, "out of memory");
	ret = kmig_io_all(s->sock[0], hello, len, true);
	free(hello);
	if (ret)
		return mig_link_io_fail(&s->link, ret,
					"cannot send the resume hello: %s",
					strerror(-ret));
	ret = mig_rc_recv_bitmap(s->sock[0], &s->vm, s->job.error,
				 sizeof(s->job.error));
	if (ret)
		return fail(s, ret, "%s", s->job.error);
	for (i = 0; i < s->vm.nslots; i++) {
		struct mig_slot *sl = &s->vm.slots[i];

		for (w = 0; w < kmig_bitmap_words(sl->npages); w++) {
			sl->bitmap[w] = sl->present[w] & ~sl->bitmap[w];
			need += __builtin_popcountll(sl->bitmap[w]);
		}
	}
	s->job.memory_remaining = need * MIG_PAGE;
	for (i = 1; i < s->nchan && !ret; i++)
		ret = connect_chan(s, i);
	if (!ret)
		mig_tls_note(s->o, &s->job);
	return ret;
}

/* The guest here must be the one handed over in postcopy: paused, gone. */
static int check_vmm(struct rc_src *s)
{
	struct vmm_status st;
	int ret;

	ret = vmm_client_status(&s->vm.vmm, &st);
	if (ret)
		return fail(s, ret, "VMM status: %s", strerror(-ret));
	if (strcmp(st.state, "migrated"))
		return fail(s, -EINVAL,
			    "the VMM at %s is %s: only a guest that migrated away in postcopy can be resumed there",
			    s->o->vmm, st.state);
	return 0;
}

/*
 * Every channel's stream header and CAPS; the main one opens the
 * "recover" section, a part of which carries each answer (a PING may
 * come between two); each page channel says
 * POSTCOPY (its pages are installed, never written over).
 */
static int start_streams(struct rc_src *s)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_START, .id = KMIG_RECOVER_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "recover",
	};
	struct kmig_scmd cmd = { .id = KMIG_SCMD_POSTCOPY };
	struct kmig_enc *e;
	unsigned int i;
	int ret;

	for (i = 0; i < s->nchan; i++) {
		mig_chan_init(&s->ch[i], s->sock[i], i, 0);
		e = &s->ch[i].enc;
		ret = kmig_enc_header(e);
		if (!ret && !i)
			ret = kmig_enc_caps(e, KMIG_SCAP_POSTCOPY |
					    mig_psum_cap(), 0);
		if (!ret && !i)
			ret = kmig_enc_section(e, &sec);
		sec.type = KMIG_REC_SECTION_FOOTER;
		if (!ret && !i)
			ret = kmig_enc_section(e, &sec);
		if (!ret && i)
			ret = kmig_enc_caps(e, KMIG_SCAP_MULTI_CHANNEL |
					    KMIG_SCAP_POSTCOPY |
					    mig_psum_cap(), 0);
		if (!ret && i)
			ret = kmig_enc_cmd(e, &cmd);
		if (!ret)
			ret = kmig_enc_flush(e);
		if (ret)
			return mig_link_io_fail(&s->link, ret, "%s %u: %s",
						i ? "page channel" :
						"main channel", i,
						strerror(-ret));
	}
	return 0;
}

/* The "recover" section's end, ROUND_SYNC 0 and END_OF_STREAM. */
static int end_main(struct rc_src *s)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_END, .id = KMIG_RECOVER_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "recover",
	};
	int ret;

	mig_chan_begin(&s->ch[0]);
	ret = kmig_enc_section(&s->ch[0].enc, &sec);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&s->ch[0].enc, &sec);
	if (!ret)
		ret = mig_chan_round_sync(&s->ch[0], 0, true);
	mig_chan_end(&s->ch[0]);
	if (ret)
		return mig_link_io_fail(&s->link, ret, "main channel: %s",
					strerror(-ret));
	return 0;
}

/* Pages the page channels sent so far, and into @bytes their bytes. */
static uint64_t pushed(struct rc_src *s, uint64_t *normal, uint64_t *bytes)
{
	uint64_t n = 0, z = 0, b = 0;
	unsigned int i;

	for (i = 1; i < s->nchan; i++) {
		n += __atomic_load_n(&s->ch[i].pages, __ATOMIC_RELAXED);
		z += __atomic_load_n(&s->ch[i].zero, __ATOMIC_RELAXED);
		b += __atomic_load_n(&s->ch[i].bytes, __ATOMIC_RELAXED);
	}
	*normal = n;
	*bytes = b;
	return n + z;
}

static int resume(struct rc_src *s)
{
	struct mig_reply_wait w;
	uint16_t type;
	uint64_t value;
	int ret;

	ret = meet(s);
	if (ret)
		return ret;
	/* a test's fault of a page channel (or the source) comes here */
	kmig_stop_at("resume");
	ret = start_streams(s);
	if (ret)
		return ret;
	if (mig_senders_start(&s->senders, &s->vm, &s->link, s->ch,
			      s->nchan - 1) ||
	    mig_senders_seekable(&s->senders))
		return fail(s, -ENOMEM, "cannot start the page channels' senders");
	s->senders.tick = push_tick;
	s->senders.tick_arg = s;
	s->rp = (struct mig_hs_reader) {
		.link = &s->link, .sock = s->sock[0],
		.io_timeout_s = s->o->io_timeout_s,
		.on_request = on_request, .opaque = s,
	};
	memcpy(s->rp.uuid, s->uuid, 16);
	ret = mig_hs_reader_start(&s->rp);
	if (ret)
		return fail(s, ret, "cannot start the return path's reader");
	if (pthread_create(&s->urgent, NULL, urgent, s))
		return fail(s, -EAGAIN, "cannot start the urgent thread");
	s->urgent_started = true;
	mig_senders_post(&s->senders, 0, KMIG_REC_SECTION_FULL, true);
	ret = mig_senders_wait(&s->senders);
	/* the requests still queued, answered; later ones follow pushed pages */
	stop_urgent(s);
	if (ret || mig_link_failed(&s->link))
		return -ECANCELED;
	ret = end_main(s);
	if (ret)
		return ret;
	/* a destination that pings but never completes */
	mig_reply_wait_init(&w, s->ch, s->nchan, s->o->io_timeout_s);
	while ((ret = mig_link_take(&s->link, MIG_TICK_MS, &type,
				    &value)) == -EAGAIN) {
		if (past_deadline(s, "every page was sent, but the destination did not confirm it (COMPLETE)"))
			return -ECANCELED;
		if (mig_reply_overdue(&w))
			return fail(s, -ETIMEDOUT, "every page was sent, but the destination did not say COMPLETE within --io-timeout, %u s, of last taking bytes of the stream (%llu not taken)",
				    s->o->io_timeout_s,
				    (unsigned long long)mig_reply_untaken(&w));
	}
	if (ret == -ECANCELED)
		return ret;
	if (ret)
		return mig_link_io_fail(&s->link, ret,
					"the return path broke before COMPLETE: %s",
					strerror(-ret));
	if (type != MIG_HS_COMPLETE)
		return fail(s, -EPROTO, "%s from the destination, expected COMPLETE",
			    mig_hs_name(type));
	return 0;
}

/* What the job says at the end: pages and bytes of every channel. */
static void count(struct rc_src *s)
{
	uint64_t normal, bytes;

	s->job.pc_pushed = pushed(s, &normal, &bytes);
	s->job.pc_background_bytes = bytes;
	s->job.pc_urgent_bytes = s->ch[0].inited ? s->ch[0].enc.bytes : 0;
	s->job.memory_normal += normal;
	s->job.memory_constant += s->job.pc_pushed - normal;
	s->job.pc_requests = s->answered;
	s->job.memory_remaining = 0;
	s->job.data_processed = s->job.memory_normal * MIG_PAGE;
}

int postcopy_resume(struct mig_opts *o)
{
	struct rc_src *s = calloc(1, sizeof(*s));
	char err[sizeof(s->job.error)];
	bool met = false;
	unsigned int i;
	int ret;

	if (!s)
		return 1;
	s->o = o;
	s->nchan = o->channels;
	for (i = 0; i <= MIG_MAX_CHANNELS; i++)
		s->sock[i] = -1;
	s->vm.ctx_fd = s->vm.vmm.fd = -1;
	mig_link_init(&s->link);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	mig_job_start(&s->job);
	s->job.postcopy = true;
	s->job.channels = s->nchan;
	s->job.page_sum = kmig_psum_name(kmig_psum_pick());
	s->buf = aligned_alloc(MIG_PAGE, MIG_BLOCK_PAGES * MIG_PAGE);
	ret = s->buf ? 0 : -ENOMEM;
	/* read only: the senders read present pages through the map */
	if (!ret)
		ret = mig_vm_attach(&s->vm, o->vmm, PROT_READ, s->job.error,
				    sizeof(s->job.error));
	if (!ret)
		ret = mig_vm_present(&s->vm, s->job.error, sizeof(s->job.error));
	if (ret)
		fail(s, ret, "%s", s->buf ? s->job.error : "out of memory");
	if (!ret)
		ret = check_vmm(s);
	if (!ret) {
		s->job.memory_total = s->vm.mem_size;
		met = true;
		resume(s);
	}
	stop_urgent(s);
	mig_senders_stop(&s->senders);
	if (s->rp.started)
		mig_hs_reader_stop(&s->rp, 1000);
	ret = mig_link_cause(&s->link, err, sizeof(err));
	count(s);
	mig_job_end(&s->job, ret, err);
	mig_report(o, &s->job, true);
	if (ret)
		fprintf(stderr, "kmig migrate: %s%s\n", err,
			met ? "; the guest stays paused here: run the recovery again" : "");
	for (i = 0; i < s->nchan; i++) {
		mig_chan_free(&s->ch[i]);
		if (s->sock[i] >= 0)
			close(s->sock[i]);
	}
	mig_vm_present_free(&s->vm);
	mig_vm_detach(&s->vm);
	mig_link_destroy(&s->link);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->buf);
	free(s);
	return !ret ? 0 : met ? 3 : 1;
}
