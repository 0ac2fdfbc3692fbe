// SPDX-License-Identifier: GPL-2.0
/*
 * The processes of a selftest (proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The build tree: $KMIG_PROJECT/build, else the one this test is in. */
static const char *build_dir(void)
{
	static char dir[512];
	const char *p = getenv("KMIG_PROJECT");
	ssize_t n;

	if (p) {
		snprintf(dir, sizeof(dir), "%s/build", p);
		return dir;
	}
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	dir[n > 0 ? n : 0] = 0;
	/* build/selftests/NAME -> build */
	return dirname(dirname(dir));
}

const char *proc_bin(const char *rel)
{
	static char path[4][640];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", build_dir(), rel);
	return path[i];
}

int hosts_sh(const char *fns)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 ". \"$KMIG_PROJECT/selftests/qemu/hosts.sh\" && %s", fns);
	return system(cmd);
}

void run_dir_clean(const char *dir, const char *sock_a, const char *sock_b)
{
	mkdir(dir, 0700);
	unlink(sock_a);
	unlink(sock_b);
}

int proc_connect(int port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd, i;

	for (i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		msleep(50);
	}
	return -ETIMEDOUT;
}

/* A command line and its words. */
struct words {
	char line[1024];
	const char *argv[40];
};

/* @fmt formatted, split at spaces into w->argv, NULL-terminated. */
static void words_of(struct words *w, const char *fmt, va_list ap)
{
	char *save, *word;
	int n = 0;

	vsnprintf(w->line, sizeof(w->line), fmt, ap);
	for (word = strtok_r(w->line, " ", &save); word && n < 39;
	     word = strtok_r(NULL, " ", &save))
		w->argv[n++] = word;
	w->argv[n] = NULL;
}

pid_t proc_spawn(const char *ns, const char *log, const char *const argv[])
{
	const char *full[40];
	int n = 0, i, fd;
	pid_t pid;

	if (ns) {
		full[n++] = "ip";
		full[n++] = "netns";
		full[n++] = "exec";
		full[n++] = ns;
	}
	for (i = 0; argv[i] && n < 39; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execvp(full[0], (char *const *)full);
	_exit(127);
}

pid_t proc_spawnf(const char *ns, const char *log, const char *fmt, ...)
{
	struct words w;
	va_list ap;

	va_start(ap, fmt);
	words_of(&w, fmt, ap);
	va_end(ap);
	return proc_spawn(ns, log, w.argv);
}

int proc_wait_exit(pid_t pid, int timeout_ms)
{
	int status, t;

	for (t = 0; t <= timeout_ms; t += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
						   128 + WTERMSIG(status);
		msleep(20);
	}
	return -ETIMEDOUT;
}

bool proc_reaped(pid_t pid, int *status, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		msleep(10);
	}
	return false;
}

bool proc_stopped(pid_t pid, int *status, int ms)
{
	*status = 0;
	for (; ms > 0; ms -= 10) {
		if (waitpid(pid, status, WNOHANG | WUNTRACED) == pid)
			return WIFSTOPPED(*status);
		msleep(10);
	}
	return false;
}

const char *proc_where(pid_t pid)
{
	static char buf[2048];
	char path[96], w[64], cmd[64];
	size_t len = 0;
	int tid, fd;
	ssize_t n;
	FILE *f;

	buf[0] = 0;
	snprintf(cmd, sizeof(cmd), "ls /proc/%d/task 2>/dev/null", pid);
	f = popen(cmd, "r");
	if (!f)
		return buf;
	while (fscanf(f, "%d", &tid) == 1 && len < sizeof(buf) - 80) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid,
			 tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, w, sizeof(w) - 1) : -1;
		if (fd >= 0)
			close(fd);
		w[n > 0 ? n : 0] = 0;
		len += snprintf(buf + len, sizeof(buf) - len, " %d:%s", tid, w);
	}
	pclose(f);
	return buf;
}

const char *proc_backtrace(pid_t pid)
{
	static char buf[16384];
	char cmd[160];
	size_t n;
	FILE *f;

	if (access("/usr/bin/gdb", X_OK))
		return "(no gdb here)";
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/gdb -q -n -batch -p %d -ex 'thread apply all bt' 2>&1",
		 pid);
	f = popen(cmd, "r");
	if (!f)
		return "(gdb did not start)";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	pclose(f);
	return buf;
}

void proc_stop(pid_t *pid)
{
	if (*pid > 0 && !kill(*pid, SIGKILL))
		waitpid(*pid, NULL, 0);
	*pid = 0;
}

int proc_stop_all(pid_t *const pids[], unsigned int n, int ms)
{
	uint64_t end = kmig_now_ns() + ms * 1000000ull, now;
	unsigned int i;
	int status, ret = 0;

	for (i = 0; i < n; i++)
		if (*pids[i] > 0 && kill(*pids[i], SIGKILL))
			*pids[i] = 0;	/* reaped already, or never there */
	for (i = 0; i < n; i++) {
		if (*pids[i] <= 0)
			continue;
		now = kmig_now_ns();
		/* at least one look at each, the time up or not */
		if (!proc_reaped(*pids[i], &status,
				 now < end ? (end - now) / 1000000 + 10 : 10)) {
			fprintf(stderr, "# process %d does not end after SIGKILL, left behind; waiting in:%s\n",
				*pids[i], proc_where(*pids[i]));
			ret = -ETIMEDOUT;
		}
		*pids[i] = 0;
	}
	return ret;
}

char *file_read(const char *path, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf, *nb;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	while (buf && (r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n < cap)
			continue;
		cap *= 2;
		nb = realloc(buf, cap + 1);
		if (!nb)
			free(buf);
		buf = nb;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[n] = 0;
	*len = n;
	return buf;
}

const char *file_text(const char *path)
{
	static char bufs[2][16384];
	static unsigned int next;
	char *buf = bufs[next++ % 2];
	ssize_t n = -1;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(bufs[0]) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

bool file_has(const char *path, const char *needle)
{
	return strstr(file_text(path), needle) != NULL;
}

unsigned int file_count(const char *path, const char *needle)
{
	size_t len;
	char *t = file_read(path, &len), *p;
	unsigned int n = 0;

	for (p = t; p && (p = strstr(p, needle)); p++)
		n++;
	free(t);
	return n;
}

const char *vmm_sock(const char *name)
{
	static char sock[4][96];
	static int i;

	i = (i + 1) % 4;
	snprintf(sock[i], sizeof(sock[i]), "@kmig-%s-%d", name, getpid());
	return sock[i];
}

int vmm_connect(struct vmm_proc *v, struct vmm_client *c)
{
	int ms, ret, status;

	for (ms = 0; ms < PROC_WAIT_MS; ms += 10) {
		ret = vmm_client_connect(c, v->sock, 0);
		if (ret != -ECONNREFUSED && ret != -ENOENT)
			return ret;
		if (v->pid <= 0 || waitpid(v->pid, &status, WNOHANG) == v->pid) {
			v->pid = 0;
			return -ECHILD;
		}
		msleep(10);
	}
	return -ETIMEDOUT;
}

int vmm_status(struct vmm_proc *v, struct vmm_status *st)
{
	struct vmm_client c = { .fd = -1 };
	int ret;

	ret = vmm_connect(v, &c);
	if (!ret)
		ret = vmm_client_status(&c, st);
	vmm_client_close(&c);
	return ret;
}

int vmm_status_of(const char *sock, struct vmm_status *st)
{
	struct vmm_client c = { .fd = -1 };
	int ret;

	ret = vmm_client_connect(&c, sock, 5000);
	if (!ret)
		ret = vmm_client_status(&c, st);
	vmm_client_close(&c);
	return ret;
}

const char *vmm_binary = "vmm/kmig-vmm";

int __vmm_start(struct vmm_proc *v, const char *sock, const char *log,
		const char *const args[])
{
	const char *argv[32] = { proc_bin(vmm_binary), "--ctl", sock };
	struct vmm_status st;
	int i, n = 3, ret;

	for (i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (sock[0] != '@')
		unlink(sock);
	v->pid = proc_spawn(NULL, log, argv);
	if (v->pid < 0)
		return -errno;
	snprintf(v->sock, sizeof(v->sock), "%s", sock);
	ret = vmm_status(v, &st);
	if (ret)
		proc_stop(&v->pid);
	return ret;
}

int __vmm_startf(struct vmm_proc *v, const char *sock, const char *log,
		 const char *fmt, ...)
{
	struct words w;
	va_list ap;

	va_start(ap, fmt);
	words_of(&w, fmt, ap);
	va_end(ap);
	return __vmm_start(v, sock, log, w.argv);
}

void vmm_stop(struct vmm_proc *v)
{
	struct vmm_client c = { .fd = -1 };

	if (v->pid <= 0)
		return;
	if (!vmm_client_connect(&c, v->sock, 0))
		vmm_client_cmd(&c, "quit");
	vmm_client_close(&c);
	if (proc_wait_exit(v->pid, 2000) < 0)
		proc_stop(&v->pid);
	v->pid = 0;
}

int vmm_kill(struct vmm_proc *v)
{
	int status;

	if (v->pid <= 0 || kill(v->pid, SIGKILL) ||
	    waitpid(v->pid, &status, 0) != v->pid)
		return -errno;
	v->pid = 0;
	return 0;
}

/*
 * Poll the status, through @c when given, else a short connection to
 * @sock, until it runs with its counter above @above.
 */
static int wait_counter(const char *sock, struct vmm_client *c,
			uint64_t above, int ms, struct vmm_status *st)
{
	int t, ret;

	for (t = 0; t < ms; t += 20) {
		ret = c ? vmm_client_status(c, st) : vmm_status_of(sock, st);
		if (ret)
			return ret;
		if (!strcmp(st->state, "failed"))
			return -EIO;
		if (st->counter > above && !strcmp(st->state, "running"))
			return 0;
		msleep(20);
	}
	return -ETIMEDOUT;
}

int __vmm_wait_counter(const char *sock, uint64_t above, int ms,
		       struct vmm_status *st)
{
	return wait_counter(sock, NULL, above, ms, st);
}

int __vmm_client_wait_counter(struct vmm_client *c, uint64_t above, int ms,
			      struct vmm_status *st)
{
	return wait_counter(NULL, c, above, ms, st);
}

int vmm_wait_written(const char *sock, int ms, struct vmm_status *st)
{
	int t, ret;

	for (t = 0;; t += 50) {
		ret = vmm_status_of(sock, st);
		if (ret || st->writes >= st->ws_pages)
			return ret;
		if (t >= ms)
			return -ETIMEDOUT;
		msleep(50);
	}
}

/* The output in @path, removed; "" when there is none. */
static char *take_output(const char *path)
{
	size_t len;
	char *out = file_read(path, &len);

	unlink(path);
	return out ? out : strdup("");
}

/* Exit status of *@pid within @ms, else -ETIMEDOUT and it is killed. */
static int wait_or_kill(pid_t *pid, int ms)
{
	int ret;

	if (*pid <= 0)
		return -ECHILD;
	ret = proc_wait_exit(*pid, ms);
	if (ret == -ETIMEDOUT)
		proc_stop(pid);
	return ret;
}

/* Where agent @what of this test writes: static, two at a time. */
static const char *agent_log(const char *what)
{
	static char path[2][64];
	char *p = path[*what == 'i'];

	snprintf(p, sizeof(path[0]), "/dev/shm/agent-%d.%s", getpid(), what);
	return p;
}

void agents_listen(struct agents *r, struct vmm_proc *b, const char *addr,
		   const char *in_args)
{
	memset(r, 0, sizeof(*r));
	r->in = proc_spawnf(NULL, agent_log("in"),
			    "%s incoming --vmm %s --listen %s %s",
			    proc_bin("kmig"), b->sock, addr, in_args);
}

void agents_migrate(struct agents *r, struct vmm_proc *a, const char *addr,
		    const char *mig_args, int mig_s)
{
	pid_t mig = -1;

	if (r->in > 0)
		mig = proc_spawnf(NULL, agent_log("out"),
				  "%s migrate --vmm %s --to %s %s",
				  proc_bin("kmig"), a->sock, addr, mig_args);
	r->mig_ret = wait_or_kill(&mig, mig_s * 1000);
	r->in_ret = wait_or_kill(&r->in, PROC_WAIT_MS);
	r->in_out = take_output(agent_log("in"));
	r->mig_out = take_output(agent_log("out"));
}

void agents_migrate_held(struct agents *r, struct vmm_proc *a,
			 const char *addr, const char *mig_args, int mig_s,
			 const char *point, int (*held)(void *arg),
			 void *arg)
{
	pid_t mig = -1;
	int status;

	r->held_ret = -ESRCH;
	if (r->in > 0) {
		setenv("KMIG_STOP_AT", point, 1);
		mig = proc_spawnf(NULL, agent_log("out"),
				  "%s migrate --vmm %s --to %s %s",
				  proc_bin("kmig"), a->sock, addr, mig_args);
		unsetenv("KMIG_STOP_AT");
	}
	if (mig > 0 && proc_stopped(mig, &status, PROC_WAIT_MS)) {
		r->held_ret = held(arg);
		kill(mig, SIGCONT);
	}
	r->mig_ret = wait_or_kill(&mig, mig_s * 1000);
	r->in_ret = wait_or_kill(&r->in, PROC_WAIT_MS);
	r->in_out = take_output(agent_log("in"));
	r->mig_out = take_output(agent_log("out"));
}

void run_agents(struct vmm_proc *a, struct vmm_proc *b, unsigned int port,
		const char *in_args, const char *mig_args, int mig_s,
		struct agents *r)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	agents_listen(r, b, addr, in_args);
	agents_migrate(r, a, addr, mig_args, mig_s);
}

void agents_free(struct agents *r)
{
	free(r->in_out);
	free(r->mig_out);
}

int proc_own_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, ret = 0;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(fd, SIOCSIFFLAGS, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

uint64_t json_u64(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = json ? strstr(json, pat) : NULL;
	return p ? strtoull(p + strlen(pat), NULL, 10) : ~0ull;
}

int json_u64_list(const char *json, const char *key, uint64_t *v,
		  unsigned int max)
{
	unsigned int n = 0;
	char pat[64], *end;
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": [", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	for (p += strlen(pat); n < max && *p != ']'; p = end) {
		v[n] = strtoull(p, &end, 10);
		if (end == p)
			break;
		n++;
		while (*end == ',' || *end == ' ')
			end++;
	}
	return n;
}
