/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client side of kmigd's socket (Documentation/kmigd.rst): one line
 * of JSON out, one line in. `kmig job` and `kmig --daemon` talk to kmigd
 * through these and nothing else.
 */
#ifndef KMIG_KMIGD_CLIENT_H
#define KMIG_KMIGD_CLIENT_H

#include <stddef.h>

#include "json.h"

#define KMIGD_SOCKET	"/run/kmig/kmigd.sock"
#define KMIGD_REPLY_MAX	(4 << 20)

struct kmigd_client {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Connect to kmigd at @path: 0, or -errno with why in @err. */
int kmigd_client_open(struct kmigd_client *c, const char *path, char *err,
		      size_t n);
void kmigd_client_close(struct kmigd_client *c);
/*
 * Request @req (a JSON object, one line); its reply when "ok" is true, or
 * NULL with -errno in *@ret and kmigd's (or the link's) why in @err.
 */
struct json *kmigd_client_call(struct kmigd_client *c, const char *req,
			       int *ret, char *err, size_t n);
/* The next line kmigd sends (an event, after subscribe), or NULL. */
struct json *kmigd_client_recv(struct kmigd_client *c, int *ret, char *err,
			       size_t n);

#endif /* KMIG_KMIGD_CLIENT_H */
