// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd's clients: who may connect (the socket's mode, then the peer's
 * credentials), a request line in, its reply line out, and events for
 * the connections that subscribed. A client that sends too much, or reads
 * too little, is dropped; it never holds up the loop or another client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmigd.h"
#include "netlink.h"
#include "util.h"
#include "version.h"

struct kmigd_conn {
	struct kmigd_watch watch;
	struct kmigd_conn *next;
	int fd;
	uid_t uid;
	pid_t pid;
	bool events;			/* subscribed */
	bool dead;			/* close it */
	size_t inlen, outlen;
	char *out;
	char in[KMIGD_LINE_MAX];
};

static void queue(struct kmigd_conn *c, const char *text)
{
	size_t len = strlen(text);
	char *b;

	if (c->dead)
		return;
	if (c->outlen + len + 1 > KMIGD_OUT_MAX) {
		kmigd_log(KMIGD_WARNING, 0, "client pid %d reads too little: dropped",
			  c->pid);
		c->dead = true;
		return;
	}
	b = realloc(c->out, c->outlen + len + 1);
	if (!b) {
		c->dead = true;
		return;
	}
	c->out = b;
	memcpy(c->out + c->outlen, text, len);
	c->out[c->outlen + len] = '\n';
	c->outlen += len + 1;
}

static void flush(struct kmigd *d, struct kmigd_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->watch };
	ssize_t n;

	while (c->outlen && !c->dead) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN)
				c->dead = true;
			break;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
	if (c->outlen)
		ev.events |= EPOLLOUT;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void reply_start(struct jw *w, bool ok)
{
	jw_init(w);
	jw_object(w);
	jw_field_u64(w, "v", KMIGD_PROTOCOL);
	jw_key(w, "ok");
	jw_bool(w, ok);
}

static void reply_error(struct jw *w, int ret, const char *why)
{
	const char *name = strerrorname_np(-ret);

	jw_free(w);
	reply_start(w, false);
	jw_field_str(w, "errno", name ? name : "EIO");
	jw_field_str(w, "error", why);
}

static int nl_open(struct kmig_nl *nl, char *err, size_t n)
{
	int ret = kmig_nl_open(nl);

	if (ret)
		return kmig_errf(err, n, ret, ret == -ENOENT ?
				 "the kmig module is not loaded" :
				 "netlink: %s", strerror(-ret));
	return 0;
}

/* The module's contexts, as `kmig stats --json` names their fields. */
static int contexts(struct jw *w, char *err, size_t n)
{
	static struct kmig_nl_ctx ctxs[64];
	struct kmig_nl nl;
	int i, k, count, ret;

	ret = nl_open(&nl, err, n);
	if (ret)
		return ret;
	ret = kmig_nl_ctx_list(&nl, ctxs, 64, &count);
	kmig_nl_close(&nl);
	if (ret)
		return kmig_errf(err, n, ret, "listing contexts: %s",
				 strerror(-ret));
	jw_key(w, "contexts");
	jw_array(w);
	for (i = 0; i < count && i < 64; i++) {
		jw_object(w);
		jw_field_u64(w, "id", ctxs[i].id);
		jw_field_u64(w, "owner", ctxs[i].owner);
		jw_field_u64(w, "pages", ctxs[i].pages);
		jw_field_u64(w, "dirty", ctxs[i].dirty);
		jw_field_u64(w, "missing", ctxs[i].missing);
		jw_field_u64(w, "page_limit", ctxs[i].page_limit);
		jw_key(w, "slots");
		jw_array(w);
		for (k = 0; k < ctxs[i].nslots && k < KMIG_NL_MAX_SLOTS; k++) {
			jw_object(w);
			jw_field_u64(w, "id", ctxs[i].slots[k].id);
			jw_field_u64(w, "gpa", ctxs[i].slots[k].gpa);
			jw_field_u64(w, "size", ctxs[i].slots[k].size);
			jw_end(w, '}');
		}
		jw_end(w, ']');
		jw_end(w, '}');
	}
	jw_end(w, ']');
	return 0;
}

static int devices(struct jw *w, char *err, size_t n)
{
	struct kmig_dev_info devs[64];
	struct kmig_nl nl;
	size_t i, count;
	int ret;

	ret = nl_open(&nl, err, n);
	if (ret)
		return ret;
	ret = kmig_nl_dev_list(&nl, devs, 64, &count);
	kmig_nl_close(&nl);
	if (ret)
		return kmig_errf(err, n, ret, "listing devices: %s",
				 strerror(-ret));
	jw_key(w, "devices");
	jw_array(w);
	for (i = 0; i < count && i < 64; i++) {
		jw_object(w);
		jw_field_str(w, "name", devs[i].name);
		jw_field_u64(w, "instance", devs[i].instance);
		jw_field_u64(w, "version", devs[i].version);
		jw_field_u64(w, "state", devs[i].state);
		jw_field_u64(w, "pending_bytes", devs[i].pending_bytes);
		jw_key(w, "open");
		jw_bool(w, devs[i].open);
		jw_end(w, '}');
	}
	jw_end(w, ']');
	return 0;
}

/*
 * Recover job @j, a postcopy migration whose link was lost (or a
 * recovery that failed): the source runs `kmig migrate --resume`, the
 * destination `kmig postcopy-recover`, with the same --vmm and the
 * request's arguments.
 */
static struct kmigd_job *recover(struct kmigd *d, struct kmigd_job *j,
				 const struct kmigd_req *r, int *ret,
				 char *err, size_t n)
{
	const char *argv[KMIGD_MAX_ARGS + 3], *vmm = NULL, *type;
	unsigned int i, argc = 0;

	*ret = -EINVAL;
	if (strcmp(j->type, "migrate") && strcmp(j->type, "incoming") &&
	    strcmp(j->type, "postcopy-recover")) {
		snprintf(err, n, "job %u is a %s: only a migration recovers",
			 j->id, j->type);
		return NULL;
	}
	if (j->state == JOB_RUNNING || j->state == JOB_COMPLETED) {
		*ret = -EBUSY;
		snprintf(err, n, "job %u is %s: only a lost one recovers",
			 j->id, kmigd_job_state_name(j->state));
		return NULL;
	}
	for (i = 0; i < j->argc; i++)
		if (!strcmp(j->argv[i], "--vmm") && i + 1 < j->argc)
			vmm = j->argv[i + 1];
		else if (!strncmp(j->argv[i], "--vmm=", 6))
			vmm = j->argv[i] + 6;
	for (i = 0; i < r->argc; i++)
		if (!strncmp(r->argv[i], "--vmm", 5)) {
			snprintf(err, n, "recover takes the job's own --vmm");
			return NULL;
		}
	if (!vmm) {
		snprintf(err, n, "job %u has no --vmm VMM", j->id);
		return NULL;
	}
	type = strcmp(j->type, "migrate") ? "postcopy-recover" : "migrate";
	if (!strcmp(type, "migrate"))
		argv[argc++] = "--resume";
	argv[argc++] = "--vmm";
	argv[argc++] = vmm;
	for (i = 0; i < r->argc; i++)
		argv[argc++] = r->argv[i];
	return kmigd_job_start(d, type, argc, argv, ret, err, n);
}

static int job_op(struct kmigd *d, const struct kmigd_req *r, struct jw *w,
		  char *err, size_t n)
{
	struct kmigd_job *j = r->job ? kmigd_job_find(d, r->job) : NULL;
	int ret = 0;

	if (r->job && !j)
		return kmig_errf(err, n, -ENOENT, "no job %u", r->job);
	switch (r->op) {
	case KMIGD_START:
		j = kmigd_job_start(d, r->type, r->argc, r->argv, &ret, err, n);
		break;
	case KMIGD_RECOVER:
		j = recover(d, j, r, &ret, err, n);
		break;
	case KMIGD_CANCEL:
		return kmigd_job_cancel(j, err, n);
	case KMIGD_POSTCOPY_START:
		return kmigd_job_postcopy_start(j, err, n);
	default:
		return kmig_errf(err, n, -EINVAL, "not a job operation");
	}
	if (!j)
		return ret;
	jw_field_u64(w, "job", j->id);
	return 0;
}

static int query(struct kmigd *d, const struct kmigd_req *r, struct jw *w,
		 char *err, size_t n)
{
	struct kmigd_job *j;
	unsigned int i;

	if (r->job) {
		j = kmigd_job_find(d, r->job);
		if (!j)
			return kmig_errf(err, n, -ENOENT, "no job %u", r->job);
		jw_key(w, "job");
		kmigd_job_write(w, j);
		return 0;
	}
	jw_key(w, "jobs");
	jw_array(w);
	for (i = 0; i < d->njobs; i++)
		kmigd_job_write(w, d->jobs[i]);
	jw_end(w, ']');
	return 0;
}

static void hello(struct jw *w)
{
	size_t i;

	jw_field_u64(w, "protocol", KMIGD_PROTOCOL);
	jw_field_str(w, "version", KMIG_AGENT_VERSION);
	jw_key(w, "types");
	jw_array(w);
	for (i = 0; kmigd_job_types[i]; i++)
		jw_str(w, kmigd_job_types[i]);
	jw_end(w, ']');
}

static void request(struct kmigd *d, struct kmigd_conn *c, const char *line,
		    size_t len)
{
	struct kmigd_req r;
	char err[768];
	struct jw w;
	int ret;

	reply_start(&w, true);
	ret = kmigd_req_parse(&r, line, len, err, sizeof(err));
	if (!ret) {
		switch (r.op) {
		case KMIGD_HELLO:
			hello(&w);
			break;
		case KMIGD_QUERY:
			ret = query(d, &r, &w, err, sizeof(err));
			break;
		case KMIGD_CONTEXTS:
			ret = contexts(&w, err, sizeof(err));
			break;
		case KMIGD_DEVICES:
			ret = devices(&w, err, sizeof(err));
			break;
		case KMIGD_SUBSCRIBE:
			c->events = true;
			break;
		default:
			ret = job_op(d, &r, &w, err, sizeof(err));
		}
	}
	if (ret) {
		kmigd_log(KMIGD_WARNING, r.job, "request from pid %d (uid %d) refused: %s",
			  c->pid, c->uid, err);
		reply_error(&w, ret, err);
	}
	kmigd_req_free(&r);
	jw_end(&w, '}');
	queue(c, jw_text(&w) ? jw_text(&w) :
	      "{\"v\":1,\"ok\":false,\"errno\":\"ENOMEM\",\"error\":\"out of memory\"}");
	jw_free(&w);
}

static void conn_close(struct kmigd *d, struct kmigd_conn *c)
{
	struct kmigd_conn **p;

	for (p = &d->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
	d->nconns--;
}

static void take_input(struct kmigd *d, struct kmigd_conn *c)
{
	char *nl;
	size_t used;
	ssize_t n;

	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
		 MSG_DONTWAIT);
	if (n <= 0) {
		if (!n || errno != EAGAIN)
			c->dead = true;
		return;
	}
	c->inlen += n;
	while (!c->dead && (nl = memchr(c->in, '\n', c->inlen))) {
		used = nl - c->in + 1;
		request(d, c, c->in, used - 1);
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	if (c->inlen == sizeof(c->in)) {
		queue(c, "{\"v\":1,\"ok\":false,\"errno\":\"EMSGSIZE\",\"error\":\"a request is one line of at most 65535 bytes\"}");
		flush(d, c);
		c->dead = true;
	}
}

void kmigd_conn_io(struct kmigd *d, struct kmigd_conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		take_input(d, c);
	flush(d, c);
}

/* Root, kmigd's own user, and members of its group may talk to it. */
static bool may_connect(const struct kmigd *d, int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);
	gid_t groups[256];
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return false;
	if (!cred->uid || cred->uid == geteuid())
		return true;
	if (!d->have_group)
		return false;
	if (cred->gid == d->group)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == d->group)
			return true;
	return false;
}

void kmigd_conn_accept(struct kmigd *d)
{
	static const char refused[] = "{\"v\":1,\"ok\":false,\"errno\":\"EACCES\",\"error\":\"not root, kmigd's user or a member of its group\"}\n";
	static const char full[] = "{\"v\":1,\"ok\":false,\"errno\":\"EMFILE\",\"error\":\"too many clients\"}\n";
	struct kmigd_conn *c;
	struct ucred cred;
	int fd;

	fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!may_connect(d, fd, &cred)) {
		kmigd_log(KMIGD_WARNING, 0, "client pid %d uid %d refused",
			  cred.pid, cred.uid);
		send(fd, refused, sizeof(refused) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c = d->nconns < KMIGD_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	c->watch.kind = WATCH_CONN;
	c->watch.p = c;
	c->fd = fd;
	c->uid = cred.uid;
	c->pid = cred.pid;
	if (kmigd_watch_add(d, fd, EPOLLIN, &c->watch)) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->conns;
	d->conns = c;
	d->nconns++;
}

void kmigd_event(struct kmigd *d, struct jw *w)
{
	struct kmigd_conn *c;

	if (!jw_text(w))
		return;
	for (c = d->conns; c; c = c->next) {
		if (!c->events)
			continue;
		queue(c, jw_text(w));
		flush(d, c);
	}
}

void kmigd_conns_sweep(struct kmigd *d, bool all)
{
	struct kmigd_conn *c, *next;

	for (c = d->conns; c; c = next) {
		next = c->next;
		if (c->dead || all)
			conn_close(d, c);
	}
}
