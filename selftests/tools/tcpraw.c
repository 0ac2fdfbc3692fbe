// SPDX-License-Identifier: GPL-2.0
/*
 * tcpraw: the raw TCP baseline of kmig's migration benchmark. Moves a byte
 * count over N parallel connections with nothing but send() and recv(), so
 * a migration's throughput can be compared with the link's over the same
 * path in the same run.
 *
 *   tcpraw recv PORT CONNS        prints "bytes=B seconds=S" when done
 *   tcpraw send HOST PORT CONNS BYTES
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
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	16
#define CHUNK		(256 << 10)

struct conn {
	int fd;
	uint64_t bytes;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "tcpraw: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *receiver(void *arg)
{
	struct conn *c = arg;
	static __thread char buf[CHUNK];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
		c->bytes += n;
	if (n < 0)
		die("recv");
	return NULL;
}

static void *sender(void *arg)
{
	struct conn *c = arg;
	static __thread char buf[CHUNK];
	uint64_t left = c->bytes;
	ssize_t n;

	memset(buf, 0x5a, sizeof(buf));
	while (left) {
		n = send(c->fd, buf, left < CHUNK ? left : CHUNK, 0);
		if (n < 0)
			die("send");
		left -= n;
	}
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

static int do_recv(int port, int nconns)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	struct conn c[MAX_CONNS] = { 0 };
	pthread_t t[MAX_CONNS];
	uint64_t start = 0, bytes = 0;
	int lfd, one = 1, i;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16))
		die("bind/listen");
	for (i = 0; i < nconns; i++) {
		c[i].fd = accept(lfd, NULL, NULL);
		if (c[i].fd < 0)
			die("accept");
		if (!i)
			start = now_ns();
		if (pthread_create(&t[i], NULL, receiver, &c[i]))
			die("pthread_create");
	}
	for (i = 0; i < nconns; i++) {
		pthread_join(t[i], NULL);
		bytes += c[i].bytes;
		close(c[i].fd);
	}
	printf("bytes=%llu seconds=%.6f\n", (unsigned long long)bytes,
	       (now_ns() - start) / 1e9);
	return 0;
}

static int do_send(const char *host, int port, int nconns, uint64_t bytes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct conn c[MAX_CONNS] = { 0 };
	pthread_t t[MAX_CONNS];
	int i;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcpraw: bad IPv4 address '%s'\n", host);
		return 2;
	}
	for (i = 0; i < nconns; i++) {
		c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c[i].fd < 0 ||
		    connect(c[i].fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect");
		c[i].bytes = bytes / nconns + (i < (int)(bytes % nconns));
	}
	for (i = 0; i < nconns; i++)
		if (pthread_create(&t[i], NULL, sender, &c[i]))
			die("pthread_create");
	for (i = 0; i < nconns; i++) {
		pthread_join(t[i], NULL);
		close(c[i].fd);
	}
	return 0;
}

int main(int argc, char *argv[])
{
	int nconns;

	if (argc == 4 && !strcmp(argv[1], "recv")) {
		nconns = atoi(argv[3]);
		if (nconns >= 1 && nconns <= MAX_CONNS)
			return do_recv(atoi(argv[2]), nconns);
	}
	if (argc == 6 && !strcmp(argv[1], "send")) {
		nconns = atoi(argv[4]);
		if (nconns >= 1 && nconns <= MAX_CONNS)
			return do_send(argv[2], atoi(argv[3]), nconns,
				       strtoull(argv[5], NULL, 0));
	}
	fprintf(stderr, "usage: tcpraw recv PORT CONNS\n"
			"       tcpraw send HOST PORT CONNS BYTES\n");
	return 2;
}
