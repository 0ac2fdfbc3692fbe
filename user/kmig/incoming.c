// SPDX-License-Identifier: GPL-2.0
/*
 * kmig incoming: the destination side of a precopy live migration.
 *
 * Accept the main channel and the page channels the source announces,
 * install pages into the VM's memory context as they arrive (page channels
 * meet at every ROUND_SYNC, so a page sent in a later round always lands
 * after the same page from an earlier one), collect the vCPU state, feed
 * device state to the devices, and only once everything has arrived and
 * checked out: load the vCPUs and devices, tell the source, and on its
 * go-ahead start the devices and resume the guest. A bad stream aborts
 * before anything runs.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "accept.h"
#include "ctx.h"
#include "dec.h"
#include "handshake.h"
#include "hello.h"
#include "incoming.h"
#include "le.h"
#include "link.h"
#include "mig.h"
#include "receiver.h"
#include "subcommands.h"
#include "util.h"

static const char usage[] =
"Usage: kmig incoming --vmm SOCK --listen ADDR:PORT [options]\n"
"\n"
"Receive a live migration from `kmig migrate` into the VM of the VMM\n"
"behind control socket SOCK, started with --incoming.\n"
"\n"
"  --vmm SOCK                 the VMM's control socket (required)\n"
"  --listen ADDR:PORT         where to accept the source (required):\n"
"                             a.b.c.d:PORT or [IPv6]:PORT; every address\n"
"                             only when asked: 0.0.0.0:PORT or [::]:PORT\n"
"  --timeout S                give up if the source has not connected\n"
"                             within S seconds (other connections are\n"
"                             turned away and logged meanwhile)\n"
"  --io-timeout S             give up on a connection silent for S seconds,\n"
"                             2..3600 (default 30)\n"
"  --json                     print the job info as JSON\n"
"  --device NAME:INSTANCE     accept this device's state (repeatable)\n"
"  --save-at-switchover DIR   before resuming, write each slot's memory as\n"
"                             DIR/slot-ID.bin and the vCPU state as\n"
"                             DIR/vcpus.bin\n"
"  --tls-creds DIR            TLS 1.3 on every channel, the source's\n"
"                             certificate required: DIR has ca-cert.pem,\n"
"                             server-cert.pem, server-key.pem (QEMU's layout)\n"
"  --tls-psk FILE             TLS 1.3 with a pre-shared key, from the\n"
"                             identity:hexkey lines of FILE (with either,\n"
"                             a connection that fails TLS is closed and\n"
"                             logged, and the wait goes on)\n"
"  --help                     this text\n";


int incoming_parse(struct mig_opts *o, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_LISTEN,
		MIG_LONGOPTS_MIGRATION,
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	o->cmd = "incoming";
	o->io_timeout_s = MIG_IO_TIMEOUT_S;
	ret = mig_parse_opts(o, argc, argv, opts, usage, NULL, NULL);
	return ret ? ret : mig_parse_end(o, argc, argv, MIG_PEER_LISTEN);
}

/* The first failure of any channel or step is the cause (link.h). */
#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

/*
 * The n-th --device given to `kmig incoming` takes the state of the n-th
 * --device given to `kmig migrate` (device section MIG_DEV_SECTION + n):
 * the names must match, the instances may differ (two instances on one
 * host can migrate into each other).
 */
static struct mig_device *find_dev(struct dst *d, const struct kmig_section *s)
{
	struct mig_device *dev;

	if (s->id < MIG_DEV_SECTION || s->id - MIG_DEV_SECTION >= d->o.ndevs)
		return NULL;
	dev = &d->o.devs[s->id - MIG_DEV_SECTION];
	return strcmp(dev->name, s->name) ? NULL : dev;
}

static int main_section(void *opaque, const struct kmig_section *s)
{
	struct mig_recv_chan *c = opaque;
	struct dst *d = c->opaque;
	struct mig_device *dev;
	int ret;

	/* postcopy: the block an answer brought, if it is not complete */
	ret = c->postcopy ? mig_recv_pc_flush(c) : 0;
	if (ret)
		return ret;
	d->in_vmm_dev = s->kind == KMIG_SEC_DEVICE && mig_vmm_device(s->name);
	if (s->kind == KMIG_SEC_VCPU || d->in_vmm_dev) {
		if (!d->switchover) {
			snprintf(c->err, sizeof(c->err),
				 "%s section %u before SWITCHOVER",
				 d->in_vmm_dev ? "VMM device" : "vCPU", s->id);
			return -EPROTO;
		}
		if (!d->in_vmm_dev)
			return kmig_enc_section(&d->vcpus, s);
		if (!d->have_vmm_devs) {
			ret = kmig_enc_header(&d->vmm_devs);
			if (!ret)
				ret = kmig_enc_caps(&d->vmm_devs,
						    KMIG_SCAP_DEVICE_STATE, 0);
			if (ret)
				return ret;
			d->have_vmm_devs = true;
		}
		return kmig_enc_section(&d->vmm_devs, s);
	}
	if (s->kind != KMIG_SEC_DEVICE)
		return 0;
	dev = find_dev(d, s);
	if (!dev) {
		snprintf(c->err, sizeof(c->err),
			 "device section %u: state of device %s:%u, which has no matching --device here (the n-th --device of both sides pair up)",
			 s->id, s->name, s->instance);
		return -ENODEV;
	}
	if (s->type == KMIG_REC_SECTION_FOOTER) {
		d->dev = NULL;
		return 0;
	}
	if (s->type == KMIG_REC_SECTION_START ||
	    s->type == KMIG_REC_SECTION_FULL) {
		if (dev->seen) {
			snprintf(c->err, sizeof(c->err),
				 "device %s:%u has two sections", s->name,
				 s->instance);
			return -EPROTO;
		}
		dev->seen = true;
		ret = mig_dev_set_state(dev, KMIG_DEVICE_STATE_RESUMING);
		if (ret) {
			snprintf(c->err, sizeof(c->err),
				 "device %s:%u: cannot start resuming: %s",
				 s->name, s->instance, strerror(-ret));
			return ret;
		}
		dev->started = true;
	}
	if (s->type == KMIG_REC_SECTION_END ||
	    s->type == KMIG_REC_SECTION_FULL) {
		if (!d->switchover) {
			snprintf(c->err, sizeof(c->err),
				 "device %s:%u: final state before SWITCHOVER",
				 s->name, s->instance);
			return -EPROTO;
		}
		dev->ended = true;
	}
	d->dev = dev;
	return 0;
}

static int main_device(void *opaque, uint16_t instance, uint32_t marker,
		       const void *data, uint32_t size)
{
	struct mig_recv_chan *c = opaque;
	struct dst *d = c->opaque;
	struct mig_device *dev = d->dev;
	int ret;

	(void)instance;
	if (d->in_vmm_dev)	/* the VMM's own device: its load checks it */
		return kmig_enc_device(&d->vmm_devs, marker, data, size);
	if (!dev)
		return -EPROTO;
	if (d->pc)		/* the package: loaded after it, faults served */
		return postcopy_dst_device(d, c, dev, marker, data, size);
	ret = mig_dev_load(dev, marker, data, size);
	if (ret)
		snprintf(c->err, sizeof(c->err),
			 "device %s:%u: the device refused %s (%u bytes): %s",
			 dev->name, dev->instance, kmig_devpkt_name(marker),
			 size, strerror(-ret));
	return ret;
}

static int main_vcpu(void *opaque, uint32_t vcpu, uint16_t part,
		     const void *data, uint32_t len)
{
	struct mig_recv_chan *c = opaque;
	size_t have;

	kmig_enc_mem(&((struct dst *)c->opaque)->vcpus, &have);
	/* The destination refuses more vCPU state than the VMM would take. */
	if (have > VMM_STATE_MAX) {
		snprintf(c->err, sizeof(c->err),
			 "vCPU state over %u MiB", VMM_STATE_MAX >> 20);
		return -EMSGSIZE;
	}
	return kmig_enc_vcpu(&((struct dst *)c->opaque)->vcpus, vcpu, part,
			     data, len);
}

static int main_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct mig_recv_chan *c = opaque;
	struct dst *d = c->opaque;
	int ret = c->postcopy ? mig_recv_pc_flush(c) : 0;

	if (ret)
		return ret;
	switch (cmd->id) {
	case KMIG_SCMD_CHANNELS:
		if (cmd->channels.count != d->recv.nchan - 1 ||
		    memcmp(cmd->channels.uuid, d->uuid, 16)) {
			snprintf(c->err, sizeof(c->err),
				 "CHANNELS announces %u page channels of another migration; %u connected",
				 cmd->channels.count, d->recv.nchan - 1);
			return -EPROTO;
		}
		d->channels_cmd = true;
		return 0;
	case KMIG_SCMD_POSTCOPY:
		return postcopy_dst_start(d, c);
	case KMIG_SCMD_POSTCOPY_RUN:
		return postcopy_dst_run(d, c);
	case KMIG_SCMD_SWITCHOVER:
		if (d->switchover) {
			snprintf(c->err, sizeof(c->err), "SWITCHOVER twice");
			return -EPROTO;
		}
		d->switchover = true;
		d->switchover_ns = kmig_now_ns();
		return 0;
	case KMIG_SCMD_ROUND_SYNC:
		if (mig_recv_flush(c))
			return c->batch_err;
		if (cmd->round != c->round) {
			snprintf(c->err, sizeof(c->err),
				 "ROUND_SYNC %llu on the main channel, expected %llu",
				 (unsigned long long)cmd->round,
				 (unsigned long long)c->round);
			return -EPROTO;
		}
		if (mig_recv_main_sync(c, cmd->round))
			return -EBADMSG;
		c->round++;
		__atomic_store_n(&d->job.memory_iteration, c->round,
				 __ATOMIC_RELAXED);
		return 0;
	}
	return 0;
}

/* Pages go on the page channels when there are any: 0, or -EPROTO. */
static int main_takes_pages(struct mig_recv_chan *c)
{
	if (c->r->nchan == 1 || c->postcopy)
		return 0;
	snprintf(c->err, sizeof(c->err),
		 "page on the main channel of a multi-channel migration");
	return -EPROTO;
}

static int main_page(void *opaque, uint32_t slot, uint64_t page,
		     const void *data)
{
	int ret = main_takes_pages(opaque);

	if (ret)
		return ret;
	return mig_recv_page(opaque, slot, page, data);
}

static int main_pages_dest(void *opaque, uint32_t slot,
			   const uint64_t *pages, unsigned int n, void **dst)
{
	int ret = main_takes_pages(opaque);

	if (ret)
		return ret;
	return mig_recv_pages_dest(opaque, slot, pages, n, dst);
}

static int main_zero(void *opaque, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	int ret = main_takes_pages(opaque);

	if (ret)
		return ret;
	return mig_recv_zero(opaque, slot, page, count);
}

static int admit_page(void *opaque, const struct kmig_hello *h, char *why,
		      size_t n)
{
	struct dst *d = opaque;

	return mig_admit_page(&d->recv, d->uuid, h, why, n);
}

/* A channel admitted on @fd joins the migration. */
static void join(struct dst *d, int fd, unsigned int chan)
{
	mig_accept_join(&d->o, &d->job, &d->link, &d->recv, fd, chan);
}

/*
 * The main channel within --timeout, then each page channel within
 * --io-timeout of the one before; other connections are turned away
 * (accept.h).
 */
static int accept_channels(struct dst *d, struct mig_acceptor *a)
{
	uint64_t io_ns = d->o.io_timeout_s * 1000000000ull;
	uint64_t until = d->o.timeout_ms ?
			 kmig_now_ns() + d->o.timeout_ms * 1000000 : 0;
	struct kmig_hello h;
	unsigned int i;
	int fd;

	fd = mig_accept(a, until, mig_admit_main, d, &h);
	if (fd == -ETIMEDOUT)
		return fail(d, fd, "no connection from the source within %llu s",
			    (unsigned long long)d->o.timeout_ms / 1000);
	if (fd < 0)
		return fail(d, fd, "accept: %s", strerror(-fd));
	d->recv.nchan = h.nchannels;
	memcpy(d->uuid, h.uuid, 16);
	for (i = 1; i < d->recv.nchan; i++)
		d->recv.ch[i].sock = -1;
	join(d, fd, 0);
	mig_hs_out_init(&d->out, fd, d->uuid);
	d->rp_open = true;
	for (i = 1; i < d->recv.nchan; i++) {
		fd = mig_accept(a, kmig_now_ns() + io_ns, admit_page, d, &h);
		if (fd == -ETIMEDOUT)
			return fail(d, fd, "only %u of %u page channels connected within %u s of the last one",
				    i - 1, d->recv.nchan - 1, d->o.io_timeout_s);
		if (fd < 0)
			return fail(d, fd, "accept: %s", strerror(-fd));
		join(d, fd, h.channel);
	}
	return 0;
}

/* What the main stream must have said once every channel ended well. */
static int check_stream(struct dst *d)
{
	unsigned int i;

	if (!d->switchover)
		return fail(d, -EPROTO, "the stream ended without SWITCHOVER");
	if (d->recv.nchan > 1 && !d->channels_cmd)
		return fail(d, -EPROTO, "the main stream did not announce its page channels");
	for (i = 0; i < d->o.ndevs; i++)
		if (!d->o.devs[i].ended)
			return fail(d, -ENODATA,
				    "device %s:%u: the stream has no complete state for it",
				    d->o.devs[i].name, d->o.devs[i].instance);
	return 0;
}

static int decode(struct dst *d)
{
	static const struct kmig_dec_ops main_ops = {
		.section = main_section, .cmd = main_cmd, .page = main_page,
		.pages_dest = main_pages_dest, .pages = mig_recv_pages,
		.zero = main_zero, .torn = mig_recv_torn, .vcpu = main_vcpu,
		.device = main_device, .release = mig_recv_release,
		.discard = postcopy_dst_discard,
	};
	int ret;

	d->recv.ch[0].opaque = d;
	ret = mig_recv_run(&d->recv, &main_ops);
	return ret ? ret : check_stream(d);
}

static void devices_set(struct dst *d, uint32_t state)
{
	unsigned int i;

	for (i = 0; i < d->o.ndevs; i++)
		mig_dev_set_state(&d->o.devs[i], state);
}

/*
 * What the VMM loads: the vCPU state, and its own devices' after it as
 * its save had them (then the stream is rebuilt in @d->vcpus).
 */
static int vmm_state(struct dst *d, const uint8_t **buf, size_t *len)
{
	const uint8_t *v, *dev;
	struct kmig_enc all;
	size_t vlen, devlen;
	int ret;

	v = kmig_enc_mem(&d->vcpus, &vlen);
	if (d->have_vmm_devs) {
		dev = kmig_enc_mem(&d->vmm_devs, &devlen);
		ret = mig_vmm_state_rebuild(v, vlen, dev, devlen, &all, d->err,
					    sizeof(d->err));
		if (ret)
			return fail(d, ret, "the VMM's state: %s", d->err);
		kmig_enc_free(&d->vcpus);
		d->vcpus = all;
		d->have_vmm_devs = false;	/* rebuilt once */
		v = kmig_enc_mem(&d->vcpus, &vlen);
	}
	*buf = v;
	*len = vlen;
	return 0;
}

/* Load what arrived, so that only the resume is left to do. */
int incoming_load(struct dst *d)
{
	const uint8_t *vbuf = NULL;
	size_t vlen = 0;
	unsigned int i;
	int ret;

	ret = kmig_enc_eos(&d->vcpus);
	if (!ret && d->have_vmm_devs)
		ret = kmig_enc_eos(&d->vmm_devs);
	if (ret)
		return fail(d, ret, "vCPU state: %s", strerror(-ret));
	ret = vmm_state(d, &vbuf, &vlen);
	if (ret)
		return ret;
	if (d->o.save_dir) {
		ret = mig_save_slots(&d->vm, d->o.save_dir, d->err,
				     sizeof(d->err));
		if (!ret)
			ret = mig_save_file(d->o.save_dir, "vcpus.bin", vbuf,
					    vlen, d->err, sizeof(d->err));
		if (ret)
			return fail(d, ret, "%s", d->err);
	}
	ret = vmm_client_load(&d->vm.vmm, vbuf, vlen);
	if (ret)
		return fail(d, ret, "the VMM %s the vCPU state: %s",
			    strncmp(d->vm.vmm.reply, "err ", 4) ?
			    "did not take" : "refused",
			    vmm_client_why(&d->vm.vmm, ret));
	/* Leaving RESUMING is where a device checks the state it got. */
	for (i = 0; i < d->o.ndevs; i++) {
		ret = mig_dev_set_state(&d->o.devs[i], KMIG_DEVICE_STATE_STOP);
		if (ret)
			return fail(d, ret, "device %s:%u: its state did not load: %s",
				    d->o.devs[i].name, d->o.devs[i].instance,
				    strerror(-ret));
	}
	return 0;
}

/*
 * The VMM did not answer `resume`: ask it on a new connection whether the
 * guest runs. 0 when it does, -EIO when it surely does not; -EINPROGRESS
 * when nobody can tell.
 */
static int resume_unanswered(struct dst *d, int ret)
{
	struct vmm_status st;

	vmm_client_close(&d->vm.vmm);
	if (vmm_client_connect(&d->vm.vmm, d->o.vmm, 2000) ||
	    vmm_client_status(&d->vm.vmm, &st)) {
		snprintf(d->err, sizeof(d->err),
			 "the VMM did not answer the resume (%s) and cannot tell whether the guest runs",
			 strerror(-ret));
		return -EINPROGRESS;
	}
	if (!strcmp(st.state, "running"))
		return 0;
	return fail(d, ret, "the VMM did not resume the guest (%s); it is %s",
		    strerror(-ret), st.state);
}

/* Start the devices and the guest: 0, -errno, or -EINPROGRESS. */
int incoming_resume(struct dst *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->o.ndevs; i++) {
		ret = mig_dev_set_state(&d->o.devs[i],
					KMIG_DEVICE_STATE_RUNNING);
		if (ret)
			return fail(d, ret, "device %s:%u: cannot start it: %s",
				    d->o.devs[i].name, d->o.devs[i].instance,
				    strerror(-ret));
	}
	d->vm.vmm.reply[0] = 0;
	ret = vmm_client_cmd(&d->vm.vmm, "resume");
	if (!ret)
		return 0;
	if (!strncmp(d->vm.vmm.reply, "err ", 4))
		return fail(d, ret, "the VMM refused to resume the guest: %s",
			    d->vm.vmm.reply);
	return resume_unanswered(d, ret);
}

void incoming_announce(struct dst *d)
{
	char msg[128];
	int ret;

	ret = mig_vmm_announce(&d->vm.vmm, msg, sizeof(msg));
	if (!ret)
		fprintf(stderr, "kmig incoming: announced %s\n", msg);
	else if (ret != -ENODEV)
		fprintf(stderr, "kmig incoming: the guest runs here, but %s\n",
			msg);
}

/*
 * The stream is in: load it, tell the source, and resume only on its
 * go-ahead (handshake.h). Whatever fails, the source hears FAILED with
 * the cause (on_fail()), and the guest does not run here; when the VMM
 * cannot say whether it resumed, the source hears UNSURE.
 */
static int finish(struct dst *d)
{
	uint64_t paused_us = 0, go_ns;
	int ret;

	if (d->pc)
		return postcopy_dst_finish(d);
	ret = incoming_load(d);
	if (!ret) {
		ret = mig_hs_destination(&d->out, &d->link, &paused_us);
	}
	go_ns = kmig_now_ns();
	if (!ret)
		ret = incoming_resume(d);
	mig_hs_pinger_stop(&d->pinger);
	if (!ret)
		kmig_stop_at("run");
	if (ret == -EINPROGRESS) {
		d->rp_quiet = true;
		mig_hs_send(&d->out, MIG_HS_UNSURE, 0, d->err);
		return fail(d, ret, "%s", d->err);
	}
	if (ret) {
		devices_set(d, KMIG_DEVICE_STATE_STOP);
		return ret;
	}
	d->job.resume_us = (kmig_now_ns() - d->switchover_ns) / 1000;
	d->job.downtime_ms = (paused_us + (kmig_now_ns() - go_ns) / 1000) /
			     1000;
	d->rp_quiet = true;
	if (mig_hs_send(&d->out, MIG_HS_RESUMED, d->job.downtime_ms * 1000,
			NULL))
		fprintf(stderr, "kmig incoming: the guest runs here, but the source did not hear it\n");
	incoming_announce(d);
	return 0;
}

/*
 * The first failure: the source hears it with its text on the return
 * path (once it is open, and until the guest's fate is told, or when the
 * guest is lost here after all: EOWNERDEAD), and the page channels stop
 * waiting for each other.
 */
static void on_fail(struct mig_link *l, int err, const char *msg)
{
	struct dst *d = l->opaque;

	mig_recv_abort(&d->recv);
	if (d->rp_open && (!d->rp_quiet || err == -EOWNERDEAD))
		mig_hs_send(&d->out, MIG_HS_FAILED, -err, msg);
}

/* The VMM is there, waiting for a guest; its slots are the stream's. */
static int attach(struct dst *d)
{
	struct vmm_status st;
	unsigned int i;
	int ret;

	ret = mig_vm_attach_status(&d->vm, d->o.vmm, PROT_READ | PROT_WRITE,
				   &st, d->err, sizeof(d->err));
	if (ret)
		return fail(d, ret, "%s", d->err);
	if (strcmp(st.state, "incoming"))
		return fail(d, -EBUSY,
			    "the VMM at %s is %s, not waiting for an incoming migration (start it with --incoming)",
			    d->o.vmm, st.state);
	d->job.memory_total = d->vm.mem_size;
	for (i = 0; i < d->o.ndevs; i++) {
		ret = mig_dev_open(&d->o.devs[i], d->err, sizeof(d->err));
		if (ret)
			return fail(d, ret, "%s", d->err);
	}
	ret = kmig_enc_header(&d->vcpus);
	if (!ret)
		ret = kmig_enc_caps(&d->vcpus, 0, 0);
	if (ret)
		return fail(d, ret, "out of memory");
	return 0;
}

/* What the receivers counted so far, for the job model (report.c). */
static void counts(struct dst *d, struct mig_counts *c)
{
	unsigned int i;

	*c = (struct mig_counts){ .rate_from_elapsed = true };
	for (i = 0; i < d->recv.nchan; i++) {
		c->pages += __atomic_load_n(&d->recv.ch[i].pages,
					    __ATOMIC_RELAXED);
		c->zero += __atomic_load_n(&d->recv.ch[i].zero,
					   __ATOMIC_RELAXED);
		c->all_bytes += __atomic_load_n(&d->recv.ch[i].dec.pos,
						__ATOMIC_RELAXED);
	}
	c->ram_bytes = c->all_bytes;
}

/*
 * While it receives (the keepalive thread's tick): what came so far into
 * the job info, for kmigd (report.c), and in postcopy the progress line
 * on a terminal; the job itself is the main thread's.
 */
static void progress_tick(void *arg)
{
	struct dst *d = arg;
	struct mig_job j = {
		.status = "active", .start_ns = d->job.start_ns,
		.memory_total = d->job.memory_total,
		.channels = d->recv.nchan, .tls = d->job.tls,
		.tls_ktls = d->job.tls_ktls, .tls_relay = d->job.tls_relay,
	};
	struct mig_counts c;

	counts(d, &c);
	j.memory_iteration = __atomic_load_n(&d->job.memory_iteration,
					     __ATOMIC_RELAXED);
	mig_job_count(&j, &c);
	postcopy_dst_progress(d, &j);
	if (j.pc_running)
		mig_progress_postcopy(&d->o, &j, false);
	else
		mig_job_publish(&j, false);
}

static int run(struct dst *d)
{
	struct mig_acceptor a;
	int ret;

	ret = attach(d);
	if (ret)
		return ret;
	/* A stranger has at most 10 s to say its hello. */
	ret = mig_accept_listen(&a, &d->o.addr, &d->o.tls,
				d->o.io_timeout_s < 10 ? d->o.io_timeout_s : 10,
				d->err, sizeof(d->err));
	if (ret)
		return fail(d, ret, "%s", d->err);
	ret = accept_channels(d, &a);
	mig_accept_close(&a);
	if (!ret)
		mig_tls_note(&d->o, &d->job);
	if (!ret) {
		ret = mig_hs_pinger_start(&d->pinger, &d->out, &d->link,
					  getenv("KMIG_JOB_DIR") ||
					  isatty(STDERR_FILENO) ?
					  progress_tick : NULL, d);
		if (ret)
			return fail(d, ret, "cannot start the keepalive thread");
	}
	if (!ret)
		ret = decode(d);
	if (!ret)
		ret = finish(d);
	postcopy_dst_stop(d);
	mig_hs_pinger_stop(&d->pinger);
	return ret;
}

static void job_final(struct dst *d, int ret)
{
	struct mig_counts c;
	unsigned int i;

	counts(d, &c);
	for (i = 0; i < d->o.ndevs; i++)
		c.device_bytes += d->o.devs[i].bytes;
	c.torn = d->recv.torn.pages;
	d->job.channels = d->recv.nchan;
	d->job.page_sum =
		kmig_psum_name(kmig_psum_of_caps(d->recv.ch[0].dec.caps));
	mig_job_count(&d->job, &c);
	mig_job_end(&d->job, ret, d->err);
}

int incoming_main(int argc, char *argv[])
{
	struct dst *d;
	unsigned int i;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	ret = incoming_parse(&d->o, argc, argv);
	if (ret) {
		free(d);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	mig_link_init(&d->link);
	d->link.on_fail = on_fail;
	d->link.opaque = d;
	kmig_enc_init_mem(&d->vcpus);
	kmig_enc_init_mem(&d->vmm_devs);
	mig_job_start(&d->job);
	d->vm.ctx_fd = -1;
	mig_recv_init(&d->recv, &d->link, &d->vm, d->o.io_timeout_s);
	ret = mig_ensure_module(d->err, sizeof(d->err));
	if (ret)
		fail(d, ret, "%s", d->err);
	else
		ret = run(d);
	if (ret)
		ret = mig_link_cause(&d->link, d->err, sizeof(d->err));
	/* postcopy: the guest ran here, some of its pages missing; unless
	 * its VMM is gone */
	if (ret && postcopy_dst_resumed(d) && !postcopy_dst_vmm_lost(d))
		ret = -EINPROGRESS;
	for (i = 0; i < d->o.ndevs; i++)
		if (ret && ret != -EINPROGRESS && d->o.devs[i].started)
			mig_dev_set_state(&d->o.devs[i], KMIG_DEVICE_STATE_STOP);
	job_final(d, ret);
	mig_report(&d->o, &d->job, false);
	if (ret == -EINPROGRESS)
		fprintf(stderr, "kmig incoming: %s; the guest may run here\n",
			d->err);
	else if (ret && postcopy_dst_vmm_lost(d))
		fprintf(stderr, "kmig incoming: %s\n", d->err);
	else if (ret)
		fprintf(stderr, "kmig incoming: %s; the guest was not resumed here\n",
			d->err[0] ? d->err : strerror(-ret));
	for (i = 0; i < d->recv.nchan; i++)
		close(d->recv.ch[i].sock);
	mig_recv_free(&d->recv);
	for (i = 0; i < d->o.ndevs; i++)
		mig_dev_close(&d->o.devs[i]);
	kmig_enc_free(&d->vcpus);
	kmig_enc_free(&d->vmm_devs);
	postcopy_dst_free(d);
	mig_vm_detach(&d->vm);
	mig_link_destroy(&d->link);
	ret = !ret ? 0 : ret == -EINPROGRESS ? 3 : 1;
	free(d);
	return ret;
}
