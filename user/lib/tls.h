/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS on kmig's connections (GnuTLS), with kernel TLS behind it.
 *
 * kmig_tls_client() and kmig_tls_server() run a TLS 1.3 handshake on a
 * connected TCP socket, then leave the same fd number carrying plain
 * bytes, so that whoever uses it keeps read/write/sendmsg/shutdown on it:
 *
 *   ktls   the session's keys go to the kernel (TCP_ULP "tls"): the fd
 *          is still the TCP socket, the kernel seals and opens records;
 *   relay  without kernel TLS the fd becomes one end of a socketpair, and
 *          two threads move bytes between its other end and the session
 *          on the TCP socket. They end, and free all, once the fd is
 *          closed or shut down both ways.
 *
 * Either way shutdown(2) of the fd reaches the peer as without TLS, and an
 * end of stream is a TCP FIN: no close_notify alert, which kernel TLS
 * would read as an error (kmig's streams have their own end marker).
 *
 * Credentials follow QEMU's. x509: a directory as for tls-creds-x509
 * (ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem,
 * client-key.pem); each side presents its certificate and verifies the
 * other's against the CA, the client also against the host it connected
 * to (an IP address or DNS name in the certificate). psk: a file of
 * "identity:hexkey" lines as for tls-creds-psk; the client uses the first.
 */
#ifndef KMIG_TLS_H
#define KMIG_TLS_H

#include <stdbool.h>
#include <stddef.h>

enum kmig_tls_creds { KMIG_TLS_NONE, KMIG_TLS_X509, KMIG_TLS_PSK };
enum kmig_tls_mode { KMIG_TLS_PLAIN, KMIG_TLS_KTLS, KMIG_TLS_RELAY };

/* A handshake not done in this long fails. */
#define KMIG_TLS_TIMEOUT_MS	10000u

struct kmig_tls_cfg {
	enum kmig_tls_creds creds;
	const char *path;		/* the directory (x509) or file (psk) */
	unsigned int timeout_ms;	/* 0: KMIG_TLS_TIMEOUT_MS */
	bool no_ktls;			/* relay even where kernel TLS works */
};

/*
 * The credentials @cfg names exist and can be read, for the side
 * (@server or not) that uses them: 0, or -errno with why in @err.
 */
int kmig_tls_check(const struct kmig_tls_cfg *cfg, bool server, char *err,
		   size_t n);
/*
 * TLS on connected socket @fd, which then carries plain bytes: the mode
 * (>= 0; KMIG_TLS_PLAIN for KMIG_TLS_NONE), or -errno with why in @err.
 * @host: what the client connected to, that the certificate must name.
 */
int kmig_tls_client(int fd, const struct kmig_tls_cfg *cfg, const char *host,
		    char *err, size_t n);
int kmig_tls_server(int fd, const struct kmig_tls_cfg *cfg, char *err,
		    size_t n);

struct kmig_tls_sess;
/*
 * The server's handshake, stepped from the caller's own poll loop so that
 * a client that stalls holds up no other: call it on a connected socket
 * once it is readable and again each time it is, with *@sess NULL the
 * first time, until it returns the mode (>= 0) or -errno with why in @err;
 * -EAGAIN: not done yet, *@sess holds the session (the socket is
 * non-blocking until the end). The caller keeps the deadline, and
 * kmig_tls_accept_abort() frees a session given up before its end.
 */
int kmig_tls_accept(int fd, const struct kmig_tls_cfg *cfg,
		    struct kmig_tls_sess **sess, char *err, size_t n);
void kmig_tls_accept_abort(struct kmig_tls_sess **sess);
/* "plain", "ktls", "relay". */
const char *kmig_tls_mode_name(int mode);
/* Whether socket @fd has kernel TLS attached (TCP_ULP "tls"). */
bool kmig_tls_is_ktls(int fd);

#endif /* KMIG_TLS_H */
