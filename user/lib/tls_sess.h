/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside tls.c, ktls.c and tls_relay.c: one GnuTLS session and what it
 * holds on to.
 */
#ifndef KMIG_TLS_SESS_H
#define KMIG_TLS_SESS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kmig_tls_sess {
	gnutls_session_t s;
	gnutls_certificate_credentials_t x509;
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
	int fd;				/* the TCP socket */
	/*
	 * Reads stop at record boundaries: after the handshake nothing that
	 * follows it is left inside GnuTLS, and the relay knows whether an
	 * end of file cut a record.
	 */
	uint8_t hdr[5];
	unsigned int hdr_got;
	size_t body_left;
	/*
	 * Relaying: an end of file reads as EAGAIN with @eof set, since
	 * GnuTLS would take it as fatal and fail the other direction too.
	 */
	bool relay, eof;
};

void kmig_tls_sess_free(struct kmig_tls_sess *t);

/* ktls.c: hand the session's keys to the kernel: 0, -ENOPROTOOPT when
 * this kernel has no TLS for it (nothing changed then), or -errno. */
int kmig_ktls_enable(struct kmig_tls_sess *t, char *err, size_t n);

/* tls_relay.c: the relay for @t, which it then owns (freed either way). */
int kmig_tls_relay_start(struct kmig_tls_sess *t, char *err, size_t n);

#endif /* KMIG_TLS_SESS_H */
