// SPDX-License-Identifier: GPL-2.0
/*
 * The processes of a selftest (proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

const char *proc_bin(const char *rel)
{
	static char path[4][640];
	static int i;
	const char *p = getenv("KMIG_PROJECT");

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/build/%s", p ? p : ".", rel);
	return path[i];
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

void proc_stop(pid_t *pid)
{
	if (*pid > 0 && !kill(*pid, SIGKILL))
		waitpid(*pid, NULL, 0);
	*pid = 0;
}

const char *file_text(const char *path)
{
	static char buf[16384];
	ssize_t n = -1;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

bool file_has(const char *path, const char *needle)
{
	return strstr(file_text(path), needle) != NULL;
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

int __vmm_start(struct vmm_proc *v, const char *sock, const char *log,
		const char *const args[])
{
	const char *argv[32] = { proc_bin("vmm/kmig-vmm"), "--ctl", sock };
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
	ret = vmm_status_of(sock, &st);
	if (ret)
		proc_stop(&v->pid);
	return ret;
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

int __vmm_wait_counter(const char *sock, uint64_t above, int ms,
		       struct vmm_status *st)
{
	int t, ret;

	for (t = 0; t < ms; t += 50) {
		ret = vmm_status_of(sock, st);
		if (ret)
			return ret;
		if (!strcmp(st->state, "failed"))
			return -EIO;
		if (st->counter > above && !strcmp(st->state, "running"))
			return 0;
		msleep(50);
	}
	return -ETIMEDOUT;
}
