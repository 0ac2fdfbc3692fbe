// SPDX-License-Identifier: GPL-2.0
/*
 * Hand a TLS 1.3 session's keys and sequence numbers to kernel TLS, after
 * which the socket reads and writes plain bytes (tls_sess.h).
 */
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tls_sess.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

union ktls_info {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 aes128;
	struct tls12_crypto_info_aes_gcm_256 aes256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/* An AES-GCM crypto_info of either key size: its size. */
#define fill_gcm(g, iv_, key_, seq_) ({				\
	memcpy((g)->salt, (iv_), 4);					\
	memcpy((g)->iv, (iv_) + 4, 8);					\
	memcpy((g)->key, (key_), sizeof((g)->key));			\
	memcpy((g)->rec_seq, (seq_), 8);				\
	(socklen_t)sizeof(*(g));					\
})

/*
 * One direction's crypto_info: TLS 1.3's 12-byte IV is the kernel's salt
 * and IV (AES-GCM: 4 + 8 bytes; ChaCha20: 0 + 12), the sequence number
 * goes big-endian. Returns its size, or 0 for a cipher it does not take.
 */
static socklen_t fill(gnutls_session_t s, bool rx, union ktls_info *k)
{
	gnutls_datum_t iv, key;
	unsigned char seq[8];

	memset(k, 0, sizeof(*k));
	if (gnutls_record_get_state(s, rx, NULL, &iv, &key, seq) ||
	    iv.size != 12)
		return 0;
	k->base.version = TLS_1_3_VERSION;
	switch (gnutls_cipher_get(s)) {
	case GNUTLS_CIPHER_AES_128_GCM:
		k->base.cipher_type = TLS_CIPHER_AES_GCM_128;
		return key.size != sizeof(k->aes128.key) ? 0 :
		       fill_gcm(&k->aes128, iv.data, key.data, seq);
	case GNUTLS_CIPHER_AES_256_GCM:
		k->base.cipher_type = TLS_CIPHER_AES_GCM_256;
		return key.size != sizeof(k->aes256.key) ? 0 :
		       fill_gcm(&k->aes256, iv.data, key.data, seq);
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (key.size != sizeof(k->chacha.key))
			return 0;
		k->base.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(k->chacha.iv, iv.data, 12);
		memcpy(k->chacha.key, key.data, key.size);
		memcpy(k->chacha.rec_seq, seq, 8);
		return sizeof(k->chacha);
	default:
		return 0;
	}
}

int kmig_ktls_enable(struct kmig_tls_sess *t, char *err, size_t n)
{
	union ktls_info tx, rx;
	socklen_t txlen = fill(t->s, false, &tx), rxlen = fill(t->s, true, &rx);
	int ret = 0;

	if (!txlen || !rxlen)
		ret = -ENOPROTOOPT;
	/* No tls ULP in this kernel (ENOENT: not built, not loadable). */
	else if (setsockopt(t->fd, IPPROTO_TCP, TCP_ULP, "tls", 4))
		ret = -ENOPROTOOPT;
	/* The ULP stays, passing bytes through until a key is set. */
	else if (setsockopt(t->fd, SOL_TLS, TLS_TX, &tx, txlen))
		ret = -ENOPROTOOPT;
	else if (setsockopt(t->fd, SOL_TLS, TLS_RX, &rx, rxlen)) {
		ret = -errno;
		snprintf(err, n, "kernel TLS took the send key, not the receive key: %s",
			 strerror(errno));
	}
	explicit_bzero(&tx, sizeof(tx));
	explicit_bzero(&rx, sizeof(rx));
	return ret;
}
