// SPDX-License-Identifier: GPL-2.0
/*
 * TLS on kmig's connections: credentials, the handshake and its errors,
 * then kernel TLS or the relay (tls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"
#include "tls_sess.h"

/* TLS 1.3 only, with the ciphers kernel TLS has. */
#define PRIO_X509 "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:" \
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define PRIO_PSK PRIO_X509 ":+ECDHE-PSK:+DHE-PSK:+PSK"

static const char *const x509_files[2][3] = {
	{ "ca-cert.pem", "client-cert.pem", "client-key.pem" },
	{ "ca-cert.pem", "server-cert.pem", "server-key.pem" },
};

const char *kmig_tls_mode_name(int mode)
{
	return mode == KMIG_TLS_KTLS ? "ktls" :
	       mode == KMIG_TLS_RELAY ? "relay" : "plain";
}

bool kmig_tls_is_ktls(int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	return !getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len) &&
	       !strcmp(name, "tls");
}

int kmig_tls_check(const struct kmig_tls_cfg *cfg, bool server, char *err,
		   size_t n)
{
	char path[PATH_MAX];
	unsigned int i;
	int ret;

	if (cfg->creds == KMIG_TLS_PSK && access(cfg->path, R_OK)) {
		ret = -errno;
		snprintf(err, n, "TLS key file %s: %s", cfg->path,
			 strerror(-ret));
		return ret;
	}
	if (cfg->creds != KMIG_TLS_X509)
		return 0;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->path,
			 x509_files[server][i]);
		if (access(path, R_OK)) {
			ret = -errno;
			snprintf(err, n, "TLS credentials %s: %s", path,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void kmig_tls_sess_free(struct kmig_tls_sess *t)
{
	if (t->s)
		gnutls_deinit(t->s);
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk_client)
		gnutls_psk_free_client_credentials(t->psk_client);
	if (t->psk_server)
		gnutls_psk_free_server_credentials(t->psk_server);
	free(t);
}

/* GnuTLS's reads: never past the end of a record. */
static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t size)
{
	struct kmig_tls_sess *t = p;
	size_t want = t->hdr_got < 5 ? 5 - t->hdr_got : t->body_left;
	ssize_t got;

	got = recv(t->fd, buf, want < size ? want : size, 0);
	if (!got && t->relay) {
		t->eof = true;
		gnutls_transport_set_errno(t->s, EAGAIN);
		errno = EAGAIN;
		return -1;
	}
	if (got <= 0)
		return got;
	if (t->hdr_got < 5) {
		memcpy(t->hdr + t->hdr_got, buf, got);
		t->hdr_got += got;
		if (t->hdr_got == 5)
			t->body_left = t->hdr[3] << 8 | t->hdr[4];
	} else {
		t->body_left -= got;
	}
	if (t->hdr_got == 5 && !t->body_left)
		t->hdr_got = 0;
	return got;
}

static int pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct kmig_tls_sess *t = p;
	struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t size)
{
	struct kmig_tls_sess *t = p;

	return send(t->fd, buf, size, MSG_NOSIGNAL);
}

/* The client's identity and key: the first line of the key file. */
static int psk_client(struct kmig_tls_sess *t, const char *path, char *err,
		      size_t n)
{
	char line[1024], *key;
	gnutls_datum_t d;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, n, "TLS key file %s: %s", path, strerror(-ret));
		return ret;
	}
	key = fgets(line, sizeof(line), f) ? strchr(line, ':') : NULL;
	fclose(f);
	if (!key) {
		snprintf(err, n, "TLS key file %s: its first line is not identity:hexkey",
			 path);
		return -EINVAL;
	}
	*key++ = 0;
	key[strcspn(key, "\r\n")] = 0;
	d.data = (unsigned char *)key;
	d.size = strlen(key);
	ret = gnutls_psk_allocate_client_credentials(&t->psk_client);
	if (!ret)
		ret = gnutls_psk_set_client_credentials(t->psk_client, line, &d,
							GNUTLS_PSK_KEY_HEX);
	if (!ret)
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
					     t->psk_client);
	if (ret) {
		snprintf(err, n, "TLS key file %s: %s", path,
			 gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static int psk_server(struct kmig_tls_sess *t, const char *path, char *err,
		      size_t n)
{
	int ret;

	ret = gnutls_psk_allocate_server_credentials(&t->psk_server);
	if (!ret)
		ret = gnutls_psk_set_server_credentials_file(t->psk_server,
							     path);
	if (!ret)
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
					     t->psk_server);
	if (ret) {
		snprintf(err, n, "TLS key file %s: %s", path,
			 gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

/* The CA and this side's certificate; the peer's must come and verify. */
static int x509(struct kmig_tls_sess *t, const char *dir, bool server,
		const char *host, char *err, size_t n)
{
	const char *const *f = x509_files[server];
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	const char *what = ca;
	int ret;

	snprintf(ca, sizeof(ca), "%s/%s", dir, f[0]);
	snprintf(cert, sizeof(cert), "%s/%s", dir, f[1]);
	snprintf(key, sizeof(key), "%s/%s", dir, f[2]);
	ret = gnutls_certificate_allocate_credentials(&t->x509);
	if (!ret) {
		ret = gnutls_certificate_set_x509_trust_file(t->x509, ca,
							     GNUTLS_X509_FMT_PEM);
		if (!ret)
			ret = -EINVAL;	/* no CA in it */
		else if (ret > 0)
			ret = 0;
	}
	if (!ret) {
		what = cert;
		ret = gnutls_certificate_set_x509_key_file(t->x509, cert, key,
							   GNUTLS_X509_FMT_PEM);
	}
	if (!ret)
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE,
					     t->x509);
	if (ret) {
		snprintf(err, n, "TLS credentials %s: %s", what,
			 ret == -EINVAL ? "no certificate in it" :
			 gnutls_strerror(ret));
		return -EINVAL;
	}
	if (server)
		gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert(t->s, server ? NULL : host, 0);
	return 0;
}

static struct kmig_tls_sess *sess_new(int fd, const struct kmig_tls_cfg *cfg,
				      bool server, const char *host,
				      char *err, size_t n, int *ret)
{
	struct kmig_tls_sess *t = calloc(1, sizeof(*t));
	unsigned int flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			     GNUTLS_NO_TICKETS;

	*ret = -ENOMEM;
	if (!t || gnutls_init(&t->s, flags)) {
		snprintf(err, n, "TLS: out of memory");
		goto fail;
	}
	t->fd = fd;
	*ret = gnutls_priority_set_direct(t->s, cfg->creds == KMIG_TLS_PSK ?
					  PRIO_PSK : PRIO_X509, NULL);
	if (*ret) {
		snprintf(err, n, "TLS priorities: %s", gnutls_strerror(*ret));
		*ret = -EINVAL;
		goto fail;
	}
	if (cfg->creds == KMIG_TLS_X509)
		*ret = x509(t, cfg->path, server, host, err, n);
	else if (server)
		*ret = psk_server(t, cfg->path, err, n);
	else
		*ret = psk_client(t, cfg->path, err, n);
	if (*ret)
		goto fail;
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_pull_function(t->s, pull);
	gnutls_transport_set_pull_timeout_function(t->s, pull_timeout);
	gnutls_transport_set_push_function(t->s, push);
	gnutls_handshake_set_timeout(t->s, cfg->timeout_ms ? cfg->timeout_ms :
				     KMIG_TLS_TIMEOUT_MS);
	gnutls_record_set_timeout(t->s, cfg->timeout_ms ? cfg->timeout_ms :
				  KMIG_TLS_TIMEOUT_MS);
	return t;
fail:
	if (t)
		kmig_tls_sess_free(t);
	return NULL;
}

/* Why the handshake failed, for a person: -errno and @err. */
static int handshake_error(struct kmig_tls_sess *t, int ret, bool server,
			   const struct kmig_tls_cfg *cfg, char *err, size_t n)
{
	const char *peer = server ? "the client" : "the server";
	gnutls_datum_t why;

	switch (ret) {
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
		if (gnutls_certificate_verification_status_print(
			gnutls_session_get_verify_cert_status(t->s),
			GNUTLS_CRT_X509, &why, 0))
			break;
		snprintf(err, n, "TLS: %s's certificate is refused: %s", peer,
			 why.data);
		gnutls_free(why.data);
		return -EKEYREJECTED;
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		snprintf(err, n, "TLS: %s presented no certificate", peer);
		return -EKEYREJECTED;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		snprintf(err, n, "TLS: %s refused the handshake: %s%s", peer,
			 gnutls_alert_get_name(gnutls_alert_get(t->s)),
			 cfg->creds == KMIG_TLS_PSK ?
			 " (not the same pre-shared key?)" : "");
		return -ECONNREFUSED;
	case GNUTLS_E_TIMEDOUT:
		snprintf(err, n, "TLS: no handshake from %s within %u ms", peer,
			 cfg->timeout_ms ? cfg->timeout_ms :
			 KMIG_TLS_TIMEOUT_MS);
		return -ETIMEDOUT;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		snprintf(err, n, "TLS: %s closed the connection in the handshake (it may not use TLS, or not these credentials)",
			 peer);
		return -ECONNRESET;
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		snprintf(err, n, "TLS: %s does not speak TLS 1.3", peer);
		return -EPROTO;
	case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
		if (cfg->creds != KMIG_TLS_PSK)
			break;
		__attribute__((fallthrough));
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
	case GNUTLS_E_NO_CIPHER_SUITES:
		snprintf(err, n, "TLS: %s has no credentials of this kind (one side has certificates, the other a pre-shared key?)",
			 peer);
		return -EKEYREJECTED;
	case GNUTLS_E_DECRYPTION_FAILED:
	case GNUTLS_E_KEY_USAGE_VIOLATION:
		snprintf(err, n, "TLS: %s's key does not match (%s)", peer,
			 gnutls_strerror(ret));
		return -EKEYREJECTED;
	}
	snprintf(err, n, "TLS handshake with %s: %s", peer,
		 gnutls_strerror(ret));
	return -EPROTO;
}

/*
 * TLS 1.3 has the client finish first: the server checks its certificate
 * after. So the server confirms with one byte, and a refused client
 * learns why here, from the alert, rather than at its first read.
 */
static int confirm(struct kmig_tls_sess *t, bool server)
{
	char c = 'K';
	int ret;

	do {
		ret = server ? gnutls_record_send(t->s, &c, 1) :
			       gnutls_record_recv(t->s, &c, 1);
	} while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
	if (ret == 1 && c == 'K')
		return 0;
	return ret < 0 ? ret : GNUTLS_E_UNEXPECTED_PACKET;
}

/* The handshake's outcome @ret (0: done) checked and said: 0 or -errno. */
static int handshake_end(struct kmig_tls_sess *t, int ret, bool server,
			 const struct kmig_tls_cfg *cfg, char *err, size_t n)
{
	if (!ret)
		ret = confirm(t, server);
	if (ret) {
		/* tell the peer why, as far as TLS has words for it */
		gnutls_alert_send_appropriate(t->s, ret);
		return handshake_error(t, ret, server, cfg, err, n);
	}
	if (gnutls_protocol_get_version(t->s) != GNUTLS_TLS1_3) {
		snprintf(err, n, "TLS: the session is not TLS 1.3");
		return -EPROTO;
	}
	if (gnutls_record_check_pending(t->s) || t->hdr_got) {
		snprintf(err, n, "TLS: data after the handshake is inside the library");
		return -EPROTO;
	}
	return 0;
}

/*
 * After a handshake that ended with @ret: the session's keys to the kernel,
 * or the relay; the mode, or -errno (@t is freed either way).
 */
static int finish(struct kmig_tls_sess *t, int ret,
		  const struct kmig_tls_cfg *cfg, char *err, size_t n)
{
	if (!ret && !cfg->no_ktls) {
		ret = kmig_ktls_enable(t, err, n);
		if (!ret) {
			kmig_tls_sess_free(t);
			return KMIG_TLS_KTLS;
		}
		if (ret == -ENOPROTOOPT)
			ret = 0;
	}
	if (ret) {
		kmig_tls_sess_free(t);
		return ret;
	}
	ret = kmig_tls_relay_start(t, err, n);
	return ret ? ret : KMIG_TLS_RELAY;
}

static int run(int fd, const struct kmig_tls_cfg *cfg, bool server,
	       const char *host, char *err, size_t n)
{
	struct kmig_tls_sess *t;
	int ret;

	if (cfg->creds == KMIG_TLS_NONE)
		return KMIG_TLS_PLAIN;
	t = sess_new(fd, cfg, server, host, err, n, &ret);
	if (!t)
		return ret;
	do {
		ret = gnutls_handshake(t->s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	return finish(t, handshake_end(t, ret, server, cfg, err, n), cfg,
		      err, n);
}

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK :
					     fl & ~O_NONBLOCK))
		return -errno;
	return 0;
}

int kmig_tls_accept(int fd, const struct kmig_tls_cfg *cfg,
		    struct kmig_tls_sess **sess, char *err, size_t n)
{
	struct kmig_tls_sess *t = *sess;
	int ret, blocking;

	if (!t) {
		ret = set_nonblock(fd, true);
		if (ret) {
			snprintf(err, n, "TLS: %s", strerror(-ret));
			return ret;
		}
		t = sess_new(fd, cfg, true, NULL, err, n, &ret);
		if (!t)
			return ret;
		/* the caller's poll loop and deadline wait, not GnuTLS */
		gnutls_handshake_set_timeout(t->s, 0);
		gnutls_record_set_timeout(t->s, 0);
		*sess = t;
	}
	do {
		ret = gnutls_handshake(t->s);
	} while (ret < 0 && ret != GNUTLS_E_AGAIN &&
		 !gnutls_error_is_fatal(ret));
	if (ret == GNUTLS_E_AGAIN)
		return -EAGAIN;
	*sess = NULL;
	blocking = set_nonblock(fd, false);
	if (blocking) {
		snprintf(err, n, "TLS: %s", strerror(-blocking));
		kmig_tls_sess_free(t);
		return blocking;
	}
	gnutls_record_set_timeout(t->s, cfg->timeout_ms ? cfg->timeout_ms :
				  KMIG_TLS_TIMEOUT_MS);
	return finish(t, handshake_end(t, ret, true, cfg, err, n), cfg, err,
		      n);
}

void kmig_tls_accept_abort(struct kmig_tls_sess **sess)
{
	if (*sess)
		kmig_tls_sess_free(*sess);
	*sess = NULL;
}

int kmig_tls_client(int fd, const struct kmig_tls_cfg *cfg, const char *host,
		    char *err, size_t n)
{
	return run(fd, cfg, false, host, err, n);
}

int kmig_tls_server(int fd, const struct kmig_tls_cfg *cfg, char *err,
		    size_t n)
{
	return run(fd, cfg, true, NULL, err, n);
}
