// SPDX-License-Identifier: GPL-2.0
/* Client of kmig-vmm's control socket. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

int vmm_client_connect(struct vmm_client *c, const char *path,
		       int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec ms = { .tv_nsec = 10 * 1000000 };
	size_t n = strlen(path);
	/* A VMM answers within its own longest step (a guest checksum). */
	struct timeval reply_tmo = { .tv_sec = 90 };
	socklen_t len;
	int waited = 0;

	if (!n || n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')		/* abstract namespace */
		addr.sun_path[0] = 0;
	len = offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@');
	for (;;) {
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			return -errno;
		if (!connect(c->fd, (struct sockaddr *)&addr, len)) {
			setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &reply_tmo,
				   sizeof(reply_tmo));
			return 0;
		}
		close(c->fd);
		c->fd = -1;
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    waited >= timeout_ms)
			return -errno;
		nanosleep(&ms, NULL);
		waited += 10;
	}
}

void vmm_client_close(struct vmm_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int errno_named(const char *name)
{
	const char *n;
	int e;

	for (e = 1; e < 200; e++) {
		n = strerrorname_np(e);
		if (n && !strcmp(n, name))
			return e;
	}
	return EIO;
}

int vmm_client_parse_reply(const char *reply)
{
	char name[32];

	if (!strncmp(reply, "ok", 2) && (!reply[2] || reply[2] == ' '))
		return 0;
	if (sscanf(reply, "err %31s", name) == 1)
		return -errno_named(name);
	return -EPROTO;
}

/* Read the reply line; 0 for "ok", -errno for "err ENAME ...". */
static int read_reply(struct vmm_client *c)
{
	size_t n = 0;
	int ret;

	for (;;) {
		ret = kmig_io_all(c->fd, c->reply + n, 1, 0);
		if (ret)
			return ret;
		if (c->reply[n] == '\n')
			break;
		if (++n == sizeof(c->reply) - 1)
			return -EMSGSIZE;
	}
	c->reply[n] = 0;
	return vmm_client_parse_reply(c->reply);
}

static int vcmd(struct vmm_client *c, const char *fmt, va_list ap)
{
	char line[256];
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	int ret;

	if (n < 0 || n >= (int)sizeof(line) - 1)
		return -EMSGSIZE;
	line[n++] = '\n';
	c->reply[0] = 0;
	ret = kmig_io_all(c->fd, line, n, 1);
	return ret ? ret : read_reply(c);
}

int vmm_client_cmd(struct vmm_client *c, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vcmd(c, fmt, ap);
	va_end(ap);
	return ret;
}

static int field(const char *reply, const char *key, unsigned long long *v)
{
	char pat[40];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(reply, pat);
	if (!p)
		return -EPROTO;
	*v = strtoull(p + strlen(pat), NULL, 10);
	return 0;
}

int vmm_client_parse_status(const char *reply, struct vmm_status *st)
{
	unsigned long long v[6];
	const char *p;

	p = strstr(reply, " state=");
	if (!p || sscanf(p, " state=%15s", st->state) != 1 ||
	    field(reply, "vcpus", &v[0]) ||
	    field(reply, "counter", &v[1]) ||
	    field(reply, "writes", &v[2]) ||
	    field(reply, "throttled_ms", &v[3]) ||
	    field(reply, "ws_pages", &v[4]) ||
	    field(reply, "mem", &v[5]))
		return -EPROTO;
	st->vcpus = v[0];
	st->counter = v[1];
	st->writes = v[2];
	st->throttled_ms = v[3];
	st->ws_pages = v[4];
	st->mem = v[5];
	st->net_sent = field(reply, "net_sent", &v[0]) ? 0 : v[0];
	st->net_seq = field(reply, "net_seq", &v[1]) ? 0 : v[1];
	st->net_dropped = field(reply, "net_dropped", &v[2]) ? 0 : v[2];
	st->net_announced = field(reply, "net_announced", &v[3]) ? 0 : v[3];
	return 0;
}

const char *vmm_client_why(const struct vmm_client *c, int ret)
{
	static char why[sizeof(c->reply) + 64];

	if (!strncmp(c->reply, "err ", 4))
		return c->reply;
	snprintf(why, sizeof(why), "no answer from the VMM (%s)",
		 strerror(-ret));
	return why;
}

bool vmm_client_gone(const struct vmm_client *c, int ret)
{
	if (!strncmp(c->reply, "err ", 4))
		return false;
	return ret == -ECONNRESET || ret == -EPIPE || ret == -ENOTCONN ||
	       ret == -ECONNREFUSED;
}

int vmm_client_status(struct vmm_client *c, struct vmm_status *st)
{
	int ret = vmm_client_cmd(c, "status");

	return ret ? ret : vmm_client_parse_status(c->reply, st);
}

int vmm_client_parse_len(const char *reply, size_t *len)
{
	if (sscanf(reply, "ok %zu", len) != 1 || !*len ||
	    *len > (64u << 20))
		return -EPROTO;
	return 0;
}

int vmm_client_save(struct vmm_client *c, uint8_t **buf, size_t *len)
{
	int ret = vmm_client_cmd(c, "save");

	if (!ret)
		ret = vmm_client_parse_len(c->reply, len);
	if (ret)
		return ret;
	*buf = malloc(*len);
	if (!*buf)
		return -ENOMEM;
	ret = kmig_io_all(c->fd, *buf, *len, 0);
	if (ret) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

int vmm_client_load(struct vmm_client *c, const uint8_t *buf, size_t len)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "load %zu\n", len);
	int ret;

	c->reply[0] = 0;
	ret = kmig_io_all(c->fd, line, n, 1);
	if (!ret)
		ret = kmig_io_all(c->fd, (void *)buf, len, 1);
	return ret ? ret : read_reply(c);
}

int vmm_client_parse_slots(const char *reply, struct vmm_client_slot *slots,
			   unsigned int max, unsigned int *n)
{
	unsigned long long gpa, size;
	const char *p;
	unsigned int i;
	int off;

	if (sscanf(reply, "ok %u%n", n, &off) != 1 || *n > max)
		return -EPROTO;
	p = reply + off;
	for (i = 0; i < *n; i++) {
		if (sscanf(p, " %u:%llx:%llx%n", &slots[i].id, &gpa, &size,
			   &off) != 3)
			return -EPROTO;
		slots[i].gpa = gpa;
		slots[i].size = size;
		slots[i].fd = -1;
		p += off;
		slots[i].huge = !strncmp(p, ":huge", 5) &&
				(!p[5] || p[5] == ' ' || p[5] == '\n');
		if (slots[i].huge)
			p += 5;
		else if (*p && *p != ' ' && *p != '\n')
			return -EPROTO;	/* ":x", or a word run on */
	}
	return 0;
}

int vmm_client_memfds(struct vmm_client *c, struct vmm_client_slot *slots,
		      unsigned int max, unsigned int *n)
{
	char cbuf[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { .iov_base = c->reply,
			     .iov_len = sizeof(c->reply) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	unsigned int i, nfds = 0;
	int fds[16];
	ssize_t len;

	if (kmig_io_all(c->fd, "memfd\n", 6, 1))
		return -EPIPE;
	len = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	if (len <= 0)
		return len < 0 ? -errno : -EPIPE;
	c->reply[len] = 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		}
	if (c->reply[len - 1] != '\n' || vmm_client_parse_slots(c->reply, slots, max, n) ||
	    *n != nfds)
		goto err_proto;
	for (i = 0; i < *n; i++)
		slots[i].fd = fds[i];
	return 0;

err_proto:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return -EPROTO;
}

int vmm_client_ctx(struct vmm_client *c, struct vmm_client_slot *slots,
		   unsigned int max, unsigned int *n, int *ctx_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], name[32];
	struct iovec iov = { .iov_base = c->reply,
			     .iov_len = sizeof(c->reply) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t len;

	c->reply[0] = 0;
	if (kmig_io_all(c->fd, "ctx\n", 4, 1))
		return -EPIPE;
	len = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	if (len <= 0)
		return len < 0 ? -errno : -EPIPE;
	c->reply[len] = 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (c->reply[len - 1] != '\n')
		goto err_proto;
	c->reply[len - 1] = 0;
	if (sscanf(c->reply, "err %31s", name) == 1) {
		if (fd >= 0)
			close(fd);
		return -errno_named(name);
	}
	if (fd < 0 || vmm_client_parse_slots(c->reply, slots, max, n))
		goto err_proto;
	*ctx_fd = fd;
	return 0;

err_proto:
	if (fd >= 0)
		close(fd);
	return -EPROTO;
}
