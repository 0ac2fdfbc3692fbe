// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo secondary`: keep a checkpointed copy of the primary's guest
 * in a VM here, paused or (--run) running between checkpoints, and take
 * over when the primary is lost (Documentation/colo.rst).
 *
 * A checkpoint is read whole into a staging buffer (its pages) and a
 * state buffer (its vCPUs) and its CRC checked; only then is it
 * committed: the pages go into the RAM cache, every page dirtied by
 * either side since the previous commit (the staged ones, and what the
 * VM's own dirty log names) is written from the cache into the VM, the
 * vCPU state is loaded, and the ACK goes out. A checkpoint cut short or
 * corrupt never reaches the VM. A running VM (--run) is paused for each
 * commit and resumed after the ACK, its output discarded; before it takes
 * over or is left paused, what it wrote since the last commit is undone
 * from the cache and the committed vCPU state is loaded again. The
 * primary is lost when the checkpoint connection fails or goes silent, or
 * when its heartbeat (colo_heartbeat.c) stops. The staging, the RAM
 * cache and the write-back are colo_sec_cache.c's; pages streamed
 * between checkpoints wait for the next commit in colo_sec_stream.c.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "colo_secondary.h"
#include "le.h"
#include "util.h"

static const char usage_text[] =
	"Usage: kmig colo secondary --vmm SOCK --listen ADDR:PORT [options]\n"
	"\n"
	"Receive the checkpoints of a `kmig colo primary` into the VM of the\n"
	"VMM at SOCK (started --incoming), and resume it from the last\n"
	"committed checkpoint when the primary is lost, its output on and its\n"
	"MAC announced on the VMM's network. The VM stays paused between\n"
	"checkpoints unless --run.\n"
	"\n"
	"  --vmm SOCK            the VMM's control socket (\"@name\": abstract)\n"
	"  --listen ADDR:PORT    where the primary connects\n"
	"  --timeout S           a primary silent this long is lost (default 5)\n"
	"  --heartbeat MS        beat to the primary every MS ms, on UDP at the\n"
	"                        address it reached (default 100; 0: none)\n"
	"  --heartbeat-timeout MS\n"
	"                        a primary whose beats stop this long is lost\n"
	"                        (default 2000)\n"
	"  --fence CMD           before taking over, run CMD (/bin/sh -c); take\n"
	"                        over only when it exits 0 (it must make sure the\n"
	"                        primary's guest is stopped)\n"
	"  --no-takeover         when the primary is lost, leave the guest paused\n"
	"  --run                 run the guest between checkpoints, its output\n"
	"                        discarded; each commit undoes what it wrote\n"
	"  --threads N           write a checkpoint's pages into the VM with N\n"
	"                        threads (default 1, at most 16)\n"
	"  --control SOCK        take `kmig colo failover` requests on this unix\n"
	"                        socket (\"@name\": abstract)\n"
	"  --device NAME:INSTANCE\n"
	"                        load the primary's n-th --device state into this\n"
	"                        device at each commit (repeatable, same order)\n"
	"  --help                this text\n";

/* The secondary's own options (mig_own_opt). */
static int secondary_opt(struct mig_opts *o, int c, void *opaque)
{
	struct colo_sec *s = opaque;
	uint64_t v;

	switch (c) {
	case 'f':
		if (!*optarg)
			return mig_usage_error(o->cmd, "--fence is empty");
		s->fence = optarg;
		return 0;
	case 'N':
		s->takeover = false;
		return 0;
	case 'R':
		s->run = true;
		return 0;
	case 'C':
		s->control = optarg;
		return 0;
	case 't':
		if (mig_parse_u64(o->cmd, "--threads", optarg, 1,
				  COLO_MAX_THREADS, &v))
			return -EINVAL;
		s->threads = v;
		return 0;
	}
	return colo_parse_shared(o, c, &s->hb);
}

static int parse(struct colo_sec *s, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_LISTEN,
		MIG_LONGOPT_TIMEOUT,
		{ "fence", required_argument, NULL, 'f' },
		{ "no-takeover", no_argument, NULL, 'N' },
		{ "run", no_argument, NULL, 'R' },
		{ "control", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 't' },
		MIG_LONGOPT_DEVICE,
		COLO_LONGOPTS_HEARTBEAT,
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	s->o.cmd = "colo secondary";
	s->o.io_timeout_s = COLO_TIMEOUT_S;
	s->takeover = true;
	s->threads = 1;
	ret = mig_parse_opts(&s->o, argc, argv, opts, usage_text,
			     secondary_opt, s);
	if (!ret)
		ret = mig_parse_end(&s->o, argc, argv, MIG_PEER_LISTEN);
	return ret ? ret : colo_check_heartbeat(&s->o, &s->hb);
}

/* The primary's slots must be this VM's, one for one. */
static int read_hello(struct colo_sec *s)
{
	uint8_t b[COLO_HELLO_SIZE], sb[COLO_HELLO_SLOT_SIZE];
	uint32_t n, i;
	int ret;

	ret = kmig_io_all(s->sock, b, sizeof(b), false);
	if (ret)
		return fail(s, ret, "no hello from the primary: %s",
			    strerror(-ret));
	ret = colo_hello_check(b, &n, s->err, sizeof(s->err));
	if (ret)
		return ret;
	if (n != s->vm.nslots)
		return fail(s, -EINVAL, "the primary's guest has %u slots, this one %u",
			    n, s->vm.nslots);
	for (i = 0; i < n; i++) {
		const struct mig_slot *sl = &s->vm.slots[i];

		ret = kmig_io_all(s->sock, sb, sizeof(sb), false);
		if (ret)
			return fail(s, ret, "the primary's hello is cut: %s",
				    strerror(-ret));
		if (get_le32(sb) != sl->id || get_le64(sb + 8) != sl->gpa ||
		    get_le64(sb + 16) != sl->size)
			return fail(s, -EINVAL, "the primary's slot %u (gpa 0x%llx, %llu bytes) is not this VM's slot %u (gpa 0x%llx, %llu bytes)",
				    get_le32(sb),
				    (unsigned long long)get_le64(sb + 8),
				    (unsigned long long)get_le64(sb + 16),
				    sl->id, (unsigned long long)sl->gpa,
				    (unsigned long long)sl->size);
	}
	return colo_dev_hello_read(s->sock, &s->o, s->err, sizeof(s->err));
}

/* --run: the VM stops running (before a commit, a takeover, the end). */
static int vm_pause(struct colo_sec *s)
{
	int ret;

	if (!s->running)
		return 0;
	ret = vmm_client_cmd(&s->vm.vmm, "pause");
	if (ret)
		return fail(s, ret, "cannot pause the guest: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	s->running = false;
	return colo_dev_set_all(&s->o, KMIG_DEVICE_STATE_STOP, s->err,
				sizeof(s->err));
}

/* --run: the committed checkpoint runs until the next one. */
static int vm_run(struct colo_sec *s, uint32_t vcpu_len)
{
	uint8_t *t = s->vcpu_last;
	int ret;

	if (!s->run)
		return 0;
	/* this checkpoint's vCPU state is the one to go back to */
	s->vcpu_last = s->vcpu;
	s->vcpu_last_len = vcpu_len;
	s->vcpu = t;
	ret = colo_dev_set_all(&s->o, KMIG_DEVICE_STATE_RUNNING, s->err,
			       sizeof(s->err));
	if (ret)
		return ret;
	ret = vmm_client_cmd(&s->vm.vmm, "resume");
	if (ret)
		return fail(s, ret, "cannot resume the guest: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	s->running = true;
	return 0;
}

/*
 * --run: pause the VM and bring it back to the last committed checkpoint:
 * every page it wrote since, from the cache, the committed vCPU state
 * (which its own devices' state is part of) and the --device states.
 */
static int vm_rewind(struct colo_sec *s)
{
	struct write_back wb;
	int ret;

	if (!s->running)
		return 0;
	ret = vm_pause(s);
	if (!ret)
		ret = colo_sec_write_back(s, NULL, true, &wb);
	if (ret)
		return ret;
	ret = vmm_client_load(&s->vm.vmm, s->vcpu_last, s->vcpu_last_len);
	if (ret)
		return fail(s, ret, "the VMM refused checkpoint %llu's vCPU state again: %s",
			    (unsigned long long)s->last,
			    vmm_client_why(&s->vm.vmm, ret));
	ret = colo_dev_load(&s->o, &s->dev_last, NULL, s->err, sizeof(s->err));
	if (ret)
		return ret;
	fprintf(stderr, "kmig colo secondary: back at checkpoint %llu: %llu pages of its own undone\n",
		(unsigned long long)s->last, (unsigned long long)wb.own);
	return 0;
}

/*
 * Checkpoint @h's device state into the devices, all or none: a device
 * that refuses its state refuses the checkpoint, every device as it was.
 */
static int load_devices(struct colo_sec *s, const struct colo_hdr *h)
{
	char why[sizeof(s->err)] = "";
	int ret;

	if (!s->o.ndevs)
		return 0;
	ret = colo_dev_load(&s->o, &s->dev, s->committed ? &s->dev_last : NULL,
			    why, sizeof(why));
	if (ret)
		return fail(s, ret, "checkpoint %llu: %s: refused whole",
			    (unsigned long long)h->seq, why);
	return 0;
}

/* The vCPUs refused @ret after the devices took theirs: devices back. */
static int unload_devices(struct colo_sec *s, int ret)
{
	if (s->o.ndevs && s->committed)
		colo_dev_load(&s->o, &s->dev_last, NULL, s->err,
			      sizeof(s->err));
	return ret;
}

/* The staged device state is the committed one now. */
static void devices_committed(struct colo_sec *s)
{
	struct colo_devbuf t = s->dev_last;

	s->dev_last = s->dev;
	s->dev = t;
}

/* A received, verified checkpoint into the cache and the VM; ACK it. */
static int commit(struct colo_sec *s, const struct colo_hdr *h)
{
	struct colo_ack a = { .seq = h->seq };
	uint8_t ab[COLO_ACK_SIZE];
	uint64_t t0 = kmig_now_ns();
	struct write_back wb;
	char ran[64] = "";
	int ret;

	ret = vm_pause(s);
	if (ret)
		return ret;
	/* first what may be refused: the devices (all or none), then the
	 * vCPUs (the VMM checks the whole stream before it loads) */
	ret = load_devices(s, h);
	if (ret)
		return ret;
	ret = vmm_client_load(&s->vm.vmm, s->vcpu, h->vcpu_len);
	if (ret) {
		fail(s, ret, "checkpoint %llu: the VMM refused its vCPU state: %s",
		     (unsigned long long)h->seq,
		     vmm_client_why(&s->vm.vmm, ret));
		return unload_devices(s, ret);
	}
	ret = colo_sec_write_back(s, h, true, &wb);
	if (!ret && h->flags & COLO_CKPT_VERIFY &&
	    (ret = colo_mem_crc(&s->vm, &a.memcrc)))
		fail(s, ret, "cannot read guest memory: %s", strerror(-ret));
	if (!ret && h->flags & COLO_CKPT_VERIFY && s->o.ndevs)
		ret = colo_dev_crc(&s->o, &s->dev_check, &a.devcrc, s->err,
				   sizeof(s->err));
	if (ret)
		return ret;
	devices_committed(s);
	s->committed = true;
	s->last = h->seq;
	s->last_crc = a.memcrc;
	s->verify = h->flags & COLO_CKPT_VERIFY;
	colo_hb_set_seq(&s->hb, s->last);
	if (s->run)
		snprintf(ran, sizeof(ran), ", %llu of its own undone",
			 (unsigned long long)wb.own);
	fprintf(stderr, "kmig colo secondary: checkpoint %llu committed: %llu pages written in %.2f ms (flush %.2f ms, %u threads)%s\n",
		(unsigned long long)h->seq, (unsigned long long)wb.written,
		(kmig_now_ns() - t0) / 1e6, wb.flush_ns / 1e6, s->threads, ran);
	colo_ack_encode(&a, ab);
	ret = kmig_io_all(s->sock, ab, sizeof(ab), true);
	if (ret)
		return fail(s, ret, "checkpoint %llu: cannot acknowledge it: %s",
			    (unsigned long long)h->seq, strerror(-ret));
	return vm_run(s, h->vcpu_len);
}

/*
 * A live message, before checkpoint 0: its pages straight into the cache
 * and the VM (there is nothing to take over yet, so nothing to keep
 * apart), read whole and CRC-checked first like a checkpoint.
 */
static int live_round(struct colo_sec *s, const struct colo_hdr *h,
		      const uint8_t hb[COLO_HDR_SIZE])
{
	uint64_t t0 = kmig_now_ns();
	struct write_back wb;
	int ret;

	if (s->committed || h->seq != s->lives || h->vcpu_len || h->flags ||
	    h->npages > COLO_LIVE_PAGES || h->dev_len)
		return fail(s, -EPROTO, "live message %llu (%llu pages, flags 0x%x, %u bytes of vCPU state) after %llu%s",
			    (unsigned long long)h->seq,
			    (unsigned long long)h->npages, h->flags,
			    h->vcpu_len, (unsigned long long)s->lives,
			    s->committed ? " and a checkpoint" : "");
	ret = colo_sec_receive(s, h, hb);
	if (!ret)
		ret = colo_sec_write_back(s, h, false, &wb);
	if (ret)
		return ret;
	s->lives++;
	fprintf(stderr, "kmig colo secondary: live message %llu: %llu pages written in %.2f ms\n",
		(unsigned long long)h->seq, (unsigned long long)wb.written,
		(kmig_now_ns() - t0) / 1e6);
	return 0;
}

/*
 * Refuse checkpoint @seq whole, or (@streamed) the STRM messages for it;
 * the primary learns why.
 */
static void nack(struct colo_sec *s, uint64_t seq, int status,
		 bool streamed)
{
	struct colo_ack a = { .seq = seq, .status = status,
			      .streamed = streamed };
	uint8_t ab[COLO_ACK_SIZE];

	colo_ack_encode(&a, ab);
	kmig_io_all(s->sock, ab, sizeof(ab), true);
}

/*
 * Checkpoints until the primary says BYE (0), refuses or fails on its
 * own (-EBADMSG and the like: it is alive, no takeover), or is lost
 * (-ENOTCONN: take over).
 */
static int serve(struct colo_sec *s)
{
	uint8_t hb[COLO_HDR_SIZE];
	struct colo_hdr h;
	int ret;

	for (;;) {
		ret = kmig_io_all(s->sock, hb, sizeof(hb), false);
		if (ret) {
			fail(s, ret, "the primary is lost after checkpoint %llu: %s",
			     (unsigned long long)s->last,
			     ret == -ETIMEDOUT ? "silent for --timeout" :
			     strerror(-ret));
			return -ENOTCONN;
		}
		colo_hdr_decode(&h, hb);
		if (h.magic == COLO_BYE_MAGIC)
			return 0;
		if (h.magic == COLO_LIVE_MAGIC) {
			ret = live_round(s, &h, hb);
			if (ret)
				return ret == -EBADMSG || ret == -EPROTO ||
				       ret == -ENOMEM ? ret : -ENOTCONN;
			continue;
		}
		if (h.magic == COLO_STRM_MAGIC) {
			ret = colo_sec_stream_receive(s, &h, hb);
			if (ret == -EBADMSG)
				nack(s, h.seq, ret, true);
			if (ret)
				return ret == -EBADMSG || ret == -EPROTO ||
				       ret == -ENOMEM ? ret : -ENOTCONN;
			continue;
		}
		if (h.magic != COLO_CKPT_MAGIC)
			return fail(s, -EPROTO, "the primary sent no checkpoint (magic 0x%08x)",
				    h.magic);
		if (s->committed ? h.seq != s->last + 1 : h.seq != 0)
			return fail(s, -EPROTO, "checkpoint %llu came after %llu",
				    (unsigned long long)h.seq,
				    (unsigned long long)s->last);
		ret = colo_sec_receive(s, &h, hb);
		if (ret == -EBADMSG)
			nack(s, h.seq, ret, false);
		if (ret && ret != -EBADMSG && ret != -ENOMEM)
			return -ENOTCONN;
		if (ret)
			return ret;
		ret = commit(s, &h);
		if (ret) {
			nack(s, h.seq, ret, false);
			return ret;
		}
	}
}

/* The fence says the primary's guest is stopped: 0, or -EPERM. */
static int fence(struct colo_sec *s)
{
	int st;

	if (!s->fence)
		return 0;
	st = system(s->fence);
	if (st == -1)
		return fail(s, -errno, "cannot run the fence: %s",
			    strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return fail(s, -EPERM, "the fence '%s' failed (status 0x%x): the primary may still run, no takeover",
			    s->fence, st);
	return 0;
}

/* Run the guest here from the last committed checkpoint. */
static int takeover(struct colo_sec *s)
{
	uint64_t t0 = kmig_now_ns(), t_ann, t_end;
	char crc[64] = "", ann[128];
	uint32_t c, dc;
	int ret;

	fprintf(stderr, "kmig colo secondary: %s\n", s->err);
	s->err[0] = 0;
	ret = vm_rewind(s);
	if (ret)
		return ret;
	if (!s->takeover)
		return fail(s, -ENOTCONN, "the primary is lost and --no-takeover: the guest stays paused at checkpoint %llu",
			    (unsigned long long)s->last);
	ret = fence(s);
	if (ret)
		return ret;
	/* Checked checkpoints: the memory it resumes with, checked again. */
	if (s->verify) {
		ret = colo_mem_crc(&s->vm, &c);
		if (ret)
			return fail(s, ret, "cannot read guest memory: %s",
				    strerror(-ret));
		snprintf(crc, sizeof(crc), ", memory crc %08x", c);
	}
	if (s->verify && s->o.ndevs) {
		ret = colo_dev_crc(&s->o, &s->dev_check, &dc, s->err,
				   sizeof(s->err));
		if (ret)
			return ret;
		snprintf(crc + strlen(crc), sizeof(crc) - strlen(crc),
			 ", device crc %08x", dc);
	}
	/* Its output, discarded until now (a VMM without a network
	 * device has none: -ENODEV). */
	ret = vmm_client_cmd(&s->vm.vmm, "net on");
	if (ret && ret != -ENODEV)
		return fail(s, ret, "cannot turn the guest's output on: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	ret = colo_dev_set_all(&s->o, KMIG_DEVICE_STATE_RUNNING, s->err,
			       sizeof(s->err));
	if (ret)
		return ret;
	ret = vmm_client_cmd(&s->vm.vmm, "resume");
	if (ret)
		return fail(s, ret, "cannot resume the guest: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	s->took_over = true;
	/* The segment's switches learn the guest's MAC is here now. */
	t_ann = kmig_now_ns();
	ret = mig_vmm_announce(&s->vm.vmm, ann, sizeof(ann));
	t_end = kmig_now_ns();
	printf("takeover at checkpoint %llu%s, switch %.2f ms\n",
	       (unsigned long long)s->last, crc, (t_end - t0) / 1e6);
	if (!ret)
		printf("announced %s, at %llu ns, in %.2f ms of the switch\n",
		       ann, (unsigned long long)t_ann, (t_end - t_ann) / 1e6);
	else if (ret != -ENODEV)
		fprintf(stderr, "kmig colo secondary: the guest runs here, but %s\n",
			ann);
	fflush(stdout);		/* whoever watches learns it now */
	return 0;
}

/*
 * The control socket's thread (jobctl.h): "failover" makes the main
 * thread's next read of the checkpoint connection fail, which then takes
 * over as for a lost primary.
 */
static const char *answer(void *arg, const char *line, char *buf, size_t n)
{
	struct colo_sec *s = arg;

	(void)buf;	/* the answers are constants */
	(void)n;
	if (strcmp(line, COLO_CTL_FAILOVER))
		return "err EINVAL unknown request\n";
	pthread_mutex_lock(&s->wake_lock);
	s->forced = true;
	/* wakes the main thread, in accept() or a read */
	if (s->sock >= 0 || s->lsock >= 0)
		shutdown(s->sock >= 0 ? s->sock : s->lsock, SHUT_RDWR);
	pthread_mutex_unlock(&s->wake_lock);
	return "ok takeover requested\n";
}

static int control_start(struct colo_sec *s)
{
	if (!s->control)
		return 0;
	s->ctl.answer = answer;
	s->ctl.arg = s;
	return mig_jobctl_start(&s->ctl, s->control, false, s->err,
				sizeof(s->err));
}

/* Whether failover was asked; if not, @fd (the socket the main thread
 * blocks on next) is where the control thread wakes it. */
static bool forced_or_publish(struct colo_sec *s, int *where, int fd)
{
	bool forced;

	pthread_mutex_lock(&s->wake_lock);
	*where = fd;
	forced = s->forced;
	pthread_mutex_unlock(&s->wake_lock);
	return forced;
}

static bool failover_asked(struct colo_sec *s)
{
	bool forced;

	pthread_mutex_lock(&s->wake_lock);
	forced = s->forced;
	pthread_mutex_unlock(&s->wake_lock);
	return forced;
}

/*
 * The heartbeat's thread found the primary silent: the main thread's
 * read of the checkpoint connection fails, and it takes over as for a
 * lost primary.
 */
static void primary_lost(void *arg)
{
	struct colo_sec *s = arg;

	pthread_mutex_lock(&s->wake_lock);
	if (s->sock >= 0)
		shutdown(s->sock, SHUT_RDWR);
	pthread_mutex_unlock(&s->wake_lock);
}

/* Beats on the UDP port of the address the primary reached. */
static int heartbeat_start(struct colo_sec *s)
{
	struct sockaddr_storage here, there;
	socklen_t hl = sizeof(here), tl = sizeof(there);

	if (getsockname(s->sock, (struct sockaddr *)&here, &hl) ||
	    getpeername(s->sock, (struct sockaddr *)&there, &tl))
		return fail(s, -errno, "the primary's connection: %s",
			    strerror(errno));
	return colo_hb_start(&s->hb, s->o.cmd, &here, &there, primary_lost, s,
			     s->err, sizeof(s->err));
}

static int listen_accept(struct colo_sec *s)
{
	char name[MIG_ADDR_STRLEN];
	int one = 1, fd, ret;

	fd = socket(s->o.addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(s, -errno, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&s->o.addr.ss, s->o.addr.len) ||
	    listen(fd, 1)) {
		ret = fail(s, -errno, "cannot listen at %s: %s",
			   mig_addr_str(&s->o.addr.ss, name), strerror(errno));
		close(fd);
		return ret;
	}
	/* listening: a shutdown() from here on wakes accept() */
	if (forced_or_publish(s, &s->lsock, fd))
		return -ENOTCONN;
	fprintf(stderr, "kmig colo secondary: listening at %s\n",
		mig_addr_str(&s->o.addr.ss, name));
	fd = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return failover_asked(s) ? -ENOTCONN :
			fail(s, -errno, "accept: %s", strerror(errno));
	if (forced_or_publish(s, &s->sock, fd))
		return -ENOTCONN;
	mig_sock_setup(s->sock, s->o.io_timeout_s);
	return heartbeat_start(s);
}

static int setup(struct colo_sec *s)
{
	struct vmm_status st;
	int ret;

	ret = mig_ensure_module(s->err, sizeof(s->err));
	if (!ret)
		ret = mig_vm_attach_status(&s->vm, s->o.vmm, 0, &st, s->err,
					   sizeof(s->err));
	if (ret)
		return ret;
	if (strcmp(st.state, "incoming"))
		return fail(s, -EBUSY, "the guest is %s: start the VMM with --incoming",
			    st.state);
	/* the devices stay stopped until a takeover (or, --run, a commit) */
	ret = colo_dev_open_all(&s->o, KMIG_DEVICE_STATE_STOP, s->err,
				sizeof(s->err));
	if (!ret)
		ret = colo_sec_cache_init(s);
	if (!ret)
		ret = mig_vm_set_logging(&s->vm, true, s->err, sizeof(s->err));
	if (ret)
		return ret;
	s->tmp = mig_vm_bitmap_buf(&s->vm);
	s->vcpu = malloc(VMM_STATE_MAX);
	if (s->run)
		s->vcpu_last = malloc(VMM_STATE_MAX);
	if (!s->tmp || !s->vcpu || (s->run && !s->vcpu_last))
		return fail(s, -ENOMEM, "out of memory");
	/* a guest running here emits nothing until it takes over (a VMM
	 * without a network device has no output: -ENODEV) */
	ret = s->run ? vmm_client_cmd(&s->vm.vmm, "net off") : 0;
	if (ret && ret != -ENODEV)
		return fail(s, ret, "cannot turn the guest's output off: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	ret = control_start(s);
	if (!ret)
		ret = listen_accept(s);
	if (!ret)
		ret = read_hello(s);
	return ret;
}

static void cleanup(struct colo_sec *s)
{
	colo_hb_stop(&s->hb);
	mig_vm_set_logging(&s->vm, false, s->err, sizeof(s->err));
	colo_sec_cache_free(s);
	colo_dev_close_all(&s->o, s->took_over ? KMIG_DEVICE_STATE_RUNNING :
			   KMIG_DEVICE_STATE_STOP);
	colo_devbuf_free(&s->dev);
	colo_devbuf_free(&s->dev_last);
	colo_devbuf_free(&s->dev_check);
	mig_jobctl_stop(&s->ctl);
	if (s->sock >= 0)
		close(s->sock);
	if (s->lsock >= 0)
		close(s->lsock);
	free(s->tmp);
	free(s->vcpu);
	free(s->vcpu_last);
	if (s->vm.nslots || s->vm.ctx_fd >= 0)
		mig_vm_detach(&s->vm);
}

int colo_secondary_main(int argc, char *argv[])
{
	struct colo_sec s = {
		.lsock = -1, .sock = -1, .vm = { .ctx_fd = -1 },
		.ctl = { .lfd = -1, .stop = { -1, -1 } },
		.wake_lock = PTHREAD_MUTEX_INITIALIZER, .hb = COLO_HB_INIT,
	};
	int ret, rw;

	ret = parse(&s, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = setup(&s);
	if (!ret)
		ret = serve(&s);
	colo_sec_stream_end(&s);	/* what streamed for no commit */
	if (ret && colo_hb_lost(&s.hb)) {
		snprintf(s.err, sizeof(s.err), "the primary is lost after checkpoint %llu: no heartbeat for %u ms",
			 (unsigned long long)s.last, s.hb.timeout_ms);
		ret = -ENOTCONN;
	}
	if (ret && failover_asked(&s)) {
		fprintf(stderr, "kmig colo secondary: failover asked by hand\n");
		ret = -ENOTCONN;
	}
	if (ret == -ENOTCONN && s.committed)
		ret = takeover(&s);
	else if (ret == -ENOTCONN)
		fail(&s, ret, "no checkpoint committed yet: nothing to take over");
	else if ((rw = vm_rewind(&s)) && !ret)
		ret = rw;	/* the end of protection: back at the last one */
	cleanup(&s);
	if (ret) {
		fprintf(stderr, "kmig colo secondary: %s\n",
			s.err[0] ? s.err : strerror(-ret));
		return 1;
	}
	if (!s.took_over)
		printf("the primary stopped after checkpoint %llu; the guest stays paused here\n",
		       (unsigned long long)s.last);
	return 0;
}
