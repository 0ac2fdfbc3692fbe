// SPDX-License-Identifier: GPL-2.0
/*
 * The destination side of postcopy (incoming.h, Documentation/postcopy.rst).
 *
 * POSTCOPY on the main channel switches it to installing pages; the
 * discard list that follows is kept per slot. POSTCOPY_RUN starts the
 * runner thread: it waits until every page channel said POSTCOPY (so
 * every precopy page has landed), counts the discard list's pages present
 * here (stale), unmaps every mapping of guest RAM (ours, then the VMM's),
 * puts the whole discard list in missing mode, its stale pages discarded
 * (KMIG_SET_MISSING_DISCARD: nothing is fetched before RUN), lets the
 * page channels go on, opens the fault fd (keep-waiting) and starts the
 * fault thread, maps guest RAM again in the VMM, loads the vCPU state,
 * resumes the guest and says RESUMED. The fault thread turns each fault
 * into a REQUEST on the return path. Once every channel ended, every
 * page of the discard list must be present: COMPLETE.
 * From RESUMED on, the watch thread waits for the VMM's end of its
 * control connection, and COMPLETE waits for one last look: a VMM gone
 * after RUN took the guest with it, and the source hears FAILED
 * (EOWNERDEAD), never COMPLETE.
 *
 * What users see while it runs (postcopy_dst_progress()): the module's
 * installs since the listen, asked for or pushed, the missing pages still
 * absent, the bytes of each path, and the blocktime (blocktime.h) of the
 * faults the fault thread read, by the VMM's vCPU threads (its `vcpus`).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "ctx.h"
#include "incoming.h"
#include "recover.h"
#include "util.h"

#define fail(x, ret, ...) mig_link_fail(&(x)->link, ret, __VA_ARGS__)

/* A device's packet of the package, kept until the fault server runs. */
struct pc_devpkt {
	struct pc_devpkt *next;
	struct mig_device *dev;
	uint32_t marker, size;
	uint8_t data[];
};

/* At most this much device state waits in the package. */
#define PC_DEVICE_MAX	(64u << 20)

struct pc_dst {
	struct pc_devpkt *devpkts, **devpkt_tail;	/* in their order */
	uint64_t devpkt_bytes;
	pthread_t runner, faulter, watcher;
	bool runner_started, faulter_started, watcher_started;
	bool watch_stop;		/* atomic: the watch thread ends */
	bool vmm_lost;			/* atomic: it found the VMM gone */
	int runner_ret;
	bool run_seen;
	bool resumed;			/* the guest ran here */
	int ffd;			/* the fault fd */
	int stop[2];			/* the fault thread's stop pipe */
	uint64_t start_ns;		/* POSTCOPY came */
	struct mig_blocktime bt;
	bool listening;			/* the fields below are set */
	struct kmig_ctx_stats at_listen;	/* the module's counts then */
	uint64_t urgent_at_listen, background_at_listen;	/* bytes */
};

int postcopy_dst_start(struct dst *d, struct mig_recv_chan *c)
{
	struct pc_dst *pc;
	unsigned int i;
	int ret;

	if (d->switchover || d->pc) {
		snprintf(c->err, sizeof(c->err), "POSTCOPY after %s",
			 d->pc ? "POSTCOPY" : "SWITCHOVER");
		return -EPROTO;
	}
	if (d->o.save_dir) {
		snprintf(c->err, sizeof(c->err),
			 "postcopy with --save-at-switchover is not supported (memory arrives after the guest runs)");
		return -EOPNOTSUPP;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pc->ffd = pc->stop[0] = pc->stop[1] = -1;
	pc->devpkt_tail = &pc->devpkts;
	pc->start_ns = kmig_now_ns();
	d->pc = pc;
	if (mig_bt_init(&pc->bt, &d->vm))
		return -ENOMEM;
	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];
		size_t words = kmig_bitmap_words(sl->npages);

		sl->discard = calloc(words, 8);
		if (!sl->discard)
			return -ENOMEM;
	}
	d->switchover = true;
	d->switchover_ns = pc->start_ns;
	d->job.postcopy = true;
	ret = mig_recv_pc_switch(c, false);
	/* an answer's block, gathered, goes in whole at its section footer */
	c->gathers = !ret;
	return ret;
}

int postcopy_dst_discard(void *opaque, uint32_t slot, uint64_t page,
			 uint32_t count)
{
	struct mig_recv_chan *c = opaque;
	struct dst *d = c->opaque;
	struct mig_slot *sl = mig_recv_slot(c->r, slot);
	uint64_t p;

	if (!d->pc || d->pc->run_seen) {
		snprintf(c->err, sizeof(c->err), "RAM_DISCARD %s",
			 d->pc ? "after POSTCOPY_RUN" : "before POSTCOPY");
		return -EPROTO;
	}
	for (p = page; p < page + count; p++) {
		sl->discard[p / 64] |= 1ull << (p % 64);
		mig_torn_discard(&c->r->torn, sl - c->r->vm->slots, p);
	}
	d->job.pc_discarded += count;
	return 0;
}

int postcopy_dst_device(struct dst *d, struct mig_recv_chan *c,
			struct mig_device *dev, uint32_t marker,
			const void *data, uint32_t size)
{
	struct pc_dst *pc = d->pc;
	struct pc_devpkt *p;

	if (pc->run_seen) {
		snprintf(c->err, sizeof(c->err),
			 "device %s:%u: state after POSTCOPY_RUN", dev->name,
			 dev->instance);
		return -EPROTO;
	}
	if (pc->devpkt_bytes + size > PC_DEVICE_MAX) {
		snprintf(c->err, sizeof(c->err),
			 "device %s:%u: the package's device state exceeds %u MiB",
			 dev->name, dev->instance, PC_DEVICE_MAX >> 20);
		return -EMSGSIZE;
	}
	p = malloc(sizeof(*p) + size);
	if (!p)
		return -ENOMEM;
	*p = (struct pc_devpkt) { .dev = dev, .marker = marker, .size = size };
	memcpy(p->data, data, size);
	*pc->devpkt_tail = p;
	pc->devpkt_tail = &p->next;
	pc->devpkt_bytes += size;
	return 0;
}

/* The package's device state to its devices, in its order. */
static int load_devices(struct dst *d)
{
	struct pc_devpkt *p;
	unsigned int i;
	int ret;

	for (i = 0; i < d->o.ndevs; i++)
		if (!d->o.devs[i].ended)
			return fail(d, -ENODATA,
				    "device %s:%u: the package has no complete state for it",
				    d->o.devs[i].name, d->o.devs[i].instance);
	for (p = d->pc->devpkts; p; p = p->next) {
		ret = mig_dev_load(p->dev, p->marker, p->data, p->size);
		if (ret)
			return fail(d, ret,
				    "device %s:%u: the device refused %s (%u bytes): %s",
				    p->dev->name, p->dev->instance,
				    kmig_devpkt_name(p->marker), p->size,
				    strerror(-ret));
	}
	return 0;
}

/* The fault thread: each fault record becomes a REQUEST. */
static void *faulter(void *arg)
{
	struct dst *d = arg;

	kmig_delay_at("pc-faults");	/* a test's late fault server */
	mig_pc_forward_faults(d->pc->ffd, d->pc->stop[0], &d->out, &d->link,
			      &d->job.pc_requests, &d->pc->bt);
	return NULL;
}

/* Which pages of @sl have memory now: a bitmap to free, or NULL. */
static uint64_t *present_now(struct dst *d, const struct mig_slot *sl)
{
	uint64_t *present;
	char why[128];
	int ret;

	present = mig_slot_present(d->vm.ctx_fd, sl->id, sl->npages, &ret, why,
				   sizeof(why));
	if (!present)
		fail(d, ret, "%s", why);
	return present;
}

/*
 * Every precopy page has landed: the discard list's present pages are
 * stale. Their number in *@stale: 0, or -errno.
 */
static int count_stale(struct dst *d, uint64_t *stale)
{
	uint64_t w, *present;
	unsigned int i;

	*stale = 0;
	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		present = present_now(d, sl);
		if (!present)
			return -EIO;
		for (w = 0; w < kmig_bitmap_words(sl->npages); w++)
			*stale += __builtin_popcountll(sl->discard[w] &
						       present[w]);
		free(present);
	}
	return 0;
}

/*
 * Missing mode for the discard list, in runs, its stale pages discarded
 * first: every mapping is gone, and no page channel installs yet.
 */
static int set_missing(struct dst *d)
{
	uint64_t first, n;
	unsigned int i;
	int ret;

	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		ret = kmig_ctx_set_missing_runs(d->vm.ctx_fd, sl->id,
						sl->discard, sl->npages,
						KMIG_SET_MISSING_DISCARD,
						&first, &n);
		if (ret)
			return fail(d, ret,
				    "cannot discard pages %llu..%llu of slot %u into missing mode: %s%s",
				    (unsigned long long)first,
				    (unsigned long long)(first + n - 1),
				    sl->id, strerror(-ret),
				    ret == -EINVAL ? " (is kmig.ko older than this agent?)" : "");
	}
	return 0;
}

static int vmm_req(struct dst *d, const char *req)
{
	char why[256];
	int ret = mig_vmm_req(&d->vm.vmm, req, why, sizeof(why));

	return ret ? fail(d, ret, "%s", why) : 0;
}

/* Bytes decoded so far on the main channel and on the page channels. */
static void channel_bytes(struct dst *d, uint64_t *urgent,
			  uint64_t *background)
{
	unsigned int i;

	*urgent = __atomic_load_n(&d->recv.ch[0].dec.pos, __ATOMIC_RELAXED);
	*background = 0;
	for (i = 1; i < d->recv.nchan; i++)
		*background += __atomic_load_n(&d->recv.ch[i].dec.pos,
					       __ATOMIC_RELAXED);
}

/*
 * Guest RAM unmapped everywhere and the discard list in missing mode:
 * then the page channels may install.
 */
static int listen_prepare(struct dst *d)
{
	unsigned int i;
	int ret;

	/* so that blocktime tells vCPUs from other threads */
	mig_bt_ask_vcpus(&d->pc->bt, &d->vm.vmm, d->o.cmd);
	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		if (sl->map)
			munmap(sl->map, sl->size);
		sl->map = NULL;
	}
	ret = vmm_req(d, "unmap");
	if (!ret)
		ret = set_missing(d);
	if (ret)
		return ret;
	ret = kmig_ctx_stats(d->vm.ctx_fd, &d->pc->at_listen);
	if (ret)
		return fail(d, ret, "cannot read the context's statistics: %s",
			    strerror(-ret));
	channel_bytes(d, &d->pc->urgent_at_listen,
		      &d->pc->background_at_listen);
	__atomic_store_n(&d->pc->listening, true, __ATOMIC_RELEASE);
	__atomic_store_n(&d->recv.bt, &d->pc->bt, __ATOMIC_RELEASE);
	return 0;
}

/* Listen: faults served, guest RAM mapped again in the VMM. */
static int listen_faults(struct dst *d)
{
	int ret;

	ret = kmig_ctx_fault_fd(d->vm.ctx_fd, KMIG_FAULT_FD_KEEP_WAITING);
	if (ret < 0)
		return fail(d, ret, "cannot open the fault fd: %s",
			    strerror(-ret));
	d->pc->ffd = ret;
	if (pipe2(d->pc->stop, O_CLOEXEC))
		return fail(d, -errno, "pipe: %s", strerror(errno));
	if (pthread_create(&d->pc->faulter, NULL, faulter, d))
		return fail(d, -EAGAIN, "cannot start the fault thread");
	d->pc->faulter_started = true;
	return vmm_req(d, "map");
}

/* The module's count of faults reported so far: 0, or -errno. */
static int faults_now(struct dst *d, uint64_t *faults)
{
	struct kmig_ctx_stats st = { 0 };
	int ret = kmig_ctx_stats(d->vm.ctx_fd, &st);

	*faults = st.faults;
	return ret;
}

/*
 * Load the devices' state and the VMM's with the fault thread serving:
 * a device whose load reads guest memory that has not arrived faults,
 * and the fault is counted apart (postcopy_load_faults).
 */
static int load_counted(struct dst *d)
{
	uint64_t before, after;
	int ret, stats = faults_now(d, &before);

	/* a test's VMM that hangs loading the package, RESUMED not sent */
	kmig_stop_at("pc-load");
	kmig_delay_at("pc-load");
	ret = load_devices(d);
	if (!ret)
		ret = incoming_load(d);
	if (!stats && !faults_now(d, &after))
		d->job.pc_load_faults = after - before;
	return ret;
}

/*
 * Whether the VMM is gone, waiting up to @ms for it to go: its control
 * connection closes only then (the agent holds it until the end), and
 * with it the guest's vCPUs and all it did since RUN. The source keeps
 * the guest as it was at the pause: it must hear that, not COMPLETE.
 */
static bool vmm_gone(struct dst *d, int ms)
{
	struct pollfd p = { .fd = d->vm.vmm.fd, .events = POLLRDHUP };

	if (poll(&p, 1, ms) <= 0 ||
	    !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return false;
	__atomic_store_n(&d->pc->vmm_lost, true, __ATOMIC_RELEASE);
	/* the source hears it as FAILED (incoming.c: on_fail()) */
	fail(d, -EOWNERDEAD, "its VMM is gone after RUN, and the guest with it; the source keeps the guest as it was at the pause (kmig resume --force there)");
	return true;
}

/* The watch thread: a VMM gone while pages still come. */
static void *vmm_watch(void *arg)
{
	struct dst *d = arg;

	kmig_delay_at("pc-watch");	/* a test's late look */
	while (!__atomic_load_n(&d->pc->watch_stop, __ATOMIC_ACQUIRE) &&
	       !vmm_gone(d, 200))
		;
	return NULL;
}

bool postcopy_dst_vmm_lost(struct dst *d)
{
	return d->pc && __atomic_load_n(&d->pc->vmm_lost, __ATOMIC_ACQUIRE);
}

static int listen_and_run(struct dst *d)
{
	uint64_t stale;
	int ret;

	ret = mig_recv_pc_wait_switched(&d->recv);
	if (ret)
		return fail(d, ret, "not every page channel switched to postcopy: %s",
			    strerror(-ret));
	ret = count_stale(d, &stale);
	if (ret)
		return ret;
	d->job.pc_stale = stale;
	ret = listen_prepare(d);
	if (ret)
		return ret;
	mig_recv_pc_ready(&d->recv);
	kmig_delay_at("pc-listen");	/* a test's late RUN: pages come on */
	ret = listen_faults(d);
	if (!ret)
		ret = load_counted(d);
	if (ret)
		return ret;
	d->job.pc_requests_run = __atomic_load_n(&d->job.pc_requests,
						 __ATOMIC_RELAXED);
	/*
	 * From here on the guest may run here: never FAILED. Unless one went
	 * out already (the source gave up, say, while the load hung): then
	 * the source may run the guest, and it must not run here.
	 */
	if (!mig_link_set_unless_failed(&d->link, &d->rp_quiet))
		return -ECANCELED;
	ret = incoming_resume(d);
	if (ret != -EINPROGRESS && ret)
		return ret;
	d->pc->resumed = true;
	if (ret)
		return fail(d, ret, "%s", d->err);
	kmig_stop_at("run");
	d->job.resume_us = (kmig_now_ns() - d->pc->start_ns) / 1000;
	d->job.downtime_ms = d->job.resume_us / 1000;
	ret = mig_hs_send(&d->out, MIG_HS_RESUMED, d->job.resume_us, NULL);
	if (ret)
		return mig_link_io_fail(&d->link, ret,
					"the guest runs here, but the source did not hear it: %s",
					strerror(-ret));
	incoming_announce(d);
	if (pthread_create(&d->pc->watcher, NULL, vmm_watch, d))
		return fail(d, -EAGAIN, "cannot start a thread");
	d->pc->watcher_started = true;
	kmig_stop_at("postcopy");
	return 0;
}

static void *runner(void *arg)
{
	struct dst *d = arg;

	d->pc->runner_ret = listen_and_run(d);
	return NULL;
}

int postcopy_dst_run(struct dst *d, struct mig_recv_chan *c)
{
	if (!d->pc || d->pc->run_seen) {
		snprintf(c->err, sizeof(c->err), "POSTCOPY_RUN %s",
			 d->pc ? "twice" : "before POSTCOPY");
		return -EPROTO;
	}
	d->pc->run_seen = true;
	if (pthread_create(&d->pc->runner, NULL, runner, d)) {
		snprintf(c->err, sizeof(c->err), "cannot start a thread");
		return -EAGAIN;
	}
	d->pc->runner_started = true;
	return 0;
}

static void join_runner(struct pc_dst *pc)
{
	if (!pc->runner_started)
		return;
	pthread_join(pc->runner, NULL);
	pc->runner_started = false;
}

/* Pages of the discard list still absent, from the module's bitmaps. */
static uint64_t missing_left(struct dst *d)
{
	uint64_t w, n = 0, *present;
	unsigned int i;
	char why[128];
	int ret;

	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		present = mig_slot_present(d->vm.ctx_fd, sl->id, sl->npages,
					   &ret, why, sizeof(why));
		if (!present)
			continue;
		for (w = 0; w < kmig_bitmap_words(sl->npages); w++)
			n += __builtin_popcountll(sl->discard[w] & ~present[w]);
		free(present);
	}
	return n;
}

void postcopy_dst_progress(struct dst *d, struct mig_job *j)
{
	struct pc_dst *pc = __atomic_load_n(&d->pc, __ATOMIC_ACQUIRE);
	struct kmig_ctx_stats st;
	uint64_t urgent, background;

	if (!pc || !__atomic_load_n(&pc->listening, __ATOMIC_ACQUIRE) ||
	    kmig_ctx_stats(d->vm.ctx_fd, &st))
		return;
	j->postcopy = true;
	j->pc_running = true;
	j->pc_faults = st.faults;
	j->pc_requests = __atomic_load_n(&d->job.pc_requests, __ATOMIC_RELAXED);
	j->pc_lat_p50_us = mig_fault_percentile(&st, 50);
	j->pc_lat_p99_us = mig_fault_percentile(&st, 99);
	/* installs of missing-mode pages nobody had asked for */
	j->pc_pushed = st.installed_background -
		       pc->at_listen.installed_background;
	j->pc_remaining = missing_left(d);
	j->pc_blocks = __atomic_load_n(&d->recv.pc_blocks, __ATOMIC_RELAXED);
	j->pc_staged = __atomic_load_n(&d->recv.pc_staged, __ATOMIC_RELAXED);
	j->pc_copied = __atomic_load_n(&d->recv.pc_copied, __ATOMIC_RELAXED);
	channel_bytes(d, &urgent, &background);
	j->pc_urgent_bytes = urgent - pc->urgent_at_listen;
	j->pc_background_bytes = background - pc->background_at_listen;
	mig_bt_stats(&pc->bt, &j->pc_bt);
}

int postcopy_dst_finish(struct dst *d)
{
	uint64_t w, *present;
	unsigned int i;
	int ret;

	if (!d->pc->run_seen)
		return fail(d, -EPROTO, "the stream ended without POSTCOPY_RUN");
	join_runner(d->pc);
	if (d->pc->runner_ret)
		return d->pc->runner_ret;
	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		present = present_now(d, sl);
		if (!present)
			return -EIO;
		for (w = 0, ret = 0; w < kmig_bitmap_words(sl->npages); w++)
			if (sl->discard[w] & ~present[w])
				ret = -ENODATA;
		free(present);
		if (ret)
			return fail(d, ret, "slot %u: the stream ended with pages still missing",
				    sl->id);
	}
	postcopy_dst_stop(d);
	/* every page came before the watch thread looked: look once more */
	if (postcopy_dst_vmm_lost(d) || vmm_gone(d, 0))
		return -EOWNERDEAD;
	postcopy_dst_progress(d, &d->job);
	d->job.pc_running = false;
	ret = mig_hs_send(&d->out, MIG_HS_COMPLETE, 0, NULL);
	if (ret)
		fprintf(stderr, "kmig incoming: every page arrived, but the source did not hear it: %s\n",
			strerror(-ret));
	return 0;
}

bool postcopy_dst_resumed(struct dst *d)
{
	return d->pc && d->pc->resumed;
}

void postcopy_dst_stop(struct dst *d)
{
	struct pc_dst *pc = d->pc;

	if (!pc)
		return;
	join_runner(pc);
	if (pc->watcher_started) {
		__atomic_store_n(&pc->watch_stop, true, __ATOMIC_RELEASE);
		pthread_join(pc->watcher, NULL);
		pc->watcher_started = false;
	}
	kmig_fault_thread_stop(pc->faulter, &pc->faulter_started, pc->stop[1],
			       "kmig incoming");
}

void postcopy_dst_free(struct dst *d)
{
	struct pc_dst *pc = d->pc;
	unsigned int i;

	if (!pc)
		return;
	postcopy_dst_stop(d);
	for (i = 0; i < d->vm.nslots; i++) {
		free(d->vm.slots[i].discard);
		d->vm.slots[i].discard = NULL;
	}
	__atomic_store_n(&d->recv.bt, NULL, __ATOMIC_RELEASE);
	mig_bt_free(&pc->bt);
	if (pc->ffd >= 0)
		close(pc->ffd);
	if (pc->stop[0] >= 0) {
		close(pc->stop[0]);
		close(pc->stop[1]);
	}
	while (pc->devpkts) {
		struct pc_devpkt *next = pc->devpkts->next;

		free(pc->devpkts);
		pc->devpkts = next;
	}
	free(pc);
	d->pc = NULL;
}
