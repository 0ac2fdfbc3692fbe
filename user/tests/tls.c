// SPDX-License-Identifier: GPL-2.0
/*
 * TLS on kmig's connections (tls.h): mutual X.509 and PSK handshakes
 * succeed and carry 64 MiB both ways intact; a server certificate of
 * another CA, a client without a certificate or with one of another CA,
 * and a wrong PSK are refused with their own message on both sides; a
 * silent peer times the handshake out; shutdown(2) of the fd and a FIN
 * reach the other side as without TLS. Certificates are made per test by
 * scripts/tls-certs.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tls.h"
#include "util.h"

#define BIG	(64u << 20)

struct side {
	int fd, ret;
	struct kmig_tls_cfg cfg;
	const char *host;
	char err[512];
};

FIXTURE(tls) {
	char dir[64], a[96], b[96], mixed[96], psk[96], badpsk[96];
	struct side srv, cli;
};

static struct kmig_tls_cfg cfg(enum kmig_tls_creds creds, const char *path)
{
	return (struct kmig_tls_cfg){
		.creds = creds, .path = path, .timeout_ms = 2000,
	};
}

static void run_cmd(struct __test_metadata *_metadata, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ASSERT_EQ(0, system(cmd)) TH_LOG("%s", cmd);
}

FIXTURE_SETUP(tls)
{
	strcpy(self->dir, "/tmp/kmig-tls-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->a, sizeof(self->a), "%s/a", self->dir);
	snprintf(self->b, sizeof(self->b), "%s/b", self->dir);
	snprintf(self->mixed, sizeof(self->mixed), "%s/mixed", self->dir);
	snprintf(self->psk, sizeof(self->psk), "%s/keys.psk", self->dir);
	snprintf(self->badpsk, sizeof(self->badpsk), "%s/bad.psk", self->dir);
	run_cmd(_metadata, "%s/scripts/tls-certs.sh %s", KMIG_SRCDIR, self->a);
	run_cmd(_metadata, "%s/scripts/tls-certs.sh %s", KMIG_SRCDIR, self->b);
	run_cmd(_metadata, "echo kmig:%s > %s",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		self->psk);
	run_cmd(_metadata, "echo kmig:%s > %s",
		"ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		self->badpsk);
	self->srv.cfg = cfg(KMIG_TLS_X509, self->a);
	self->cli.cfg = self->srv.cfg;
	self->cli.host = "127.0.0.1";
	self->srv.fd = self->cli.fd = -1;
}

FIXTURE_TEARDOWN(tls)
{
	char cmd[128];

	if (self->srv.fd >= 0)
		close(self->srv.fd);
	if (self->cli.fd >= 0)
		close(self->cli.fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %.64s", self->dir);
	system(cmd);
	/* the relays' threads end once both fds are closed */
	usleep(100000);
}

static void *server(void *arg)
{
	struct side *s = arg;

	s->ret = kmig_tls_server(s->fd, &s->cfg, s->err, sizeof(s->err));
	return NULL;
}

/* A TCP connection over loopback, then both handshakes at once. */
static void connect_pair(struct __test_metadata *_metadata,
			 FIXTURE_DATA(tls) *self)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(lfd, 1));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sa, &len));
	self->cli.fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(self->cli.fd, (struct sockaddr *)&sa, sizeof(sa)));
	self->srv.fd = accept(lfd, NULL, NULL);
	close(lfd);
	ASSERT_LE(0, self->srv.fd);
}

static void handshake(struct __test_metadata *_metadata,
		      FIXTURE_DATA(tls) *self)
{
	pthread_t th;

	connect_pair(_metadata, self);
	ASSERT_EQ(0, pthread_create(&th, NULL, server, &self->srv));
	self->cli.ret = kmig_tls_client(self->cli.fd, &self->cli.cfg,
					self->cli.host, self->cli.err,
					sizeof(self->cli.err));
	pthread_join(th, NULL);
	TH_LOG("client: %d %s / server: %d %s", self->cli.ret,
	       self->cli.ret < 0 ? self->cli.err : "",
	       self->srv.ret, self->srv.ret < 0 ? self->srv.err : "");
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = seed >> 16;
	}
}

struct flow {
	int fd, ret;
	uint8_t *buf;
	bool out;
};

/* All of BIG bytes one way, then the writer's FIN. */
static void *move(void *arg)
{
	struct flow *f = arg;
	char c;

	f->ret = kmig_io_all(f->fd, f->buf, BIG, f->out);
	if (f->ret)
		return NULL;
	if (f->out)
		f->ret = shutdown(f->fd, SHUT_WR) ? -errno : 0;
	else if (recv(f->fd, &c, 1, 0) != 0)
		f->ret = -EPROTO;	/* no end of file after the data */
	return NULL;
}

/* 64 MiB each way at once, compared, each way ending in an EOF. */
static void transfer(struct __test_metadata *_metadata,
		     FIXTURE_DATA(tls) *self)
{
	struct flow f[4] = {
		{ self->cli.fd, 0, malloc(BIG), true },
		{ self->srv.fd, 0, malloc(BIG), false },
		{ self->srv.fd, 0, malloc(BIG), true },
		{ self->cli.fd, 0, malloc(BIG), false },
	};
	pthread_t th[4];
	unsigned int i;

	for (i = 0; i < 4; i++)
		ASSERT_NE(NULL, f[i].buf);
	fill(f[0].buf, BIG, 1);
	fill(f[2].buf, BIG, 2);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, move, &f[i]));
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, f[i].ret) TH_LOG("flow %u: %s", i,
					      strerror(-f[i].ret));
	}
	EXPECT_EQ(0, memcmp(f[0].buf, f[1].buf, BIG));
	EXPECT_EQ(0, memcmp(f[2].buf, f[3].buf, BIG));
	for (i = 0; i < 4; i++)
		free(f[i].buf);
}

static int expected_mode(void)
{
	char ulps[256] = "";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");

	if (f) {
		if (!fgets(ulps, sizeof(ulps), f))
			ulps[0] = 0;
		fclose(f);
	}
	return strstr(ulps, "tls") ? KMIG_TLS_KTLS : KMIG_TLS_RELAY;
}

TEST_F(tls, x509_relay_carries_64MiB_both_ways)
{
	self->srv.cfg.no_ktls = self->cli.cfg.no_ktls = true;
	handshake(_metadata, self);
	ASSERT_EQ(KMIG_TLS_RELAY, self->cli.ret);
	ASSERT_EQ(KMIG_TLS_RELAY, self->srv.ret);
	transfer(_metadata, self);
}

/* Kernel TLS where this kernel has it loaded, else the relay. */
TEST_F(tls, x509_default_mode_carries_64MiB_both_ways)
{
	int mode = expected_mode();

	handshake(_metadata, self);
	TH_LOG("mode: %s", kmig_tls_mode_name(self->cli.ret));
	ASSERT_EQ(mode, self->cli.ret);
	ASSERT_EQ(mode, self->srv.ret);
	EXPECT_EQ(mode == KMIG_TLS_KTLS, kmig_tls_is_ktls(self->cli.fd));
	transfer(_metadata, self);
}

TEST_F(tls, client_checks_the_host_it_connected_to)
{
	self->cli.host = "192.0.2.1";
	handshake(_metadata, self);
	EXPECT_EQ(-EKEYREJECTED, self->cli.ret);
	EXPECT_NE(NULL, strstr(self->cli.err, "does not match"));
	EXPECT_GT(0, self->srv.ret);
}

TEST_F(tls, server_certificate_of_another_ca_is_refused)
{
	/* the client trusts only CA b */
	self->cli.cfg.path = self->b;
	handshake(_metadata, self);
	EXPECT_EQ(-EKEYREJECTED, self->cli.ret);
	EXPECT_NE(NULL, strstr(self->cli.err, "server's certificate is refused"));
	EXPECT_NE(NULL, strstr(self->cli.err, "issuer is unknown"));
	EXPECT_EQ(-ECONNREFUSED, self->srv.ret);
	EXPECT_NE(NULL, strstr(self->srv.err, "client refused the handshake"));
}

TEST_F(tls, client_certificate_of_another_ca_is_refused)
{
	/* CA a, but the client's certificate and key from CA b */
	run_cmd(_metadata, "mkdir %s && cp %s/ca-cert.pem %s/client-*.pem %s/",
		self->mixed, self->a, self->b, self->mixed);
	self->cli.cfg.path = self->mixed;
	handshake(_metadata, self);
	EXPECT_EQ(-EKEYREJECTED, self->srv.ret);
	EXPECT_NE(NULL, strstr(self->srv.err, "client's certificate is refused"));
	EXPECT_NE(NULL, strstr(self->srv.err, "issuer is unknown"));
	EXPECT_GT(0, self->cli.ret);
}

/* A client of GnuTLS's own that trusts CA a and has no certificate. */
static void *bare_client(void *arg)
{
	struct side *s = arg;
	gnutls_certificate_credentials_t x;
	gnutls_session_t g;
	char ca[128];

	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", s->cfg.path);
	gnutls_certificate_allocate_credentials(&x);
	gnutls_certificate_set_x509_trust_file(x, ca, GNUTLS_X509_FMT_PEM);
	gnutls_init(&g, GNUTLS_CLIENT);
	gnutls_set_default_priority(g);
	gnutls_credentials_set(g, GNUTLS_CRD_CERTIFICATE, x);
	gnutls_transport_set_int(g, s->fd);
	gnutls_handshake_set_timeout(g, 2000);
	gnutls_record_set_timeout(g, 2000);
	do {
		s->ret = gnutls_handshake(g);
	} while (s->ret < 0 && !gnutls_error_is_fatal(s->ret));
	if (!s->ret) {	/* TLS 1.3: the server's refusal comes after */
		char c;

		s->ret = gnutls_record_recv(g, &c, 1);
	}
	gnutls_deinit(g);
	gnutls_certificate_free_credentials(x);
	return NULL;
}

TEST_F(tls, client_without_certificate_is_refused)
{
	pthread_t th;

	connect_pair(_metadata, self);
	ASSERT_EQ(0, pthread_create(&th, NULL, bare_client, &self->cli));
	self->srv.ret = kmig_tls_server(self->srv.fd, &self->srv.cfg,
					self->srv.err, sizeof(self->srv.err));
	pthread_join(th, NULL);
	TH_LOG("server: %s", self->srv.err);
	EXPECT_EQ(-EKEYREJECTED, self->srv.ret);
	EXPECT_NE(NULL, strstr(self->srv.err, "client presented no certificate"));
	EXPECT_GT(0, self->cli.ret);
}

TEST_F(tls, psk_carries_64MiB_both_ways)
{
	self->srv.cfg = cfg(KMIG_TLS_PSK, self->psk);
	self->srv.cfg.no_ktls = true;
	self->cli.cfg = self->srv.cfg;
	handshake(_metadata, self);
	ASSERT_EQ(KMIG_TLS_RELAY, self->cli.ret);
	ASSERT_EQ(KMIG_TLS_RELAY, self->srv.ret);
	transfer(_metadata, self);
}

TEST_F(tls, wrong_psk_is_refused)
{
	self->srv.cfg = cfg(KMIG_TLS_PSK, self->psk);
	self->cli.cfg = cfg(KMIG_TLS_PSK, self->badpsk);
	handshake(_metadata, self);
	EXPECT_GT(0, self->srv.ret);
	EXPECT_GT(0, self->cli.ret);
	EXPECT_EQ(NULL, strstr(self->srv.err, "TLS handshake with"))
		TH_LOG("not a message of its own: %s", self->srv.err);
}

TEST_F(tls, one_side_x509_other_psk_is_refused)
{
	self->cli.cfg = cfg(KMIG_TLS_PSK, self->psk);
	handshake(_metadata, self);
	EXPECT_GT(0, self->srv.ret);
	EXPECT_GT(0, self->cli.ret);
}

TEST_F(tls, silent_client_times_the_handshake_out)
{
	uint64_t t0;

	connect_pair(_metadata, self);
	self->srv.cfg.timeout_ms = 300;
	t0 = kmig_now_ns();
	server(&self->srv);
	EXPECT_EQ(-ETIMEDOUT, self->srv.ret) TH_LOG("%s", self->srv.err);
	EXPECT_LT(kmig_now_ns() - t0, 2000000000ull);
	EXPECT_NE(NULL, strstr(self->srv.err, "within 300 ms"));
}

TEST_F(tls, silent_server_times_the_handshake_out)
{
	connect_pair(_metadata, self);
	self->cli.cfg.timeout_ms = 300;
	self->cli.ret = kmig_tls_client(self->cli.fd, &self->cli.cfg,
					self->cli.host, self->cli.err,
					sizeof(self->cli.err));
	EXPECT_EQ(-ETIMEDOUT, self->cli.ret) TH_LOG("%s", self->cli.err);
}

TEST_F(tls, plain_peer_is_refused)
{
	connect_pair(_metadata, self);
	ASSERT_EQ(16, write(self->cli.fd, "KMIG hello......", 16));
	server(&self->srv);
	EXPECT_GT(0, self->srv.ret) TH_LOG("%s", self->srv.err);
}

static void *reader(void *arg)
{
	struct flow *f = arg;
	char c;

	f->ret = recv(f->fd, &c, 1, 0);
	return NULL;
}

/* What mig_link_shut() relies on: shutdown wakes a reader, both ends. */
TEST_F(tls, shutdown_wakes_readers_on_both_ends)
{
	struct flow here = { .ret = -1 }, there = { .ret = -1 };
	pthread_t a, b;

	handshake(_metadata, self);
	ASSERT_LE(0, self->cli.ret);
	here.fd = self->cli.fd;
	there.fd = self->srv.fd;
	ASSERT_EQ(0, pthread_create(&a, NULL, reader, &here));
	ASSERT_EQ(0, pthread_create(&b, NULL, reader, &there));
	usleep(100000);
	ASSERT_EQ(0, shutdown(self->cli.fd, SHUT_RDWR));
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	EXPECT_EQ(0, here.ret);
	EXPECT_EQ(0, there.ret);
	/* and writes on the side that shut fail */
	EXPECT_EQ(-1, send(self->cli.fd, "x", 1, MSG_NOSIGNAL));
}

/* The other end going away: the reader here ends, writes then fail. */
TEST_F(tls, peer_close_ends_reads_then_writes)
{
	struct flow here = { .ret = -1 };
	pthread_t a;
	uint64_t t0 = kmig_now_ns();
	char buf[4096] = { 0 };

	handshake(_metadata, self);
	ASSERT_LE(0, self->cli.ret);
	here.fd = self->cli.fd;
	ASSERT_EQ(0, pthread_create(&a, NULL, reader, &here));
	close(self->srv.fd);
	self->srv.fd = -1;
	pthread_join(a, NULL);
	EXPECT_EQ(0, here.ret);
	while (send(self->cli.fd, buf, sizeof(buf), MSG_NOSIGNAL) > 0)
		ASSERT_LT(kmig_now_ns() - t0, 5000000000ull);
}

TEST_HARNESS_MAIN
