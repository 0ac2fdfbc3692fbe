// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by `kmig migrate` and `kmig incoming`: option parsing,
 * sockets, TLS and save-at-switchover files (the VMM's memory context:
 * mig_vm.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>
#include <linux/sockios.h>

#include "ctx.h"
#include "kmod.h"
#include "mig.h"
#include "sender.h"

int mig_fail(char *err, size_t n, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!err[0]) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return ret ? ret : -EIO;
}

int mig_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kmig %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'kmig %s --help')\n", cmd);
	return -EINVAL;
}

int mig_parse_common(struct mig_opts *o, int c, const char *usage,
		     char *argv[])
{
	uint64_t v;

	switch (c) {
	case MIG_OPT_VMM:
		if (!*optarg)
			return mig_usage_error(o->cmd, "--vmm is empty");
		o->vmm = optarg;
		return 0;
	case MIG_OPT_TO:
		o->to = optarg;
		return mig_parse_addr(o->cmd, "--to", optarg, true, &o->addr) ?
		       -EINVAL : 0;
	case MIG_OPT_LISTEN:
		o->listen = optarg;
		return mig_parse_addr(o->cmd, "--listen", optarg, false,
				      &o->addr) ? -EINVAL : 0;
	case MIG_OPT_TIMEOUT:
		if (mig_parse_u64(o->cmd, "--timeout", optarg, 1, 86400, &v))
			return -EINVAL;
		o->timeout_ms = v * 1000;
		return 0;
	case MIG_OPT_IO_TIMEOUT:
		if (mig_parse_u64(o->cmd, "--io-timeout", optarg, 2, 3600, &v))
			return -EINVAL;
		o->io_timeout_s = v;
		return 0;
	case MIG_OPT_JSON:
		o->json = true;
		return 0;
	case MIG_OPT_DEVICE:
		return mig_parse_device(o, optarg) ? -EINVAL : 0;
	case MIG_OPT_SAVE_DIR:
		if (mig_check_dir(o->cmd, optarg))
			return -EINVAL;
		o->save_dir = optarg;
		return 0;
	case MIG_OPT_TLS_CREDS:
	case MIG_OPT_TLS_PSK:
		if (o->tls.creds)
			return mig_usage_error(o->cmd, "--tls-creds and --tls-psk exclude each other, and each comes once");
		o->tls.creds = c == MIG_OPT_TLS_CREDS ? KMIG_TLS_X509 :
			       KMIG_TLS_PSK;
		o->tls.path = optarg;
		return 0;
	case MIG_OPT_HELP:
		fputs(usage, stdout);
		return 1;
	case ':':
		return mig_usage_error(o->cmd, "%s needs a value",
				       argv[optind - 1]);
	default:
		return mig_usage_error(o->cmd, "unknown option '%s'",
				       argv[optind - 1]);
	}
}

int mig_parse_opts(struct mig_opts *o, int argc, char *argv[],
		   const struct option *opts, const char *usage,
		   mig_own_opt own, void *opaque)
{
	int c, ret;

	opterr = 0;
	optind = 0;		/* from the start, as a fresh process */
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		ret = own ? own(o, c, opaque) : MIG_OPT_SHARED;
		if (ret == MIG_OPT_SHARED)
			ret = mig_parse_common(o, c, usage, argv);
		if (ret)
			return ret;
	}
	return 0;
}

/* mig_parse_sock_only()'s one option (mig_own_opt). */
static int sock_opt(struct mig_opts *o, int c, void *sock)
{
	(void)o;
	if (c != 'S')
		return MIG_OPT_SHARED;
	*(const char **)sock = optarg;
	return 0;
}

int mig_parse_sock_only(const char *cmd, const char *opt, const char *usage,
			int argc, char *argv[], const char **sock)
{
	const struct option opts[] = {
		{ opt, required_argument, NULL, 'S' },
		MIG_LONGOPT_HELP,
		{ }
	};
	struct mig_opts o = { .cmd = cmd };
	int ret;

	*sock = NULL;
	ret = mig_parse_opts(&o, argc, argv, opts, usage, sock_opt, sock);
	if (!ret)
		ret = mig_parse_no_args(&o, argc, argv);
	if (!ret && !*sock)
		ret = mig_usage_error(cmd, "--%s SOCK is required", opt);
	return ret;
}

int mig_parse_no_args(const struct mig_opts *o, int argc, char *argv[])
{
	if (optind < argc)
		return mig_usage_error(o->cmd, "unexpected argument '%s'",
				       argv[optind]);
	return 0;
}

int mig_parse_end(struct mig_opts *o, int argc, char *argv[],
		  enum mig_peer peer)
{
	char err[PATH_MAX + 64];

	if (mig_parse_no_args(o, argc, argv))
		return -EINVAL;
	if (!o->vmm)
		return mig_usage_error(o->cmd, "--vmm SOCK is required");
	if (kmig_tls_check(&o->tls, peer == MIG_PEER_LISTEN, err, sizeof(err)))
		return mig_usage_error(o->cmd, "%s", err);
	if (peer == MIG_PEER_TO && !o->to)
		return mig_usage_error(o->cmd, "--to ADDR:PORT is required");
	if (peer == MIG_PEER_LISTEN && !o->listen)
		return mig_usage_error(o->cmd, "--listen ADDR:PORT is required");
	return 0;
}

int mig_parse_u64(const char *cmd, const char *opt, const char *s,
		  uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s)
		return mig_usage_error(cmd, "%s needs a value", opt);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return mig_usage_error(cmd, "%s '%s' is not a number", opt, s);
	if (v < min || v > max)
		return mig_usage_error(cmd, "%s %llu is outside %llu..%llu", opt,
				       v, (unsigned long long)min,
				       (unsigned long long)max);
	*out = v;
	return 0;
}

int mig_parse_device(struct mig_opts *o, const char *s)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	struct mig_device *d;
	uint64_t inst;
	unsigned int i;
	int ret;

	if (!colon || colon == s)
		return mig_usage_error(o->cmd, "--device '%s' is not NAME:INSTANCE",
				       s ? s : "");
	if (o->ndevs == MIG_MAX_DEVICES)
		return mig_usage_error(o->cmd, "more than %u --device options",
				       MIG_MAX_DEVICES);
	d = &o->devs[o->ndevs];
	if ((size_t)(colon - s) >= sizeof(d->name))
		return mig_usage_error(o->cmd, "--device name '%.*s' is longer than %zu bytes",
				       (int)(colon - s), s,
				       sizeof(d->name) - 1);
	for (i = 0; s + i < colon; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return mig_usage_error(o->cmd,
					       "--device name '%.*s' has a character that is not printable",
					       (int)(colon - s), s);
	ret = mig_parse_u64(o->cmd, "--device instance", colon + 1, 0, 65535,
			    &inst);
	if (ret)
		return ret;
	memset(d, 0, sizeof(*d));
	memcpy(d->name, s, colon - s);
	d->instance = inst;
	d->fd = -1;
	for (i = 0; i < o->ndevs; i++)
		if (!strcmp(o->devs[i].name, d->name) &&
		    o->devs[i].instance == d->instance)
			return mig_usage_error(o->cmd, "--device %s given twice", s);
	o->ndevs++;
	return 0;
}

int mig_check_dir(const char *cmd, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return mig_usage_error(cmd,
				       "--save-at-switchover '%s' is not a directory",
				       dir);
	if (access(dir, W_OK))
		return mig_usage_error(cmd,
				       "--save-at-switchover '%s' is not writable",
				       dir);
	return 0;
}

int mig_ensure_module(char *err, size_t n)
{
	char why[256] = "";
	int ret;

	ret = kmig_module_ensure(NULL, why, sizeof(why));
	if (ret)
		snprintf(err, n, "the kmig module is not loaded and cannot be loaded: %s",
			 why);
	return ret;
}

void mig_sock_setup(int fd, int timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	int one = 1, buf = 4 << 20;
	/*
	 * A lost link shows as data nobody acknowledges: give up on it after
	 * 10 s instead of TCP's minutes of retransmissions, even while a
	 * bandwidth cap keeps the socket from filling up.
	 */
	unsigned int user_timeout_ms = 10000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
		   sizeof(user_timeout_ms));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

uint64_t mig_sock_unacked(int fd)
{
	int q;

	return !ioctl(fd, SIOCOUTQ, &q) && q > 0 ? q : 0;
}

/*
 * The stream's bytes the destination has taken: those written on each
 * channel but its keepalives (a destination whose every thread hangs
 * still acknowledges a PING), less those it has not acknowledged. Read
 * in this order, a write or a PING under way makes it smaller, never
 * larger.
 */
static uint64_t stream_taken(const struct mig_reply_wait *w)
{
	uint64_t sum = 0, b, q;
	unsigned int i;

	for (i = 0; i < w->n; i++) {
		b = __atomic_load_n(&w->ch[i].enc.bytes, __ATOMIC_SEQ_CST);
		b -= __atomic_load_n(&w->ch[i].ping_bytes, __ATOMIC_SEQ_CST);
		q = mig_sock_unacked(w->ch[i].sock);
		sum += b > q ? b - q : 0;
	}
	return sum;
}

void mig_reply_wait_init(struct mig_reply_wait *w, struct mig_chan *ch,
			 unsigned int n, unsigned int io_timeout_s)
{
	*w = (struct mig_reply_wait) {
		.ch = ch, .n = n, .limit_ns = io_timeout_s * 1000000000ull,
		.since = kmig_now_ns(),
	};
}

bool mig_reply_overdue(struct mig_reply_wait *w)
{
	uint64_t taken = stream_taken(w), now = kmig_now_ns();

	if (taken > w->high) {
		w->high = taken;
		w->since = now;
	}
	return now - w->since >= w->limit_ns;
}

uint64_t mig_reply_untaken(const struct mig_reply_wait *w)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < w->n; i++)
		sum += mig_sock_unacked(w->ch[i].sock);
	return sum;
}

/* What the destination's certificate must name: --to without its port
 * (and an IPv6 address without its brackets). */
static void tls_host(const char *to, char host[MIG_ADDR_STRLEN])
{
	size_t len = strlen(to);
	const char *colon = strrchr(to, ':');

	if (colon)
		len = colon - to;
	if (to[0] == '[' && len >= 2 && to[len - 1] == ']')
		snprintf(host, MIG_ADDR_STRLEN, "%.*s", (int)len - 2, to + 1);
	else
		snprintf(host, MIG_ADDR_STRLEN, "%.*s", (int)len, to);
}

int mig_tls_client(const struct mig_opts *o, struct mig_job *j, int fd,
		   char *err, size_t n)
{
	struct kmig_tls_cfg cfg = o->tls;
	char host[MIG_ADDR_STRLEN];
	int mode;

	tls_host(o->to, host);
	cfg.timeout_ms = o->io_timeout_s * 1000;
	mode = kmig_tls_client(fd, &cfg, host, err, n);
	if (mode < 0)
		return mode;
	mig_tls_count(o, j, fd);
	return 0;
}

void mig_tls_count(const struct mig_opts *o, struct mig_job *j, int fd)
{
	if (!o->tls.creds)
		return;
	j->tls = o->tls.creds;
	if (kmig_tls_is_ktls(fd))
		j->tls_ktls++;
	else
		j->tls_relay++;
}

void mig_tls_note(const struct mig_opts *o, const struct mig_job *j)
{
	if (j->tls_relay)
		fprintf(stderr, "kmig %s: no kernel TLS here (is the tls module there?): %u of %u channels encrypt in a relay thread instead\n",
			o->cmd, j->tls_relay, j->tls_relay + j->tls_ktls);
}

/* All @len bytes of @buf to @fd: 0 or -errno. A short write (a disk
 * filling up) is followed by another, which says why. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (!w)
			return -EIO;
		buf += w;
		len -= w;
	}
	return 0;
}

/*
 * What the page cache took reaches the file's device, or the error the
 * device gave (EIO) is the save's: a save that says it succeeded is
 * there. A file that cannot be synced (EINVAL: /dev/null) is left be.
 */
static int sync_file(int fd)
{
	return fsync(fd) && errno != EINVAL ? -errno : 0;
}

/* DIR/NAME from slot @slot of context @ctx, or from @buf when @ctx < 0. */
static int write_file(const char *dir, const char *name, int ctx,
		      uint32_t slot, const void *buf, size_t len, char *err,
		      size_t n)
{
	static uint8_t chunk[1 << 20];
	char path[PATH_MAX];
	size_t done = 0, want;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, n, "cannot create %s: %s", path, strerror(errno));
		return ret;
	}
	while (done < len && !ret) {
		want = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
		if (ctx >= 0) {
			ret = kmig_ctx_read(ctx, slot, done, chunk, want);
			if (ret) {
				snprintf(err, n, "cannot read guest memory for %s: %s",
					 path, strerror(-ret));
				break;
			}
		} else {
			memcpy(chunk, (const uint8_t *)buf + done, want);
		}
		ret = write_all(fd, chunk, want);
		if (!ret && done + want == len)
			ret = sync_file(fd);
		if (ret)
			snprintf(err, n, "cannot write %s: %s", path,
				 strerror(-ret));
		done += want;
	}
	if (close(fd) && !ret) {
		ret = -errno;
		snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
	}
	return ret;
}

int mig_save_slots(const struct mig_vm *vm, const char *dir, char *err,
		   size_t n)
{
	char name[32];
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nslots; i++) {
		snprintf(name, sizeof(name), "slot-%u.bin", vm->slots[i].id);
		ret = write_file(dir, name, vm->ctx_fd, vm->slots[i].id, NULL,
				 vm->slots[i].size, err, n);
		if (ret)
			return ret;
	}
	return 0;
}

int mig_save_file(const char *dir, const char *name, const void *buf,
		  size_t len, char *err, size_t n)
{
	return write_file(dir, name, -1, 0, buf, len, err, n);
}

/*
 * The faults and the upper bound of the log2 latency bucket (µs) that
 * holds the @pct-th percentile of their fault-to-install latency.
 */
uint64_t mig_fault_percentile(const struct kmig_ctx_stats *st, unsigned int pct)
{
	return mig_lat_percentile(st->lat_us, KMIG_LAT_BUCKETS, pct);
}

int mig_vmm_req(struct vmm_client *c, const char *req, char *err, size_t n)
{
	int ret = vmm_client_cmd(c, "%s", req);

	if (ret)
		snprintf(err, n, "the VMM refused '%s': %s", req,
			 vmm_client_why(c, ret));
	return ret;
}

int mig_vmm_announce(struct vmm_client *c, char *msg, size_t n)
{
	unsigned int frames, last_ms;
	char mac[18];
	int ret;

	ret = vmm_client_cmd(c, "announce");
	if (ret == -ENODEV)
		return ret;
	if (ret) {
		snprintf(msg, n, "the VMM did not announce the guest's MAC: %s",
			 vmm_client_why(c, ret));
		return ret;
	}
	if (sscanf(c->reply, "ok mac=%17s frames=%u last_ms=%u", mac, &frames,
		   &last_ms) != 3) {
		snprintf(msg, n, "the VMM's answer to 'announce' makes no sense: '%.64s'",
			 c->reply);
		return -EPROTO;
	}
	snprintf(msg, n, "%s: 1 of %u frames, the last due %u ms later", mac,
		 frames, last_ms);
	return 0;
}
