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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "dec.h"
#include "hello.h"
#include "le.h"
#include "mig.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig incoming --vmm SOCK --listen [IPV4:]PORT [options]\n"
"\n"
"Receive a live migration from `kmig migrate` into the VM of the VMM\n"
"behind control socket SOCK, started with --incoming.\n"
"\n"
"  --vmm SOCK                 the VMM's control socket (required)\n"
"  --listen [IPV4:]PORT       where to accept the source (required)\n"
"  --timeout S                give up if the source has not connected\n"
"                             within S seconds\n"
"  --io-timeout S             give up on a connection silent for S seconds,\n"
"                             2..3600 (default 30)\n"
"  --json                     print the job info as JSON\n"
"  --device NAME:INSTANCE     accept this device's state (repeatable)\n"
"  --save-at-switchover DIR   before resuming, write each slot's memory as\n"
"                             DIR/slot-ID.bin and the vCPU state as\n"
"                             DIR/vcpus.bin\n"
"  --help                     this text\n";

/* Page channels meet here at every ROUND_SYNC. */
struct rbarrier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int n, waiting;
	uint64_t gen;
	bool aborted;
};

struct dst;

/* Pages one pwritev installs: consecutive pages of one slot. */
#define BATCH_PAGES	256

struct chan {
	struct dst *d;
	unsigned int index;
	int sock;
	struct kmig_dec dec;
	struct iovec batch[BATCH_PAGES];	/* data in dec's input */
	unsigned int nbatch;
	struct mig_slot *batch_slot;
	uint64_t batch_first;
	int batch_err;
	pthread_t thread;
	bool started;
	uint64_t round;			/* next ROUND_SYNC expected */
	uint64_t pages, zero;
	int ret;
	char err[384];
};

struct dst {
	struct mig_opts o;
	struct mig_vm vm;
	struct mig_job job;
	struct kmig_slot dslots[MIG_MAX_SLOTS];
	unsigned int nchan;
	uint8_t uuid[16];
	struct chan ch[1 + MIG_MAX_CHANNELS];
	struct rbarrier bar;
	struct kmig_enc vcpus;		/* rebuilt vCPU state stream */
	bool in_vcpu;
	struct mig_device *dev;		/* of the open device section */
	bool switchover, channels_cmd;
	uint64_t switchover_ns;
	uint8_t zero[MIG_PAGE];
	char err[512];
};

static int parse(struct mig_opts *o, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "listen", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "io-timeout", required_argument, NULL, 'I' },
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'D' },
		{ "save-at-switchover", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool have_listen = false;
	int c, ret;

	o->cmd = "incoming";
	o->io_timeout_s = MIG_IO_TIMEOUT_S;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (mig_parse_addr(o->cmd, optarg, true, &o->addr))
				return -EINVAL;
			have_listen = true;
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
	if (!have_listen)
		return mig_usage_error(o->cmd, "--listen [IPV4:]PORT is required");
	return 0;
}

/* The first failure's message sticks (mig_fail()). */
#define fail(x, ret, ...) mig_fail((x)->err, sizeof((x)->err), ret, __VA_ARGS__)

static void bar_abort(struct rbarrier *b)
{
	pthread_mutex_lock(&b->lock);
	b->aborted = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static int bar_wait(struct rbarrier *b)
{
	uint64_t gen;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	gen = b->gen;
	if (++b->waiting == b->n) {
		b->waiting = 0;
		b->gen++;
		pthread_cond_broadcast(&b->cond);
	}
	while (gen == b->gen && !b->aborted)
		pthread_cond_wait(&b->cond, &b->lock);
	if (b->aborted)
		ret = -ECANCELED;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

static struct mig_slot *slot_of(struct dst *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < d->vm.nslots; i++)
		if (d->vm.slots[i].id == id)
			return &d->vm.slots[i];
	return NULL;
}

/*
 * Install the collected pages: one pwritev, the kernel copying them from
 * the decoder's buffer straight into the context. Called before the
 * decoder reuses that buffer, and before anything that must come after
 * these pages (zero records, round syncs).
 */
static int batch_flush(struct chan *c)
{
	struct mig_slot *sl = c->batch_slot;
	unsigned int done = 0;
	ssize_t n = 0;

	if (!c->nbatch || c->batch_err)
		return c->batch_err;
	/* Whole pages go in; after a short write the next call says why. */
	while (done < c->nbatch) {
		n = pwritev(c->d->vm.ctx_fd, c->batch + done, c->nbatch - done,
			    KMIG_SLOT_OFFSET(sl->id) +
			    (c->batch_first + done) * MIG_PAGE);
		if (n <= 0 || n % MIG_PAGE)
			break;
		done += n / MIG_PAGE;
	}
	if (done < c->nbatch) {
		c->batch_err = n < 0 ? -errno : -EIO;
		snprintf(c->err, sizeof(c->err),
			 "cannot install page %llu of slot %u: %s",
			 (unsigned long long)c->batch_first + done, sl->id,
			 n < 0 ? strerror(errno) : "short write");
	}
	c->nbatch = 0;
	return c->batch_err;
}

static void batch_release(void *opaque)
{
	batch_flush(opaque);
}

static int put_page(struct chan *c, struct mig_slot *sl, uint64_t page,
		    const void *data)
{
	int ret;

	if (c->nbatch && (c->nbatch == BATCH_PAGES || sl != c->batch_slot ||
			  page != c->batch_first + c->nbatch)) {
		ret = batch_flush(c);
		if (ret)
			return ret;
	}
	if (!c->nbatch) {
		c->batch_slot = sl;
		c->batch_first = page;
	}
	c->batch[c->nbatch++] = (struct iovec) { (void *)data, MIG_PAGE };
	return c->batch_err;
}

static int on_page(void *opaque, uint32_t slot, uint64_t page,
		   const void *data)
{
	struct chan *c = opaque;
	struct mig_slot *sl = slot_of(c->d, slot);

	if (!sl)
		return -ERANGE;	/* the decoder checked it already */
	__atomic_fetch_or(&sl->written[page / 64], 1ull << (page % 64),
			  __ATOMIC_RELAXED);
	c->pages++;
	return put_page(c, sl, page, data);
}

/*
 * A batch is read from the socket straight into guest memory, through
 * the slots' mappings. Its CRC is checked there before on_pages() counts
 * it; a batch that fails it fails the migration, and the guest, whose
 * memory it is, never runs here. Its pages get memory first (zero pages
 * where they had none): a write through the mapping that needed memory
 * beyond the context's page limit would be a SIGBUS, not an error.
 */
static int on_pages_dest(void *opaque, uint32_t slot, const uint64_t *pages,
			 unsigned int n, void **dst)
{
	struct chan *c = opaque;
	struct mig_slot *sl = slot_of(c->d, slot);
	struct kmig_install in = {
		.slot = slot, .flags = KMIG_INSTALL_ZERO,
		.pages = (uintptr_t)pages, .count = n,
	};
	unsigned int i;
	int ret;

	if (!sl || !sl->map)
		return -ERANGE;	/* the decoder checked it already */
	if (ioctl(c->d->vm.ctx_fd, KMIG_INSTALL, &in)) {
		ret = -errno;
		snprintf(c->err, sizeof(c->err),
			 "cannot install pages %llu..%llu of slot %u: %s",
			 (unsigned long long)pages[0],
			 (unsigned long long)pages[n - 1], slot,
			 strerror(-ret));
		return ret;
	}
	for (i = 0; i < n; i++)
		dst[i] = sl->map + pages[i] * MIG_PAGE;
	return 0;
}

static int on_pages(void *opaque, uint32_t slot, const uint64_t *pages,
		    unsigned int n, const void *const *data)
{
	struct chan *c = opaque;
	struct mig_slot *sl = slot_of(c->d, slot);
	unsigned int i;

	(void)data;	/* where on_pages_dest() put them */
	for (i = 0; i < n; i++)
		__atomic_fetch_or(&sl->written[pages[i] / 64],
				  1ull << (pages[i] % 64), __ATOMIC_RELAXED);
	c->pages += n;
	return 0;
}

static int on_zero(void *opaque, uint32_t slot, uint64_t page,
		   uint32_t count)
{
	struct chan *c = opaque;
	struct mig_slot *sl = slot_of(c->d, slot);
	uint64_t p, bit;
	int ret;

	if (!sl)
		return -ERANGE;
	c->zero += count;
	/* A page never written is zero already: only overwrite sent ones. */
	for (p = page; p < page + count; p++) {
		bit = 1ull << (p % 64);
		if (!(__atomic_fetch_and(&sl->written[p / 64], ~bit,
					 __ATOMIC_RELAXED) & bit))
			continue;
		ret = put_page(c, sl, p, c->d->zero);
		if (ret)
			return ret;
	}
	return 0;
}

static int page_chan_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct chan *c = opaque;
	int ret;

	if (cmd->id != KMIG_SCMD_ROUND_SYNC) {
		snprintf(c->err, sizeof(c->err),
			 "command %s on page channel %u",
			 kmig_scmd_name(cmd->id), c->index);
		return -EPROTO;
	}
	if (cmd->round != c->round) {
		snprintf(c->err, sizeof(c->err),
			 "ROUND_SYNC %llu on page channel %u, expected %llu",
			 (unsigned long long)cmd->round, c->index,
			 (unsigned long long)c->round);
		return -EPROTO;
	}
	c->round++;
	ret = batch_flush(c);
	if (ret)
		return ret;
	ret = bar_wait(&c->d->bar);
	if (ret)
		snprintf(c->err, sizeof(c->err), "another channel failed");
	return ret;
}

static void *page_chan_thread(void *arg)
{
	struct chan *c = arg;

	c->ret = kmig_dec_run(&c->dec);
	if (c->ret) {
		if (!c->err[0])
			snprintf(c->err, sizeof(c->err), "%s",
				 kmig_dec_error(&c->dec));
		bar_abort(&c->d->bar);
	}
	return NULL;
}

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
	struct chan *c = opaque;
	struct dst *d = c->d;
	struct mig_device *dev;
	int ret;

	if (s->kind == KMIG_SEC_VCPU) {
		if (!d->switchover) {
			snprintf(c->err, sizeof(c->err),
				 "vCPU section %u before SWITCHOVER", s->id);
			return -EPROTO;
		}
		return kmig_enc_section(&d->vcpus, s);
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
	struct chan *c = opaque;
	struct mig_device *dev = c->d->dev;
	int ret;

	(void)instance;
	if (!dev)
		return -EPROTO;
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
	struct chan *c = opaque;
	size_t have;

	kmig_enc_mem(&c->d->vcpus, &have);
	if (have > MIG_MAX_VCPU_STATE) {
		snprintf(c->err, sizeof(c->err),
			 "vCPU state over %u MiB", MIG_MAX_VCPU_STATE >> 20);
		return -EMSGSIZE;
	}
	return kmig_enc_vcpu(&c->d->vcpus, vcpu, part, data, len);
}

static int main_cmd(void *opaque, const struct kmig_scmd *cmd)
{
	struct chan *c = opaque;
	struct dst *d = c->d;

	switch (cmd->id) {
	case KMIG_SCMD_CHANNELS:
		if (cmd->channels.count != d->nchan - 1 ||
		    memcmp(cmd->channels.uuid, d->uuid, 16)) {
			snprintf(c->err, sizeof(c->err),
				 "CHANNELS announces %u page channels of another migration; %u connected",
				 cmd->channels.count, d->nchan - 1);
			return -EPROTO;
		}
		d->channels_cmd = true;
		return 0;
	case KMIG_SCMD_SWITCHOVER:
		if (d->switchover) {
			snprintf(c->err, sizeof(c->err), "SWITCHOVER twice");
			return -EPROTO;
		}
		d->switchover = true;
		d->switchover_ns = mig_now_ns();
		return 0;
	case KMIG_SCMD_ROUND_SYNC:
		if (batch_flush(c))
			return c->batch_err;
		if (cmd->round != c->round) {
			snprintf(c->err, sizeof(c->err),
				 "ROUND_SYNC %llu on the main channel, expected %llu",
				 (unsigned long long)cmd->round,
				 (unsigned long long)c->round);
			return -EPROTO;
		}
		c->round++;
		d->job.memory_iteration = c->round;
		return 0;
	}
	return 0;
}

static int main_page(void *opaque, uint32_t slot, uint64_t page,
		     const void *data)
{
	struct chan *c = opaque;

	if (c->d->nchan > 1) {
		snprintf(c->err, sizeof(c->err),
			 "page on the main channel of a multi-channel migration");
		return -EPROTO;
	}
	return on_page(opaque, slot, page, data);
}

static int main_pages_dest(void *opaque, uint32_t slot,
			   const uint64_t *pages, unsigned int n, void **dst)
{
	struct chan *c = opaque;

	if (c->d->nchan > 1) {
		snprintf(c->err, sizeof(c->err),
			 "page on the main channel of a multi-channel migration");
		return -EPROTO;
	}
	return on_pages_dest(opaque, slot, pages, n, dst);
}

static int main_zero(void *opaque, uint32_t slot, uint64_t page,
		     uint32_t count)
{
	struct chan *c = opaque;

	if (c->d->nchan > 1) {
		snprintf(c->err, sizeof(c->err),
			 "page on the main channel of a multi-channel migration");
		return -EPROTO;
	}
	return on_zero(opaque, slot, page, count);
}

static int accept_one(struct dst *d, int lfd, int timeout_ms,
		      struct kmig_hello *h)
{
	uint8_t buf[KMIG_HELLO_SIZE];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	char err[256];
	int fd, ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return fail(d, -errno, "poll: %s", strerror(errno));
	if (!ret)
		return fail(d, -ETIMEDOUT,
			    "no connection from the source within %d s",
			    timeout_ms / 1000);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return fail(d, -errno, "accept: %s", strerror(errno));
	mig_sock_setup(fd, d->o.io_timeout_s);
	ret = mig_io_all(fd, buf, sizeof(buf), false);
	if (!ret)
		ret = kmig_hello_decode(h, buf, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-ret));
	if (ret) {
		close(fd);
		return fail(d, ret, "bad channel hello: %s", err);
	}
	return fd;
}

static int accept_channels(struct dst *d, int lfd)
{
	int tmo = d->o.timeout_ms ? (int)d->o.timeout_ms : -1;
	struct kmig_hello h;
	unsigned int i;
	int fd;

	fd = accept_one(d, lfd, tmo, &h);
	if (fd < 0)
		return fd;
	if (h.channel) {
		close(fd);
		return fail(d, -EPROTO,
			    "the first connection is channel %u, not the main channel",
			    h.channel);
	}
	if (h.nchannels > 1 + MIG_MAX_CHANNELS) {
		close(fd);
		return fail(d, -EPROTO, "the source wants %u page channels, at most %u",
			    h.nchannels - 1, MIG_MAX_CHANNELS);
	}
	d->nchan = h.nchannels;
	memcpy(d->uuid, h.uuid, 16);
	d->ch[0].sock = fd;
	for (i = 1; i < d->nchan; i++)
		d->ch[i].sock = -1;
	for (i = 1; i < d->nchan; i++) {
		fd = accept_one(d, lfd, d->o.io_timeout_s * 1000, &h);
		if (fd < 0)
			return fd;
		if (memcmp(h.uuid, d->uuid, 16) || h.nchannels != d->nchan ||
		    !h.channel || d->ch[h.channel].sock >= 0) {
			close(fd);
			return fail(d, -EPROTO,
				    "channel hello %u of %u does not belong to this migration",
				    h.channel, h.nchannels);
		}
		d->ch[h.channel].sock = fd;
	}
	return 0;
}

static int decode(struct dst *d)
{
	static const struct kmig_dec_ops main_ops = {
		.section = main_section, .cmd = main_cmd, .page = main_page,
		.pages_dest = main_pages_dest, .pages = on_pages,
		.zero = main_zero, .vcpu = main_vcpu, .device = main_device,
		.release = batch_release,
	};
	static const struct kmig_dec_ops page_ops = {
		.cmd = page_chan_cmd, .page = on_page,
		.pages_dest = on_pages_dest, .pages = on_pages,
		.zero = on_zero, .release = batch_release,
	};
	struct kmig_dec_cfg cfg = {
		.slots = d->dslots, .nslots = d->vm.nslots,
		.caps_supported = KMIG_SCAP_ALL,
	};
	unsigned int i;
	int ret = 0;

	d->bar.n = d->nchan - 1;
	for (i = 0; i < d->nchan; i++) {
		d->ch[i].d = d;
		d->ch[i].index = i;
		cfg.ops = i ? &page_ops : &main_ops;
		cfg.opaque = &d->ch[i];
		ret = kmig_dec_init_fd(&d->ch[i].dec, &cfg, d->ch[i].sock);
		if (ret)
			return fail(d, ret, "channel %u: %s", i, strerror(-ret));
	}
	for (i = 1; i < d->nchan; i++) {
		if (pthread_create(&d->ch[i].thread, NULL, page_chan_thread,
				   &d->ch[i])) {
			ret = fail(d, -EAGAIN, "cannot start a receiver thread");
			bar_abort(&d->bar);
			break;
		}
		d->ch[i].started = true;
	}
	if (!ret) {
		ret = kmig_dec_run(&d->ch[0].dec);
		if (ret)
			fail(d, ret, "main channel: %s%s%s",
			     kmig_dec_error(&d->ch[0].dec),
			     d->ch[0].err[0] ? ": " : "", d->ch[0].err);
	}
	if (ret) {
		bar_abort(&d->bar);
		for (i = 1; i < d->nchan; i++)
			shutdown(d->ch[i].sock, SHUT_RDWR);
	}
	for (i = 1; i < d->nchan; i++) {
		if (!d->ch[i].started)
			continue;
		pthread_join(d->ch[i].thread, NULL);
		if (d->ch[i].ret && !ret)
			ret = fail(d, d->ch[i].ret, "page channel %u: %s%s%s", i,
				   kmig_dec_error(&d->ch[i].dec),
				   d->ch[i].err[0] ? ": " : "",
				   d->ch[i].err);
	}
	/* The last pages went in when the decoders returned. */
	for (i = 0; i < d->nchan && !ret; i++)
		if (d->ch[i].batch_err)
			ret = fail(d, d->ch[i].batch_err, "channel %u: %s", i,
				   d->ch[i].err);
	if (!ret && !d->switchover)
		ret = fail(d, -EPROTO, "the stream ended without SWITCHOVER");
	if (!ret && d->nchan > 1 && !d->channels_cmd)
		ret = fail(d, -EPROTO, "the main stream did not announce its page channels");
	for (i = 1; i < d->nchan && !ret; i++)
		if (d->ch[i].round != d->ch[0].round)
			ret = fail(d, -EPROTO,
				   "page channel %u ended after %llu rounds, the main channel after %llu",
				   i, (unsigned long long)d->ch[i].round,
				   (unsigned long long)d->ch[0].round);
	for (i = 0; i < d->o.ndevs && !ret; i++)
		if (!d->o.devs[i].ended)
			ret = fail(d, -ENODATA,
				   "device %s:%u: the stream has no complete state for it",
				   d->o.devs[i].name, d->o.devs[i].instance);
	return ret;
}

static void devices_set(struct dst *d, uint32_t state)
{
	unsigned int i;

	for (i = 0; i < d->o.ndevs; i++)
		mig_dev_set_state(&d->o.devs[i], state);
}

/* Load what arrived, so that only the resume is left to do. */
static int load(struct dst *d)
{
	const uint8_t *vbuf;
	size_t vlen;
	unsigned int i;
	int ret;

	ret = kmig_enc_eos(&d->vcpus);
	if (ret)
		return fail(d, ret, "vCPU state: %s", strerror(-ret));
	vbuf = kmig_enc_mem(&d->vcpus, &vlen);
	if (d->o.save_dir) {
		ret = mig_save_slots(&d->vm, d->o.save_dir, d->err,
				     sizeof(d->err));
		if (!ret)
			ret = mig_save_file(d->o.save_dir, "vcpus.bin", vbuf,
					    vlen, d->err, sizeof(d->err));
		if (ret)
			return ret;
	}
	ret = vmm_client_load(&d->vm.vmm, vbuf, vlen);
	if (ret)
		return fail(d, ret, "the VMM refused the vCPU state: %s",
			    d->vm.vmm.reply[0] ? d->vm.vmm.reply :
			    strerror(-ret));
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

/* Start the devices and the guest. */
static int resume(struct dst *d)
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
	ret = vmm_client_cmd(&d->vm.vmm, "resume");
	if (ret)
		return fail(d, ret, "the VMM refused to resume the guest: %s",
			    d->vm.vmm.reply);
	return 0;
}

/*
 * The stream is in: load it, tell the source, and resume only on its
 * go-ahead (MIG_HS_* in mig.h). Whatever fails, the source hears FAILED
 * if it can, and the guest does not run here.
 */
static int finish(struct dst *d)
{
	int sock = d->ch[0].sock;
	uint64_t value;
	uint32_t type;
	int ret;

	ret = load(d);
	if (!ret) {
		ret = mig_hs_send(sock, MIG_HS_LOADED, 0);
		if (ret)
			return fail(d, ret, "cannot tell the source the guest is loaded: %s",
				    strerror(-ret));
		ret = mig_hs_recv(sock, &type, &value);
		if (!ret && type != MIG_HS_GO)
			ret = -EPROTO;
		if (ret)
			return fail(d, ret, "no go-ahead from the source: %s",
				    ret == -ECONNRESET ? "connection closed" :
				    ret == -EPROTO ? "not a GO message" :
				    strerror(-ret));
		ret = resume(d);
	}
	if (ret) {
		devices_set(d, KMIG_DEVICE_STATE_STOP);
		mig_hs_send(sock, MIG_HS_FAILED, -ret);
		return ret;
	}
	d->job.resume_us = (mig_now_ns() - d->switchover_ns) / 1000;
	if (mig_hs_send(sock, MIG_HS_RESUMED, d->job.resume_us))
		fprintf(stderr, "kmig incoming: the guest runs here, but the source did not hear it\n");
	return 0;
}

static int listen_on(struct dst *d)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(d, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&d->o.addr, sizeof(d->o.addr)) ||
	    listen(fd, 64)) {
		fail(d, -errno, "cannot listen on port %u: %s",
		     ntohs(d->o.addr.sin_port), strerror(errno));
		close(fd);
		return -EADDRINUSE;
	}
	return fd;
}

/* Map every slot writable: batches are read into guest memory there. */
static int map_slots(struct dst *d)
{
	unsigned int i;
	void *p;
	int ret;

	for (i = 0; i < d->vm.nslots; i++) {
		struct mig_slot *sl = &d->vm.slots[i];

		p = mmap(NULL, sl->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 d->vm.ctx_fd, KMIG_SLOT_OFFSET(sl->id));
		if (p == MAP_FAILED) {
			ret = -errno;
			return fail(d, ret, "slot %u: cannot map it: %s",
				    sl->id, strerror(-ret));
		}
		sl->map = p;
	}
	return 0;
}

int incoming_main(int argc, char *argv[])
{
	struct vmm_status st;
	struct dst *d;
	unsigned int i;
	int ret, lfd = -1;

	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	ret = parse(&d->o, argc, argv);
	if (ret) {
		free(d);
		return ret > 0 ? 0 : 2;
	}
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&d->bar.lock, NULL);
	pthread_cond_init(&d->bar.cond, NULL);
	kmig_enc_init_mem(&d->vcpus);
	d->job.start_ns = mig_now_ns();
	d->vm.ctx_fd = -1;
	for (i = 0; i <= MIG_MAX_CHANNELS; i++)
		d->ch[i].sock = -1;
	if (mig_ensure_module(d->o.cmd)) {
		free(d);
		return 1;
	}
	ret = mig_vm_attach(&d->vm, d->o.vmm, false, d->err, sizeof(d->err));
	if (!ret) {
		ret = vmm_client_status(&d->vm.vmm, &st);
		if (!ret && strcmp(st.state, "incoming"))
			ret = fail(d, -EBUSY,
				   "the VMM at %s is %s, not waiting for an incoming migration (start it with --incoming)",
				   d->o.vmm, st.state);
		else if (ret)
			fail(d, ret, "VMM status: %s", strerror(-ret));
	}
	if (!ret)
		ret = map_slots(d);
	for (i = 0; i < d->vm.nslots && !ret; i++) {
		d->dslots[i].id = d->vm.slots[i].id;
		d->dslots[i].npages = d->vm.slots[i].npages;
	}
	d->job.memory_total = d->vm.mem_size;
	for (i = 0; i < d->o.ndevs && !ret; i++)
		ret = mig_dev_open(&d->o.devs[i], d->err, sizeof(d->err));
	if (!ret) {
		lfd = listen_on(d);
		ret = lfd < 0 ? lfd : 0;
	}
	if (!ret)
		ret = kmig_enc_header(&d->vcpus);
	if (!ret)
		ret = kmig_enc_caps(&d->vcpus, 0, 0);
	if (!ret)
		ret = accept_channels(d, lfd);
	if (lfd >= 0)
		close(lfd);
	if (!ret)
		ret = decode(d);
	if (!ret)
		ret = finish(d);

	for (i = 0; i < d->o.ndevs; i++) {
		if (ret && d->o.devs[i].started)
			mig_dev_set_state(&d->o.devs[i], KMIG_DEVICE_STATE_STOP);
		d->job.device_bytes += d->o.devs[i].bytes;
	}
	d->job.channels = d->nchan;
	for (i = 0; i < d->nchan; i++) {
		d->job.memory_normal += d->ch[i].pages;
		d->job.memory_constant += d->ch[i].zero;
		d->job.data_processed += d->ch[i].dec.pos;
	}
	d->job.memory_normal_bytes = d->job.memory_normal * MIG_PAGE;
	d->job.memory_processed = d->job.data_processed;
	d->job.data_total = d->job.memory_total + d->job.device_bytes;
	d->job.time_elapsed_ms = (mig_now_ns() - d->job.start_ns) / 1000000;
	d->job.downtime_ms = d->job.resume_us / 1000;
	if (d->job.time_elapsed_ms)
		d->job.memory_bps = d->job.data_processed * 1000 /
				    d->job.time_elapsed_ms;
	d->job.status = ret ? "failed" : "completed";
	snprintf(d->job.error, sizeof(d->job.error), "%s", ret ? d->err : "");
	mig_report(&d->o, &d->job, false);
	if (ret)
		fprintf(stderr, "kmig incoming: %s; the guest was not resumed here\n",
			d->err[0] ? d->err : strerror(-ret));
	for (i = 0; i < d->nchan; i++) {
		kmig_dec_free(&d->ch[i].dec);
		close(d->ch[i].sock);
	}
	for (i = 0; i < d->o.ndevs; i++)
		mig_dev_close(&d->o.devs[i]);
	kmig_enc_free(&d->vcpus);
	mig_vm_detach(&d->vm);
	free(d);
	return ret ? 1 : 0;
}
