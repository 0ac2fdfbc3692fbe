// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd's client (kmigd_client.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kmigd_client.h"
#include "util.h"

int kmigd_client_open(struct kmigd_client *c, const char *path, char *err,
		      size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	if (strlen(path) >= sizeof(sa.sun_path))
		return kmig_errf(err, n, -ENAMETOOLONG, "%s: too long for a socket",
				 path);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		kmigd_client_close(c);
		return kmig_errf(err, n, ret, "kmigd at %s: %s%s", path,
				 strerror(-ret), ret == -ENOENT ||
				 ret == -ECONNREFUSED ? " (is kmigd running?)" : "");
	}
	return 0;
}

void kmigd_client_close(struct kmigd_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

struct json *kmigd_client_recv(struct kmigd_client *c, int *ret, char *err,
			       size_t n)
{
	char *nl, *b, why[128];
	struct json *j;
	size_t used;
	ssize_t r;

	while (!(nl = c->len ? memchr(c->buf, '\n', c->len) : NULL)) {
		if (c->len == c->cap) {
			if (c->cap >= KMIGD_REPLY_MAX) {
				*ret = kmig_errf(err, n, -EMSGSIZE, "kmigd's line is longer than 4 MiB");
				return NULL;
			}
			b = realloc(c->buf, c->cap ? c->cap * 2 : 65536);
			if (!b) {
				*ret = kmig_errf(err, n, -ENOMEM, "out of memory");
				return NULL;
			}
			c->buf = b;
			c->cap = c->cap ? c->cap * 2 : 65536;
		}
		r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r <= 0) {
			*ret = kmig_errf(err, n, r ? -errno : -ECONNRESET,
					 "kmigd: %s", r ? strerror(errno) :
					 "it closed the connection");
			return NULL;
		}
		c->len += r;
	}
	used = nl - c->buf + 1;
	j = json_parse(c->buf, used - 1, why, sizeof(why));
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	if (!j || j->type != JSON_OBJECT) {
		json_free(j);
		*ret = kmig_errf(err, n, -EPROTO, "kmigd sent what is not a JSON object");
		return NULL;
	}
	*ret = 0;
	return j;
}

struct json *kmigd_client_call(struct kmigd_client *c, const char *req,
			       int *ret, char *err, size_t n)
{
	const struct json *ok, *e;
	struct json *j;

	if (kmig_io_all(c->fd, (void *)req, strlen(req), true) ||
	    kmig_io_all(c->fd, "\n", 1, true)) {
		*ret = kmig_errf(err, n, -EPIPE, "kmigd: the request did not go out");
		return NULL;
	}
	j = kmigd_client_recv(c, ret, err, n);
	if (!j)
		return NULL;
	ok = json_get(j, "ok");
	if (ok && ok->type == JSON_BOOL && ok->boolean)
		return j;
	e = json_get(j, "error");
	*ret = kmig_errf(err, n, -EIO, "kmigd: %s", e && e->type == JSON_STRING ?
			 e->str : "it refused without saying why");
	json_free(j);
	return NULL;
}
