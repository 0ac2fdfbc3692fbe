// SPDX-License-Identifier: GPL-2.0
/*
 * A job's directory, STATE/jobs/ID (jobs.c lists its files): the records
 * kmigd writes (job.json, end.json, cancel), and what it reads of what the
 * job writes (info.json, log, exit). Each record is written whole under a
 * temporary name and renamed, so a reader sees the old one or the new.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmigd.h"
#include "util.h"

static const char *const state_names[] = {
	[JOB_RUNNING] = "running",
	[JOB_COMPLETED] = "completed",
	[JOB_FAILED] = "failed",
	[JOB_CANCELLED] = "cancelled",
	[JOB_UNKNOWN] = "unknown",
};

const char *kmigd_job_state_name(enum kmigd_job_state s)
{
	return state_names[s];
}

void kmigd_job_path(const struct kmigd_job *j, const char *name, char *buf,
		 size_t n)
{
	snprintf(buf, n, "%s/%s", j->dir, name);
}

/* A small file of the job's directory, NUL-terminated, or NULL. */
static char *slurp(const struct kmigd_job *j, const char *name, size_t max)
{
	char p[512], *buf;
	ssize_t len;
	int fd;

	kmigd_job_path(j, name, p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	len = buf ? read(fd, buf, max) : -1;
	close(fd);
	if (len < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

struct json *kmigd_job_read_json(const struct kmigd_job *j, const char *name)
{
	char *text = slurp(j, name, KMIGD_LINE_MAX), why[128];
	struct json *t;

	if (!text)
		return NULL;
	t = json_parse(text, strlen(text), why, sizeof(why));
	free(text);
	return t;
}

int kmigd_job_put(const struct kmigd_job *j, const char *name,
		    const char *text)
{
	char p[512], tmp[520];
	FILE *f;

	kmigd_job_path(j, name, p, sizeof(p));
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) || rename(tmp, p)) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static void write_args(struct jw *w, const struct kmigd_job *j)
{
	unsigned int i;

	jw_key(w, "args");
	jw_array(w);
	for (i = 0; i < j->argc; i++)
		jw_str(w, j->argv[i]);
	jw_end(w, ']');
}

void kmigd_job_save_record(const struct kmigd_job *j)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w);
	jw_field_u64(&w, "id", j->id);
	jw_field_str(&w, "type", j->type);
	write_args(&w, j);
	jw_key(&w, "pid");
	jw_i64(&w, j->pid);
	jw_field_u64(&w, "starttime", j->starttime);
	jw_key(&w, "started");
	jw_i64(&w, j->started_ms);
	jw_end(&w, '}');
	if (jw_text(&w) && kmigd_job_put(j, "job.json", jw_text(&w)))
		kmigd_log(KMIGD_WARNING, j->id, "cannot write job.json");
	jw_free(&w);
}

static void write_end(struct jw *w, const struct kmigd_job *j)
{
	jw_field_str(w, "state", kmigd_job_state_name(j->state));
	jw_key(w, "exit");
	if (j->exit >= 0)
		jw_i64(w, j->exit);
	else
		jw_null(w);
	jw_key(w, "signal");
	jw_i64(w, j->signal);
	jw_key(w, "ended");
	if (j->state == JOB_RUNNING)
		jw_null(w);
	else
		jw_i64(w, j->ended_ms);
	jw_field_str(w, "error", j->error);
}

void kmigd_job_save_end(const struct kmigd_job *j)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w);
	write_end(&w, j);
	jw_end(&w, '}');
	if (jw_text(&w) && kmigd_job_put(j, "end.json", jw_text(&w)))
		kmigd_log(KMIGD_WARNING, j->id, "cannot write end.json");
	jw_free(&w);
}

void kmigd_job_write(struct jw *w, const struct kmigd_job *j)
{
	jw_object(w);
	jw_field_u64(w, "id", j->id);
	jw_field_str(w, "type", j->type);
	write_args(w, j);
	jw_key(w, "pid");
	jw_i64(w, j->pid);
	jw_key(w, "started");
	jw_i64(w, j->started_ms);
	write_end(w, j);
	jw_key(w, "cancel_requested");
	jw_bool(w, j->cancel);
	jw_key(w, "info");
	if (j->info)
		jw_value(w, j->info);
	else
		jw_null(w);
	jw_end(w, '}');
}

/* A newer info.json: read it. Whether it changed. */
bool kmigd_job_load_info(struct kmigd_job *j)
{
	struct json *info;
	struct stat st;
	char p[512];

	kmigd_job_path(j, "info.json", p, sizeof(p));
	if (stat(p, &st))
		return false;
	if (st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec ==
	    j->info_mtime_ns && j->info)
		return false;
	info = kmigd_job_read_json(j, "info.json");
	if (!info || info->type != JSON_OBJECT) {
		json_free(info);
		return false;
	}
	json_free(j->info);
	j->info = info;
	j->info_mtime_ns = st.st_mtim.tv_sec * 1000000000ll +
			   st.st_mtim.tv_nsec;
	return true;
}

/* New whole lines of the job's log, into kmigd's. */
void kmigd_job_tail_log(struct kmigd_job *j)
{
	char p[512], buf[8192], *line, *nl;
	ssize_t len;
	int fd;

	kmigd_job_path(j, "log", p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((len = pread(fd, buf, sizeof(buf) - 1, j->log_off)) > 0) {
		buf[len] = '\0';
		line = buf;
		while ((nl = memchr(line, '\n', buf + len - line))) {
			*nl = '\0';
			kmigd_log(KMIGD_INFO, j->id, "%s", line);
			line = nl + 1;
		}
		if (line == buf) {	/* a line longer than buf: cut it */
			kmigd_log(KMIGD_INFO, j->id, "%s", buf);
			line = buf + len;
		}
		j->log_off += line - buf;
		if (len < (ssize_t)sizeof(buf) - 1)
			break;
	}
	close(fd);
}

/* Why the job ended, from the last line of its log that says something. */
void kmigd_job_log_error(struct kmigd_job *j)
{
	char *text = slurp(j, "log", 1 << 20), *end, *last = "";

	if (text) {
		end = text + strlen(text);
		while (end > text && (end[-1] == '\n' || end[-1] == ' '))
			*--end = '\0';
		last = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
	}
	if (j->state == JOB_CANCELLED)
		snprintf(j->error, sizeof(j->error), "cancelled");
	else if (j->signal)
		snprintf(j->error, sizeof(j->error), "ended by %s%s%s",
			 strsignal(j->signal), *last ? "; its log's last line: " : "",
			 last);
	else if (j->exit < 0)
		snprintf(j->error, sizeof(j->error),
			 "ended without an exit status (killed while kmigd was away)%s%s",
			 *last ? "; its log's last line: " : "", last);
	else if (*last)
		snprintf(j->error, sizeof(j->error), "%s", last);
	else
		snprintf(j->error, sizeof(j->error), "exit status %d", j->exit);
	free(text);
}

void kmigd_job_read_exit(struct kmigd_job *j)
{
	char *text = slurp(j, "exit", 32);

	if (!text || sscanf(text, "%d", &j->exit) != 1)
		j->exit = -1;
	free(text);
}

/*
 * How the job ended, from its end.json: whether there is one. A state
 * kmigd does not know, or "running", reads as unknown.
 */
bool kmigd_job_read_end(struct kmigd_job *j)
{
	struct json *end = kmigd_job_read_json(j, "end.json");
	const struct json *s, *e;
	unsigned int i;
	int64_t v;

	if (!end)
		return false;
	s = json_get(end, "state");
	for (i = JOB_COMPLETED; s && s->type == JSON_STRING &&
	     i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (!strcmp(state_names[i], s->str))
			j->state = i;
	if (j->state == JOB_RUNNING)
		j->state = JOB_UNKNOWN;
	if (!json_int(json_get(end, "exit"), 0, 255, &v))
		j->exit = v;
	if (!json_int(json_get(end, "ended"), 0, INT64_MAX, &v))
		j->ended_ms = v;
	e = json_get(end, "error");
	if (e && e->type == JSON_STRING)
		snprintf(j->error, sizeof(j->error), "%s", e->str);
	json_free(end);
	return true;
}
