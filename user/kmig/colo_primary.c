// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo primary`: run the guest here and checkpoint it into a
 * secondary (Documentation/colo.rst).
 *
 * Checkpoint 0 carries every page with memory that is not zero; each
 * later one the pages the guest dirtied since the previous pause. At each
 * checkpoint the guest pauses, its dirty log is harvested and its vCPU
 * state saved, the checkpoint is sent whole, and the guest resumes; the
 * ACK is awaited before the next pause (what is sent: colo_pri_send.c).
 * Any failure leaves the guest running here, unprotected, and ends with
 * status 1; so does a secondary whose heartbeat (colo_heartbeat.c)
 * stops; a guest whose VMM is gone is lost here, its held output
 * dropped, and the secondary takes over. With --stay the agent stays
 * instead, its VMM left free, until `kmig colo protect` on its --control
 * socket names a new secondary: a new protection, from a new entry and a
 * new checkpoint 0 (stay_unprotected()).
 *
 * With --output IFACE the guest's network output is held from the start,
 * each checkpoint's until its ACK (colo_pri_output.c). With --stream
 * (the default), what the guest dirties between checkpoints goes ahead
 * while it runs (colo_pri_stream.c). The state is struct colo_pri
 * (colo_primary.h), the options colo_pri_opts.c's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "colo_primary.h"
#include "crc32c.h"
#include "ctx.h"
#include "le.h"
#include "mig.h"
#include "plug.h"
#include "util.h"

/* With --output, how often the plug is asked whether output waits. */
#define OUTPUT_POLL_MS	5
#define MS		1000000ull

/* SIGINT or SIGTERM received: stop after the checkpoint under way. */
static volatile sig_atomic_t stop_signal;

/*
 * A request to the VMM. One that finds the VMM gone (killed, or its host
 * process dead) marks the guest lost: the secondary takes over from its
 * last commit, so what the guest emitted since must never leave here.
 */
int colo_pri_vmm_req(struct colo_pri *p, const char *req)
{
	char why[sizeof(p->err)];
	int ret = mig_vmm_req(&p->vm.vmm, req, why, sizeof(why));

	p->guest_lost |= vmm_client_gone(&p->vm.vmm, ret);
	return ret ? fail(p, ret, "%s", why) : 0;
}

static int set_logging(struct colo_pri *p, bool on)
{
	int ret = mig_vm_set_logging(&p->vm, on, p->err, sizeof(p->err));

	if (!ret)
		p->logging = on;
	return ret;
}

/*
 * Each slot's pages to send into its bitmap, their count in *@n: the
 * dirty log (emptied), and the first time (the first live round, or
 * checkpoint 0 without any) every page with memory that is not zero.
 */
int colo_pri_collect(struct colo_pri *p, uint64_t *n)
{
	unsigned int i;
	uint64_t w;
	int ret;

	*n = 0;
	for (i = 0; i < p->vm.nslots; i++)
		memset(p->vm.slots[i].bitmap, 0,
		       kmig_bitmap_words(p->vm.slots[i].npages) * 8);
	ret = mig_vm_harvest(&p->vm, p->tmp, true, NULL, p->err,
			     sizeof(p->err));
	if (ret)
		return ret;
	for (i = 0; !p->first_sent && i < p->vm.nslots; i++) {
		struct mig_slot *sl = &p->vm.slots[i];

		for (w = 0; w < kmig_bitmap_words(sl->npages); w++)
			sl->bitmap[w] |= sl->present[w];
	}
	/* The first time: the secondary's cache starts zeroed. */
	for (i = 0; i < p->vm.nslots; i++) {
		struct mig_slot *sl = &p->vm.slots[i];
		uint64_t pg;

		for (pg = 0; pg < sl->npages; pg++) {
			if (!(sl->bitmap[pg / 64] & (1ull << (pg % 64))))
				continue;
			if (!p->first_sent &&
			    kmig_page_is_zero(sl->map + pg * MIG_PAGE)) {
				sl->bitmap[pg / 64] &= ~(1ull << (pg % 64));
				continue;
			}
			(*n)++;
		}
	}
	return 0;
}

static int wait_ack(struct colo_pri *p, uint32_t memcrc)
{
	uint8_t b[COLO_ACK_SIZE];
	struct colo_ack a;
	int ret;

	colo_pri_stop_point(p, "before-ack");
	ret = kmig_io_all(p->sock, b, sizeof(b), false);
	if (ret)
		return fail(p, ret, "checkpoint %llu: no acknowledgement from the secondary: %s",
			    (unsigned long long)p->seq,
			    ret == -ETIMEDOUT ? "silent for --timeout" :
			    strerror(-ret));
	if (colo_ack_decode(&a, b) || a.seq != p->seq)
		return fail(p, -EPROTO, "checkpoint %llu: the secondary answered something else than its acknowledgement",
			    (unsigned long long)p->seq);
	if (a.status) {
		p->refused = true;
		return fail(p, a.status, "checkpoint %llu: the secondary refused %s: %s",
			    (unsigned long long)p->seq,
			    a.streamed ? "its streamed pages" : "it",
			    strerror(-a.status));
	}
	if (p->verify && a.memcrc != memcrc)
		return fail(p, -EBADE, "checkpoint %llu: guest memory differs: crc %08x here at the pause, %08x there after the commit",
			    (unsigned long long)p->seq, memcrc, a.memcrc);
	if (p->verify && p->o.ndevs && a.devcrc != p->devcrc)
		return fail(p, -EBADE, "checkpoint %llu: device state differs: crc %08x here at the pause, %08x there after the commit",
			    (unsigned long long)p->seq, p->devcrc, a.devcrc);
	ret = colo_pri_output_release(p);
	printf("checkpoint %llu committed", (unsigned long long)p->seq);
	if (p->verify)
		printf(", memory crc %08x", memcrc);
	if (p->verify && p->o.ndevs)
		printf(", device crc %08x", p->devcrc);
	printf("\n");
	fflush(stdout);
	return ret;
}

/* One checkpoint: pause, collect, send, resume (unless the last), ack. */
static int checkpoint(struct colo_pri *p, bool last)
{
	uint64_t t0 = kmig_now_ns(), npages, dt, t_send;
	uint32_t memcrc = 0;
	char note[96];
	uint8_t *vcpu = NULL;
	size_t vlen = 0;
	bool sent;
	int ret;

	if (colo_hb_lost(&p->hb))
		return -ENOTCONN;	/* the message: colo_primary_main() */
	colo_hb_set_seq(&p->hb, p->seq);
	colo_requests_take(&p->req);
	ret = colo_pri_vmm_req(p, "pause");
	if (ret)
		return ret;
	p->paused = true;
	colo_pri_stop_point(p, "paused");
	ret = colo_pri_output_hold(p);
	if (!ret)
		ret = colo_pri_collect(p, &npages);
	if (!ret && (ret = vmm_client_save(&p->vm.vmm, &vcpu, &vlen))) {
		p->guest_lost |= vmm_client_gone(&p->vm.vmm, ret);
		fail(p, ret, "cannot save the vCPU state: %s",
		     vmm_client_why(&p->vm.vmm, ret));
	}
	if (!ret && p->verify && (ret = colo_mem_crc(&p->vm, &memcrc)))
		fail(p, ret, "cannot read guest memory: %s", strerror(-ret));
	/* before it can commit there: the agent may die right after */
	if (!ret && p->verify)
		fprintf(stderr, "kmig colo primary: pause of checkpoint %llu: memory crc %08x\n",
			(unsigned long long)p->seq, memcrc);
	if (!ret)
		ret = colo_pri_save_devices(p);
	t_send = kmig_now_ns();
	if (!ret)
		ret = colo_pri_send_msg(p, p->seq, npages, vcpu, vlen);
	p->send_ns = kmig_now_ns() - t_send;
	free(vcpu);
	p->first_sent = true;
	sent = !ret;
	if (sent)
		colo_pri_stop_point(p, "sent");
	p->sent_whole |= sent;
	/* the devices go on with the guest, or stop with it (the last) */
	if (!ret)
		ret = colo_dev_set_all(&p->o, last ? KMIG_DEVICE_STATE_STOP :
				       KMIG_DEVICE_STATE_RUNNING,
				       p->err, sizeof(p->err));
	if (!ret && !last && !(ret = colo_pri_vmm_req(p, "resume")))
		p->paused = false;
	if (!ret && p->seq == 1 && !last)
		colo_pri_progress_mark(p);
	dt = kmig_now_ns() - t0;
	if (sent)
		fprintf(stderr, "kmig colo primary: checkpoint %llu: %llu pages, paused %.2f ms, memory crc %08x%s%s%s\n",
			(unsigned long long)p->seq, (unsigned long long)npages,
			dt / 1e6, memcrc, colo_pri_devices_str(p),
			colo_pri_stream_note(p, note, sizeof(note)),
			p->why ? p->why : "");
	/* Sent whole, then its guest lost: the secondary commits it, and
	 * the output it covers leaves as with any commit. */
	if (ret && sent && p->guest_lost)
		wait_ack(p, memcrc);
	if (ret)
		return ret;
	if (p->seq) {
		p->pause_ns_sum += dt;
		p->pages_sum += npages;
		p->dev_bytes_sum += p->dev.len;
		if (dt > p->pause_ns_max)
			p->pause_ns_max = dt;
	}
	colo_pri_stream_next(p);
	return wait_ack(p, memcrc);
}

static int connect_secondary(struct colo_pri *p)
{
	uint64_t until = kmig_now_ns() + 5000000000ull;
	char name[MIG_ADDR_STRLEN];
	uint8_t *hello;
	size_t len;
	int ret;

	for (;;) {
		p->sock = socket(p->o.addr.ss.ss_family,
				 SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (p->sock < 0)
			return fail(p, -errno, "socket: %s", strerror(errno));
		mig_sock_setup(p->sock, p->o.io_timeout_s);
		if (!connect(p->sock, (struct sockaddr *)&p->o.addr.ss,
			     p->o.addr.len))
			break;
		ret = -errno;
		close(p->sock);
		p->sock = -1;
		if (ret != -ECONNREFUSED || kmig_now_ns() > until)
			return fail(p, ret, "cannot connect to the secondary at %s: %s",
				    mig_addr_str(&p->o.addr.ss, name),
				    strerror(-ret));
		usleep(50000);
	}
	hello = colo_hello_encode(&p->vm, &len);
	if (!hello)
		return fail(p, -ENOMEM, "out of memory");
	ret = kmig_io_all(p->sock, hello, len, true);
	free(hello);
	hello = ret ? NULL : colo_dev_hello_encode(&p->o, &len);
	if (!ret && !hello)
		return fail(p, -ENOMEM, "out of memory");
	if (!ret)
		ret = kmig_io_all(p->sock, hello, len, true);
	free(hello);
	if (ret)
		return fail(p, ret, "cannot send the hello: %s", strerror(-ret));
	return 0;
}

/*
 * The heartbeat's thread found the secondary silent: wake the main
 * thread from whatever it sends or awaits on the checkpoint connection.
 */
static void secondary_lost(void *arg)
{
	struct colo_pri *p = arg;

	shutdown(p->sock, SHUT_RDWR);
}

static int setup(struct colo_pri *p)
{
	struct vmm_status st;
	int ret;

	ret = mig_ensure_module(p->err, sizeof(p->err));
	if (!ret)
		ret = mig_vm_attach_status(&p->vm, p->o.vmm, PROT_READ, &st,
					   p->err, sizeof(p->err));
	if (ret)
		return ret;
	if (strcmp(st.state, "running"))
		return fail(p, -EBUSY, "the guest is %s, not running", st.state);
	ret = colo_dev_open_all(&p->o, KMIG_DEVICE_STATE_RUNNING, p->err,
				sizeof(p->err));
	if (!ret)
		ret = colo_pri_output_install(p);
	if (ret)
		return ret;
	p->tmp = mig_vm_bitmap_buf(&p->vm);
	p->buf = malloc((COLO_REC_HDR_SIZE + MIG_PAGE) * COLO_PRI_BATCH);
	if (!p->tmp || !p->buf)
		return fail(p, -ENOMEM, "out of memory");
	ret = connect_secondary(p);
	if (!ret)
		ret = colo_hb_start(&p->hb, p->o.cmd, &p->o.addr.ss, NULL,
				    secondary_lost, p, p->err, sizeof(p->err));
	/* what the log holds at its start is dropped: the first collect
	 * takes every page with memory, and reads no other */
	if (!ret)
		ret = mig_vm_log_start(&p->vm, p->tmp, p->err, sizeof(p->err));
	if (ret)
		return ret;
	p->logging = true;
	return mig_vm_present(&p->vm, p->err, sizeof(p->err));
}

static void on_stop(int sig)
{
	stop_signal = sig;
}

/*
 * SIGINT and SIGTERM end the loop of run() after the checkpoint under
 * way. SA_RESTART: every call of that checkpoint goes on (the sockets
 * with a timeout return EINTR all the same, and kmig_io_all() retries);
 * the sleep between checkpoints ends at once (nanosleep is never
 * restarted).
 */
static int catch_stop(struct colo_pri *p)
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return fail(p, -errno, "sigaction: %s", strerror(errno));
	return 0;
}

/*
 * Until the next checkpoint is due: --checkpoint-ms from now, or sooner
 * when one is asked by hand (--control) or, with --output, once output
 * has waited --output-wait-ms (asking the plug every OUTPUT_POLL_MS).
 * With --stream, every --stream ms meanwhile the pages dirtied since go
 * ahead, and the secondary is listened to (it speaks only to refuse
 * them). 1: the checkpoint is due; 0: SIGINT or SIGTERM came (poll() is
 * never restarted); or -errno (p->err).
 */
static int wait_next(struct colo_pri *p)
{
	uint64_t now = kmig_now_ns(), due = now + p->period_ms * MS, seen = 0;
	uint64_t stream_at = now + p->stream_ms * MS;
	struct pollfd pfd[2] = {
		{ .fd = p->req.wake, .events = POLLIN },
		{ .fd = p->stream_ms ? p->sock : -1, .events = POLLIN },
	};
	int ms, sms, n, ret;

	p->why = NULL;
	while ((now = kmig_now_ns()) < due && !stop_signal) {
		ms = (due - now + MS - 1) / MS;
		if (p->plug && ms > OUTPUT_POLL_MS)
			ms = OUTPUT_POLL_MS;
		if (p->stream_ms && stream_at < due) {
			sms = stream_at > now ? (stream_at - now + MS - 1) / MS : 0;
			ms = sms < ms ? sms : ms;
		}
		n = poll(pfd, 2, ms);
		if (n > 0 && pfd[1].revents)
			return colo_pri_stream_answer(p, p->seq + 1);
		if (n > 0 && pfd[0].revents && colo_requests_asked(&p->req)) {
			p->why = ", by hand";
			return 1;
		}
		if (p->stream_ms && stream_at < due &&
		    kmig_now_ns() >= stream_at) {
			ret = colo_pri_stream(p);
			if (ret)
				return ret;
			stream_at = kmig_now_ns() + p->stream_ms * MS;
		}
		if (p->plug && !seen && kmig_plug_queued(p->plug) > 0)
			seen = kmig_now_ns();
		if (seen && kmig_now_ns() - seen >= p->output_wait_ms * MS) {
			p->why = ", early: output waiting";
			return 1;
		}
	}
	return !stop_signal;
}

/*
 * Before checkpoint 0, while the guest runs: every page with memory,
 * then --live-rounds - 1 rounds of what it dirtied since, straight into
 * the secondary's cache and VM (nothing there to protect yet). The
 * pause of checkpoint 0 then carries only the last round's dirt.
 */
static int live_rounds(struct colo_pri *p)
{
	uint64_t round, npages, left, n, msg = 0, t0;
	int ret = 0;

	p->live = true;
	for (round = 0; round < p->live_rounds && !ret && !stop_signal;
	     round++) {
		t0 = kmig_now_ns();
		ret = colo_pri_collect(p, &npages);
		/* in messages the secondary can stage, each checked whole */
		for (left = npages; !ret && left; left -= n) {
			n = left < COLO_LIVE_PAGES ? left : COLO_LIVE_PAGES;
			ret = colo_pri_send_msg(p, msg++, n, NULL, 0);
		}
		p->first_sent = true;
		if (!ret)
			fprintf(stderr, "kmig colo primary: live round %llu: %llu pages in %.2f ms, the guest running\n",
				(unsigned long long)round,
				(unsigned long long)npages,
				(kmig_now_ns() - t0) / 1e6);
	}
	p->live = false;
	return ret;
}

static int run(struct colo_pri *p)
{
	int ret;

	ret = live_rounds(p);
	if (ret || stop_signal)
		return ret;
	for (p->seq = 0;; p->seq++) {
		bool last = p->checkpoints && p->seq + 1 == p->checkpoints;

		ret = checkpoint(p, last);
		if (!ret)
			colo_requests_served(&p->req, p->seq);
		if (ret || last || stop_signal)
			return ret;
		ret = wait_next(p);
		if (ret <= 0)
			return ret;
	}
}

/* Tell the secondary this was on purpose, then let it go. */
static void bye(struct colo_pri *p)
{
	struct colo_hdr h = { .magic = COLO_BYE_MAGIC };
	uint8_t hb[COLO_HDR_SIZE];

	colo_hdr_encode(&h, hb);
	if (kmig_io_all(p->sock, hb, sizeof(hb), true))
		fprintf(stderr, "kmig colo primary: the secondary did not take the goodbye\n");
}

static void cleanup(struct colo_pri *p, int ret)
{
	colo_hb_stop(&p->hb);
	colo_pri_output_remove(p, ret);
	if (p->logging)
		set_logging(p, false);
	if (ret && p->paused && !p->guest_lost && !p->yielded &&
	    !colo_pri_vmm_req(p, "resume"))
		p->paused = false;
	colo_dev_close_all(&p->o, p->paused ? KMIG_DEVICE_STATE_STOP :
			   KMIG_DEVICE_STATE_RUNNING);
	colo_devbuf_free(&p->dev);
	if (!ret && p->sock >= 0)
		bye(p);
	if (p->sock >= 0)
		close(p->sock);
	p->sock = -1;
	free(p->tmp);
	free(p->buf);
	p->tmp = NULL;
	p->buf = NULL;
	mig_vm_present_free(&p->vm);
	if (p->vm.nslots || p->vm.ctx_fd >= 0)
		mig_vm_detach(&p->vm);
}

/*
 * A new protection's state: nothing of the last one's checkpoints, its
 * heartbeat or its VM (cleanup() closed them), the options kept.
 */
static void protection_reset(struct colo_pri *p)
{
	struct colo_hb hb = COLO_HB_INIT;

	hb.interval_ms = p->hb.interval_ms;
	hb.timeout_ms = p->hb.timeout_ms;
	p->hb = hb;
	memset(&p->vm, 0, sizeof(p->vm));
	p->vm.ctx_fd = -1;
	p->live = p->first_sent = p->logging = p->paused = false;
	p->seq = p->pause_ns_sum = p->pause_ns_max = p->pages_sum = 0;
	p->streaming = p->refused = p->sent_whole = false;
	p->stream_msgs = p->streamed = p->streamed_sum = 0;
	p->dev_bytes_sum = 0;
	p->counter1 = p->t1_ns = p->counter_end = p->t_end_ns = 0;
	p->why = NULL;
	p->err[0] = '\0';
}

/*
 * One protection of the guest by the secondary at p->o.addr: its entry
 * and checkpoints until the end (0: --checkpoints, or a signal) or a
 * failure (-errno, said on stderr: the guest runs on here unprotected).
 */
/*
 * The secondary is lost (not a refusal: it then gives up) after a
 * checkpoint went out whole, which it may have committed: it may take
 * over. With --fence the
 * fence decides, the guest paused meanwhile: 0 keeps the guest here (its
 * output is released as for any lost secondary), anything else yields it
 * to the secondary (p->yielded: the guest stays paused, its held output
 * is dropped, as the secondary emits it again from its last commit).
 */
static void fence(struct colo_pri *p)
{
	int st;

	if (!p->fence || p->refused || p->guest_lost || !p->sent_whole)
		return;
	if (!p->paused && !colo_pri_vmm_req(p, "pause"))
		p->paused = true;
	if (p->guest_lost)
		return;
	st = system(p->fence);
	p->yielded = st == -1 || !WIFEXITED(st) || WEXITSTATUS(st);
	fprintf(stderr, "kmig colo primary: the fence '%s' %s (status 0x%x)\n",
		p->fence, p->yielded ? "yields the guest to the secondary" :
		"keeps the guest here", st);
}

static int protect(struct colo_pri *p)
{
	char peer[MIG_ADDR_STRLEN];
	int ret;

	mig_addr_str(&p->o.addr.ss, peer);
	colo_requests_protecting(&p->req, peer);
	fprintf(stderr, "kmig colo primary: protecting the guest with the secondary at %s\n",
		peer);
	ret = setup(p);
	if (!ret)
		ret = run(p);
	if (!ret)
		colo_pri_progress_end(p);
	if (ret && colo_hb_lost(&p->hb))
		snprintf(p->err, sizeof(p->err), "the secondary is lost at checkpoint %llu: no heartbeat for %u ms",
			 (unsigned long long)p->seq, p->hb.timeout_ms);
	if (ret)
		fence(p);
	cleanup(p, ret);
	if (!ret)
		return 0;
	if (!p->err[0])
		snprintf(p->err, sizeof(p->err), "%s", strerror(-ret));
	colo_requests_unprotected(&p->req, ret, p->err);
	if (p->guest_lost)
		fprintf(stderr, "kmig colo primary: %s; the guest is lost here: the secondary takes over from its last commit\n",
			p->err);
	else if (p->yielded)
		fprintf(stderr, "kmig colo primary: %s; the guest stays paused here: the secondary takes over from its last commit\n",
			p->err);
	else
		fprintf(stderr, "kmig colo primary: %s; the guest runs here unprotected\n",
			p->err);
	return ret;
}

/*
 * --stay, after a protection failed: the guest runs on unprotected, its
 * VMM free for others, until `kmig colo protect` names a new secondary
 * (true, its address in p->o.addr), or a signal or a VMM gone ends the
 * agent (false; -errno in *@ret for the latter).
 */
static bool stay_unprotected(struct colo_pri *p, int *ret)
{
	struct pollfd pfd = { .fd = p->req.wake, .events = POLLIN };
	struct vmm_client c = { .fd = -1 };
	char to[MIG_ADDR_STRLEN];
	struct vmm_status st;

	*ret = vmm_client_connect(&c, p->o.vmm, 1000);
	if (!*ret)
		*ret = vmm_client_status(&c, &st);
	vmm_client_close(&c);
	if (*ret) {
		fprintf(stderr, "kmig colo primary: the VMM at %s is gone (%s): nothing left to protect\n",
			p->o.vmm, strerror(-*ret));
		return false;
	}
	printf("unprotected: the guest is %s here; waiting for `kmig colo protect --control %s --to ADDR:PORT`\n",
	       st.state, p->control);
	fflush(stdout);
	while (!stop_signal) {
		/* a checkpoint asked meanwhile was refused: only wakes us */
		if (poll(&pfd, 1, 1000) > 0)
			colo_requests_asked(&p->req);
		if (!colo_requests_protect_take(&p->req, to, sizeof(to)))
			continue;
		protection_reset(p);
		if (!mig_parse_addr(p->o.cmd, "protect", to, false, &p->o.addr))
			return true;
		colo_requests_unprotected(&p->req, -EINVAL, "not an address");
	}
	return false;
}

int colo_primary_main(int argc, char *argv[])
{
	struct colo_pri p = {
		.sock = -1, .vm = { .ctx_fd = -1 }, .hb = COLO_HB_INIT,
		.req = COLO_REQUESTS_INIT,
	};
	int ret, vmm_ret = 0;

	ret = colo_pri_parse(&p, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = catch_stop(&p);
	if (!ret && p.control)
		ret = colo_requests_start(&p.req, p.control, p.err,
					  sizeof(p.err));
	if (ret) {
		fprintf(stderr, "kmig colo primary: %s\n", p.err);
		return 1;
	}
	do {
		ret = protect(&p);
	} while (ret && p.stay && !p.guest_lost && !p.yielded &&
		 stay_unprotected(&p, &vmm_ret));
	colo_requests_stop(&p.req);
	if (ret && (!p.stay || vmm_ret || !stop_signal))
		return 1;
	if (ret) {
		printf("stopped by %s while unprotected; the guest runs here\n",
		       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		return 0;
	}
	if (stop_signal)
		printf("stopped by %s after checkpoint %llu; the secondary was told, the guest runs here unprotected\n",
		       stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
		       (unsigned long long)p.seq);
	else
		printf("stopped after checkpoint %llu, the guest paused here; ",
		       (unsigned long long)p.seq);
	printf("pause mean %.2f ms, max %.2f ms, %llu pages, %llu streamed",
	       p.seq ? p.pause_ns_sum / 1e6 / p.seq : 0.0,
	       p.pause_ns_max / 1e6, (unsigned long long)p.pages_sum,
	       (unsigned long long)p.streamed_sum);
	if (p.o.ndevs)
		printf(", device state %llu bytes per checkpoint",
		       (unsigned long long)(p.seq ? p.dev_bytes_sum / p.seq : 0));
	printf("\n");
	colo_pri_progress_print(&p);
	return 0;
}
