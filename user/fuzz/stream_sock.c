// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the stream decoder reading a socket, against the
 * same decoder reading a buffer.
 *
 * Input: a mode byte, a chunk table, then the stream. Three decoders
 * read the stream: from the buffer with plain callbacks, from the buffer
 * and from a socket with the mode's. Mode bit 0 set: every CRC32C that
 * can be framed is recomputed first (as in stream_dec). Bit 1 set: the
 * mode's callbacks receive batches in place. Bit 2 set: all have a
 * release callback, and the data handed out must stay unchanged until it
 * is called (checked by CRC). Bit 3 set: all take torn pages. The next byte's low 3 bits give the
 * table's length minus one, and each table byte a chunk size: the
 * stream goes into the socket in chunks of those sizes in turn, each only
 * once the decoder has read the previous one, so the decoder's reads are
 * cut where the fuzzer chose.
 *
 * The invariant: the bytes decode identically from the socket and from
 * the buffer, with and without in-place batches: same callbacks with the
 * same data in the same order, same return value, same error message
 * (but for the words "where it landed" of an in-place batch's CRC
 * mismatch) and same position at the end (after a failure: with the
 * same callbacks; a batch cut short is consumed in place, left unread
 * otherwise). A socket decoder stops at END_OF_STREAM, where a buffer
 * decoder refuses what follows.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc32c.h"
#include "dec.h"
#include "le.h"
#include "reseal.h"

#define SLOT0_PAGES	16
#define SLOT1_PAGES	64
#define MAX_CHUNKS	64	/* paced writes; the rest goes in one */

static uint8_t slot0[SLOT0_PAGES][KMIG_STREAM_PAGE_SIZE];
static uint8_t slot1[SLOT1_PAGES][KMIG_STREAM_PAGE_SIZE];

static const struct kmig_slot slots[] = {
	{ .id = 0, .npages = SLOT0_PAGES },
	{ .id = 0x10001, .npages = SLOT1_PAGES },
};

/* One callback, reduced to numbers. */
struct event {
	uint32_t kind, a, b, c;
	uint64_t d;
};

/* Data handed out and not yet released, with its CRC then. */
struct held {
	const uint8_t *p;
	uint32_t len, crc;
};

struct log {
	struct event *ev;
	size_t n, cap;
	bool release;		/* the decoder has a release callback */
	struct held *held;
	size_t nheld, capheld;
};

static void *grow(void *a, size_t *cap, size_t size)
{
	*cap = *cap ? 2 * *cap : 64;
	a = realloc(a, *cap * size);
	if (!a)
		abort();
	return a;
}

static void note(struct log *l, uint32_t kind, uint32_t a, uint32_t b,
		 uint32_t c, uint64_t d)
{
	if (l->n == l->cap)
		l->ev = grow(l->ev, &l->cap, sizeof(*l->ev));
	l->ev[l->n++] = (struct event){ kind, a, b, c, d };
}

static int in_slots(const void *p)
{
	uintptr_t b = (uintptr_t)p, s0 = (uintptr_t)slot0,
		  s1 = (uintptr_t)slot1;

	return (b >= s0 && b - s0 < sizeof(slot0)) ||
	       (b >= s1 && b - s1 < sizeof(slot1));
}

/*
 * With a release callback, data in the decoder's input must stay as it
 * was until released: remember it (pages received in place excepted,
 * the consumer's own memory), and check it at release.
 */
static uint32_t hold(struct log *l, const void *p, uint32_t len)
{
	uint32_t crc = kmig_crc32c(0, p, len);

	if (!l->release || in_slots(p))
		return crc;
	if (l->nheld == l->capheld)
		l->held = grow(l->held, &l->capheld, sizeof(*l->held));
	l->held[l->nheld++] = (struct held){ p, len, crc };
	return crc;
}

static void on_release(void *o)
{
	struct log *l = o;
	size_t i;

	for (i = 0; i < l->nheld; i++)
		if (kmig_crc32c(0, l->held[i].p, l->held[i].len) !=
		    l->held[i].crc)
			abort();	/* overwritten before its release */
	l->nheld = 0;
}

static uint8_t *slot_page(uint32_t slot, uint64_t page)
{
	if (slot == 0 && page < SLOT0_PAGES)
		return slot0[page];
	if (slot == 0x10001 && page < SLOT1_PAGES)
		return slot1[page];
	abort();	/* the decoder let a page outside its slot through */
}

static int on_caps(void *o, uint64_t agreed)
{
	note(o, 'C', 0, 0, 0, agreed);
	return 0;
}

static int on_section(void *o, const struct kmig_section *s)
{
	note(o, 'S', s->type | (uint32_t)s->kind << 16, s->id,
	     s->instance, (uint64_t)s->version << 32 |
	     kmig_crc32c(0, s->name, strnlen(s->name, sizeof(s->name))));
	return 0;
}

static int on_cmd(void *o, const struct kmig_scmd *c)
{
	uint64_t arg = c->id == KMIG_SCMD_ROUND_SYNC ? c->round :
		       c->id == KMIG_SCMD_CHANNELS ? c->channels.count |
		       (uint64_t)kmig_crc32c(0, c->channels.uuid, 16) << 16 :
		       c->token;

	note(o, 'M', c->id, 0, 0, arg);
	return 0;
}

/* A page is logged the same way whichever callback delivers it. */
static int on_page(void *o, uint32_t slot, uint64_t page, const void *data)
{
	uint8_t *to = slot_page(slot, page);

	note(o, 'P', slot, 0, hold(o, data, KMIG_STREAM_PAGE_SIZE), page);
	if (to != data)
		memcpy(to, data, KMIG_STREAM_PAGE_SIZE);
	return 0;
}

static int on_zero(void *o, uint32_t slot, uint64_t page, uint32_t count)
{
	if (count) {
		slot_page(slot, page);
		slot_page(slot, page + count - 1);
	}
	note(o, 'Z', slot, count, 0, page);
	return 0;
}

static int on_vcpu(void *o, uint32_t vcpu, uint16_t part, const void *data,
		   uint32_t len)
{
	if (vcpu >= KMIG_STREAM_MAX_VCPUS || !kmig_vcpu_part_name(part))
		abort();
	note(o, 'V', vcpu, part, hold(o, data, len), len);
	return 0;
}

static int on_device(void *o, uint16_t instance, uint32_t marker,
		     const void *data, uint32_t size)
{
	if (!kmig_devpkt_name(marker))
		abort();
	note(o, 'D', instance, marker, hold(o, data, size), size);
	return 0;
}

static int on_eos(void *o)
{
	note(o, 'E', 0, 0, 0, 0);
	return 0;
}

static int on_dest(void *o, uint32_t slot, const uint64_t *pages,
		   unsigned int n, void **dst)
{
	unsigned int i;

	if (!n || n > KMIG_STREAM_MAX_BATCH)
		abort();
	for (i = 0; i < n; i++)
		dst[i] = slot_page(slot, pages[i]);
	return 0;
}

static int on_pages(void *o, uint32_t slot, const uint64_t *pages,
		    unsigned int n, const void *const *data)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (data[i] != slot_page(slot, pages[i]))
			abort();	/* not where it was asked to go */
		on_page(o, slot, pages[i], data[i]);
	}
	return 0;
}

static int on_torn(void *o, uint32_t slot, uint64_t page)
{
	slot_page(slot, page);
	note(o, 'T', slot, 0, 0, page);
	return 0;
}

static const struct kmig_dec_ops ops = {
	.caps = on_caps, .section = on_section, .cmd = on_cmd,
	.page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	.device = on_device, .eos = on_eos,
};

static const struct kmig_dec_ops ops_in_place = {
	.caps = on_caps, .section = on_section, .cmd = on_cmd,
	.page = on_page, .zero = on_zero, .vcpu = on_vcpu,
	.device = on_device, .eos = on_eos,
	.pages_dest = on_dest, .pages = on_pages,
};

/* What one decoder run did. */
struct run {
	struct log log;
	int ret;
	uint64_t pos;
	char err[256];
};

static void finish(struct run *r, struct kmig_dec *d, int ret)
{
	r->ret = ret;
	r->pos = d->pos;
	snprintf(r->err, sizeof(r->err), "%s", kmig_dec_error(d));
	if (ret < 0 && !r->err[0] && ret != -ENOMEM)
		abort();	/* every refusal says why */
	if (ret == 0 && d->state != KMIG_DEC_DONE)
		abort();
	if (r->log.nheld)
		abort();	/* kmig_dec_run() returned without a release */
	kmig_dec_free(d);
}

static void run_buf(struct run *r, const struct kmig_dec_ops *o,
		    const uint8_t *p, size_t n)
{
	struct kmig_dec_cfg cfg = {
		.slots = slots, .nslots = 2, .caps_supported = KMIG_SCAP_ALL,
		.ops = o, .opaque = &r->log,
	};
	struct kmig_dec d;
	int ret;

	r->log.release = o->release != NULL;
	ret = kmig_dec_init_buf(&d, &cfg, p, n);
	finish(r, &d, ret ? ret : kmig_dec_run(&d));
}

/*
 * The writer of the socket: it runs inside the decoder's own reads. Just
 * before the decoder reads its end while nothing is queued there, the
 * next chunk is sent; after the last, the write end is shut. So each
 * read returns at most what is left of one chunk, as from a peer that
 * sends a chunk only once the one before has been read, without a second
 * thread and two context switches a chunk.
 */
struct writer {
	int rfd, wfd;
	const uint8_t *p;
	size_t n, off, got;	/* sent, and read by the decoder */
	const uint8_t *table;
	unsigned int ntable, i;
};

static struct writer *writer;	/* while a socket decoder runs */

static size_t chunk_size(uint8_t code)
{
	return code < 0xc0 ? code + 1u : 256u << (code & 7);
}

/* The next chunk, if the decoder is about to read an empty socket. */
static void feed(int fd)
{
	struct writer *w = writer;
	size_t len;
	ssize_t k;

	if (!w || fd != w->rfd || w->wfd < 0 || w->got < w->off)
		return;
	len = w->i < MAX_CHUNKS ? chunk_size(w->table[w->i % w->ntable]) :
				  w->n - w->off;
	if (len > w->n - w->off)
		len = w->n - w->off;
	/* Never blocks: what does not fit goes on the next empty read. */
	k = len ? send(w->wfd, w->p + w->off, len,
		       MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
	if (k < 0)
		abort();	/* an empty socket refused a chunk */
	w->off += k;
	w->i++;
	if (w->off == w->n) {
		close(w->wfd);	/* EOF for the decoder */
		w->wfd = -1;
	}
}

/* What the decoder read of the socket. */
static ssize_t taken(int fd, ssize_t k)
{
	if (writer && fd == writer->rfd && k > 0)
		writer->got += k;
	return k;
}

/*
 * The decoder's read() and readv(): fed first, then ASan's interceptors
 * (which check the bytes read land in the buffer), else the syscalls.
 */
ssize_t __interceptor_read(int fd, void *buf, size_t n) __attribute__((weak));
ssize_t __interceptor_readv(int fd, const struct iovec *iov, int cnt)
	__attribute__((weak));

ssize_t read(int fd, void *buf, size_t n)
{
	feed(fd);
	return taken(fd, __interceptor_read ? __interceptor_read(fd, buf, n) :
			 syscall(SYS_read, fd, buf, n));
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	feed(fd);
	return taken(fd, __interceptor_readv ?
			 __interceptor_readv(fd, iov, cnt) :
			 syscall(SYS_readv, fd, iov, cnt));
}

static void bound(int fd, int opt)
{
	struct timeval tv = { .tv_sec = 20 };

	if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)))
		abort();
}

static void run_sock(struct run *r, const struct kmig_dec_ops *o,
		     const uint8_t *p, size_t n, const uint8_t *table,
		     unsigned int ntable)
{
	struct kmig_dec_cfg cfg = {
		.slots = slots, .nslots = 2, .caps_supported = KMIG_SCAP_ALL,
		.ops = o, .opaque = &r->log,
	};
	struct writer w = { .p = p, .n = n, .table = table, .ntable = ntable };
	struct kmig_dec d;
	int sv[2], ret;

	r->log.release = o->release != NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	bound(sv[0], SO_RCVTIMEO);	/* a read not fed shows as -ETIMEDOUT */
	w.rfd = sv[0];
	w.wfd = sv[1];
	writer = &w;
	ret = kmig_dec_init_fd(&d, &cfg, sv[0]);
	ret = ret ? ret : kmig_dec_run(&d);
	writer = NULL;
	close(sv[0]);
	if (w.wfd >= 0)
		close(w.wfd);
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "socket decoder hung: %s\n", kmig_dec_error(&d));
		abort();
	}
	finish(r, &d, ret);
}

static void differ(const char *what, const struct run *a,
		   const struct run *b)
{
	size_t i;

	fprintf(stderr, "%s differ: ret %d/%d, pos %llu/%llu, %zu/%zu events\n"
		"  \"%s\"\n  \"%s\"\n", what, a->ret, b->ret,
		(unsigned long long)a->pos, (unsigned long long)b->pos,
		a->log.n, b->log.n, a->err, b->err);
	for (i = 0; i < a->log.n && i < b->log.n; i++)
		if (memcmp(&a->log.ev[i], &b->log.ev[i], sizeof(struct event)))
			break;
	fprintf(stderr, "  first different event: #%zu\n", i);
	abort();
}

/* @m without what only an in-place batch says, into @out. */
static const char *unplaced(const char *m, char *out, size_t n)
{
	static const char landed[] = " where it landed";
	const char *x = strstr(m, landed);

	if (!x)
		return m;
	snprintf(out, n, "%.*s%s", (int)(x - m), m, x + sizeof(landed) - 1);
	return out;
}

/* Messages equal, but for what only an in-place batch says. */
static int same_message(const char *a, const char *b)
{
	char x[256], y[256];

	return !strcmp(unplaced(a, x, sizeof(x)), unplaced(b, y, sizeof(y)));
}

static void same(const char *what, const struct run *a, const struct run *b,
		 int same_ops)
{
	int pos_differs = a->pos != b->pos && (same_ops || !a->ret);

	if (a->ret != b->ret || pos_differs || a->log.n != b->log.n ||
	    (a->log.n && memcmp(a->log.ev, b->log.ev,
				a->log.n * sizeof(struct event))) ||
	    (same_ops ? strcmp(a->err, b->err) :
			!same_message(a->err, b->err)))
		differ(what, a, b);
}

/*
 * A socket decoder stops at END_OF_STREAM: what follows on the connection
 * is the next protocol's (GO). A buffer must end there.
 */
static void same_source(const struct run *buf, const struct run *sock)
{
	struct run done = *buf;

	if (buf->ret == -EPROTO &&
	    strstr(buf->err, "garbage after END_OF_STREAM")) {
		done.ret = 0;
		done.err[0] = 0;
	}
	same("buffer and socket decoders", &done, sock, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmig_dec_ops p = ops, o;
	struct run plain = { 0 }, buf = { 0 }, sock = { 0 };
	unsigned int ntable;
	size_t n;
	uint8_t *copy;

	if (size < 2)
		return 0;
	ntable = 1 + (data[1] & 7);
	if (size < 2 + ntable)
		return 0;
	o = data[0] & 2 ? ops_in_place : ops;
	if (data[0] & 4)
		p.release = o.release = on_release;
	if (data[0] & 8)
		p.torn = o.torn = on_torn;
	n = size - 2 - ntable;
	copy = malloc(n ? n : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 2 + ntable, n);
	if (data[0] & 1)
		reseal(copy, n);
	run_buf(&plain, &p, copy, n);
	run_buf(&buf, &o, copy, n);
	run_sock(&sock, &o, copy, n, data + 2, ntable);
	same("buffer decoders (plain, in place)", &plain, &buf, !o.pages);
	same_source(&buf, &sock);
	free(plain.log.ev);
	free(buf.log.ev);
	free(sock.log.ev);
	free(plain.log.held);
	free(buf.log.held);
	free(sock.log.held);
	free(copy);
	return 0;
}
