// SPDX-License-Identifier: GPL-2.0
/*
 * kmig migrate --resume: the source's side of postcopy recovery
 * (postcopy.h, Documentation/postcopy.rst "Recovery").
 *
 * A new process, after the link (or an agent) was lost after RUN: the
 * source's VMM still holds the guest as it was at the pause (paused,
 * "migrated"). Connect to `kmig postcopy-recover`, send the resume hello,
 * read the destination's received-page bitmap, and send every page that
 * has memory here and none there, as one RAM section in a stream of its
 * own. Page requests on the return path are answered between batches,
 * before any further background page. Once the stream is out, the
 * destination's COMPLETE ends it. Whatever fails, the guest stays paused
 * here and the recovery can be run again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctx.h"
#include "handshake.h"
#include "mig.h"
#include "postcopy.h"
#include "recover.h"

#define RC_QUEUE	4096	/* requests not answered yet, at most */

struct rc_src {
	struct mig_opts *o;
	struct mig_job job;
	struct mig_vm vm;
	struct mig_link link;
	struct mig_hs_reader rp;
	struct kmig_enc enc;
	int sock;
	uint8_t uuid[16];
	/* the return path's requests, a ring, under link.lock */
	uint64_t q[RC_QUEUE];
	unsigned int head, n;
	uint64_t requests;
	uint8_t *buf;			/* KMIG_STREAM_MAX_BATCH pages */
};

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

/* The return path's reader: a REQUEST, checked, into the ring. */
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
	pthread_mutex_lock(&s->link.lock);
	if (s->n < RC_QUEUE)
		s->q[(s->head + s->n++) % RC_QUEUE] = value;
	else
		ret = -ENOBUFS;
	s->requests++;
	pthread_mutex_unlock(&s->link.lock);
	if (ret)
		return fail(s, ret, "more than %u page requests pending",
			    RC_QUEUE);
	return 0;
}

static bool next_request(struct rc_src *s, uint64_t *value)
{
	bool got;

	pthread_mutex_lock(&s->link.lock);
	got = s->n;
	if (got) {
		*value = s->q[s->head];
		s->head = (s->head + 1) % RC_QUEUE;
		s->n--;
	}
	pthread_mutex_unlock(&s->link.lock);
	return got;
}

/*
 * @n pages of slot @i (ascending page numbers in @pages) into the stream:
 * the zero ones as RAM_ZERO, the others as one RAM_PAGES. Each is sent
 * at most once in the background (its bit in the slot's need bitmap).
 */
static int send_pages(struct rc_src *s, unsigned int i, const uint64_t *pages,
		      unsigned int n)
{
	const struct mig_slot *sl = &s->vm.slots[i];
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t full[KMIG_STREAM_MAX_BATCH];
	unsigned int k, nf = 0;
	uint8_t *p;
	int ret;

	for (k = 0; k < n; k++) {
		p = s->buf + nf * MIG_PAGE;
		ret = kmig_ctx_read(s->vm.ctx_fd, sl->id, pages[k] * MIG_PAGE,
				    p, MIG_PAGE);
		if (ret)
			return fail(s, ret, "cannot read page %llu of slot %u: %s",
				    (unsigned long long)pages[k], sl->id,
				    strerror(-ret));
		sl->bitmap[pages[k] / 64] &= ~(1ull << (pages[k] % 64));
		if (kmig_page_is_zero(p)) {
			ret = kmig_enc_zero(&s->enc, sl->id, pages[k], 1);
			s->job.memory_constant++;
			if (ret)
				break;
			continue;
		}
		data[nf] = p;
		full[nf++] = pages[k];
	}
	s->job.memory_normal += nf;
	if (!ret && nf)
		ret = kmig_enc_pages(&s->enc, sl->id, full, nf, data);
	if (!ret)
		ret = kmig_enc_flush(&s->enc);
	if (ret)
		return mig_link_io_fail(&s->link, ret,
					"cannot send to the destination: %s",
					strerror(-ret));
	return 0;
}

/* Every pending request, now, one page each. */
static int answer_requests(struct rc_src *s)
{
	uint64_t value, page;
	int ret;

	while (next_request(s, &value)) {
		page = value & 0xffffffffu;
		ret = send_pages(s, mig_vm_slot_index(&s->vm, value >> 32),
				 &page, 1);
		if (ret)
			return ret;
		s->job.pc_requests++;
	}
	return 0;
}

/* The pages of every slot's need bitmap, requests first between batches. */
static int send_needed(struct rc_src *s)
{
	uint64_t pages[KMIG_STREAM_MAX_BATCH], p;
	unsigned int i, n;
	int ret;

	for (i = 0; i < s->vm.nslots; i++) {
		const struct mig_slot *sl = &s->vm.slots[i];

		for (p = 0; p < sl->npages;) {
			ret = answer_requests(s);
			if (ret)
				return ret;
			for (n = 0; p < sl->npages && n < KMIG_STREAM_MAX_BATCH;
			     p++)
				if (sl->bitmap[p / 64] & (1ull << (p % 64)))
					pages[n++] = p;
			if (!n)
				continue;
			ret = send_pages(s, i, pages, n);
			if (ret)
				return ret;
			s->job.pc_pushed += n;
		}
	}
	return answer_requests(s);
}

static int section(struct rc_src *s, uint8_t type)
{
	struct kmig_section sec = {
		.type = type, .id = KMIG_RECOVER_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "recover",
	};

	return kmig_enc_section(&s->enc, &sec);
}

/* A connection to --to; a refusal is retried for 5 s (it may start). */
static int connect_to(struct rc_src *s)
{
	uint64_t until = kmig_now_ns() + 5000000000ull;
	int ret;

	for (;;) {
		s->sock = socket(s->o->addr.ss.ss_family,
				 SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->sock < 0)
			return -errno;
		mig_sock_setup(s->sock, s->o->io_timeout_s);
		if (!connect(s->sock, (struct sockaddr *)&s->o->addr.ss,
			     s->o->addr.len))
			break;
		ret = -errno;
		close(s->sock);
		s->sock = -1;
		if (ret != -ECONNREFUSED || kmig_now_ns() > until)
			return ret;
		usleep(50000);
	}
	mig_link_add(&s->link, s->sock);
	return mig_tls_client(s->o, &s->job, s->sock, s->job.error,
			      sizeof(s->job.error));
}

/* Connect, hello, the bitmap: each slot's ->bitmap is what it lacks. */
static int meet(struct rc_src *s)
{
	char name[MIG_ADDR_STRLEN];
	uint64_t w, need = 0;
	unsigned int i;
	uint8_t *hello;
	size_t len;
	int ret;

	ret = connect_to(s);
	if (ret)
		return fail(s, ret, "cannot connect to the destination at %s: %s",
			    mig_addr_str(&s->o->addr.ss, name),
			    s->job.error[0] ? s->job.error : strerror(-ret));
	if (getrandom(s->uuid, sizeof(s->uuid), 0) != sizeof(s->uuid))
		return fail(s, -EIO, "getrandom: %s", strerror(errno));
	hello = mig_rc_hello_encode(&s->vm, s->uuid, &len);
	if (!hello)
		return fail(s, -ENOMEM, "out of memory");
	ret = kmig_io_all(s->sock, hello, len, true);
	free(hello);
	if (ret)
		return fail(s, ret, "cannot send the resume hello: %s",
			    strerror(-ret));
	ret = mig_rc_recv_bitmap(s->sock, &s->vm, s->job.error,
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
	return 0;
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

static int resume(struct rc_src *s)
{
	uint16_t type;
	uint64_t value;
	int ret;

	ret = meet(s);
	if (ret)
		return ret;
	s->rp = (struct mig_hs_reader) {
		.link = &s->link, .sock = s->sock,
		.io_timeout_s = s->o->io_timeout_s,
		.on_request = on_request, .opaque = s,
	};
	memcpy(s->rp.uuid, s->uuid, 16);
	ret = mig_hs_reader_start(&s->rp);
	if (ret)
		return fail(s, ret, "cannot start the return path's reader");
	kmig_enc_init_fd(&s->enc, s->sock);
	ret = kmig_enc_header(&s->enc);
	if (!ret)
		ret = kmig_enc_caps(&s->enc, KMIG_SCAP_POSTCOPY, 0);
	if (!ret)
		ret = section(s, KMIG_REC_SECTION_FULL);
	if (ret)
		return mig_link_io_fail(&s->link, ret, "cannot send: %s",
					strerror(-ret));
	kmig_stop_at("resume");
	ret = send_needed(s);
	if (!ret)
		ret = section(s, KMIG_REC_SECTION_FOOTER);
	if (!ret)
		ret = kmig_enc_eos(&s->enc);
	if (!ret)
		ret = kmig_enc_flush(&s->enc);
	if (ret)
		return mig_link_io_fail(&s->link, ret, "cannot send: %s",
					strerror(-ret));
	do
		ret = mig_link_take(&s->link, 1000, &type, &value);
	while (ret == -EAGAIN);
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

int postcopy_resume(struct mig_opts *o)
{
	struct rc_src *s = calloc(1, sizeof(*s));
	char err[sizeof(s->job.error)];
	bool met = false;
	int ret;

	if (!s)
		return 1;
	s->o = o;
	s->sock = -1;
	s->vm.ctx_fd = s->vm.vmm.fd = -1;
	mig_link_init(&s->link);
	mig_job_start(&s->job);
	s->job.postcopy = true;
	s->job.channels = 1;
	s->buf = aligned_alloc(MIG_PAGE, KMIG_STREAM_MAX_BATCH * MIG_PAGE);
	ret = s->buf ? 0 : -ENOMEM;
	if (!ret)
		ret = mig_vm_attach(&s->vm, o->vmm, 0, s->job.error,
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
	if (s->rp.started)
		mig_hs_reader_stop(&s->rp, 1000);
	ret = mig_link_cause(&s->link, err, sizeof(err));
	s->job.memory_remaining = 0;
	s->job.data_processed = s->job.memory_normal * MIG_PAGE;
	mig_job_end(&s->job, ret, err);
	mig_report(o, &s->job, true);
	if (ret)
		fprintf(stderr, "kmig migrate: %s%s\n", err,
			met ? "; the guest stays paused here: run the recovery again" : "");
	kmig_enc_free(&s->enc);
	if (s->sock >= 0)
		close(s->sock);
	mig_vm_present_free(&s->vm);
	mig_vm_detach(&s->vm);
	mig_link_destroy(&s->link);
	free(s->buf);
	free(s);
	return !ret ? 0 : met ? 3 : 1;
}
