// SPDX-License-Identifier: GPL-2.0
/*
 * kmig postcopy-recover: the destination's side of postcopy recovery
 * (Documentation/postcopy.rst "Recovery").
 *
 * A new process, after the link (or an agent) was lost after RUN: the
 * guest runs here, its vCPUs that touch a page that never arrived block
 * in the module (keep-waiting: they wait for the next fault fd), and the
 * module knows which pages have memory. Take a fault fd (blocked faults
 * are reported to it again), accept the main channel of `kmig migrate
 * --resume` (its hello, with TLS as the migration had: accept.h), read
 * its resume hello, answer with the received-page bitmap (the module's
 * present pages), accept the page channels its hello announced, then
 * install every page of every channel's stream with KMIG_INSTALL
 * (receiver.h, in postcopy from the start), which leaves a page present
 * here as it is: the guest's own newer write wins. Each fault meanwhile
 * becomes a REQUEST on the return path, answered on the main channel. At
 * the streams' end every page is here: COMPLETE.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "accept.h"
#include "ctx.h"
#include "dec.h"
#include "handshake.h"
#include "mig.h"
#include "receiver.h"
#include "recover.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig postcopy-recover --vmm SOCK --listen ADDR:PORT [options]\n"
"\n"
"Recover a postcopy migration whose link or agents were lost after the\n"
"guest started here: serve its faults again, accept `kmig migrate\n"
"--resume` at ADDR:PORT, tell it which pages arrived, and install the\n"
"rest. Run it again if it fails: nothing is lost meanwhile.\n"
"\n"
"  --vmm SOCK                 the destination VMM's control socket\n"
"  --listen ADDR:PORT         where to accept the source (required)\n"
"  --channels N               the page channels the source must open\n"
"                             (its --channels; default: as it announces)\n"
"  --timeout S                give up if the source does not come in S\n"
"                             seconds\n"
"  --io-timeout S             give up on a connection silent for S seconds,\n"
"                             2..3600 (default 30)\n"
"  --tls-creds DIR            TLS 1.3 with x509 certificates, as the\n"
"                             migration had (kmig migrate --help)\n"
"  --tls-psk FILE             TLS 1.3 with a pre-shared key, likewise\n"
"  --json                     print the job info as JSON\n"
"  --help                     this text\n";

struct rc_dst {
	struct mig_opts o;
	struct mig_job job;
	struct mig_vm vm;
	struct mig_link link;
	struct mig_hs_out out;
	struct mig_hs_pinger pinger;
	struct mig_acceptor acc;
	bool acc_open;
	unsigned int want;		/* --channels: page channels, 0: any */
	uint8_t uuid[16];		/* of the main channel's hello */
	struct mig_recv recv;
	int ffd, stop[2];
	pthread_t faulter, asker;
	bool faulter_started, asker_started;
	bool state_known;		/* the VMM answered status: */
	int state_ret;
	char state[16];
	struct mig_blocktime bt;
	bool bt_inited;
};

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

/* --channels N (mig_own_opt): @opaque is where N goes. */
static int recover_opt(struct mig_opts *o, int c, void *opaque)
{
	uint64_t v;

	if (c != 'c')
		return MIG_OPT_SHARED;
	if (mig_parse_u64(o->cmd, "--channels", optarg, 1, MIG_MAX_CHANNELS,
			  &v))
		return -EINVAL;
	*(unsigned int *)opaque = v;
	return 0;
}

static int parse(struct mig_opts *o, unsigned int *want, int argc,
		 char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_LISTEN,
		{ "channels", required_argument, NULL, 'c' },
		MIG_LONGOPT_TIMEOUT,
		MIG_LONGOPT_IO_TIMEOUT,
		MIG_LONGOPT_JSON,
		MIG_LONGOPT_TLS_CREDS,
		MIG_LONGOPT_TLS_PSK,
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	o->cmd = "postcopy-recover";
	o->io_timeout_s = MIG_IO_TIMEOUT_S;
	o->channels = 1;
	ret = mig_parse_opts(o, argc, argv, opts, usage, recover_opt, want);
	return ret ? ret : mig_parse_end(o, argc, argv, MIG_PEER_LISTEN);
}

/* The fault thread: each fault record becomes a REQUEST. */
static void *faulter(void *arg)
{
	struct rc_dst *d = arg;

	mig_pc_forward_faults(d->ffd, d->stop[0], &d->out, &d->link,
			      &d->job.pc_requests, &d->bt);
	return NULL;
}

static void stop_faulter(struct rc_dst *d)
{
	kmig_fault_thread_stop(d->faulter, &d->faulter_started, d->stop[1],
			       "kmig postcopy-recover");
}

/*
 * The main channel's stream (opaque: its mig_recv_chan): the "recover"
 * section's parts, each an answer, keepalives, one ROUND_SYNC, its end.
 * An answer's block, gathered, is installed whole at its section footer,
 * and whatever was gathered at any section record or command.
 */
static int rc_section(void *opaque, const struct kmig_section *s)
{
	struct mig_recv_chan *c = opaque;
	int ret = mig_recv_pc_flush(c);

	if (ret)
		return ret;
	if (s->id == KMIG_RECOVER_SECTION && s->kind == KMIG_SEC_RAM)
		return 0;
	snprintf(c->err, sizeof(c->err),
		 "section %u (kind %u) in a recovery's main stream", s->id,
		 s->kind);
	return -EPROTO;
}

static int rc_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct mig_recv_chan *c = opaque;
	int ret = mig_recv_pc_flush(c);

	if (ret)
		return ret;
	if (cmd->id == KMIG_SCMD_PING)
		return 0;
	if (cmd->id == KMIG_SCMD_ROUND_SYNC && cmd->round == c->round) {
		c->round++;
		return mig_recv_flush(c);
	}
	snprintf(c->err, sizeof(c->err),
		 "command %s in a recovery's main stream",
		 kmig_scmd_name(cmd->id));
	return -EPROTO;
}

static int rc_other(void *opaque)
{
	struct mig_recv_chan *c = opaque;

	snprintf(c->err, sizeof(c->err),
		 "a record other than pages in a recovery stream");
	return -EPROTO;
}

static int rc_discard(void *opaque, uint32_t slot, uint64_t page,
		      uint32_t count)
{
	(void)slot, (void)page, (void)count;
	return rc_other(opaque);
}

static int rc_vcpu(void *opaque, uint32_t vcpu, uint16_t part,
		   const void *data, uint32_t len)
{
	(void)vcpu, (void)part, (void)data, (void)len;
	return rc_other(opaque);
}

static int rc_device(void *opaque, uint16_t instance, uint32_t marker,
		     const void *data, uint32_t size)
{
	(void)instance, (void)marker, (void)data, (void)size;
	return rc_other(opaque);
}

/*
 * Every channel's stream to its END_OF_STREAM, its pages installed with
 * KMIG_INSTALL (postcopy from the start: nothing here is stale).
 */
static int receive(struct rc_dst *d)
{
	static const struct kmig_dec_ops main_ops = {
		.section = rc_section, .cmd = rc_cmd, .page = mig_recv_page,
		.pages_dest = mig_recv_pages_dest, .pages = mig_recv_pages,
		.zero = mig_recv_zero, .torn = mig_recv_torn,
		.discard = rc_discard, .vcpu = rc_vcpu, .device = rc_device,
		.release = mig_recv_release,
	};
	int ret;

	__atomic_store_n(&d->recv.bt, &d->bt, __ATOMIC_RELEASE);
	ret = mig_recv_pc_switch(&d->recv.ch[0], false);
	if (ret)
		return fail(d, ret, "out of memory");
	d->recv.ch[0].gathers = true;
	mig_recv_pc_ready(&d->recv);
	return mig_recv_run(&d->recv, &main_ops);
}

/* Whether page @page of slot @id has memory now. */
static bool present(struct rc_dst *d, uint32_t id, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		if (sl->id != id || page >= sl->npages ||
		    kmig_ctx_present(d->vm.ctx_fd, id, sl->npages, sl->present))
			continue;
		return sl->present[page / 64] & (1ull << (page % 64));
	}
	return false;
}

/*
 * A fault on a page still absent once the stream ended: never sent. The
 * fault fd does not block: the queue read until it is empty.
 */
static int none_missing(struct rc_dst *d)
{
	struct kmig_fault rec;

	while (read(d->ffd, &rec, sizeof(rec)) == sizeof(rec)) {
		if (present(d, rec.slot, rec.page))
			continue;
		return fail(d, -ENODATA,
			    "the stream ended, but page %llu of slot %u is still missing",
			    (unsigned long long)rec.page, rec.slot);
	}
	return 0;
}

static int admit_page(void *opaque, const struct kmig_hello *h, char *why,
		      size_t n)
{
	struct rc_dst *d = opaque;

	return mig_admit_page(&d->recv, d->uuid, h, why, n);
}

/* The main channel within --timeout, its hello saying how many follow. */
static int accept_main(struct rc_dst *d)
{
	uint64_t until = d->o.timeout_ms ?
			 kmig_now_ns() + d->o.timeout_ms * 1000000 : 0;
	struct kmig_hello h;
	int fd;

	fd = mig_accept_listen(&d->acc, &d->o.addr, &d->o.tls,
			       d->o.io_timeout_s < 10 ? d->o.io_timeout_s : 10,
			       d->job.error, sizeof(d->job.error));
	if (fd)
		return fail(d, fd, "%s", d->job.error);
	d->acc_open = true;
	fd = mig_accept(&d->acc, until, mig_admit_main, d, &h);
	if (fd == -ETIMEDOUT)
		return fail(d, fd, "the source did not come");
	if (fd < 0)
		return fail(d, fd, "accept: %s", strerror(-fd));
	d->recv.nchan = h.nchannels;
	memcpy(d->uuid, h.uuid, 16);
	mig_accept_join(&d->o, &d->job, &d->link, &d->recv, fd, 0);
	if (d->want && h.nchannels != d->want + 1)
		return fail(d, -EINVAL,
			    "the source opens %u page channels, --channels says %u",
			    h.nchannels - 1, d->want);
	return 0;
}

/* Each page channel within --io-timeout of the one before. */
static int accept_pages(struct rc_dst *d)
{
	uint64_t io_ns = d->o.io_timeout_s * 1000000000ull;
	struct kmig_hello h;
	unsigned int i;
	int fd;

	for (i = 1; i < d->recv.nchan; i++) {
		fd = mig_accept(&d->acc, kmig_now_ns() + io_ns, admit_page, d,
				&h);
		if (fd == -ETIMEDOUT)
			return fail(d, fd, "only %u of %u page channels connected within %u s of the last one",
				    i - 1, d->recv.nchan - 1,
				    d->o.io_timeout_s);
		if (fd < 0)
			return fail(d, fd, "accept: %s", strerror(-fd));
		mig_accept_join(&d->o, &d->job, &d->link, &d->recv, fd,
				h.channel);
	}
	mig_accept_close(&d->acc);
	d->acc_open = false;
	mig_tls_note(&d->o, &d->job);
	return 0;
}

/* Hello in, the received-page bitmap out, the return path open. */
static int meet(struct rc_dst *d)
{
	uint8_t uuid[16], *bm;
	size_t len;
	int ret;

	ret = mig_rc_recv_hello(d->recv.ch[0].sock, &d->vm, uuid, d->job.error,
				sizeof(d->job.error));
	if (ret)
		return fail(d, ret, "%s", d->job.error);
	if (memcmp(uuid, d->uuid, 16))
		return fail(d, -EPROTO,
			    "the resume hello names another recovery than its channel's hello");
	ret = mig_vm_present(&d->vm, d->job.error, sizeof(d->job.error));
	if (ret)
		return fail(d, ret, "%s", d->job.error);
	bm = mig_rc_bitmap_encode(&d->vm, &len);
	if (!bm)
		return fail(d, -ENOMEM, "out of memory");
	ret = kmig_io_all(d->recv.ch[0].sock, bm, len, true);
	free(bm);
	if (ret)
		return mig_link_io_fail(&d->link, ret,
					"cannot send the received-page bitmap: %s",
					strerror(-ret));
	mig_hs_out_init(&d->out, d->recv.ch[0].sock, uuid);
	ret = mig_hs_pinger_start(&d->pinger, &d->out, &d->link, NULL,
				  NULL);
	if (ret)
		return fail(d, ret, "cannot start the keepalive");
	if (pthread_create(&d->faulter, NULL, faulter, d))
		return fail(d, -EAGAIN, "cannot start the fault thread");
	d->faulter_started = true;
	return 0;
}

/*
 * The VMM's state, asked on a thread of its own: kmig-vmm reads its
 * guest's counters from guest memory, and waits, as a vCPU does, when
 * that page is missing. It answers once the page arrives.
 */
static void *ask_state(void *arg)
{
	struct rc_dst *d = arg;
	struct vmm_status st;
	int ret;

	ret = vmm_client_status(&d->vm.vmm, &st);
	pthread_mutex_lock(&d->link.lock);
	d->state_ret = ret;
	snprintf(d->state, sizeof(d->state), "%s", ret ? "" : st.state);
	d->state_known = true;
	pthread_cond_broadcast(&d->link.cond);
	pthread_mutex_unlock(&d->link.lock);
	return NULL;
}

/*
 * The guest must have run here (RUN processed); else its source has every
 * page and runs it. Asked once every page is here: kmig-vmm's status
 * reads the guest's counters, whose page is stale at the switch and so
 * missing until it arrives, and a status left waiting for a recovery
 * that failed would hold the VMM's one control connection from the next.
 * The VMM must answer within the I/O timeout.
 */
static int check_state(struct rc_dst *d)
{
	struct timespec until = kmig_deadline(d->o.io_timeout_s * 1000ull);
	int ret = 0;

	if (pthread_create(&d->asker, NULL, ask_state, d))
		return fail(d, -EAGAIN, "cannot start a thread");
	d->asker_started = true;

	pthread_mutex_lock(&d->link.lock);
	while (!d->state_known && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&d->link.cond, &d->link.lock,
					     &until);
	pthread_mutex_unlock(&d->link.lock);
	if (!d->state_known)
		return fail(d, -ETIMEDOUT, "the VMM at %s does not answer status",
			    d->o.vmm);
	if (d->asker_started) {
		pthread_join(d->asker, NULL);
		d->asker_started = false;
	}
	if (d->state_ret)
		return fail(d, d->state_ret, "VMM status: %s",
			    strerror(-d->state_ret));
	if (strcmp(d->state, "running") && strcmp(d->state, "paused"))
		return fail(d, -EINVAL,
			    "the VMM at %s is %s: its guest never ran here, and its source has every page (kmig resume --force there)",
			    d->o.vmm, d->state);
	return 0;
}

/* Nobody else serves its faults: ours are reported again to this fd. */
static int take_faults(struct rc_dst *d)
{
	int ret;

	ret = kmig_ctx_fault_fd(d->vm.ctx_fd, KMIG_FAULT_FD_KEEP_WAITING);
	if (ret == -EBUSY)
		return fail(d, ret, "another agent serves this guest's faults (is kmig incoming still running?)");
	if (ret < 0)
		return fail(d, ret, "cannot open the fault fd: %s",
			    strerror(-ret));
	d->ffd = ret;
	if (pipe2(d->stop, O_CLOEXEC))
		return fail(d, -errno, "pipe: %s", strerror(errno));
	return 0;
}

static int recover(struct rc_dst *d)
{
	int ret;

	ret = mig_vm_attach(&d->vm, d->o.vmm, 0, d->job.error,
			    sizeof(d->job.error));
	if (ret)
		return fail(d, ret, "%s", d->job.error);
	d->job.memory_total = d->vm.mem_size;
	ret = mig_bt_init(&d->bt, &d->vm);
	d->bt_inited = true;		/* freed whole, even after -ENOMEM */
	if (ret)
		return fail(d, ret, "out of memory");
	/* before the asker thread shares the VMM's connection */
	mig_bt_ask_vcpus(&d->bt, &d->vm.vmm, d->o.cmd);
	ret = take_faults(d);
	if (!ret)
		ret = accept_main(d);
	if (!ret)
		ret = meet(d);
	if (!ret)
		ret = accept_pages(d);
	if (!ret)
		ret = receive(d);
	stop_faulter(d);
	if (!ret)
		ret = none_missing(d);
	if (!ret)
		ret = check_state(d);
	if (ret)
		return ret;
	kmig_delay_at("rc-complete");	/* a test's hang, every page in */
	ret = mig_hs_send(&d->out, MIG_HS_COMPLETE, 0, NULL);
	if (ret)
		fprintf(stderr, "kmig postcopy-recover: every page arrived, but the source did not hear it: %s\n",
			strerror(-ret));
	return 0;
}

/* The job's pages, from every channel's counters. */
static void count(struct rc_dst *d)
{
	unsigned int i;

	d->job.channels = d->recv.nchan;
	for (i = 0; i < d->recv.nchan; i++) {
		d->job.memory_normal += d->recv.ch[i].pages;
		d->job.memory_constant += d->recv.ch[i].zero;
		if (i)
			d->job.pc_pushed += d->recv.ch[i].pages +
					    d->recv.ch[i].zero;
	}
	d->job.data_processed = (d->job.memory_normal +
				 d->job.memory_constant) * MIG_PAGE;
	d->job.pc_blocks = __atomic_load_n(&d->recv.pc_blocks,
					   __ATOMIC_RELAXED);
	d->job.pc_staged = __atomic_load_n(&d->recv.pc_staged,
					   __ATOMIC_RELAXED);
	d->job.pc_copied = __atomic_load_n(&d->recv.pc_copied,
					   __ATOMIC_RELAXED);
}

int postcopy_recover_main(int argc, char *argv[])
{
	struct rc_dst *d = calloc(1, sizeof(*d));
	char err[sizeof(d->job.error)];
	unsigned int i;
	int ret, status;

	if (!d)
		return 1;
	ret = parse(&d->o, &d->want, argc, argv);
	if (ret) {
		free(d);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	d->ffd = d->stop[0] = d->stop[1] = -1;
	d->vm.ctx_fd = d->vm.vmm.fd = -1;
	mig_link_init(&d->link);
	mig_job_start(&d->job);
	d->job.postcopy = true;
	mig_recv_init(&d->recv, &d->link, &d->vm, d->o.io_timeout_s);
	recover(d);
	if (d->acc_open)
		mig_accept_close(&d->acc);
	if (d->pinger.started)
		mig_hs_pinger_stop(&d->pinger);
	stop_faulter(d);
	ret = mig_link_cause(&d->link, err, sizeof(err));
	count(d);
	if (d->bt_inited)
		mig_bt_stats(&d->bt, &d->job.pc_bt);
	mig_job_end(&d->job, ret, err);
	mig_report(&d->o, &d->job, false);
	status = !ret ? 0 : d->ffd >= 0 ? 3 : 1;
	if (ret)
		fprintf(stderr, "kmig postcopy-recover: %s%s\n", err,
			status == 3 ? "; the guest runs here, its missing pages wait: run the recovery again" : "");
	/* its VMM still waits for a page: this thread cannot be joined */
	if (d->asker_started)
		return status;
	if (d->ffd >= 0)
		close(d->ffd);
	for (i = 0; i < d->recv.nchan; i++)
		if (d->recv.ch[i].sock >= 0)
			close(d->recv.ch[i].sock);
	mig_recv_free(&d->recv);
	if (d->stop[0] >= 0) {
		close(d->stop[0]);
		close(d->stop[1]);
	}
	mig_vm_present_free(&d->vm);
	if (d->bt_inited)
		mig_bt_free(&d->bt);
	if (d->vm.ctx_fd >= 0)
		mig_vm_detach(&d->vm);
	mig_link_destroy(&d->link);
	free(d);
	return status;
}
