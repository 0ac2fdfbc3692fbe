// SPDX-License-Identifier: GPL-2.0
/*
 * tcpproxy: forwards TCP connections and damages the first one, to feed a
 * migration destination a corrupt stream made of real traffic, or to break
 * the switchover handshake at a chosen step.
 *
 *   tcpproxy LISTEN_PORT TARGET_IPV4 TARGET_PORT [CONN@]FLIP_AT [CUT]
 *
 * Every connection accepted on LISTEN_PORT (127.0.0.1) is forwarded to the
 * target in both directions. In the client-to-target data of connection
 * CONN (0, the first, by default), the byte at offset FLIP_AT (-1: none)
 * is inverted. CUT breaks the first connection when the target first
 * answers with a return-path message that is not a keepalive
 * (user/lib/handshake.h; PINGs pass):
 *   before-reply  the answer is dropped and both sides cut off
 *   after-reply   the target is cut off, then the answer is forwarded, so
 *                 nothing the client sends after it reaches the target
 * Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum cut { CUT_NONE, CUT_BEFORE_REPLY, CUT_AFTER_REPLY };

struct pipe_dir {
	int from, to;
	long long flip_at;		/* -1: none */
	enum cut cut;			/* on the first data, target to client */
};

/* Return-path messages: 32-byte header, le16 text length at 6, text, CRC. */
#define HS_HDR		32
#define HS_PING		5

static unsigned int le16(const unsigned char *b)
{
	return b[0] | b[1] << 8;
}

/*
 * Forward the keepalives at the head of @acc (@len bytes): the length of
 * what is left, starting with the first whole message that is not one
 * (*@whole), or with a partial message.
 */
static size_t pass_pings(struct pipe_dir *p, unsigned char *acc, size_t len,
			 int *whole)
{
	size_t mlen;

	*whole = 0;
	while (len >= HS_HDR) {
		mlen = HS_HDR + le16(acc + 6) + 4;
		if (len < mlen)
			break;
		if (le16(acc + 4) != HS_PING) {
			*whole = 1;
			break;
		}
		if (send(p->to, acc, mlen, MSG_NOSIGNAL) != (ssize_t)mlen)
			return 0;
		memmove(acc, acc + mlen, len - mlen);
		len -= mlen;
	}
	return len;
}

static void *forward(void *arg)
{
	struct pipe_dir *p = arg;
	static unsigned char acc[1 << 17];
	long long off = 0;
	char buf[65536];
	size_t alen = 0;
	ssize_t n;
	int whole;

	while (p->cut && (n = read(p->from, buf, sizeof(buf))) > 0) {
		if (alen + n > sizeof(acc))
			break;
		memcpy(acc + alen, buf, n);
		alen = pass_pings(p, acc, alen + n, &whole);
		if (!whole)
			continue;
		if (p->cut == CUT_BEFORE_REPLY) {
			shutdown(p->to, SHUT_RDWR);
			shutdown(p->from, SHUT_RDWR);
		} else {
			shutdown(p->from, SHUT_RDWR);
			send(p->to, acc, alen, MSG_NOSIGNAL);
		}
		break;
	}
	while (!p->cut && (n = read(p->from, buf, sizeof(buf))) > 0) {
		if (p->flip_at >= off && p->flip_at < off + n)
			buf[p->flip_at - off] ^= 0xff;
		off += n;
		if (send(p->to, buf, n, MSG_NOSIGNAL) != n)
			break;
	}
	shutdown(p->to, SHUT_WR);
	shutdown(p->from, SHUT_RD);
	return NULL;
}

int main(int argc, char *argv[])
{
	struct sockaddr_in la = { .sin_family = AF_INET };
	struct sockaddr_in ta = { .sin_family = AF_INET };
	enum cut cut = CUT_NONE;
	long long flip_at, flip_conn = 0, conn = 0;
	const char *at;
	int lfd, one = 1, first = 1;

	if (argc == 6 && !strcmp(argv[5], "before-reply"))
		cut = CUT_BEFORE_REPLY;
	else if (argc == 6 && !strcmp(argv[5], "after-reply"))
		cut = CUT_AFTER_REPLY;
	else if (argc != 5)
		argc = 0;
	if (!argc || inet_pton(AF_INET, argv[2], &ta.sin_addr) != 1) {
		fprintf(stderr, "usage: tcpproxy LISTEN_PORT TARGET_IPV4 TARGET_PORT [CONN@]FLIP_AT [before-reply|after-reply]\n");
		return 2;
	}
	la.sin_port = htons(atoi(argv[1]));
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ta.sin_port = htons(atoi(argv[3]));
	at = strchr(argv[4], '@');
	if (at)
		flip_conn = atoll(argv[4]);
	flip_at = atoll(at ? at + 1 : argv[4]);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) ||
	    listen(lfd, 16)) {
		perror("tcpproxy: listen");
		return 1;
	}
	for (;;) {
		struct pipe_dir *up = calloc(2, sizeof(*up));
		pthread_t t;
		int cfd, tfd;

		cfd = accept(lfd, NULL, NULL);
		if (cfd < 0 || !up)
			return 1;
		tfd = socket(AF_INET, SOCK_STREAM, 0);
		if (tfd < 0 || connect(tfd, (struct sockaddr *)&ta, sizeof(ta))) {
			perror("tcpproxy: connect");
			close(cfd);
			continue;
		}
		up[0] = (struct pipe_dir){ cfd, tfd,
					   conn++ == flip_conn ? flip_at : -1,
					   CUT_NONE };
		up[1] = (struct pipe_dir){ tfd, cfd, -1, first ? cut : CUT_NONE };
		first = 0;
		pthread_create(&t, NULL, forward, &up[0]);
		pthread_detach(t);
		pthread_create(&t, NULL, forward, &up[1]);
		pthread_detach(t);
	}
}
