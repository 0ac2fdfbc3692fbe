// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd's jobs. A job is a `kmig SUBCOMMAND ARGS...` process in its own
 * session, with a directory STATE/jobs/ID that outlives kmigd:
 *
 *   job.json   what kmigd started: id, type, args, pid, its start time
 *   log        the job's stdout and stderr
 *   info.json  its job info, written by the job (report.c) as it runs
 *   ctl        a migration's control socket (jobctl.h): cancel and
 *              postcopy-start go there
 *   exit       its exit status, written by the job as it ends
 *   cancel     present once cancel was asked
 *   end.json   how it ended, written by kmigd once it saw it end
 *
 * kmigd watches each job through a pidfd. A kmigd that starts again
 * adopts the jobs still running (same PID, same start time) and reads the
 * outcome of those that ended meanwhile from their exit files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobctl.h"
#include "kmigd.h"
#include "util.h"

/* Whether the process of @pidfd has exited, reaped or not. */
static bool pidfd_exited(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Field 22 of /proc/PID/stat: when it started, in clock ticks; 0: gone. */
static uint64_t proc_starttime(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long long t;
	int field, fd;
	ssize_t len;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	s = strrchr(buf, ')');		/* the name may hold spaces */
	for (field = 2; s && field < 22; field++)
		s = strchr(s + 1, ' ');
	if (!s || sscanf(s, " %llu", &t) != 1)
		return 0;
	return t;
}

int64_t kmigd_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static void job_free(struct kmigd_job *j)
{
	unsigned int i;

	if (!j)
		return;
	for (i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	json_free(j->info);
	if (j->pidfd >= 0)
		close(j->pidfd);
	free(j);
}

static struct kmigd_job *job_new(struct kmigd *d, uint32_t id,
				 const char *type, unsigned int argc,
				 const char *const *argv)
{
	struct kmigd_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->watch.kind = WATCH_JOB;
	j->watch.p = j;
	j->id = id;
	j->pidfd = -1;
	j->exit = -1;
	snprintf(j->type, sizeof(j->type), "%s", type);
	snprintf(j->dir, sizeof(j->dir), "%s/jobs/%u", d->state_dir, id);
	j->argv = calloc(argc + 1, sizeof(*j->argv));
	if (!j->argv)
		goto err;
	for (j->argc = 0; j->argc < argc; j->argc++) {
		j->argv[j->argc] = strdup(argv[j->argc]);
		if (!j->argv[j->argc])
			goto err;
	}
	return j;
err:
	job_free(j);
	return NULL;
}

/* Forget the oldest ended job and its directory, to make room. */
static int make_room(struct kmigd *d)
{
	struct kmigd_job *j;
	struct dirent *e;
	unsigned int i;
	DIR *dp;

	if (d->njobs < KMIGD_MAX_JOBS)
		return 0;
	for (i = 0; i < d->njobs && d->jobs[i]->state == JOB_RUNNING; i++)
		;
	if (i == d->njobs)
		return -EBUSY;
	j = d->jobs[i];
	dp = opendir(j->dir);
	while (dp && (e = readdir(dp)))
		unlinkat(dirfd(dp), e->d_name, 0);	/* . and .. refuse */
	if (dp)
		closedir(dp);
	rmdir(j->dir);
	memmove(&d->jobs[i], &d->jobs[i + 1],
		(d->njobs - i - 1) * sizeof(d->jobs[0]));
	d->njobs--;
	job_free(j);
	return 0;
}

static bool has_ctl(const struct kmigd_job *j)
{
	unsigned int i;

	if (strcmp(j->type, "migrate"))
		return false;
	for (i = 0; i < j->argc; i++)	/* --resume takes no --ctl */
		if (!strcmp(j->argv[i], "--resume"))
			return false;
	return true;
}

static void child(struct kmigd *d, struct kmigd_job *j, int logfd,
		  int nullfd)
{
	const char *argv[KMIGD_MAX_ARGS + 6];
	char ctl[512], id[16];
	unsigned int i, n = 0;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	close_range(3, ~0u, 0);
	snprintf(id, sizeof(id), "%u", j->id);
	setenv("KMIG_JOB_DIR", j->dir, 1);
	setenv("KMIG_JOB_ID", id, 1);
	argv[n++] = d->kmig_path;
	argv[n++] = kmigd_job_cmd(j->type);
	for (i = 0; i < j->argc; i++)
		argv[n++] = j->argv[i];
	if (has_ctl(j)) {	/* last: it wins over any the client gave */
		kmigd_job_path(j, "ctl", ctl, sizeof(ctl));
		argv[n++] = "--ctl";
		argv[n++] = ctl;
	}
	argv[n] = NULL;
	execv(d->kmig_path, (char *const *)argv);
	dprintf(2, "kmigd: cannot run %s: %s\n", d->kmig_path,
		strerror(errno));
	_exit(127);
}

static int spawn(struct kmigd *d, struct kmigd_job *j, char *err, size_t n)
{
	int logfd, nullfd, ret;
	char p[512];

	if (mkdir(j->dir, 0750) && errno != EEXIST)
		return kmig_errf(err, n, -errno, "%s: %s", j->dir,
				 strerror(errno));
	kmigd_job_path(j, "log", p, sizeof(p));
	logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		ret = kmig_errf(err, n, -errno, "%s: %s", p, strerror(errno));
		goto out;
	}
	j->started_ms = kmigd_realtime_ms();
	j->pid = fork();
	if (!j->pid)
		child(d, j, logfd, nullfd);
	if (j->pid < 0) {
		ret = kmig_errf(err, n, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	j->child = true;
	j->starttime = proc_starttime(j->pid);
	j->pidfd = pidfd_open(j->pid, 0);
	ret = j->pidfd < 0 ? -errno : kmigd_watch_add(d, j->pidfd, EPOLLIN,
						       &j->watch);
	if (ret) {
		/* unwatched, it would run unseen: stop it */
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		kmig_errf(err, n, ret, "pidfd: %s", strerror(-ret));
		goto out;
	}
	kmigd_job_save_record(j);
out:
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	return ret;
}

static void emit(struct kmigd *d, const char *event, struct kmigd_job *j)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w);
	jw_field_str(&w, "event", event);
	jw_key(&w, "job");
	if (!strcmp(event, "progress")) {
		jw_u64(&w, j->id);
		jw_key(&w, "info");
		jw_value(&w, j->info);
	} else {
		kmigd_job_write(&w, j);
	}
	jw_end(&w, '}');
	kmigd_event(d, &w);
	jw_free(&w);
}

struct kmigd_job *kmigd_job_start(struct kmigd *d, const char *type,
				  unsigned int argc, const char *const *argv,
				  int *ret, char *err, size_t n)
{
	struct kmigd_job *j;

	*ret = make_room(d);
	if (*ret) {
		snprintf(err, n, "%d jobs are running: no room for another",
			 KMIGD_MAX_JOBS);
		return NULL;
	}
	j = job_new(d, d->next_id, type, argc, argv);
	if (!j) {
		*ret = -ENOMEM;
		snprintf(err, n, "out of memory");
		return NULL;
	}
	*ret = spawn(d, j, err, n);
	if (*ret) {
		job_free(j);
		return NULL;
	}
	d->next_id++;
	d->jobs[d->njobs++] = j;
	kmigd_log(KMIGD_NOTICE, j->id, "started: kmig %s (pid %d)", j->type,
		  j->pid);
	emit(d, "started", j);
	return j;
}

struct kmigd_job *kmigd_job_find(struct kmigd *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < d->njobs; i++)
		if (d->jobs[i]->id == id)
			return d->jobs[i];
	return NULL;
}

/* A migration's control socket (jobctl.h): "ok", or "err ENAME why". */
static int ctl_request(const struct kmigd_job *j, const char *req,
		       char *err, size_t n)
{
	static const struct { const char *name; int err; } names[] = {
		{ "EINVAL", EINVAL }, { "EALREADY", EALREADY },
		{ "EBUSY", EBUSY },
	};
	char p[512], line[64], reply[MIG_JOBCTL_LINE];
	const char *why;
	size_t i;
	int ret;

	kmigd_job_path(j, "ctl", p, sizeof(p));
	snprintf(line, sizeof(line), "%s\n", req);
	ret = mig_jobctl_request(p, line, reply, sizeof(reply));
	if (ret)
		return kmig_errf(err, n, ret, "its control socket: %s",
				 strerror(-ret));
	if (!strcmp(reply, "ok"))
		return 0;
	why = strchr(reply + strcspn(reply, " ") + 1, ' ');
	ret = -EIO;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(reply, "err ", 4) &&
		    !strncmp(reply + 4, names[i].name, strlen(names[i].name)))
			ret = -names[i].err;
	return kmig_errf(err, n, ret, "%s", why ? why + 1 : reply);
}

int kmigd_job_cancel(struct kmigd_job *j, char *err, size_t n)
{
	int ret;

	if (j->state != JOB_RUNNING)
		return kmig_errf(err, n, -EALREADY, "job %u has ended (%s)",
				 j->id, kmigd_job_state_name(j->state));
	if (j->cancel)
		return kmig_errf(err, n, -EALREADY, "job %u: cancel came already",
				 j->id);
	/*
	 * A migration stops the round under way and the guest runs on
	 * here; until its control socket listens, it has not begun and a
	 * signal is as safe. Other jobs end on SIGTERM.
	 */
	ret = has_ctl(j) ? ctl_request(j, "cancel", err, n) : -ENOENT;
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		ret = pidfd_send_signal(j->pidfd, SIGTERM, NULL, 0) ? -errno : 0;
	if (ret)
		return ret;
	j->cancel = true;
	if (kmigd_job_put(j, "cancel", ""))
		kmigd_log(KMIGD_WARNING, j->id, "cannot write its cancel file");
	kmigd_log(KMIGD_NOTICE, j->id, "cancel asked");
	return 0;
}

int kmigd_job_postcopy_start(struct kmigd_job *j, char *err, size_t n)
{
	if (j->state != JOB_RUNNING)
		return kmig_errf(err, n, -EALREADY, "job %u has ended (%s)",
				 j->id, kmigd_job_state_name(j->state));
	if (!has_ctl(j))
		return kmig_errf(err, n, -EINVAL, "job %u is not a migration's source",
				 j->id);
	return ctl_request(j, "postcopy-start", err, n);
}

static void settle(struct kmigd_job *j)
{
	const struct json *status = json_get(j->info, "status");
	const struct json *e = json_get(j->info, "error");

	if (!j->exit && !j->signal)
		j->state = JOB_COMPLETED;
	else if (j->cancel)
		j->state = JOB_CANCELLED;
	else if (j->exit == 3 || (status && status->type == JSON_STRING &&
				  !strcmp(status->str, "unknown")))
		j->state = JOB_UNKNOWN;
	else
		j->state = JOB_FAILED;
	if (j->state == JOB_COMPLETED)
		return;
	if (e && e->type == JSON_STRING && e->str[0])
		snprintf(j->error, sizeof(j->error), "%s", e->str);
	else
		kmigd_job_log_error(j);
}

void kmigd_job_ended(struct kmigd *d, struct kmigd_job *j)
{
	int status;

	if (j->child && waitpid(j->pid, &status, WNOHANG) == j->pid) {
		if (WIFEXITED(status))
			j->exit = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			j->signal = WTERMSIG(status);
	} else {
		kmigd_job_read_exit(j);
	}
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, j->pidfd, NULL);
	close(j->pidfd);
	j->pidfd = -1;
	kmigd_job_load_info(j);
	kmigd_job_tail_log(j);
	j->ended_ms = kmigd_realtime_ms();
	settle(j);
	kmigd_job_save_end(j);
	kmigd_log(j->state == JOB_COMPLETED ? KMIGD_NOTICE : KMIGD_ERR, j->id,
		  "%s%s%s", kmigd_job_state_name(j->state),
		  j->error[0] ? ": " : "", j->error);
	emit(d, "ended", j);
}

void kmigd_jobs_tick(struct kmigd *d)
{
	unsigned int i;

	for (i = 0; i < d->njobs; i++) {
		struct kmigd_job *j = d->jobs[i];

		if (j->state != JOB_RUNNING)
			continue;
		if (kmigd_job_load_info(j))
			emit(d, "progress", j);
		kmigd_job_tail_log(j);
	}
}

/* A job of an earlier kmigd, from its directory. */
static struct kmigd_job *adopt(struct kmigd *d, uint32_t id)
{
	const char *argv[KMIGD_MAX_ARGS];
	struct json *rec;
	const struct json *a, *type;
	struct kmigd_job *j = NULL, probe;
	unsigned int argc = 0;
	struct stat st;
	char p[512];
	int64_t v;
	size_t i;

	snprintf(probe.dir, sizeof(probe.dir), "%s/jobs/%u", d->state_dir, id);
	rec = kmigd_job_read_json(&probe, "job.json");
	type = json_get(rec, "type");
	a = json_get(rec, "args");
	if (!type || type->type != JSON_STRING || !kmigd_job_cmd(type->str) ||
	    !a || a->type != JSON_ARRAY || a->n > KMIGD_MAX_ARGS)
		goto out;
	for (i = 0; i < a->n; i++)
		if (a->items[i].type == JSON_STRING)
			argv[argc++] = a->items[i].str;
	j = job_new(d, id, type->str, argc, argv);
	if (!j)
		goto out;
	if (!json_int(json_get(rec, "pid"), 1, INT32_MAX, &v))
		j->pid = v;
	if (!json_int(json_get(rec, "starttime"), 0, INT64_MAX, &v))
		j->starttime = v;
	if (!json_int(json_get(rec, "started"), 0, INT64_MAX, &v))
		j->started_ms = v;
	kmigd_job_path(j, "cancel", p, sizeof(p));
	j->cancel = !access(p, F_OK);
	kmigd_job_load_info(j);
	if (kmigd_job_read_end(j))
		goto out;
	if (j->pid && j->starttime && proc_starttime(j->pid) == j->starttime)
		j->pidfd = pidfd_open(j->pid, 0);
	/* one that has exited and waits for its reaper (a zombie) has
	 * ended: its pidfd reads ready */
	if (j->pidfd >= 0 && !pidfd_exited(j->pidfd) &&
	    !kmigd_watch_add(d, j->pidfd, EPOLLIN, &j->watch)) {
		kmigd_job_path(j, "log", p, sizeof(p));
		j->log_off = stat(p, &st) ? 0 : st.st_size;
		kmigd_log(KMIGD_NOTICE, id, "adopted: kmig %s (pid %d) still runs",
			  j->type, j->pid);
		goto out;
	}
	/* it ended while no kmigd watched */
	if (j->pidfd >= 0)
		close(j->pidfd);
	j->pidfd = -1;
	kmigd_job_read_exit(j);
	j->ended_ms = kmigd_realtime_ms();
	settle(j);
	kmigd_job_save_end(j);
	kmigd_log(KMIGD_NOTICE, id, "ended while kmigd was away: %s",
		  kmigd_job_state_name(j->state));
out:
	json_free(rec);
	return j;
}

static int by_id(const void *a, const void *b)
{
	const struct kmigd_job *x = *(struct kmigd_job *const *)a;
	const struct kmigd_job *y = *(struct kmigd_job *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int kmigd_jobs_init(struct kmigd *d)
{
	char dir[512], *end;
	struct dirent *e;
	unsigned long id;
	DIR *dp;

	d->next_id = 1;
	snprintf(dir, sizeof(dir), "%s/jobs", d->state_dir);
	if (mkdir(dir, 0750) && errno != EEXIST)
		return -errno;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((e = readdir(dp)) && d->njobs < KMIGD_MAX_JOBS) {
		id = strtoul(e->d_name, &end, 10);
		if (*end || !id || id > UINT32_MAX)
			continue;
		d->jobs[d->njobs] = adopt(d, id);
		if (d->jobs[d->njobs])
			d->njobs++;
		if (id >= d->next_id)
			d->next_id = id + 1;
	}
	closedir(dp);
	qsort(d->jobs, d->njobs, sizeof(d->jobs[0]), by_id);
	return 0;
}

void kmigd_jobs_free(struct kmigd *d)
{
	while (d->njobs)
		job_free(d->jobs[--d->njobs]);
}
