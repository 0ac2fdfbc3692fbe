// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket, one client at a time, one
 * text line per request, one line per reply ("ok ..." or "err ENAME
 * message"); save and load carry a length-prefixed binary body.
 * Documentation/vmm.rst describes the protocol.
 */
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
#include "vmm.h"

#define LINE_MAX_LEN	256

static const char *const states[] = {
	[VMM_RUNNING] = "running", [VMM_PAUSED] = "paused",
	[VMM_INCOMING] = "incoming", [VMM_FAILED] = "failed",
	[VMM_MIGRATED] = "migrated",
};

static int reply(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reply(int fd, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	return kmig_io_all(fd, line, n, true);
}

static void done(int fd, int ret, const char *what);

static int reply_err(int fd, int err, const char *what)
{
	const char *name = strerrorname_np(-err);

	return reply(fd, "err %s %s", name ? name : "EIO", what);
}

/* Read one line without reading past it: 1, 0 at end, -errno. */
static int read_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return n ? -EPIPE : 0;
		if (c == '\n')
			break;
		if (n + 1 >= size)
			return -EMSGSIZE;
		line[n++] = c;
	}
	line[n] = 0;
	return 1;
}

static void status(struct vmm *vmm, int fd)
{
	uint64_t counter = 0, writes = 0, throttled = 0, net_seq;
	struct guest_params *p = vmm->params;
	unsigned int i, pat;
	char ring[48] = "none";
	bool counters;

	if (vmm->ring.on)
		snprintf(ring, sizeof(ring), "0x%llx",
			 (unsigned long long)vmm->ring.gpa);
	pthread_mutex_lock(&vmm->lock);
	/*
	 * The counters are in guest RAM, in a page the guest writes all the
	 * time: in postcopy it is missing here until it arrives, and status
	 * must not wait for it.
	 */
	counters = !vmm->unmapped && vmm_mem_resident(p, sizeof(*p));
	for (i = 0; i < vmm->nvcpus; i++) {
		throttled += vmm->vcpu[i].throttled_ns;
		if (!counters)
			continue;
		counter += __atomic_load_n(&p->vcpu[i].counter, __ATOMIC_RELAXED);
		writes += __atomic_load_n(&p->vcpu[i].writes, __ATOMIC_RELAXED);
	}
	pat = !counters ? GUEST_PATTERN_MAX :
	      __atomic_load_n(&p->pattern, __ATOMIC_RELAXED);
	net_seq = !counters ? 0 :
		  __atomic_load_n(&p->net_seq, __ATOMIC_RELAXED);
	reply(fd, "ok state=%s vcpus=%u counter=%llu writes=%llu rate=%llu "
	      "throttle=%u throttled_ms=%llu pattern=%s ws_pages=%u mem=%llu "
	      "slots=%u net=%s net_sent=%llu net_seq=%llu net_dropped=%llu "
	      "net_bad=%llu net_announced=%llu ring=%s%s%s%s",
	      states[vmm->state], vmm->nvcpus,
	      (unsigned long long)counter, (unsigned long long)writes,
	      (unsigned long long)vmm->rate, vmm->throttle,
	      (unsigned long long)throttled / 1000000,
	      pat < GUEST_PATTERN_MAX ? vmm_patterns[pat] : "?", vmm->ws_pages,
	      (unsigned long long)vmm->mem.size, vmm->mem.nslots,
	      vmm_net_state(&vmm->net),
	      (unsigned long long)__atomic_load_n(&vmm->net.sent, __ATOMIC_RELAXED),
	      (unsigned long long)net_seq,
	      (unsigned long long)__atomic_load_n(&vmm->net.dropped, __ATOMIC_RELAXED),
	      (unsigned long long)__atomic_load_n(&vmm->net.bad, __ATOMIC_RELAXED),
	      (unsigned long long)__atomic_load_n(&vmm->net.announced, __ATOMIC_RELAXED),
	      ring, counters ? "" : " counters=absent",
	      vmm->state == VMM_FAILED ? " error=" : "",
	      vmm->state == VMM_FAILED ? vmm->error : "");
	pthread_mutex_unlock(&vmm->lock);
}

/*
 * `vcpus`: each vCPU's thread id, in vCPU order, once every vCPU thread
 * runs. Reads no guest memory, so it answers while pages are missing.
 */
static void vcpus(struct vmm *vmm, int fd)
{
	struct timespec until;
	char line[16 * GUEST_MAX_VCPUS + 32];
	unsigned int i, off, ready = 0;

	clock_gettime(CLOCK_REALTIME, &until);	/* vmm->cond's clock */
	until.tv_sec += 5;
	pthread_mutex_lock(&vmm->lock);
	while (ready < vmm->nvcpus) {
		for (ready = 0; ready < vmm->nvcpus && vmm->vcpu[ready].tid;
		     ready++)
			;
		if (ready < vmm->nvcpus &&
		    pthread_cond_timedwait(&vmm->cond, &vmm->lock, &until))
			break;
	}
	off = snprintf(line, sizeof(line), "ok vcpus=%u tids=", vmm->nvcpus);
	for (i = 0; i < vmm->nvcpus; i++)
		off += snprintf(line + off, sizeof(line) - off, "%s%d",
				i ? "," : "", (int)vmm->vcpu[i].tid);
	pthread_mutex_unlock(&vmm->lock);
	if (ready < vmm->nvcpus) {
		reply_err(fd, -ETIMEDOUT, "vcpus: a vCPU thread did not start");
		return;
	}
	reply(fd, "%s", line);
}

static bool stopped(struct vmm *vmm)
{
	bool ret;

	pthread_mutex_lock(&vmm->lock);
	ret = vmm->state == VMM_PAUSED || vmm->state == VMM_INCOMING;
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}

static void save(struct vmm *vmm, int fd)
{
	uint8_t *buf;
	size_t len;
	int ret;

	if (!stopped(vmm)) {
		reply_err(fd, -EBUSY, "save: pause the VM first");
		return;
	}
	ret = vmm_state_save(vmm, &buf, &len);
	if (ret) {
		reply_err(fd, ret, "save: cannot read the vCPU state");
		return;
	}
	if (!reply(fd, "ok %zu", len))
		kmig_io_all(fd, buf, len, true);
	free(buf);
}

static void load(struct vmm *vmm, int fd, size_t len)
{
	char err[256];
	uint8_t *buf;
	int ret;

	buf = malloc(len);
	if (!buf || kmig_io_all(fd, buf, len, false)) {
		free(buf);
		reply_err(fd, -EPIPE, "load: the state did not arrive");
		return;
	}
	if (!stopped(vmm)) {
		free(buf);
		reply_err(fd, -EBUSY, "load: pause the VM first");
		return;
	}
	ret = vmm_state_load(vmm, buf, len, err, sizeof(err));
	free(buf);
	if (ret)
		reply_err(fd, ret, err);
	else
		reply(fd, "ok");
}

static void send_memfds(struct vmm *vmm, int fd)
{
	int fds[VMM_MAX_SLOTS];
	char line[1024], cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = { .iov_base = line };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = CMSG_SPACE(vmm->mem.nslots * sizeof(int)),
	};
	struct cmsghdr *c;
	unsigned int i;
	size_t n;

	n = snprintf(line, sizeof(line), "ok %u", vmm->mem.nslots);
	for (i = 0; i < vmm->mem.nslots; i++) {
		fds[i] = vmm->mem.slot[i].fd;
		n += snprintf(line + n, sizeof(line) - n, " %u:0x%llx:0x%llx",
			      vmm->mem.slot[i].id,
			      (unsigned long long)vmm->mem.slot[i].gpa,
			      (unsigned long long)vmm->mem.slot[i].size);
	}
	line[n++] = '\n';
	iov.iov_len = n;
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(vmm->mem.nslots * sizeof(int));
	memcpy(CMSG_DATA(c), fds, vmm->mem.nslots * sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)n)
		fprintf(stderr, "kmig-vmm: memfd: sendmsg: %s\n", strerror(errno));
}

/*
 * The kmig context: "ok N ID:GPA:SIZE[:huge] ..." (":huge" on a
 * KMIG_SLOT_HUGE slot) and its fd as SCM_RIGHTS.
 */
static void send_ctx(struct vmm *vmm, int fd)
{
	char line[1024], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = line };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	unsigned int i;
	size_t n;

	if (vmm->mem.backend != &vmm_mem_kmig || !vmm->mem.nslots) {
		reply(fd, "err EOPNOTSUPP ctx: guest RAM is not a kmig context (started with --backend %s)",
		      vmm->mem.backend->name);
		return;
	}
	n = snprintf(line, sizeof(line), "ok %u", vmm->mem.nslots);
	for (i = 0; i < vmm->mem.nslots; i++)
		n += snprintf(line + n, sizeof(line) - n, " %u:0x%llx:0x%llx%s",
			      vmm->mem.slot[i].id,
			      (unsigned long long)vmm->mem.slot[i].gpa,
			      (unsigned long long)vmm->mem.slot[i].size,
			      vmm->mem.slot[i].huge ? ":huge" : "");
	line[n++] = '\n';
	iov.iov_len = n;
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &vmm->mem.slot[0].fd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)n)
		fprintf(stderr, "kmig-vmm: ctx: sendmsg: %s\n", strerror(errno));
}

static void pattern(struct vmm *vmm, int fd, const struct vmm_req *r)
{
	if (r->hot)
		__atomic_store_n(&vmm->params->hot_pages, r->value,
				 __ATOMIC_RELAXED);
	__atomic_store_n(&vmm->params->pattern, r->pattern, __ATOMIC_RELAXED);
	reply(fd, "ok");
}

/*
 * `resume [force]`. For the tests, KMIG_VMM_FAULT=resume-noreply makes
 * the VMM resume the guest and drop the connection instead of answering:
 * a reply lost on the way.
 */
static int resume(struct vmm *vmm, int fd, bool force)
{
	const char *fault = getenv("KMIG_VMM_FAULT");
	char err[256];
	int ret;

	ret = vmm_resume(vmm, force, err, sizeof(err));
	if (!ret && fault && !strcmp(fault, "resume-noreply"))
		return 1;
	if (ret)
		reply_err(fd, ret, err);
	else
		reply(fd, "ok");
	return 0;
}

/*
 * `dirtylog at-resume`: the next resume of a stopped VM restarts every
 * slot's dirty log just before the vCPUs run, so that afterwards the log
 * names every page written since (for the demo's comparison).
 */
static void dirtylog(struct vmm *vmm, int fd)
{
	if (!vmm->mem.backend->log_restart) {
		reply(fd, "err EOPNOTSUPP dirtylog: guest RAM (backend %s) has no dirty log",
		      vmm->mem.backend->name);
		return;
	}
	pthread_mutex_lock(&vmm->lock);
	vmm->log_at_resume = true;
	pthread_mutex_unlock(&vmm->lock);
	reply(fd, "ok");
}

/*
 * `unmap` and `map`, incoming only: guest RAM leaves its address range
 * (kept reserved) and comes back there, so that the agent can put pages
 * in missing mode for postcopy (Documentation/postcopy.rst). Meanwhile
 * nothing here reads guest memory: status reports no counters.
 */
static void unmap(struct vmm *vmm, int fd, bool unmap)
{
	char err[256];
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state != VMM_INCOMING)
		ret = -EBUSY;
	else if (vmm->unmapped == unmap)
		ret = -EALREADY;
	else if (unmap)
		ret = vmm_mem_unmap(&vmm->mem, err, sizeof(err));
	else
		ret = vmm_mem_remap(&vmm->mem, err, sizeof(err));
	if (!ret)
		vmm->unmapped = unmap;
	pthread_mutex_unlock(&vmm->lock);
	if (ret == -EBUSY)
		snprintf(err, sizeof(err), "%s: only while incoming",
			 unmap ? "unmap" : "map");
	else if (ret == -EALREADY)
		snprintf(err, sizeof(err), "%s: guest RAM is %s already",
			 unmap ? "unmap" : "map", unmap ? "unmapped" : "mapped");
	done(fd, ret, err);
}

/* `throttle PERCENT` and `rate PAGES_PER_S`. */
static void set_limit(struct vmm *vmm, int fd, const struct vmm_req *r)
{
	pthread_mutex_lock(&vmm->lock);
	if (r->cmd == VMM_REQ_THROTTLE)
		vmm->throttle = r->value;
	else
		vmm->rate = r->value;
	pthread_mutex_unlock(&vmm->lock);
	reply(fd, "ok");
}

static void checksum(struct vmm *vmm, int fd)
{
	uint64_t csum;
	int ret;

	ret = vmm_guest_checksum(vmm, &csum);
	if (ret)
		reply_err(fd, ret, ret == -EBUSY ?
			  "checksum: the guest computes it, resume it first" :
			  "checksum: no answer from the guest");
	else
		reply(fd, "ok %016llx", (unsigned long long)csum);
}

static void done(int fd, int ret, const char *what)
{
	if (ret)
		reply_err(fd, ret, what);
	else
		reply(fd, "ok");
}

/* `announce [FRAMES]`: the first frame is out when the reply comes. */
static void announce(struct vmm *vmm, int fd, unsigned int frames)
{
	unsigned int last_ms;
	char err[128], mac[18];
	int ret;

	ret = vmm_net_announce(&vmm->net, frames, &last_ms, err, sizeof(err));
	if (ret) {
		reply_err(fd, ret, err);
		return;
	}
	vmm_net_mac(mac);
	reply(fd, "ok mac=%s frames=%u last_ms=%u", mac, frames, last_ms);
}

/* One request; returns 1 to end the session, -1 to quit the VMM. */
static int request(struct vmm *vmm, int fd, char *line)
{
	struct vmm_req r;
	char err[256];
	int ret;

	ret = vmm_req_parse(line, vmm->ws_pages, &r, err, sizeof(err));
	if (ret)
		return reply_err(fd, ret, err) ? 1 : 0;
	if (vmm->unmapped && (r.cmd == VMM_REQ_RESUME ||
			      r.cmd == VMM_REQ_PATTERN ||
			      r.cmd == VMM_REQ_CHECKSUM))
		return reply_err(fd, -EBUSY, "guest RAM is unmapped: 'map' first") ?
		       1 : 0;
	switch (r.cmd) {
	case VMM_REQ_STATUS:
		status(vmm, fd);
		break;
	case VMM_REQ_PAUSE:
		ret = vmm_pause(vmm);
		done(fd, ret, vmm->error[0] ? vmm->error : "pause");
		break;
	case VMM_REQ_RESUME:
		return resume(vmm, fd, r.force);
	case VMM_REQ_MIGRATED:
		done(fd, vmm_migrated(vmm), "migrated: the guest is not paused");
		break;
	case VMM_REQ_SAVE:
		save(vmm, fd);
		break;
	case VMM_REQ_LOAD:
		load(vmm, fd, r.value);
		break;
	case VMM_REQ_THROTTLE:
	case VMM_REQ_RATE:
		set_limit(vmm, fd, &r);
		break;
	case VMM_REQ_PATTERN:
		pattern(vmm, fd, &r);
		break;
	case VMM_REQ_CHECKSUM:
		checksum(vmm, fd);
		break;
	case VMM_REQ_MEMFD:
		if (vmm->mem.backend == &vmm_mem_memfd)
			send_memfds(vmm, fd);
		else
			reply(fd, "err EOPNOTSUPP memfd: guest RAM is a kmig context: use ctx (or start with --backend memfd)");
		break;
	case VMM_REQ_CTX:
		send_ctx(vmm, fd);
		break;
	case VMM_REQ_VCPUS:
		vcpus(vmm, fd);
		break;
	case VMM_REQ_DIRTYLOG:
		dirtylog(vmm, fd);
		break;
	case VMM_REQ_UNMAP:
	case VMM_REQ_MAP:
		unmap(vmm, fd, r.cmd == VMM_REQ_UNMAP);
		break;
	case VMM_REQ_NET:
		ret = vmm_net_set(vmm, r.on, err, sizeof(err));
		done(fd, ret, err);
		break;
	case VMM_REQ_RING:
		ret = vmm_ring_attach(vmm, r.value, r.entries, err, sizeof(err));
		done(fd, ret, err);
		break;
	case VMM_REQ_ANNOUNCE:
		announce(vmm, fd, r.value);
		break;
	case VMM_REQ_QUIT:
		reply(fd, "ok");
		return -1;
	}
	return 0;
}

/* A path, or "@name" for the abstract namespace (no file at all). */
static int ctl_addr(const char *path, struct sockaddr_un *addr,
		    socklen_t *len)
{
	size_t n = strlen(path);

	if (!n || n >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, n);
	if (path[0] == '@')
		addr->sun_path[0] = 0;
	*len = offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@');
	return 0;
}

int vmm_ctl_serve(struct vmm *vmm, const char *path)
{
	struct sockaddr_un addr;
	char line[LINE_MAX_LEN];
	int lfd, fd, ret = 0;
	socklen_t alen;

	ret = ctl_addr(path, &addr, &alen);
	if (ret)
		return ret;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (path[0] != '@')
		unlink(path);
	if (bind(lfd, (struct sockaddr *)&addr, alen) || listen(lfd, 4)) {
		ret = -errno;
		goto out;
	}
	printf("kmig-vmm: ready, control socket %s\n", path);
	fflush(stdout);
	while (!ret) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR)
				ret = -errno;
			continue;
		}
		while (read_line(fd, line, sizeof(line)) > 0) {
			int r = request(vmm, fd, line);

			if (r < 0)
				ret = 1;
			if (r)
				break;
		}
		close(fd);
	}
	if (path[0] != '@')
		unlink(path);
out:
	close(lfd);
	return ret > 0 ? 0 : ret;
}
