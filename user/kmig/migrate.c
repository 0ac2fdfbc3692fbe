// SPDX-License-Identifier: GPL-2.0
/*
 * kmig migrate: the source side of a precopy live migration.
 *
 * Take the VM's memory context from its VMM, arm dirty tracking, send every
 * page, then send dirty rounds until what is left fits --max-downtime;
 * pause, take the final harvest, send the rest with the vCPU and device
 * state, and hand the guest over (see MIG_HS_* in mig.h). Until the pause,
 * any failure leaves the guest running here, unthrottled; after it, the
 * guest runs here again unless it may already run there.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "dec.h"
#include "hello.h"
#include "mig.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig migrate --vmm SOCK --to IPV4:PORT [options]\n"
"\n"
"Live-migrate the VM of the VMM behind control socket SOCK (a path, or\n"
"@name in the abstract namespace) to `kmig incoming` at IPV4:PORT.\n"
"\n"
"  --vmm SOCK                 the VMM's control socket (required)\n"
"  --to IPV4:PORT             the destination agent (required)\n"
"  --channels N               connections: 1 (default) is the main channel\n"
"                             only; N > 1 adds N page channels (max 16)\n"
"  --max-downtime MS          downtime target, 1..60000 (default 300)\n"
"  --bandwidth MIB_PER_S      cap the transfer rate, 1..1048576\n"
"  --timeout S                abort if not switched over after S seconds;\n"
"                             the guest keeps running here\n"
"  --io-timeout S             give up on a connection silent for S seconds,\n"
"                             2..3600 (default 30)\n"
"  --json                     print the job info as JSON\n"
"  --device NAME:INSTANCE     migrate this device's state too (repeatable)\n"
"  --save-at-switchover DIR   write each slot's memory at the pause as\n"
"                             DIR/slot-ID.bin and the vCPU state as\n"
"                             DIR/vcpus.bin\n"
"  --help                     this text\n";

struct src {
	struct mig_opts o;
	struct mig_vm vm;
	struct mig_job job;
	unsigned int nsock;
	int sock[1 + MIG_MAX_CHANNELS];
	struct mig_sender snd[1 + MIG_MAX_CHANNELS];
	uint8_t uuid[16];
	uint64_t round;
	uint32_t pings;
	bool paused;
	bool handed_over;		/* GO sent, no FAILED since */
	unsigned int throttle;
	uint64_t *tmp;			/* harvest buffer */
	char err[512];
};

struct chan_job {
	struct mig_sender *s;
	unsigned int chan;
	uint8_t sec_type;
	uint64_t round;
	bool final;
	pthread_t thread;
	int ret;
};

static int parse(struct mig_opts *o, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "to", required_argument, NULL, 't' },
		{ "channels", required_argument, NULL, 'c' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "io-timeout", required_argument, NULL, 'I' },
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'D' },
		{ "save-at-switchover", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool have_to = false;
	uint64_t v;
	int c, ret;

	o->cmd = "migrate";
	o->io_timeout_s = MIG_IO_TIMEOUT_S;
	o->channels = 1;
	o->max_downtime_ms = 300;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (mig_parse_addr(o->cmd, optarg, false, &o->addr))
				return -EINVAL;
			have_to = true;
			break;
		case 'c':
			if (mig_parse_u64(o->cmd, "--channels", optarg, 1,
					  MIG_MAX_CHANNELS, &v))
				return -EINVAL;
			o->channels = v == 1 ? 1 : v + 1;
			break;
		case 'd':
			if (mig_parse_u64(o->cmd, "--max-downtime", optarg, 1,
					  60000, &o->max_downtime_ms))
				return -EINVAL;
			break;
		case 'b':
			if (mig_parse_u64(o->cmd, "--bandwidth", optarg, 1,
					  1048576, &v))
				return -EINVAL;
			o->bandwidth = v << 20;
			break;
		default:
			ret = mig_parse_common(o, c, usage, argv);
			if (ret)
				return ret;
		}
	}
	ret = mig_parse_end(o, argc, argv);
	if (ret)
		return ret;
	if (!have_to)
		return mig_usage_error(o->cmd, "--to IPV4:PORT is required");
	return 0;
}

/* The first failure's message sticks (mig_fail()). */
#define fail(x, ret, ...) mig_fail((x)->err, sizeof((x)->err), ret, __VA_ARGS__)

static int connect_channels(struct src *s)
{
	uint8_t hello[KMIG_HELLO_SIZE];
	struct kmig_hello h = { .nchannels = s->o.channels };
	uint64_t until = mig_now_ns() + 5000000000ull;
	unsigned int i;
	int fd, ret;

	memcpy(h.uuid, s->uuid, 16);
	for (i = 0; i < s->o.channels; i++) {
		for (;;) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return fail(s, -errno, "socket: %s",
					    strerror(errno));
			mig_sock_setup(fd, s->o.io_timeout_s);
			if (!connect(fd, (struct sockaddr *)&s->o.addr,
				     sizeof(s->o.addr)))
				break;
			ret = -errno;
			close(fd);
			if (ret != -ECONNREFUSED || mig_now_ns() > until)
				return fail(s, ret,
					    "cannot connect channel %u to the destination: %s",
					    i, strerror(-ret));
			usleep(50000);
		}
		s->sock[s->nsock++] = fd;
		h.channel = i;
		kmig_hello_encode(&h, hello);
		ret = mig_io_all(fd, hello, sizeof(hello), true);
		if (ret)
			return fail(s, ret, "channel %u: cannot send the hello: %s",
				    i, strerror(-ret));
	}
	return 0;
}

/* A command on the main channel, sent now. */
static int send_cmd(struct src *s, const struct kmig_scmd *cmd)
{
	int ret;

	ret = kmig_enc_cmd(&s->snd[0].enc, cmd);
	if (!ret)
		ret = kmig_enc_flush(&s->snd[0].enc);
	if (ret)
		return fail(s, ret, "main channel: %s", strerror(-ret));
	return 0;
}

static int start_streams(struct src *s)
{
	unsigned int i, npc = s->o.channels - 1;
	uint64_t req = KMIG_SCAP_RETURN_PATH;
	struct kmig_scmd cmd = { 0 };
	int ret;

	if (npc)
		req |= KMIG_SCAP_MULTI_CHANNEL;
	if (s->o.ndevs)
		req |= KMIG_SCAP_DEVICE_STATE;
	for (i = 0; i < s->o.channels; i++) {
		ret = mig_sender_init(&s->snd[i], s->sock[i],
				      npc ? i - 1 : 0, npc ? npc : 1, &s->vm,
				      s->o.bandwidth / (npc ? npc : 1));
		if (ret)
			return fail(s, ret, "out of memory");
		ret = kmig_enc_header(&s->snd[i].enc);
		if (!ret)
			ret = kmig_enc_caps(&s->snd[i].enc,
					    i ? KMIG_SCAP_MULTI_CHANNEL : req, 0);
		if (ret)
			return fail(s, ret, "channel %u: %s", i, strerror(-ret));
	}
	if (npc) {
		cmd.id = KMIG_SCMD_CHANNELS;
		cmd.channels.count = npc;
		memcpy(cmd.channels.uuid, s->uuid, 16);
		ret = kmig_enc_cmd(&s->snd[0].enc, &cmd);
		if (ret)
			return fail(s, ret, "main channel: %s", strerror(-ret));
	}
	cmd.id = KMIG_SCMD_OPEN_RETURN_PATH;
	return send_cmd(s, &cmd);
}

/* OR the dirty log of every slot into its bitmap; returns pages set. */
static int harvest(struct src *s, uint64_t *dirty)
{
	uint64_t w, n = 0;
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		struct mig_slot *sl = &s->vm.slots[i];
		struct kmig_dirty_log log = {
			.slot = sl->id, .flags = KMIG_DIRTY_LOG_CLEAR,
			.num_pages = sl->npages, .bitmap = (uintptr_t)s->tmp,
		};

		if (ioctl(s->vm.ctx_fd, KMIG_GET_DIRTY_LOG, &log))
			return fail(s, -errno,
				    "cannot harvest the dirty log of slot %u: %s%s",
				    sl->id, strerror(errno), errno == ENODEV ?
				    " (the VMM did not create it with dirty logging)" :
				    "");
		for (w = 0; w < (sl->npages + 63) / 64; w++) {
			sl->bitmap[w] |= s->tmp[w];
			n += __builtin_popcountll(sl->bitmap[w]);
		}
	}
	*dirty = n;
	return 0;
}

/*
 * Start or stop logging the guest's writes. The VMM's slots do not log
 * until a migration starts, and stop again when it ends, however it ends.
 */
static int set_logging(struct src *s, bool on)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		struct kmig_dirty_logging lg = {
			.slot = s->vm.slots[i].id,
			.flags = on ? KMIG_DIRTY_LOGGING_ON : 0,
		};

		if (ioctl(s->vm.ctx_fd, KMIG_SET_DIRTY_LOGGING, &lg))
			return fail(s, -errno,
				    "cannot %s dirty logging of slot %u: %s%s",
				    on ? "start" : "stop", lg.slot,
				    strerror(errno), errno == ENODEV ?
				    " (the VMM did not create it with dirty logging)" :
				    "");
	}
	return 0;
}

/*
 * Which pages have memory, for round 0; taken after logging started, so
 * that a page that gets memory later by being written is in round 1.
 */
static int get_present(struct src *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		struct mig_slot *sl = &s->vm.slots[i];
		struct kmig_dirty_log log = {
			.slot = sl->id, .num_pages = sl->npages,
		};

		sl->present = calloc((sl->npages + 63) / 64, 8);
		if (!sl->present)
			return fail(s, -ENOMEM, "out of memory");
		log.bitmap = (uintptr_t)sl->present;
		if (ioctl(s->vm.ctx_fd, KMIG_GET_PRESENT_BITMAP, &log))
			return fail(s, -errno,
				    "cannot tell the pages of slot %u with memory: %s",
				    sl->id, strerror(errno));
	}
	return 0;
}

static void present_free(struct src *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++) {
		free(s->vm.slots[i].present);
		s->vm.slots[i].present = NULL;
	}
}

static void bitmaps_clear(struct src *s)
{
	unsigned int i;

	for (i = 0; i < s->vm.nslots; i++)
		memset(s->vm.slots[i].bitmap, 0,
		       (s->vm.slots[i].npages + 63) / 64 * 8);
}

static int ram_part(struct mig_sender *snd, uint32_t id, uint8_t type)
{
	struct kmig_section sec = {
		.type = type, .id = id, .kind = KMIG_SEC_RAM, .version = 1,
		.name = "ram",
	};
	int ret;

	ret = kmig_enc_section(&snd->enc, &sec);
	if (!ret)
		ret = mig_send_pages(snd);
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&snd->enc, &sec);
	return ret;
}

static int round_sync(struct mig_sender *snd, uint64_t round, bool final)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_ROUND_SYNC, .round = round };
	int ret;

	ret = kmig_enc_cmd(&snd->enc, &cmd);
	if (!ret && final)
		ret = kmig_enc_eos(&snd->enc);
	if (!ret)
		ret = kmig_enc_flush(&snd->enc);
	return ret;
}

static void *chan_thread(void *arg)
{
	struct chan_job *j = arg;

	j->ret = ram_part(j->s, MIG_RAM_SECTION + j->chan, j->sec_type);
	if (!j->ret)
		j->ret = round_sync(j->s, j->round, j->final);
	return NULL;
}

/* Bytes sent so far: RAM records, and device data with @dev. */
static uint64_t sent_bytes(struct src *s, bool dev)
{
	uint64_t b = 0;
	unsigned int i;

	for (i = 0; i < s->o.channels; i++)
		b += s->snd[i].bytes;
	for (i = 0; dev && i < s->o.ndevs; i++)
		b += s->o.devs[i].bytes;
	return b;
}

/* Wait at most MIG_PING_NS for @t: 0 once it has ended, or ETIMEDOUT. */
static int timed_join(pthread_t t)
{
	uint64_t ns;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = ts.tv_nsec + MIG_PING_NS;
	ts.tv_sec += ns / 1000000000ull;
	ts.tv_nsec = ns % 1000000000ull;
	return pthread_timedjoin_np(t, NULL, &ts);
}

/*
 * While the page channels carry a round the main channel has nothing to
 * say; it says PING, so that the destination can tell a long round from a
 * dead source.
 */
static int ping(struct src *s)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_PING, .token = ++s->pings };

	return send_cmd(s, &cmd);
}

/* Pages of one round: on the page channels' threads, or on the main one. */
static int send_round(struct src *s, uint8_t type, bool final)
{
	struct chan_job jobs[MIG_MAX_CHANNELS];
	unsigned int i, npc = s->o.channels - 1;
	int ret = 0;

	for (i = 0; i < npc; i++) {
		jobs[i] = (struct chan_job) {
			.s = &s->snd[i + 1], .chan = i + 1, .sec_type = type,
			.round = s->round, .final = final,
		};
		if (pthread_create(&jobs[i].thread, NULL, chan_thread,
				   &jobs[i])) {
			npc = i;
			ret = fail(s, -EAGAIN, "cannot start a sender thread");
			break;
		}
	}
	if (s->o.channels == 1)
		ret = ram_part(&s->snd[0], MIG_RAM_SECTION, type);
	for (i = 0; i < npc; i++) {
		while (!ret && timed_join(jobs[i].thread) == ETIMEDOUT)
			ret = ping(s);
		if (ret) {
			/* Failed already: stop this sender where it is. */
			shutdown(jobs[i].s->sock, SHUT_RDWR);
			pthread_join(jobs[i].thread, NULL);
		}
		if (jobs[i].ret && !ret)
			ret = fail(s, jobs[i].ret, "page channel %u: %s", i + 1,
				   s->snd[i + 1].errmsg[0] ?
				   s->snd[i + 1].errmsg :
				   strerror(-jobs[i].ret));
	}
	if (ret)
		return fail(s, ret, "main channel: %s", s->snd[0].errmsg[0] ?
			    s->snd[0].errmsg : strerror(-ret));
	return 0;
}

/*
 * Device state of one round: while running, what is pending when the round
 * starts (what the device changes meanwhile waits for the next round);
 * at the switchover all of it, then the config.
 */
static int devices_round(struct src *s, uint8_t type, bool final)
{
	uint64_t pending = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < s->o.ndevs; i++) {
		struct mig_device *d = &s->o.devs[i];

		if (!final && mig_dev_pending(d, &pending))
			pending = 0;
		ret = mig_dev_save(d, &s->snd[0].enc, MIG_DEV_SECTION + i,
				   type, final ? 0 : pending ? pending : 1,
				   final);
		if (ret)
			return fail(s, ret, "device %s:%u: cannot save its state: %s",
				    d->name, d->instance, strerror(-ret));
	}
	return 0;
}

static void job_update(struct src *s, uint64_t dirty)
{
	struct mig_job *j = &s->job;
	unsigned int i;

	j->memory_normal = j->memory_constant = 0;
	for (i = 0; i < s->o.channels; i++) {
		j->memory_normal += s->snd[i].pages;
		j->memory_constant += s->snd[i].zero;
	}
	j->memory_normal_bytes = j->memory_normal * MIG_PAGE;
	j->memory_processed = sent_bytes(s, false);
	j->data_processed = sent_bytes(s, true);
	j->memory_remaining = dirty * MIG_PAGE;
	j->data_remaining = j->memory_remaining;
	j->device_bytes = 0;
	for (i = 0; i < s->o.ndevs; i++)
		j->device_bytes += s->o.devs[i].bytes;
	j->data_total = j->memory_total + j->device_bytes;
	j->time_elapsed_ms = (mig_now_ns() - j->start_ns) / 1000000;
	j->throttle = s->throttle;
}

/* vCPU state from the VMM, re-sent record by record on the main stream. */
static int vcpu_section(void *opaque, const struct kmig_section *sec)
{
	return kmig_enc_section(opaque, sec);
}

static int vcpu_record(void *opaque, uint32_t vcpu, uint16_t part,
		       const void *data, uint32_t len)
{
	return kmig_enc_vcpu(opaque, vcpu, part, data, len);
}

static int send_vcpus(struct src *s, const uint8_t *buf, size_t len)
{
	static const struct kmig_dec_ops ops = {
		.section = vcpu_section, .vcpu = vcpu_record,
	};
	struct kmig_dec_cfg cfg = {
		.caps_supported = KMIG_SCAP_ALL, .ops = &ops,
		.opaque = &s->snd[0].enc,
	};
	struct kmig_dec d;
	int ret;

	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	if (ret)
		fail(s, ret, "the VMM's vCPU state: %s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	return ret;
}

static const char *conn_error(int ret)
{
	return ret == -ECONNRESET ? "connection closed" :
	       ret == -EPROTO ? "not a handshake message" : strerror(-ret);
}

/*
 * Everything is sent: wait until the destination has loaded it, hand the
 * guest over, and wait until it runs there (see MIG_HS_* in mig.h).
 */
static int handshake(struct src *s)
{
	uint64_t value;
	uint32_t type;
	int ret;

	ret = mig_hs_recv(s->sock[0], &type, &value);
	if (ret)
		return fail(s, ret, "the destination did not load the guest: %s",
			    conn_error(ret));
	if (type == MIG_HS_FAILED)
		return fail(s, -EIO, "the destination failed to load the guest: %s",
			    strerror((int)value));
	if (type != MIG_HS_LOADED)
		return fail(s, -EPROTO, "handshake message %u from the destination, expected LOADED",
			    type);
	/* From here on the guest may run there: never here again. */
	s->handed_over = true;
	ret = mig_hs_send(s->sock[0], MIG_HS_GO, 0);
	if (!ret)
		ret = mig_hs_recv(s->sock[0], &type, &value);
	if (ret)
		return fail(s, ret, "the destination was told to resume the guest and did not confirm (%s); it may run there, so it stays paused here",
			    conn_error(ret));
	if (type == MIG_HS_FAILED) {
		/* It says the guest does not run there: ours again. */
		s->handed_over = false;
		return fail(s, -EIO, "the destination could not resume the guest: %s",
			    strerror((int)value));
	}
	if (type != MIG_HS_RESUMED)
		return fail(s, -EPROTO, "handshake message %u from the destination, expected RESUMED; the guest stays paused here",
			    type);
	return 0;
}

static int vmm_req(struct src *s, const char *what, const char *req)
{
	int ret = vmm_client_cmd(&s->vm.vmm, "%s", req);

	if (ret)
		return fail(s, ret, "the VMM refused to %s: %s", what,
			    s->vm.vmm.reply[0] ? s->vm.vmm.reply :
			    strerror(-ret));
	return 0;
}

static int set_throttle(struct src *s, unsigned int pct)
{
	char req[32];

	snprintf(req, sizeof(req), "throttle %u", pct);
	if (vmm_req(s, "throttle the guest", req))
		return -EIO;
	s->throttle = pct;
	return 0;
}

static int switchover(struct src *s)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_SWITCHOVER };
	uint64_t pause_ns, dirty = 0, tp[5] = { 0 };
	uint8_t *vbuf = NULL;
	size_t vlen = 0;
	unsigned int i;
	int ret;

	pause_ns = mig_now_ns();
	ret = vmm_req(s, "pause the guest", "pause");
	if (ret)
		return ret;
	s->paused = true;
	ret = harvest(s, &dirty);
	if (!ret)
		ret = vmm_client_save(&s->vm.vmm, &vbuf, &vlen);
	if (ret && !s->err[0])
		fail(s, ret, "cannot save the vCPU state: %s",
		     s->vm.vmm.reply[0] ? s->vm.vmm.reply : strerror(-ret));
	tp[1] = mig_now_ns();
	if (!ret && s->o.save_dir) {
		ret = mig_save_slots(&s->vm, s->o.save_dir, s->err,
				     sizeof(s->err));
		if (!ret)
			ret = mig_save_file(s->o.save_dir, "vcpus.bin", vbuf,
					    vlen, s->err, sizeof(s->err));
	}
	for (i = 0; i < s->o.ndevs && !ret; i++)
		if (mig_dev_set_state(&s->o.devs[i],
				      KMIG_DEVICE_STATE_SAVING))
			ret = fail(s, -errno, "device %s:%u: cannot stop it: %s",
				   s->o.devs[i].name, s->o.devs[i].instance,
				   strerror(errno));
	tp[2] = mig_now_ns();
	if (!ret)
		ret = kmig_enc_cmd(&s->snd[0].enc, &cmd);
	s->round++;
	if (!ret)
		ret = send_round(s, KMIG_REC_SECTION_END, true);
	tp[3] = mig_now_ns();
	if (!ret)
		ret = send_vcpus(s, vbuf, vlen);
	if (!ret)
		ret = devices_round(s, KMIG_REC_SECTION_END, true);
	tp[4] = mig_now_ns();
	if (!ret)
		ret = round_sync(&s->snd[0], s->round, true);
	if (ret)
		fail(s, ret, "main channel: %s", strerror(-ret));
	free(vbuf);
	if (!ret) {
		job_update(s, 0);
		s->job.memory_iteration = s->round + 1;
		ret = handshake(s);
	}
	if (!ret)
		s->job.downtime_ms = (mig_now_ns() - pause_ns) / 1000000;
	if (getenv("KMIG_DEBUG"))
		fprintf(stderr, "switchover: pause+harvest+save %llu ms, save-at-switchover %llu ms, pages (%llu) %llu ms, vcpus+devices %llu ms, ack %llu ms\n",
			(unsigned long long)(tp[1] - pause_ns) / 1000000,
			(unsigned long long)(tp[2] - tp[1]) / 1000000,
			(unsigned long long)dirty,
			(unsigned long long)(tp[3] - tp[2]) / 1000000,
			(unsigned long long)(tp[4] - tp[3]) / 1000000,
			(unsigned long long)(mig_now_ns() - tp[4]) / 1000000);
	return ret;
}

/*
 * Back to how it was before the migration: running, unthrottled. Unless
 * the guest was handed over: then it stays paused, devices stopped.
 */
static void abort_source(struct src *s)
{
	uint32_t dev_state = s->handed_over ? KMIG_DEVICE_STATE_STOP :
			     KMIG_DEVICE_STATE_RUNNING;
	unsigned int i;

	for (i = 0; i < s->nsock; i++)
		shutdown(s->sock[i], SHUT_RDWR);
	for (i = 0; i < s->o.ndevs; i++)
		if (s->o.devs[i].fd >= 0)
			mig_dev_set_state(&s->o.devs[i], dev_state);
	if (s->vm.ctx_fd < 0)
		return;
	set_logging(s, false);
	if (s->throttle)
		vmm_client_cmd(&s->vm.vmm, "throttle 0");
	if (s->paused && !s->handed_over &&
	    vmm_client_cmd(&s->vm.vmm, "resume"))
		fprintf(stderr, "kmig migrate: cannot resume the guest here: %s\n",
			s->vm.vmm.reply);
}

static int precopy(struct src *s)
{
	uint64_t dirty, last_ns, now, bw = 0, rate, send_ns = 0, b0, t0;
	uint64_t left, harvest_ms, prev_bytes = 0, dev_pending, pend;
	unsigned int bad = 0, steps = 1, pct, i;
	int ret;

	/* Start logging, then send every page in round 0. */
	ret = set_logging(s, true);
	if (!ret)
		ret = get_present(s);
	if (ret)
		return ret;
	for (i = 0; i < s->vm.nslots; i++) {
		struct mig_slot *sl = &s->vm.slots[i];

		memset(sl->bitmap, 0xff, (sl->npages + 63) / 64 * 8);
		if (sl->npages % 64)
			sl->bitmap[sl->npages / 64] = (1ull << (sl->npages % 64)) - 1;
	}
	for (i = 0; i < s->o.ndevs; i++)
		if (mig_dev_set_state(&s->o.devs[i], KMIG_DEVICE_STATE_RUNNING |
				      KMIG_DEVICE_STATE_SAVING))
			return fail(s, -errno, "device %s:%u: cannot start saving: %s",
				    s->o.devs[i].name, s->o.devs[i].instance,
				    strerror(errno));
	s->job.setup_ms = (mig_now_ns() - s->job.start_ns) / 1000000;
	last_ns = mig_now_ns();
	for (s->round = 0;; s->round++) {
		t0 = mig_now_ns();
		b0 = sent_bytes(s, false);
		ret = send_round(s, s->round ? KMIG_REC_SECTION_PART :
				 KMIG_REC_SECTION_START, false);
		if (!ret)
			ret = devices_round(s, s->round ? KMIG_REC_SECTION_PART :
					    KMIG_REC_SECTION_START, false);
		if (!ret)
			ret = round_sync(&s->snd[0], s->round, false);
		if (ret)
			return fail(s, ret, "main channel: %s", strerror(-ret));
		bitmaps_clear(s);
		present_free(s);
		send_ns += mig_now_ns() - t0;
		if (send_ns)
			bw = sent_bytes(s, true) * 1000000000ull / send_ns;

		now = mig_now_ns();
		ret = harvest(s, &dirty);
		if (ret)
			return ret;
		harvest_ms = (mig_now_ns() - now) / 1000000;
		dev_pending = 0;
		for (i = 0; i < s->o.ndevs; i++)
			if (!mig_dev_pending(&s->o.devs[i], &pend))
				dev_pending += pend;
		rate = now > last_ns ? dirty * 1000000000ull / (now - last_ns) : 0;
		last_ns = now;
		s->job.memory_iteration = s->round + 1;
		s->job.memory_bps = bw;
		if (getenv("KMIG_DEBUG"))
			fprintf(stderr, "round %llu: %llu ms, %llu dirty, dev pending %llu, bw %llu\n",
				(unsigned long long)s->round,
				(unsigned long long)(now - t0) / 1000000,
				(unsigned long long)dirty,
				(unsigned long long)dev_pending,
				(unsigned long long)bw);
		s->job.memory_dirty_rate = rate;
		/* The pause takes a harvest too, then sends what is left. */
		left = dirty * MIG_PAGE + dev_pending;
		s->job.expected_downtime_ms = harvest_ms +
					      (bw ? left * 1000 / bw : 0);
		job_update(s, dirty);
		mig_progress(&s->o, &s->job);

		if (!left || (bw && s->job.expected_downtime_ms <=
			      s->o.max_downtime_ms))
			return switchover(s);
		if (s->o.timeout_ms &&
		    mig_now_ns() - s->job.start_ns > s->o.timeout_ms * 1000000ull)
			return fail(s, -ETIMEDOUT,
				    "not converged after %llu s (%llu pages dirty, %llu ms expected downtime); aborted, the guest keeps running here",
				    (unsigned long long)s->o.timeout_ms / 1000,
				    (unsigned long long)dirty,
				    (unsigned long long)s->job.expected_downtime_ms);
		/* Auto-converge: dirtying outran half the round's transfer twice. */
		if (s->round && dirty * MIG_PAGE > (sent_bytes(s, false) - b0) / 2 &&
		    dirty >= prev_bytes / MIG_PAGE / 2) {
			/* growing steps: 20, 40, 70, 99 */
			if (++bad >= 2 && s->throttle < 99) {
				pct = s->throttle ? s->throttle + 10 * steps : 20;
				ret = set_throttle(s, pct > 99 ? 99 : pct);
				if (ret)
					return ret;
				steps++;
				bad = 0;
			}
		} else {
			bad = 0;
		}
		prev_bytes = dirty * MIG_PAGE;
	}
}

int migrate_main(int argc, char *argv[])
{
	struct src *s;
	unsigned int i;
	size_t maxw = 0;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	ret = parse(&s->o, argc, argv);
	if (ret) {
		free(s);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	s->job.start_ns = mig_now_ns();
	s->job.status = "active";
	s->job.channels = s->o.channels;
	s->vm.ctx_fd = -1;
	if (mig_ensure_module(s->o.cmd)) {
		free(s);
		return 1;
	}
	getrandom(s->uuid, sizeof(s->uuid), 0);
	ret = mig_vm_attach(&s->vm, s->o.vmm, true, s->err, sizeof(s->err));
	if (!ret) {
		s->job.memory_total = s->vm.mem_size;
		for (i = 0; i < s->vm.nslots; i++)
			if ((s->vm.slots[i].npages + 63) / 64 > maxw)
				maxw = (s->vm.slots[i].npages + 63) / 64;
		s->tmp = calloc(maxw ? maxw : 1, 8);
		if (!s->tmp)
			ret = fail(s, -ENOMEM, "out of memory");
	}
	for (i = 0; i < s->o.ndevs && !ret; i++)
		ret = mig_dev_open(&s->o.devs[i], s->err, sizeof(s->err));
	if (!ret)
		ret = connect_channels(s);
	if (!ret)
		ret = start_streams(s);
	if (!ret)
		ret = precopy(s);
	if (ret)
		abort_source(s);
	else {
		for (i = 0; i < s->o.ndevs; i++)
			mig_dev_set_state(&s->o.devs[i], KMIG_DEVICE_STATE_STOP);
		/* paused for good here; as before should it ever run again */
		set_logging(s, false);
		if (s->throttle)
			vmm_client_cmd(&s->vm.vmm, "throttle 0");
	}

	job_update(s, ret ? s->job.memory_remaining / MIG_PAGE : 0);
	s->job.status = ret ? "failed" : "completed";
	snprintf(s->job.error, sizeof(s->job.error), "%s", ret ? s->err : "");
	mig_report(&s->o, &s->job, true);
	if (ret)
		fprintf(stderr, "kmig migrate: %s\n", s->err[0] ? s->err :
			strerror(-ret));
	for (i = 0; i < s->o.channels; i++)
		mig_sender_free(&s->snd[i]);
	for (i = 0; i < s->nsock; i++)
		close(s->sock[i]);
	for (i = 0; i < s->o.ndevs; i++)
		mig_dev_close(&s->o.devs[i]);
	mig_vm_detach(&s->vm);
	free(s->tmp);
	ret = !ret ? 0 : s->handed_over ? 3 : 1;
	free(s);
	return ret;
}
