// SPDX-License-Identifier: GPL-2.0
/*
 * kmig postcopy-recover: the destination's side of postcopy recovery
 * (Documentation/postcopy.rst "Recovery").
 *
 * A new process, after the link (or an agent) was lost after RUN: the
 * guest runs here, its vCPUs that touch a page that never arrived block
 * in the module (keep-waiting: they wait for the next fault fd), and the
 * module knows which pages have memory. Take a fault fd (blocked faults
 * are reported to it again), accept `kmig migrate --resume`, read its
 * resume hello, answer with the received-page bitmap (the module's
 * present pages), then install every page of its stream with
 * KMIG_INSTALL, which leaves a page present here as it is: the guest's
 * own newer write wins. Each fault meanwhile becomes a REQUEST on the
 * return path. At the stream's end every page is here: COMPLETE.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "dec.h"
#include "handshake.h"
#include "mig.h"
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
	int lsock, sock, ffd, stop[2];
	pthread_t faulter, asker;
	bool faulter_started, asker_started;
	bool state_known;		/* the VMM answered status: */
	int state_ret;
	char state[16];
	struct kmig_slot dslots[MIG_MAX_SLOTS];
	uint64_t zpages[KMIG_STREAM_MAX_BATCH];
	uint8_t *bounce;		/* KMIG_STREAM_MAX_BATCH pages */
	struct mig_blocktime bt;
	bool bt_inited;
};

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

static int parse(struct mig_opts *o, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_LISTEN,
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
	ret = mig_parse_opts(o, argc, argv, opts, usage, NULL, NULL);
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
	if (!d->faulter_started)
		return;
	if (write(d->stop[1], "", 1) != 1)
		fprintf(stderr, "kmig postcopy-recover: cannot stop the fault thread: %s\n",
			strerror(errno));
	pthread_join(d->faulter, NULL);
	d->faulter_started = false;
}

/* The stream's callbacks: pages installed, never overwritten. */
static int rc_pages_dest(void *opaque, uint32_t slot, const uint64_t *pages,
			 unsigned int n, void **dst)
{
	struct rc_dst *d = opaque;
	unsigned int i;

	(void)slot;
	(void)pages;
	for (i = 0; i < n; i++)
		dst[i] = d->bounce + i * MIG_PAGE;
	return 0;
}

static int install(struct rc_dst *d, uint32_t slot, const uint64_t *pages,
		   const void *buf, unsigned int n)
{
	int ret = kmig_ctx_install(d->vm.ctx_fd, slot, pages, buf, n);
	int i = mig_vm_slot_index(&d->vm, slot);

	if (ret)
		return fail(d, ret, "cannot install pages %llu..%llu of slot %u: %s",
			    (unsigned long long)pages[0],
			    (unsigned long long)pages[n - 1], slot,
			    strerror(-ret));
	if (i >= 0)
		mig_bt_installed(&d->bt, i, pages, n);
	if (buf)
		d->job.memory_normal += n;
	else
		d->job.memory_constant += n;
	return 0;
}

static int rc_pages(void *opaque, uint32_t slot, const uint64_t *pages,
		    unsigned int n, const void *const *data)
{
	struct rc_dst *d = opaque;

	if (data[0] != d->bounce)
		return fail(d, -EINVAL, "a batch outside its buffer");
	return install(d, slot, pages, d->bounce, n);
}

static int rc_zero(void *opaque, uint32_t slot, uint64_t page, uint32_t count)
{
	struct rc_dst *d = opaque;
	unsigned int k;
	int ret;

	while (count) {
		for (k = 0; k < KMIG_STREAM_MAX_BATCH && k < count; k++)
			d->zpages[k] = page + k;
		ret = install(d, slot, d->zpages, NULL, k);
		if (ret)
			return ret;
		page += k;
		count -= k;
	}
	return 0;
}

/* One RAM section, "recover", and nothing else. */
static int rc_section(void *opaque, const struct kmig_section *s)
{
	struct rc_dst *d = opaque;

	if (s->id != KMIG_RECOVER_SECTION || s->kind != KMIG_SEC_RAM)
		return fail(d, -EPROTO, "section %u (kind %u) in a recovery stream",
			    s->id, s->kind);
	return 0;
}

static int rc_other(void *opaque)
{
	return fail((struct rc_dst *)opaque, -EPROTO,
		    "a record other than pages in a recovery stream");
}

static int rc_cmd(void *opaque, const struct kmig_scmd *c)
{
	(void)c;
	return rc_other(opaque);
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

static const struct kmig_dec_ops rc_ops = {
	.section = rc_section,
	.cmd = rc_cmd,
	.pages_dest = rc_pages_dest,
	.pages = rc_pages,
	.zero = rc_zero,
	.discard = rc_discard,
	.vcpu = rc_vcpu,
	.device = rc_device,
};

/* The source's stream, to its END_OF_STREAM. */
static int receive(struct rc_dst *d)
{
	struct kmig_dec_cfg cfg = {
		.slots = d->dslots, .nslots = d->vm.nslots,
		.caps_supported = KMIG_SCAP_ALL, .ops = &rc_ops, .opaque = d,
	};
	struct kmig_dec dec;
	unsigned int i;
	int ret;

	for (i = 0; i < d->vm.nslots; i++) {
		d->dslots[i].id = d->vm.slots[i].id;
		d->dslots[i].npages = d->vm.slots[i].npages;
	}
	ret = kmig_dec_init_fd(&dec, &cfg, d->sock);
	if (ret)
		return fail(d, ret, "out of memory");
	ret = kmig_dec_run(&dec);
	if (ret && !mig_link_failed(&d->link))
		mig_link_io_fail(&d->link, ret, "the source's stream: %s",
				 kmig_dec_error(&dec));
	kmig_dec_free(&dec);
	return ret;
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

/* A fault on a page still absent once the stream ended: never sent. */
static int none_missing(struct rc_dst *d)
{
	struct pollfd p = { .fd = d->ffd, .events = POLLIN };
	struct kmig_fault rec;

	while (poll(&p, 1, 0) > 0 &&
	       read(d->ffd, &rec, sizeof(rec)) == sizeof(rec)) {
		if (present(d, rec.slot, rec.page))
			continue;
		return fail(d, -ENODATA,
			    "the stream ended, but page %llu of slot %u is still missing",
			    (unsigned long long)rec.page, rec.slot);
	}
	return 0;
}

static int listen_on(struct rc_dst *d)
{
	char name[MIG_ADDR_STRLEN];
	int one = 1;

	d->lsock = socket(d->o.addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
			  0);
	if (d->lsock < 0)
		return fail(d, -errno, "socket: %s", strerror(errno));
	setsockopt(d->lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(d->lsock, (struct sockaddr *)&d->o.addr.ss, d->o.addr.len) ||
	    listen(d->lsock, 1))
		return fail(d, -errno, "cannot listen on %s: %s",
			    mig_addr_str(&d->o.addr.ss, name),
			    strerror(errno));
	return 0;
}

static int accept_source(struct rc_dst *d)
{
	struct pollfd p = { .fd = d->lsock, .events = POLLIN };
	int ret;

	ret = poll(&p, 1, d->o.timeout_ms ? (int)d->o.timeout_ms : -1);
	if (ret < 0)
		return fail(d, -errno, "poll: %s", strerror(errno));
	if (!ret)
		return fail(d, -ETIMEDOUT, "the source did not come");
	d->sock = accept4(d->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (d->sock < 0)
		return fail(d, -errno, "accept: %s", strerror(errno));
	mig_sock_setup(d->sock, d->o.io_timeout_s);
	mig_link_add(&d->link, d->sock);
	ret = mig_tls_server(&d->o, &d->job, d->sock, d->job.error,
			     sizeof(d->job.error));
	return ret ? fail(d, ret, "TLS: %s", d->job.error) : 0;
}

/* Hello in, the received-page bitmap out, the return path open. */
static int meet(struct rc_dst *d)
{
	uint8_t uuid[16], *bm;
	size_t len;
	int ret;

	ret = mig_rc_recv_hello(d->sock, &d->vm, uuid, d->job.error,
				sizeof(d->job.error));
	if (ret)
		return fail(d, ret, "%s", d->job.error);
	ret = mig_vm_present(&d->vm, d->job.error, sizeof(d->job.error));
	if (ret)
		return fail(d, ret, "%s", d->job.error);
	bm = mig_rc_bitmap_encode(&d->vm, &len);
	if (!bm)
		return fail(d, -ENOMEM, "out of memory");
	ret = kmig_io_all(d->sock, bm, len, true);
	free(bm);
	if (ret)
		return mig_link_io_fail(&d->link, ret,
					"cannot send the received-page bitmap: %s",
					strerror(-ret));
	mig_hs_out_init(&d->out, d->sock, uuid);
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
 * The guest must have run here (RUN processed: its stale pages were
 * overwritten); else its source has every page and runs it. At the start
 * (@last false) the VMM gets 2 s to answer, after which it is asked again
 * at the end, where it must answer within the I/O timeout.
 */
static int check_state(struct rc_dst *d, bool last)
{
	struct timespec until = kmig_deadline(last ? d->o.io_timeout_s * 1000ull :
					      2000);
	int ret = 0;

	pthread_mutex_lock(&d->link.lock);
	while (!d->state_known && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&d->link.cond, &d->link.lock,
					     &until);
	pthread_mutex_unlock(&d->link.lock);
	if (!d->state_known)
		return last ? fail(d, -ETIMEDOUT, "the VMM at %s does not answer status",
				   d->o.vmm) : 0;
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
	if (pthread_create(&d->asker, NULL, ask_state, d))
		return fail(d, -EAGAIN, "cannot start a thread");
	d->asker_started = true;
	return check_state(d, false);
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
		ret = listen_on(d);
	if (!ret)
		ret = accept_source(d);
	if (!ret)
		ret = meet(d);
	if (!ret)
		ret = receive(d);
	stop_faulter(d);
	if (!ret)
		ret = none_missing(d);
	if (!ret)
		ret = check_state(d, true);
	if (ret)
		return ret;
	ret = mig_hs_send(&d->out, MIG_HS_COMPLETE, 0, NULL);
	if (ret)
		fprintf(stderr, "kmig postcopy-recover: every page arrived, but the source did not hear it: %s\n",
			strerror(-ret));
	return 0;
}

int postcopy_recover_main(int argc, char *argv[])
{
	struct rc_dst *d = calloc(1, sizeof(*d));
	char err[sizeof(d->job.error)];
	int ret, status;

	if (!d)
		return 1;
	ret = parse(&d->o, argc, argv);
	if (ret) {
		free(d);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	d->lsock = d->sock = d->ffd = d->stop[0] = d->stop[1] = -1;
	d->vm.ctx_fd = d->vm.vmm.fd = -1;
	mig_link_init(&d->link);
	mig_job_start(&d->job);
	d->job.postcopy = true;
	d->job.channels = 1;
	d->bounce = aligned_alloc(MIG_PAGE, KMIG_STREAM_MAX_BATCH * MIG_PAGE);
	if (d->bounce)
		recover(d);
	else
		fail(d, -ENOMEM, "out of memory");
	if (d->pinger.started)
		mig_hs_pinger_stop(&d->pinger);
	stop_faulter(d);
	ret = mig_link_cause(&d->link, err, sizeof(err));
	d->job.data_processed = (d->job.memory_normal +
				 d->job.memory_constant) * MIG_PAGE;
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
	if (d->sock >= 0)
		close(d->sock);
	if (d->lsock >= 0)
		close(d->lsock);
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
	free(d->bounce);
	free(d);
	return status;
}
