// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of a precopy live migration (precopy.h).
 *
 * Take the VM's memory context from its VMM, arm dirty tracking, send every
 * page, then send dirty rounds until what is left fits --max-downtime;
 * pause, take the final harvest, send the rest with the vCPU and device
 * state, and hand the guest over (handshake.h). Until the pause,
 * any failure leaves the guest running here, unthrottled; after it, the
 * guest runs here again unless it may already run there.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "dec.h"
#include "handshake.h"
#include "hello.h"
#include "link.h"
#include "mig.h"
#include "postcopy.h"
#include "precopy.h"
#include "sender.h"
#include "util.h"

/* The first failure of any channel or step is the cause (link.h). */
#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)
/* An I/O error of a channel: the destination may say why (link.h). */
#define io_fail(x, ret, ...) mig_link_io_fail(&(x)->link, ret, __VA_ARGS__)

static void progress_tick(void *arg);

static int connect_channels(struct precopy_src *s)
{
	uint8_t hello[KMIG_HELLO_SIZE];
	struct kmig_hello h = { .nchannels = s->o.channels };
	char name[MIG_ADDR_STRLEN];
	uint64_t until = kmig_now_ns() + 5000000000ull;
	unsigned int i;
	int fd, ret;

	memcpy(h.uuid, s->uuid, 16);
	for (i = 0; i < s->o.channels; i++) {
		for (;;) {
			fd = socket(s->o.addr.ss.ss_family,
				    SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return fail(s, -errno, "socket: %s",
					    strerror(errno));
			mig_sock_setup(fd, s->o.io_timeout_s);
			if (!connect(fd, (struct sockaddr *)&s->o.addr.ss,
				     s->o.addr.len))
				break;
			ret = -errno;
			close(fd);
			if (ret != -ECONNREFUSED || kmig_now_ns() > until)
				return fail(s, ret,
					    "cannot connect channel %u to the destination at %s: %s",
					    i, mig_addr_str(&s->o.addr.ss, name),
					    strerror(-ret));
			usleep(50000);
		}
		ret = mig_tls_client(&s->o, &s->job, fd, s->err,
				     sizeof(s->err));
		if (ret) {
			close(fd);
			return fail(s, ret, "channel %u: %s", i, s->err);
		}
		s->sock[s->nsock++] = fd;
		mig_link_add(&s->link, fd);
		h.channel = i;
		kmig_hello_encode(&h, hello);
		ret = kmig_io_all(fd, hello, sizeof(hello), true);
		if (ret)
			return io_fail(s, ret, "channel %u: cannot send the hello: %s",
				       i, strerror(-ret));
	}
	mig_tls_note(&s->o, &s->job);
	return 0;
}

/* The main channel's stream: its writer is the main thread. */
void precopy_main_begin(struct precopy_src *s)
{
	mig_chan_begin(&s->ch[0]);
}

/* A failure of @ret (if any) while writing it, and its end. */
int precopy_main_end(struct precopy_src *s, int ret)
{
	mig_chan_end(&s->ch[0]);
	if (ret && ret != -ECANCELED)
		return io_fail(s, ret, "main channel: %s", strerror(-ret));
	return ret;
}

/* A command on the main channel, sent now. */
int precopy_send_cmd(struct precopy_src *s, const struct kmig_scmd *cmd)
{
	int ret;

	precopy_main_begin(s);
	ret = kmig_enc_cmd(&s->ch[0].enc, cmd);
	if (!ret)
		ret = kmig_enc_flush(&s->ch[0].enc);
	return precopy_main_end(s, ret);
}

/*
 * Every channel's stream header and CAPS, the main one announcing the
 * page channels and opening the return path; then the senders, the
 * keepalive and the return path's reader start.
 */
static int start_streams(struct precopy_src *s)
{
	unsigned int i, npc = s->o.channels - 1;
	uint64_t req = KMIG_SCAP_RETURN_PATH | mig_psum_cap();
	struct kmig_scmd cmd = { 0 };
	int ret;

	if (npc)
		req |= KMIG_SCAP_MULTI_CHANNEL;
	if (s->o.ndevs)
		req |= KMIG_SCAP_DEVICE_STATE;
	if (s->o.postcopy)
		req |= KMIG_SCAP_POSTCOPY;
	for (i = 0; i < s->o.channels; i++) {
		mig_chan_init(&s->ch[i], s->sock[i], i,
			      s->o.bandwidth / (npc ? npc : 1));
		ret = s->o.zerocopy ?
		      kmig_enc_zerocopy(&s->ch[i].enc,
					s->o.io_timeout_s * 1000) : 0;
		if (ret)
			return fail(s, ret, "channel %u: MSG_ZEROCOPY: %s", i,
				    strerror(-ret));
		ret = kmig_enc_header(&s->ch[i].enc);
		if (!ret)
			ret = i ? kmig_enc_caps(&s->ch[i].enc,
						KMIG_SCAP_MULTI_CHANNEL |
						(req & (KMIG_SCAP_POSTCOPY |
							KMIG_SCAP_PAGE_XXH64)),
						0) :
			      /* the VMM's own devices may come, or not */
			      kmig_enc_caps(&s->ch[i].enc, req,
					    KMIG_SCAP_DEVICE_STATE & ~req);
		if (!ret && i)
			ret = kmig_enc_flush(&s->ch[i].enc);
		if (ret)
			return io_fail(s, ret, "channel %u: %s", i,
				       strerror(-ret));
	}
	if (npc) {
		cmd.id = KMIG_SCMD_CHANNELS;
		cmd.channels.count = npc;
		memcpy(cmd.channels.uuid, s->uuid, 16);
		ret = kmig_enc_cmd(&s->ch[0].enc, &cmd);
		if (ret)
			return fail(s, ret, "main channel: %s", strerror(-ret));
	}
	cmd.id = KMIG_SCMD_OPEN_RETURN_PATH;
	ret = precopy_send_cmd(s, &cmd);
	if (ret)
		return ret;
	mig_hs_out_init(&s->out, s->sock[0], s->uuid);
	s->rp = (struct mig_hs_reader) {
		.link = &s->link, .sock = s->sock[0],
		.io_timeout_s = s->o.io_timeout_s,
	};
	memcpy(s->rp.uuid, s->uuid, 16);
	ret = mig_hs_reader_start(&s->rp);
	if (!ret)
		ret = mig_senders_start(&s->senders, &s->vm, &s->link, s->ch,
					npc);
	if (ret)
		return fail(s, ret, "cannot start the sender threads");
	s->senders.tick = progress_tick;
	s->senders.tick_arg = s;
	return 0;
}

/* OR the dirty log of every slot into its bitmap; returns pages set. */
static int harvest(struct precopy_src *s, uint64_t *dirty)
{
	char err[256] = "";
	int ret;

	ret = mig_vm_harvest(&s->vm, s->tmp, true, dirty, err, sizeof(err));
	return ret ? fail(s, ret, "%s", err) : 0;
}

/*
 * Start or stop logging the guest's writes. The VMM's slots do not log
 * until a migration starts, and stop again when it ends, however it ends.
 */
static int set_logging(struct precopy_src *s, bool on)
{
	char err[256] = "";
	int ret;

	ret = mig_vm_set_logging(&s->vm, on, err, sizeof(err));
	return ret ? fail(s, ret, "%s", err) : 0;
}

static void bitmaps_clear(struct precopy_src *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++)
		memset(s->vm.slots[i].bitmap, 0,
		       kmig_bitmap_words(s->vm.slots[i].npages) * 8);
}

/*
 * Pages of one round: on the page channels' senders, or on the main
 * channel. Meanwhile an idle main channel says PING (send.h).
 */
static int send_round(struct precopy_src *s, uint8_t type, bool final)
{
	int ret;

	if (s->o.channels > 1)
		return mig_senders_round(&s->senders, s->round, type, final);
	mig_senders_rewind(&s->senders);
	precopy_main_begin(s);
	ret = mig_chan_ram_part(&s->ch[0], MIG_RAM_SECTION, type);
	mig_chan_end(&s->ch[0]);
	if (ret)
		return io_fail(s, ret, "main channel: %s", s->ch[0].errmsg[0] ?
			       s->ch[0].errmsg : strerror(-ret));
	return 0;
}

/* The main channel's ROUND_SYNC, and with @final its END_OF_STREAM. */
int precopy_main_round_sync(struct precopy_src *s, bool final)
{
	precopy_main_begin(s);
	return precopy_main_end(s, mig_chan_round_sync(&s->ch[0], s->round, final));
}

/*
 * Device state of one round: while running, what is pending when the round
 * starts (what the device changes meanwhile waits for the next round);
 * at the switchover all of it, then the config.
 */
int precopy_send_devices(struct precopy_src *s, uint8_t type, bool final)
{
	uint64_t pending = 0;
	unsigned int i;
	int ret = 0;

	precopy_main_begin(s);
	for (i = 0; i < s->o.ndevs && !ret; i++) {
		struct mig_device *d = &s->o.devs[i];

		if (!final && mig_dev_pending(d, &pending))
			pending = 0;
		ret = mig_dev_save(d, &s->ch[0].enc, MIG_DEV_SECTION + i,
				   type, final ? 0 : pending ? pending : 1,
				   final);
		if (ret)
			fail(s, ret, "device %s:%u: cannot save its state: %s",
			     d->name, d->instance, strerror(-ret));
	}
	mig_chan_end(&s->ch[0]);
	return ret;
}

/* What the senders counted, for the job model (report.c). */
static void job_update(struct precopy_src *s, uint64_t dirty)
{
	struct mig_counts c = {
		.ram_bytes = sent_bytes(s, false),
		.all_bytes = sent_bytes(s, true), .dirty = dirty,
	};
	unsigned int i;

	for (i = 0; i < s->o.channels; i++) {
		c.pages += __atomic_load_n(&s->ch[i].pages, __ATOMIC_RELAXED);
		c.zero += __atomic_load_n(&s->ch[i].zero, __ATOMIC_RELAXED);
	}
	for (i = 0; i < s->o.ndevs; i++)
		c.device_bytes += s->o.devs[i].bytes;
	mig_job_count(&s->job, &c);
	s->job.throttle = s->throttle;
}

/*
 * While a round is sent (the senders' tick): the job info with what went
 * out so far; what remains is as of the last harvest.
 */
static void progress_tick(void *arg)
{
	struct precopy_src *s = arg;

	job_update(s, s->job.memory_remaining / MIG_PAGE);
	postcopy_progress(s);
	mig_progress(&s->o, &s->job);
}

/* vCPU state from the VMM, re-sent record by record on the main stream. */
int precopy_send_vcpus(struct precopy_src *s, const uint8_t *buf, size_t len)
{
	char err[256];
	int ret;

	precopy_main_begin(s);
	ret = mig_vmm_state_copy(buf, len, &s->ch[0].enc, err, sizeof(err));
	mig_chan_end(&s->ch[0]);
	return ret ? fail(s, ret, "the VMM's vCPU state: %s", err) : 0;
}

int precopy_vmm_req(struct precopy_src *s, const char *what, const char *req)
{
	int ret = vmm_client_cmd(&s->vm.vmm, "%s", req);

	if (ret)
		return fail(s, ret, "cannot %s: %s", what,
			    vmm_client_why(&s->vm.vmm, ret));
	return 0;
}

/*
 * Before GO the VMM here learns that its guest is gone, so that a plain
 * `kmig resume` refuses to run it a second time even when this agent dies
 * right after GO. A VMM that closed its control socket (kmig-vmm does so
 * only when it dies) runs no guest any more: nothing to mark.
 */
int precopy_mark_gone(struct precopy_src *s)
{
	int ret = vmm_client_cmd(&s->vm.vmm, "migrated");

	if (ret == -EPIPE || ret == -ECONNRESET)
		return 0;
	if (ret)
		return fail(s, ret, "cannot mark the guest as migrated away: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	s->marked_gone = true;
	return 0;
}

/*
 * Everything is sent: hand the guest over (handshake.h). Once GO is out
 * it may run there: never here again, unless the destination says FAILED.
 */
static int handshake(struct precopy_src *s)
{
	int ret = mig_hs_loaded(&s->rp);

	if (!ret)
		ret = precopy_mark_gone(s);
	if (ret)
		return ret;
	return mig_hs_go(&s->rp, &s->out, kmig_now_ns() - s->pause_ns,
			 &s->handed_over);
}

/*
 * Paused: the last dirty pages, the vCPU state and the devices' final
 * state, and the main stream's end.
 */
static int send_final(struct precopy_src *s, const uint8_t *vbuf, size_t vlen)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_SWITCHOVER };
	int ret;

	ret = precopy_send_cmd(s, &cmd);
	s->round++;
	if (!ret)
		ret = send_round(s, KMIG_REC_SECTION_END, true);
	if (!ret)
		ret = precopy_send_vcpus(s, vbuf, vlen);
	if (!ret)
		ret = precopy_send_devices(s, KMIG_REC_SECTION_END, true);
	if (!ret)
		ret = precopy_main_round_sync(s, true);
	return ret;
}

/* Pause the guest; its last dirty pages and its vCPU state in @vbuf. */
int precopy_pause(struct precopy_src *s, uint64_t *dirty, uint8_t **vbuf,
		       size_t *vlen)
{
	unsigned int i;
	int ret;

	s->pause_ns = kmig_now_ns();
	ret = precopy_vmm_req(s, "pause the guest", "pause");
	if (ret)
		return ret;
	s->paused = true;
	ret = harvest(s, dirty);
	if (ret)
		return ret;
	ret = vmm_client_save(&s->vm.vmm, vbuf, vlen);
	if (ret)
		return fail(s, ret, "cannot save the vCPU state: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	if (s->o.save_dir) {
		ret = mig_save_slots(&s->vm, s->o.save_dir, s->err,
				     sizeof(s->err));
		if (!ret)
			ret = mig_save_file(s->o.save_dir, "vcpus.bin", *vbuf,
					    *vlen, s->err, sizeof(s->err));
		if (ret)
			return fail(s, ret, "%s", s->err);
	}
	for (i = 0; i < s->o.ndevs; i++)
		if (mig_dev_set_state(&s->o.devs[i],
				      KMIG_DEVICE_STATE_SAVING))
			return fail(s, -errno, "device %s:%u: cannot stop it: %s",
				    s->o.devs[i].name, s->o.devs[i].instance,
				    strerror(errno));
	return 0;
}

static int switchover(struct precopy_src *s)
{
	uint64_t dirty = 0, t1 = 0, t2 = 0;
	uint8_t *vbuf = NULL;
	size_t vlen = 0;
	int ret;

	ret = precopy_pause(s, &dirty, &vbuf, &vlen);
	t1 = kmig_now_ns();
	if (!ret)
		kmig_stop_at("switchover");
	if (!ret)
		ret = send_final(s, vbuf, vlen);
	free(vbuf);
	t2 = kmig_now_ns();
	if (ret)
		return ret;
	job_update(s, 0);
	s->job.memory_iteration = s->round + 1;
	ret = handshake(s);
	if (!ret)
		s->job.downtime_ms = (kmig_now_ns() - s->pause_ns) / 1000000;
	if (getenv("KMIG_DEBUG"))
		fprintf(stderr, "switchover: pause+harvest+save %llu ms, final stream (%llu pages) %llu ms, handshake %llu ms\n",
			(unsigned long long)(t1 - s->pause_ns) / 1000000,
			(unsigned long long)dirty,
			(unsigned long long)(t2 - t1) / 1000000,
			(unsigned long long)(kmig_now_ns() - t2) / 1000000);
	return ret;
}

/*
 * Back to how it was before the migration: running, unthrottled. Unless
 * the guest was handed over: then it stays paused, devices stopped.
 */
static void abort_source(struct precopy_src *s)
{
	uint32_t dev_state = s->handed_over ? KMIG_DEVICE_STATE_STOP :
			     KMIG_DEVICE_STATE_RUNNING;
	unsigned int i;

	for (i = 0; i < s->o.ndevs; i++)
		if (s->o.devs[i].fd >= 0)
			mig_dev_set_state(&s->o.devs[i], dev_state);
	if (s->vm.ctx_fd < 0)
		return;
	set_logging(s, false);
	if (s->throttle)
		vmm_client_cmd(&s->vm.vmm, "throttle 0");
	/* marked gone, but the destination said FAILED: it runs here */
	if (s->paused && !s->handed_over &&
	    vmm_client_cmd(&s->vm.vmm, s->marked_gone ? "resume force" :
			   "resume"))
		fprintf(stderr, "kmig migrate: cannot resume the guest here: %s\n",
			s->vm.vmm.reply);
}

/*
 * Round 0: log the guest's writes, what the log held at its start
 * dropped (mig_vm_log_start(): round 1 would be the whole guest again),
 * then send every page with memory.
 */
static int precopy_setup(struct precopy_src *s)
{
	char err[256] = "";
	unsigned int i;
	int ret;

	ret = mig_vm_log_start(&s->vm, s->tmp, err, sizeof(err));
	if (ret)
		return fail(s, ret, "%s", err);
	/* After logging started: a page that gets memory later by being
	 * written is in round 1. */
	ret = mig_vm_present(&s->vm, err, sizeof(err));
	if (ret)
		return fail(s, ret, "%s", err);
	for (i = 0; i < s->vm.nslots; i++) {
		struct mig_slot *sl = &s->vm.slots[i];

		memset(sl->bitmap, 0xff, kmig_bitmap_words(sl->npages) * 8);
		if (sl->npages % 64)
			sl->bitmap[sl->npages / 64] = (1ull << (sl->npages % 64)) - 1;
	}
	for (i = 0; i < s->o.ndevs; i++)
		if (mig_dev_set_state(&s->o.devs[i], KMIG_DEVICE_STATE_RUNNING |
				      KMIG_DEVICE_STATE_SAVING))
			return fail(s, -errno, "device %s:%u: cannot start saving: %s",
				    s->o.devs[i].name, s->o.devs[i].instance,
				    strerror(errno));
	s->job.setup_ms = (kmig_now_ns() - s->job.start_ns) / 1000000;
	return 0;
}

/* One precopy round: its pages, its device state, the main sync. */
static int precopy_round(struct precopy_src *s)
{
	uint8_t type = s->round ? KMIG_REC_SECTION_PART :
		       KMIG_REC_SECTION_START;
	int ret;

	ret = send_round(s, type, false);
	if (!ret)
		ret = precopy_send_devices(s, type, false);
	if (!ret)
		ret = precopy_main_round_sync(s, false);
	bitmaps_clear(s);
	mig_vm_present_free(&s->vm);
	return ret;
}

static int cancelled(struct precopy_src *s)
{
	return fail(s, -ECANCELED,
		    "cancelled after %llu rounds; the guest keeps running here",
		    (unsigned long long)s->round + 1);
}

/*
 * The round loop: send, harvest, and either switch over once the rest
 * fits --max-downtime, give up at --timeout, or go round again (throttled
 * when the guest outruns the link).
 */
int precopy_run(struct precopy_src *s)
{
	struct estimate e = { .steps = 1, .last_ns = kmig_now_ns() };
	uint64_t dirty, now, t0, b0, left, harvest_ms;
	int ret;

	kmig_stop_at("setup");
	ret = precopy_setup(s);
	for (s->round = 0; !ret; s->round++) {
		t0 = kmig_now_ns();
		b0 = sent_bytes(s, false);
		ret = precopy_round(s);
		if (ret)
			return ret;
		if (!s->round) {
			kmig_stop_at("rounds");
			kmig_delay_at("rounds");	/* a test's late ask */
		}
		bandwidth_estimate(s, &e, kmig_now_ns() - t0);

		now = kmig_now_ns();
		ret = harvest(s, &dirty);
		if (ret)
			return ret;
		harvest_ms = (kmig_now_ns() - now) / 1000000;
		s->job.memory_dirty_rate = now > e.last_ns ?
			dirty * 1000000000ull / (now - e.last_ns) : 0;
		e.last_ns = now;
		s->job.memory_iteration = s->round + 1;
		left = dirty * MIG_PAGE + devices_pending(s);
		if (getenv("KMIG_DEBUG"))
			fprintf(stderr, "round %llu: %llu ms, %llu dirty, bw %llu\n",
				(unsigned long long)s->round,
				(unsigned long long)(now - t0) / 1000000,
				(unsigned long long)dirty,
				(unsigned long long)e.bw);
		if (postcopy_due(s)) {
			job_update(s, dirty);
			mig_progress(&s->o, &s->job);
			if (!mig_jobctl_commit(&s->ctl))
				return cancelled(s);
			return postcopy_run(s);
		}
		if (converged(s, &e, left, harvest_ms)) {
			job_update(s, dirty);
			mig_progress(&s->o, &s->job);
			if (!mig_jobctl_commit(&s->ctl))
				return cancelled(s);
			return switchover(s);
		}
		job_update(s, dirty);
		mig_progress(&s->o, &s->job);
		if (mig_jobctl_cancelled(&s->ctl))
			return cancelled(s);
		if (s->o.timeout_ms &&
		    kmig_now_ns() - s->job.start_ns > s->o.timeout_ms * 1000000ull)
			return fail(s, -ETIMEDOUT,
				    "not converged after %llu s (%llu pages dirty, %llu ms expected downtime); aborted, the guest keeps running here",
				    (unsigned long long)s->o.timeout_ms / 1000,
				    (unsigned long long)dirty,
				    (unsigned long long)s->job.expected_downtime_ms);
		ret = auto_converge(s, &e, dirty, sent_bytes(s, false) - b0);
	}
	return ret;
}

/*
 * The VMM has a guest to migrate: it runs or is paused here. One that
 * migrated away, or waits for one, is refused before anything is sent.
 */
static int has_guest(struct precopy_src *s, const struct vmm_status *st)
{
	if (!strcmp(st->state, "running") || !strcmp(st->state, "paused"))
		return 0;
	return fail(s, -EBUSY, "the VMM at %s is %s: it has no guest to migrate%s",
		    s->o.vmm, st->state, !strcmp(st->state, "migrated") ?
		    " (its guest migrated away and runs elsewhere)" : "");
}

/* The VMM's memory, the devices, the channels: ready to send. */
static int setup(struct precopy_src *s)
{
	struct vmm_status st;
	unsigned int i;
	int ret;

	ret = mig_vm_attach_status(&s->vm, s->o.vmm, PROT_READ, &st, s->err,
				   sizeof(s->err));
	if (ret)
		return fail(s, ret, "%s", s->err);
	ret = has_guest(s, &st);
	if (ret)
		return ret;
	s->job.memory_total = s->vm.mem_size;
	s->job.memory_remaining = s->vm.mem_size;	/* round 0: all of it */
	s->tmp = mig_vm_bitmap_buf(&s->vm);
	if (!s->tmp)
		return fail(s, -ENOMEM, "out of memory");
	for (i = 0; i < s->o.ndevs; i++) {
		ret = mig_dev_open(&s->o.devs[i], s->err, sizeof(s->err));
		if (ret)
			return fail(s, ret, "%s", s->err);
	}
	ret = connect_channels(s);
	if (!ret)
		ret = start_streams(s);
	return ret;
}

/*
 * Migrated: the guest runs there. Here it stays paused for good, and the
 * VMM is told, so that it refuses to run it again unless forced.
 */
static void migrated_away(struct precopy_src *s)
{
	unsigned int i;
	int ret;

	for (i = 0; i < s->o.ndevs; i++)
		mig_dev_set_state(&s->o.devs[i], KMIG_DEVICE_STATE_STOP);
	set_logging(s, false);
	if (s->throttle)
		vmm_client_cmd(&s->vm.vmm, "throttle 0");
	ret = vmm_client_cmd(&s->vm.vmm, "migrated");
	if (ret)
		fprintf(stderr, "kmig migrate: the VMM was not told that its guest migrated away: %s\n",
			vmm_client_why(&s->vm.vmm, ret));
}

/*
 * The cause, once every thread has stopped: the return path's reader had
 * a moment to hear the destination's own account.
 */
static int stop_threads(struct precopy_src *s, int ret)
{
	if (ret)
		mig_link_shut(&s->link);
	postcopy_stop(s);
	mig_hs_reader_stop(&s->rp, ret ? 2000 : 0);
	mig_link_shut(&s->link);
	mig_senders_stop(&s->senders);
	return ret ? mig_link_cause(&s->link, s->err, sizeof(s->err)) : 0;
}


void precopy_cancel(void *arg)
{
	struct precopy_src *s = arg;

	/* the senders stop at their next chunk; the round ends failed */
	fail(s, -ECANCELED, "cancelled; the guest keeps running here");
}

void precopy_init(struct precopy_src *s)
{
	mig_link_init(&s->link);
	s->link.keep_return_path = true;
	mig_job_start(&s->job);
	s->job.channels = s->o.channels;
	s->job.page_sum = kmig_psum_name(kmig_psum_pick());
	s->vm.ctx_fd = -1;
	getrandom(s->uuid, sizeof(s->uuid), 0);
}

int precopy_start(struct precopy_src *s)
{
	int ret;

	ret = mig_ensure_module(s->err, sizeof(s->err));
	if (ret) {
		fail(s, ret, "%s", s->err);
		return ret;
	}
	return setup(s);
}

int precopy_end(struct precopy_src *s, int ret)
{
	ret = stop_threads(s, ret);
	if (ret && s->pc)
		postcopy_failed(s);
	if (ret)
		abort_source(s);
	else
		migrated_away(s);
	job_update(s, ret ? s->job.memory_remaining / MIG_PAGE : 0);
	mig_job_end(&s->job, ret && s->handed_over ? -EINPROGRESS : ret,
		    s->err);
	return ret;
}

void precopy_free(struct precopy_src *s)
{
	unsigned int i;

	for (i = 0; i < s->o.channels; i++)
		mig_chan_free(&s->ch[i]);
	for (i = 0; i < s->nsock; i++)
		close(s->sock[i]);
	for (i = 0; i < s->o.ndevs; i++)
		mig_dev_close(&s->o.devs[i]);
	postcopy_free(s);
	mig_vm_detach(&s->vm);
	mig_link_destroy(&s->link);
	free(s->tmp);
}
