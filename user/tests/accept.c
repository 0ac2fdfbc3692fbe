// SPDX-License-Identifier: GPL-2.0
/*
 * The acceptor of `kmig incoming` (accept.h): a port scan, junk, a hello
 * not admitted and a silent connection are each turned away with a line
 * on stderr while the real channel gets through; a silent one is dropped
 * at its hello deadline, the oldest waiting when too many wait; the
 * admitted socket holds what followed its hello.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "accept.h"
#include "util.h"

FIXTURE(acc) {
	struct mig_acceptor a;
	int port;
	int log;		/* stderr, redirected here */
	int stderr_fd;
};

static const struct kmig_tls_cfg no_tls;

FIXTURE_SETUP(acc)
{
	struct mig_addr addr = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in sin = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	char err[256] = "";
	FILE *log;

	memcpy(&addr.ss, &sin, sizeof(sin));	/* port 0: any free one */
	ASSERT_EQ(0, mig_accept_listen(&self->a, &addr, &no_tls, 1, err,
				       sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, getsockname(self->a.lfd, (struct sockaddr *)&sin, &len));
	self->port = ntohs(sin.sin_port);
	log = tmpfile();
	ASSERT_NE(NULL, log);
	fflush(stderr);
	self->stderr_fd = dup(2);
	self->log = fileno(log);
	ASSERT_EQ(2, dup2(self->log, 2));
}

FIXTURE_TEARDOWN(acc)
{
	mig_accept_close(&self->a);
	dup2(self->stderr_fd, 2);
	close(self->stderr_fd);
}

/* What was said on stderr so far (static). */
static const char *said(FIXTURE_DATA(acc) *self)
{
	static char buf[8192];
	ssize_t n = pread(self->log, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static int dial(FIXTURE_DATA(acc) *self)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET, .sin_port = htons(self->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A connection saying the hello of channel @chan of 2, and @extra. */
static int dial_hello(FIXTURE_DATA(acc) *self, unsigned int chan,
		      const char *extra)
{
	struct kmig_hello h = { .channel = chan, .nchannels = 2 };
	uint8_t buf[KMIG_HELLO_SIZE + 16];
	int fd = dial(self);

	kmig_hello_encode(&h, buf);
	strcpy((char *)buf + KMIG_HELLO_SIZE, extra);
	if (fd >= 0 && send(fd, buf, KMIG_HELLO_SIZE + strlen(extra),
			    MSG_NOSIGNAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int admit_main(void *opaque, const struct kmig_hello *h, char *why,
		      size_t n)
{
	(void)opaque;
	if (!h->channel)
		return 0;
	snprintf(why, n, "channel %u is not awaited", h->channel);
	return -EPROTO;
}

static int accept_within(FIXTURE_DATA(acc) *self, int ms)
{
	struct kmig_hello h;

	return mig_accept(&self->a, kmig_now_ns() + ms * 1000000ull,
			  admit_main, NULL, &h);
}

TEST_F(acc, strangers_are_turned_away_and_the_channel_gets_in)
{
	const char *const says[] = {
		"kmig incoming: rejected a connection from 127.0.0.1:",
		"closed before its hello (0 of 64 bytes)",
		"channel hello: bad magic 0xeeeeeeee",
		"channel 1 is not awaited", NULL };
	char junk[64], rest[8] = "";
	int scan, bad, silent, stray, real, fd, i;

	memset(junk, 0xee, sizeof(junk));
	scan = dial(self);
	ASSERT_LE(0, scan);
	close(scan);
	bad = dial(self);
	ASSERT_EQ(sizeof(junk), send(bad, junk, sizeof(junk), MSG_NOSIGNAL));
	silent = dial(self);
	ASSERT_LE(0, silent);
	stray = dial_hello(self, 1, "");
	real = dial_hello(self, 0, "stream");
	ASSERT_LE(0, real);
	/* Well before the silent one's deadline of 1 s. */
	fd = accept_within(self, 800);
	ASSERT_LE(0, fd) TH_LOG("%s; %s", strerror(-fd), said(self));
	/* What followed the hello is left for the stream. */
	ASSERT_EQ(6, read(fd, rest, 6));
	EXPECT_STREQ("stream", rest);
	for (i = 0; says[i]; i++)
		EXPECT_NE(NULL, strstr(said(self), says[i]))
			TH_LOG("want '%s': %s", says[i], said(self));
	EXPECT_EQ(NULL, strstr(said(self), "no hello")) TH_LOG("%s", said(self));
	close(fd);
	close(real);
	close(stray);
	close(silent);
	close(bad);
}

struct tls_dialer {
	FIXTURE_DATA(acc) *self;
	struct kmig_tls_cfg cfg;
	int fd, ret;
	char err[256];
};

/* A source's channel over TLS: the handshake, then hello and stream. */
static void *dial_tls(void *arg)
{
	struct tls_dialer *t = arg;
	struct kmig_hello h = { .channel = 0, .nchannels = 2 };
	uint8_t buf[KMIG_HELLO_SIZE + 6];

	t->fd = dial(t->self);
	t->ret = kmig_tls_client(t->fd, &t->cfg, "127.0.0.1", t->err,
				 sizeof(t->err));
	if (t->ret < 0)
		return NULL;
	kmig_hello_encode(&h, buf);
	memcpy(buf + KMIG_HELLO_SIZE, "stream", 6);
	t->ret = kmig_io_all(t->fd, buf, sizeof(buf), true);
	return NULL;
}

static const struct kmig_tls_cfg psk = {
	.creds = KMIG_TLS_PSK, .path = "/tmp/kmig-accept-test.psk",
};

/* Listen again, with TLS (a pre-shared key) and @hello_s for a hello. */
static int listen_tls(FIXTURE_DATA(acc) *self, unsigned int hello_s)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET, .sin_port = htons(self->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct mig_addr addr = { .len = sizeof(sin) };
	char err[256] = "";
	FILE *f;

	f = fopen(psk.path, "w");
	if (!f)
		return -errno;
	fprintf(f, "kmig:00112233445566778899aabbccddeeff\n");
	fclose(f);
	memcpy(&addr.ss, &sin, sizeof(sin));
	mig_accept_close(&self->a);
	return mig_accept_listen(&self->a, &addr, &psk, hello_s, err,
				 sizeof(err));
}

TEST_F(acc, with_tls_a_plain_stranger_is_turned_away_and_the_channel_gets_in)
{
	struct tls_dialer t = { .self = self, .cfg = psk, .fd = -1 };
	char rest[8] = "";
	pthread_t th;
	int plain, fd;

	ASSERT_EQ(0, listen_tls(self, 1));
	plain = dial_hello(self, 0, "");
	ASSERT_LE(0, plain);
	ASSERT_EQ(0, pthread_create(&th, NULL, dial_tls, &t));
	fd = accept_within(self, 3000);
	pthread_join(th, NULL);
	unlink(psk.path);
	ASSERT_LE(0, t.ret) TH_LOG("%s", t.err);
	ASSERT_LE(0, fd) TH_LOG("%s; %s", strerror(-fd), said(self));
	ASSERT_EQ(6, read(fd, rest, 6));
	EXPECT_STREQ("stream", rest);
	EXPECT_NE(NULL, strstr(said(self), "rejected a connection from 127.0.0.1:"))
		TH_LOG("%s", said(self));
	EXPECT_NE(NULL, strstr(said(self), ": TLS")) TH_LOG("%s", said(self));
	close(fd);
	close(t.fd);
	close(plain);
}

/*
 * A stranger that starts a TLS handshake and stalls (a record header and
 * part of its body) holds up nobody: the channel behind it gets in long
 * before the stranger's 5 s deadline, which then turns the stranger away.
 */
TEST_F(acc, with_tls_a_stalled_handshake_holds_up_nobody)
{
	static const uint8_t part[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	struct tls_dialer t = { .self = self, .cfg = psk, .fd = -1 };
	uint64_t t0;
	pthread_t th;
	int stall, fd;

	ASSERT_EQ(0, listen_tls(self, 5));
	stall = dial(self);
	ASSERT_LE(0, stall);
	ASSERT_EQ(sizeof(part), send(stall, part, sizeof(part), MSG_NOSIGNAL));
	usleep(100000);		/* its bytes are in before the channel dials */
	ASSERT_EQ(0, pthread_create(&th, NULL, dial_tls, &t));
	t0 = kmig_now_ns();
	fd = accept_within(self, 2000);
	pthread_join(th, NULL);
	ASSERT_LE(0, t.ret) TH_LOG("%s", t.err);
	ASSERT_LE(0, fd) TH_LOG("%s after %llu ms; %s", strerror(-fd),
				(unsigned long long)(kmig_now_ns() - t0) / 1000000,
				said(self));
	close(fd);
	close(t.fd);
	EXPECT_EQ(-ETIMEDOUT, accept_within(self, 6000));
	unlink(psk.path);
	EXPECT_NE(NULL, strstr(said(self), "TLS: no handshake within 5 s"))
		TH_LOG("%s", said(self));
	close(stall);
}

/* Holds a page channel until the main one is in, as incoming.c does. */
static int admit_main_first(void *opaque, const struct kmig_hello *h,
			    char *why, size_t n)
{
	bool *main_in = opaque;

	(void)why;
	(void)n;
	if (h->channel && !*main_in)
		return -EAGAIN;
	*main_in = true;
	return 0;
}

/* A page channel whose main channel's hello is late is held, not lost. */
TEST_F(acc, a_page_channel_before_its_main_channel_is_held)
{
	char rest[8] = "";
	bool main_in = false;
	struct kmig_hello h;
	int page, main, fd;

	page = dial_hello(self, 1, "pages");
	ASSERT_LE(0, page);
	usleep(100000);
	main = dial_hello(self, 0, "");
	ASSERT_LE(0, main);
	fd = mig_accept(&self->a, kmig_now_ns() + 800000000ull,
			admit_main_first, &main_in, &h);
	ASSERT_LE(0, fd) TH_LOG("%s; %s", strerror(-fd), said(self));
	EXPECT_EQ(0, h.channel);
	close(fd);
	/* No new input: the held one is offered again and gets in. */
	fd = mig_accept(&self->a, kmig_now_ns() + 100000000ull,
			admit_main_first, &main_in, &h);
	ASSERT_LE(0, fd) TH_LOG("%s; %s", strerror(-fd), said(self));
	EXPECT_EQ(1, h.channel);
	ASSERT_EQ(5, read(fd, rest, 5));
	EXPECT_STREQ("pages", rest);
	EXPECT_STREQ("", said(self));
	close(fd);
	close(main);
	close(page);
}

TEST_F(acc, a_silent_connection_is_dropped_at_its_deadline)
{
	int silent = dial(self), fd;
	char c;

	ASSERT_LE(0, silent);
	fd = accept_within(self, 2500);
	EXPECT_EQ(-ETIMEDOUT, fd);
	EXPECT_NE(NULL, strstr(said(self), "no hello within 1 s (0 of 64 bytes)"))
		TH_LOG("%s", said(self));
	EXPECT_EQ(0, read(silent, &c, 1));	/* closed */
	close(silent);
}

TEST_F(acc, the_oldest_is_dropped_when_too_many_wait)
{
	int fds[MIG_ACCEPT_PENDING + 1], real, fd, i;
	char c;

	for (i = 0; i <= MIG_ACCEPT_PENDING; i++) {
		fds[i] = dial(self);
		ASSERT_LE(0, fds[i]);
	}
	real = dial_hello(self, 0, "");
	ASSERT_LE(0, real);
	fd = accept_within(self, 800);
	ASSERT_LE(0, fd) TH_LOG("%s; %s", strerror(-fd), said(self));
	EXPECT_NE(NULL, strstr(said(self), "dropped: too many connections"))
		TH_LOG("%s", said(self));
	EXPECT_EQ(0, read(fds[0], &c, 1));	/* the oldest, closed */
	for (i = 0; i <= MIG_ACCEPT_PENDING; i++)
		close(fds[i]);
	close(real);
	close(fd);
}

TEST_HARNESS_MAIN
