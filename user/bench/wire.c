// SPDX-License-Identifier: GPL-2.0
/*
 * Host-native benchmark of kmig's data path, no module and no KVM needed:
 * a memfd stands in for guest memory (written in full first), a second
 * one for the destination's, and the pages cross loopback TCP from a
 * sender thread pinned to one CPU to a receiver pinned to another.
 *
 *   raw      write() of the whole memory, read() straight into place
 *   batched  the agent's engines (libkmig's sender.h and receiver.h) on
 *            one channel: each page summed where it is, zero pages as
 *            zero runs, the others as RAM_PAGES batches written straight
 *            from guest memory; the receiver reads each batch from the
 *            socket into place and checks its page sums there (as the
 *            agent picks them: kmig_psum_pick())
 *   zerocopy the same with `kmig migrate --zerocopy`: MSG_ZEROCOPY sends
 *   page     version 1's path: one RAM_PAGE record a page, the receiver
 *            decoding into its buffer and installing runs with pwritev
 *   tls      batched over TLS (AES-128-GCM, tls.h): kernel TLS where this
 *            kernel has it, else the relay, which the row's name says
 *
 * Each repetition runs every path in turn, so that the ratios compare
 * runs under the same conditions; every kmig run is checked against the
 * source afterwards. The last column compares the whole process's CPU
 * time (TLS relay threads included). Then the page sums' and memcpy's
 * speeds, hot (64 KiB, in L2) and streaming (over the whole memory).
 *
 * Usage: wire [-s MiB] [-r reps] [-z zero%[,zero%...]] [-c send,recv CPUs]
 *             [-p batched,zerocopy,page,tls (the kmig paths to run)]
 *             [-d (the data path only, no CRC speeds: for perf)]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "dec.h"
#include "enc.h"
#include "link.h"
#include "psum.h"
#include "receiver.h"
#include "sender.h"
#include "tls.h"
#include "util.h"

#define PAGE		KMIG_STREAM_PAGE_SIZE
#define CHUNK		256u	/* pages per unit of work, as the agent's */
#define SEND_BUF	(2 * CHUNK)
#define RAW_IO		(512u << 10)
#define MAX_REPS	64

enum path { RAW, BATCHED, ZEROCOPY, PER_PAGE, TLS, NPATHS };
static const char *path_name[NPATHS] = {
	"raw TCP", "kmig batched", "kmig zerocopy", "kmig per-page",
	"kmig TLS",
};

static struct {
	size_t size;		/* bytes of guest memory */
	uint64_t npages;
	uint8_t *src, *dst;	/* the two memfd mappings */
	int dst_fd;
	int cpu[2];		/* sender, receiver */
	bool run[NPATHS];	/* the paths to run (raw always) */
	uint64_t *all;		/* a dirty bitmap of every page */
	uint64_t zc_sent, zc_copied;	/* zerocopy: send calls, copied */
	char psk[64];		/* TLS: a key file of a random key */
	int tls_mode;		/* what the last TLS run used */
} g = { .size = 1024ull << 20, .cpu = { 0, 1 }, .run = { 1, 1, 1, 1, 1 } };

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

/* This thread's CPU time: what a run costs whatever else the CPU runs. */
static uint64_t cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "wire: cannot pin to CPU %d\n", cpu);
}

static int die(const char *what, int err)
{
	fprintf(stderr, "wire: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint8_t *map_memfd(const char *name, int *fdp)
{
	int fd = memfd_create(name, 0);
	uint8_t *p;

	if (fd < 0 || ftruncate(fd, g.size))
		die(name, errno);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die(name, errno);
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return p;
}

/* Guest memory: every page written, @zero_pct of them with zeroes. */
static void fill_source(unsigned int zero_pct)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, p, *w;
	size_t i;

	for (p = 0; p < g.npages; p++) {
		w = (uint64_t *)(g.src + p * PAGE);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (x % 100 < zero_pct) {
			memset(w, 0, PAGE);
			continue;
		}
		for (i = 0; i < PAGE / 8; i++)
			w[i] = x + i * 0x2545f4914f6cdd1dull;
	}
}

/* A connected loopback TCP pair. */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0 || bind(l, (void *)&sin, sizeof(sin)) || listen(l, 1) ||
	    getsockname(l, (void *)&sin, &len))
		die("listen", errno);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (void *)&sin, sizeof(sin)))
		die("connect", errno);
	*b = accept(l, NULL, NULL);
	if (*b < 0)
		die("accept", errno);
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

/* ---- TLS ---- */

static void make_psk(void)
{
	uint8_t key[32];
	unsigned int i;
	int fd;
	FILE *f;

	strcpy(g.psk, "/tmp/kmig-wire-XXXXXX");
	fd = mkstemp(g.psk);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f)
		die("key file", errno);
	for (i = 0; i < sizeof(key); i++)
		key[i] = rand();
	fprintf(f, "wire:");
	for (i = 0; i < sizeof(key); i++)
		fprintf(f, "%02x", key[i]);
	fprintf(f, "\n");
	fclose(f);
}

static const struct kmig_tls_cfg *tls_cfg(void)
{
	static struct kmig_tls_cfg cfg = { .creds = KMIG_TLS_PSK };

	cfg.path = g.psk;
	return &cfg;
}

static void *tls_server(void *arg)
{
	char err[256];
	int *fd = arg, ret;

	ret = kmig_tls_server(*fd, tls_cfg(), err, sizeof(err));
	if (ret < 0)
		die(err, -ret);
	return NULL;
}

/* TLS on the pair; the row takes the mode's name. */
static void tls_pair(int a, int b)
{
	static char name[32];
	char err[256];
	pthread_t th;
	int ret;

	pthread_create(&th, NULL, tls_server, &b);
	ret = kmig_tls_client(a, tls_cfg(), "127.0.0.1", err, sizeof(err));
	if (ret < 0)
		die(err, -ret);
	pthread_join(th, NULL);
	snprintf(name, sizeof(name), "kmig TLS %s", kmig_tls_mode_name(ret));
	g.tls_mode = ret;
	path_name[TLS] = name;
}

/* ---- raw TCP ---- */

static int raw_send(int fd)
{
	size_t off, k;
	ssize_t n;

	for (off = 0; off < g.size; off += n) {
		k = g.size - off < RAW_IO ? g.size - off : RAW_IO;
		n = write(fd, g.src + off, k);
		if (n <= 0)
			return -errno;
	}
	return 0;
}

static int raw_recv(int fd)
{
	size_t off;
	ssize_t n;

	for (off = 0; off < g.size; off += n) {
		n = read(fd, g.dst + off, g.size - off);
		if (n <= 0)
			return n ? -errno : -ENODATA;
	}
	return 0;
}

/* ---- kmig, version 2: the agent's engines on one channel ---- */

/* Guest memory as the engines see it: the memfd's one slot. */
static void vm_of(struct mig_vm *vm, uint8_t *map, int fd)
{
	memset(vm, 0, sizeof(*vm));
	vm->plain = true;
	vm->ctx_fd = fd;
	vm->nslots = 1;
	vm->slots[0].npages = g.npages;
	vm->slots[0].size = g.size;
	vm->slots[0].map = map;
	vm->slots[0].bitmap = g.all;
}

/* Every page in one round on the main channel, as precopy sends it. */
static int engine_send(int fd, bool zerocopy)
{
	struct mig_senders pool = { 0 };
	struct mig_link link;
	struct mig_chan ch;
	struct mig_vm vm;
	int ret;

	vm_of(&vm, g.src, -1);
	mig_link_init(&link);
	mig_chan_init(&ch, fd, 0, 0);
	ret = zerocopy ? kmig_enc_zerocopy(&ch.enc, 30000) : 0;
	if (!ret)
		ret = kmig_enc_header(&ch.enc);
	if (!ret)
		ret = kmig_enc_caps(&ch.enc, mig_psum_cap(), 0);
	if (!ret)
		ret = mig_senders_start(&pool, &vm, &link, &ch, 0);
	if (!ret) {
		mig_senders_rewind(&pool);
		mig_chan_begin(&ch);
		ret = mig_chan_ram_part(&ch, MIG_RAM_SECTION,
					KMIG_REC_SECTION_FULL);
		if (!ret)
			ret = mig_chan_round_sync(&ch, 0, true);
		mig_chan_end(&ch);
	}
	mig_senders_stop(&pool);
	g.zc_sent += ch.enc.zc_sent;
	g.zc_copied += ch.enc.zc_copied;
	mig_chan_free(&ch);
	mig_link_destroy(&link);
	return ret;
}

static int engine_recv(int fd)
{
	struct mig_link link;
	struct mig_recv *r;
	struct mig_vm vm;
	int ret;

	r = malloc(sizeof(*r));
	vm_of(&vm, g.dst, g.dst_fd);
	vm.slots[0].written = calloc(g.npages / 64 + 1, 8);
	if (!r || !vm.slots[0].written)
		die("receiver", ENOMEM);
	mig_link_init(&link);
	mig_recv_init(r, &link, &vm, 30);
	r->nchan = 1;
	r->ch[0].sock = fd;
	ret = mig_recv_run(r, &mig_recv_pages_only_ops);
	if (ret) {
		mig_link_cause(&link, r->ch[0].err, sizeof(r->ch[0].err));
		fprintf(stderr, "wire: receiver: %s\n", r->ch[0].err);
	}
	mig_recv_free(r);
	mig_link_destroy(&link);
	free(vm.slots[0].written);
	free(r);
	return ret;
}

/* ---- kmig, version 1: a RAM_PAGE record a page ---- */

struct sender {
	struct kmig_enc enc;
	uint8_t *buf;		/* SEND_BUF pages copied out */
	unsigned int used;
	uint64_t zfirst, zcount;	/* the zero run */
};

static int zero_page(struct sender *s, uint64_t p)
{
	int ret = 0;

	if (s->zcount && s->zfirst + s->zcount == p) {
		s->zcount++;
		return 0;
	}
	if (s->zcount)
		ret = kmig_enc_zero(&s->enc, 0, s->zfirst, s->zcount);
	s->zfirst = p;
	s->zcount = 1;
	return ret;
}

static int send_chunk(struct sender *s, uint64_t first, uint64_t end)
{
	uint64_t p;
	uint8_t *at;
	int ret = 0;

	if (s->used + (end - first) > SEND_BUF) {
		ret = kmig_enc_flush(&s->enc);
		if (ret)
			return ret;
		s->used = 0;
	}
	at = s->buf + (size_t)s->used * PAGE;
	memcpy(at, g.src + first * PAGE, (end - first) * PAGE);
	s->used += end - first;
	for (p = first; p < end && !ret; p++, at += PAGE)
		ret = kmig_page_is_zero(at) ? zero_page(s, p) :
		      kmig_enc_page_ref(&s->enc, 0, p, at);
	if (!ret && s->zcount)
		ret = kmig_enc_zero(&s->enc, 0, s->zfirst, s->zcount);
	s->zcount = 0;
	return ret;
}

static int v1_send(int fd)
{
	struct kmig_section sec = { .type = KMIG_REC_SECTION_FULL, .id = 1,
				    .kind = KMIG_SEC_RAM, .name = "ram" };
	struct sender s = { 0 };
	uint64_t c, end;
	int ret;

	s.buf = malloc(SEND_BUF * PAGE);
	if (!s.buf)
		return -ENOMEM;
	kmig_enc_init_fd(&s.enc, fd);
	ret = kmig_enc_header(&s.enc);
	if (!ret)
		ret = kmig_enc_caps(&s.enc, 0, 0);
	if (!ret)
		ret = kmig_enc_section(&s.enc, &sec);
	for (c = 0; c < g.npages && !ret; c += CHUNK) {
		end = c + CHUNK < g.npages ? c + CHUNK : g.npages;
		ret = send_chunk(&s, c, end);
	}
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(&s.enc, &sec);
	if (!ret)
		ret = kmig_enc_eos(&s.enc);
	kmig_enc_free(&s.enc);
	free(s.buf);
	return ret;
}

struct receiver {
	uint64_t *written;	/* pages not zero, as the agent tracks */
	struct iovec iov[256];	/* per page: consecutive pages held */
	unsigned int niov;
	uint64_t first;
	int err;
};

static void mark(struct receiver *r, uint64_t p)
{
	r->written[p / 64] |= 1ull << (p % 64);
}

static void rx_install(void *o)
{
	struct receiver *r = o;
	ssize_t n;

	if (!r->niov)
		return;
	n = pwritev(g.dst_fd, r->iov, r->niov, r->first * PAGE);
	if (n != (ssize_t)r->niov * PAGE)
		r->err = n < 0 ? -errno : -EIO;
	r->niov = 0;
}

static int rx_page(void *o, uint32_t slot, uint64_t page, const void *data)
{
	struct receiver *r = o;

	if (r->niov && (r->niov == 256 || page != r->first + r->niov))
		rx_install(r);
	if (!r->niov)
		r->first = page;
	r->iov[r->niov++] = (struct iovec) { (void *)data, PAGE };
	mark(r, page);
	return r->err;
}

static int rx_zero(void *o, uint32_t slot, uint64_t page, uint32_t count)
{
	struct receiver *r = o;
	uint64_t p;

	for (p = page; p < page + count; p++)
		if (r->written[p / 64] & (1ull << (p % 64)))
			memset(g.dst + p * PAGE, 0, PAGE);
	return 0;
}

static int v1_recv(int fd)
{
	static const struct kmig_dec_ops per_page = {
		.page = rx_page, .zero = rx_zero, .release = rx_install,
	};
	struct kmig_slot slot = { .id = 0, .npages = g.npages };
	struct receiver r = { 0 };
	struct kmig_dec_cfg cfg = {
		.slots = &slot, .nslots = 1, .caps_supported = KMIG_SCAP_ALL,
		.ops = &per_page, .opaque = &r,
	};
	struct kmig_dec d;
	int ret;

	r.written = calloc((g.npages + 63) / 64, 8);
	if (!r.written)
		return -ENOMEM;
	ret = kmig_dec_init_fd(&d, &cfg, fd);
	if (!ret)
		ret = kmig_dec_run(&d);
	if (ret)
		fprintf(stderr, "wire: receiver: %s\n", kmig_dec_error(&d));
	kmig_dec_free(&d);
	free(r.written);
	return ret ? ret : r.err;
}

/* ---- one run ---- */

struct side {
	enum path path;
	bool sender;
	int fd, cpu, ret;
	pthread_barrier_t *start;
	uint64_t t0, t1, cpu_time;
};

/* "tx raw", "rx batched": perf's comm tells the sides and paths apart. */
static void name_thread(const struct side *s)
{
	static const char *const short_name[NPATHS] = {
		"raw", "batched", "zerocopy", "page", "tls",
	};
	char name[16];

	snprintf(name, sizeof(name), "%s %s", s->sender ? "tx" : "rx",
		 short_name[s->path]);
	pthread_setname_np(pthread_self(), name);
}

static void *run_side(void *arg)
{
	struct side *s = arg;
	bool sender = s->sender;

	pin(s->cpu);
	name_thread(s);
	pthread_barrier_wait(s->start);
	s->cpu_time = cpu_ns();
	s->t0 = kmig_now_ns();
	if (s->path == RAW)
		s->ret = sender ? raw_send(s->fd) : raw_recv(s->fd);
	else if (s->path == PER_PAGE)
		s->ret = sender ? v1_send(s->fd) : v1_recv(s->fd);
	else
		s->ret = sender ? engine_send(s->fd, s->path == ZEROCOPY) :
				  engine_recv(s->fd);
	if (sender)
		shutdown(s->fd, SHUT_WR);
	s->t1 = kmig_now_ns();
	s->cpu_time = cpu_ns() - s->cpu_time;
	return NULL;
}

struct result {
	double wall;		/* s, the sender's start to the receiver's end */
	double cpu[2];		/* s of CPU, sender and receiver */
	double all;		/* s of CPU of the process */
};

static struct result run(enum path path)
{
	pthread_barrier_t start;
	struct side tx = { .path = path, .sender = true, .cpu = g.cpu[0],
			   .start = &start };
	struct side rx = { .path = path, .cpu = g.cpu[1], .start = &start };
	uint64_t all;
	pthread_t a, b;

	memset(g.dst, 0, g.size);	/* a clean, allocated destination */
	tcp_pair(&tx.fd, &rx.fd);
	if (path == TLS)
		tls_pair(tx.fd, rx.fd);
	all = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&a, NULL, run_side, &tx);
	pthread_create(&b, NULL, run_side, &rx);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	all = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - all;
	pthread_barrier_destroy(&start);
	close(tx.fd);
	close(rx.fd);
	if (tx.ret || rx.ret)
		die(path_name[path], -(tx.ret ? tx.ret : rx.ret));
	if (memcmp(g.src, g.dst, g.size))
		die(path_name[path], EBADMSG);
	return (struct result) {
		.wall = (rx.t1 - tx.t0) / 1e9,
		.cpu = { tx.cpu_time / 1e9, rx.cpu_time / 1e9 },
		.all = all / 1e9,
	};
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min, max of @n values (sorted in place). */
static void stats(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/* The slower side's CPU time: the run's time on two idle CPUs. */
static double bound(const struct result *r)
{
	return r->cpu[0] > r->cpu[1] ? r->cpu[0] : r->cpu[1];
}

static void print_stat(const char *fmt, double *v, int n)
{
	double m, lo, hi;

	stats(v, n, &m, &lo, &hi);
	printf(fmt, m, lo, hi);
}

static void data_path(const unsigned int *zero, int nzero, int reps)
{
	static struct result res[NPATHS][MAX_REPS];
	double v[4][MAX_REPS], gib = g.size / (double)(1 << 30);
	const struct result *x, *raw;
	int z, r, p;

	printf("data path: %.2f GiB memfd, loopback TCP, sender CPU %d, receiver CPU %d, %d reps\n",
	       gib, g.cpu[0], g.cpu[1], reps);
	printf("wall: GiB/s of guest memory and ratio to raw TCP in the same rep;\n"
	       "CPU: seconds per GiB of each side's thread, and the ratio of the slower\n"
	       "sides' CPU times (raw / kmig: what two idle CPUs would give);\n"
	       "proc: the ratio of the whole process's CPU time (raw / kmig), with\n"
	       "the TLS relay's threads where there is one\n");
	printf("%-5s %-17s %-19s %-17s %-17s %-17s %-17s %s\n", "zero%", "path",
	       "wall GiB/s", "wall x raw", "CPU s/GiB send", "CPU s/GiB recv",
	       "CPU x raw", "proc x raw");
	for (z = 0; z < nzero; z++) {
		fill_source(zero[z]);
		for (r = 0; r < reps; r++)
			for (p = 0; p < NPATHS; p++)
				if (g.run[p])
					res[p][r] = run(p);
		for (p = 0; p < NPATHS; p++) {
			if (!g.run[p])
				continue;
			for (r = 0; r < reps; r++) {
				x = &res[p][r];
				raw = &res[RAW][r];
				v[0][r] = gib / x->wall;
				v[1][r] = raw->wall / x->wall;
				v[2][r] = x->cpu[0] / gib;
				v[3][r] = x->cpu[1] / gib;
			}
			printf("%-5u %-17s ", zero[z], path_name[p]);
			print_stat("%4.2f (%4.2f..%4.2f) ", v[0], reps);
			print_stat("%4.2f (%4.2f..%4.2f) ", v[1], reps);
			print_stat("%4.2f (%4.2f..%4.2f) ", v[2], reps);
			print_stat("%4.2f (%4.2f..%4.2f) ", v[3], reps);
			for (r = 0; r < reps; r++) {
				v[0][r] = bound(&res[RAW][r]) / bound(&res[p][r]);
				v[1][r] = res[RAW][r].all / res[p][r].all;
			}
			print_stat("%4.2f (%4.2f..%4.2f) ", v[0], reps);
			print_stat("%4.2f (%4.2f..%4.2f)\n", v[1], reps);
		}
	}
	if (g.run[TLS])
		printf("TLS: %s\n", g.tls_mode == KMIG_TLS_KTLS ?
		       "kernel TLS (AES-128-GCM in the kernel)" :
		       "the relay (2 threads a side): this kernel has no kernel TLS (tls ULP)");
}

/* ---- Page sums and memcpy ---- */

static uint32_t do_memcpy(uint32_t crc, const void *buf, size_t len)
{
	static uint8_t *to;
	static size_t cap;

	if (cap < len) {
		free(to);
		to = malloc(len);
		cap = to ? len : 0;
		if (!to)
			die("memcpy", ENOMEM);
	}
	memcpy(to, buf, len);
	return to[len - 1];
}

/* GB/s of @fn over @len bytes at @buf, @rounds times per sample. */
static void speed(kmig_sum_fn fn, const uint8_t *buf, size_t len,
		  int rounds, int reps, double *med, double *lo, double *hi)
{
	double v[MAX_REPS];
	volatile uint32_t sink = 0;
	uint64_t t;
	int r, i;

	sink += fn(sink, buf, len);	/* fault in, warm up */
	for (r = 0; r < reps; r++) {
		t = cpu_ns();
		for (i = 0; i < rounds; i++)
			sink += fn(sink, buf, len);
		v[r] = (double)len * rounds / (cpu_ns() - t);
	}
	stats(v, reps, med, lo, hi);
}

static void crc_speed(int reps)
{
	static const struct {
		const char *name;
		kmig_sum_fn fn;
		bool (*available)(void);
	} fns[] = {
		{ "crc32c vpclmulqdq", kmig_crc32c_fold,
		  kmig_crc32c_fold_available },
		{ "crc32c sse4.2 x3", kmig_crc32c_hw, kmig_crc32c_hw_available },
		{ "crc32c tables", kmig_crc32c_sw, NULL },
		{ "xxh64", kmig_xxh64_sum, NULL },
		{ "memcpy", do_memcpy, NULL },
	};
	double hm, hl, hh, sm, sl, sh;
	unsigned int i;

	pin(g.cpu[1]);
	printf("\nPage sums against memcpy on CPU %d (GB/s of thread CPU time, %d reps), kmig_crc32c() runs %s, a source here sums pages with %s\n",
	       g.cpu[1], reps, kmig_crc32c_impl(),
	       kmig_psum_name(kmig_psum_pick()));
	printf("%-18s %-24s %s\n", "", "hot 64 KiB median (range)",
	       "streaming median (range)");
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (fns[i].available && !fns[i].available())
			continue;
		speed(fns[i].fn, g.src, 64 << 10, 4096, reps, &hm, &hl, &hh);
		speed(fns[i].fn, g.src, g.size, 1, reps, &sm, &sl, &sh);
		printf("%-18s %5.1f (%5.1f..%5.1f)      %5.1f (%5.1f..%5.1f)\n",
		       fns[i].name, hm, hl, hh, sm, sl, sh);
	}
}

int main(int argc, char **argv)
{
	unsigned int zero[8] = { 0, 25 };
	int nzero = 2, reps = 5, c;
	bool crc = true;
	char *p;

	while ((c = getopt(argc, argv, "s:r:z:c:p:d")) != -1) {
		switch (c) {
		case 's':
			g.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'z':
			for (nzero = 0, p = optarg; *p && nzero < 8; nzero++) {
				zero[nzero] = strtoul(p, &p, 10);
				if (*p == ',')
					p++;
			}
			break;
		case 'p':
			g.run[BATCHED] = strstr(optarg, "batched");
			g.run[ZEROCOPY] = strstr(optarg, "zerocopy");
			g.run[PER_PAGE] = strstr(optarg, "page");
			g.run[TLS] = strstr(optarg, "tls");
			break;
		case 'd':
			crc = false;
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &g.cpu[0], &g.cpu[1]) != 2)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (!g.size || g.size % (CHUNK * PAGE) || reps < 1 ||
	    reps > MAX_REPS || g.cpu[0] == g.cpu[1])
		goto usage;
	g.npages = g.size / PAGE;
	g.all = malloc(g.npages / 8);
	if (!g.all)
		die("bitmap", ENOMEM);
	memset(g.all, 0xff, g.npages / 8);
	g.src = map_memfd("guest", NULL);
	g.dst = map_memfd("destination", &g.dst_fd);
	make_psk();
	data_path(zero, nzero, reps);
	unlink(g.psk);
	if (g.run[ZEROCOPY])
		printf("zerocopy: %llu send calls, %llu of them copied by the kernel after all\n",
		       (unsigned long long)g.zc_sent,
		       (unsigned long long)g.zc_copied);
	if (crc)
		crc_speed(reps);
	return 0;
usage:
	fprintf(stderr, "usage: wire [-s MiB] [-r reps (1..%d)] [-z zero%%[,zero%%...]] [-c sendCPU,recvCPU] [-p batched,zerocopy,page,tls] [-d]\n",
		MAX_REPS);
	return 2;
}
