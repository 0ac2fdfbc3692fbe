/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmigd: the kmig agent as a host service (Documentation/kmigd.rst).
 *
 *   main.c    options, the socket, the event loop, signals, module events
 *   conn.c    client connections: requests in, replies and events out,
 *             who may connect
 *   jobs.c    jobs: each a `kmig` process kmigd starts, watches through a
 *             pidfd and its job directory, cancels, and adopts again
 *             after a restart
 *   proto.c   a request line into struct kmigd_req, every field checked
 *   log.c     log lines with priorities, for the journal
 *
 * One thread. Nothing a client sends can block the loop: sockets are
 * non-blocking and a request is one bounded line. The one wait is on a
 * job's control socket (cancel, postcopy-start): a local one that the
 * job's own thread answers at once, waited on for 5 s at most.
 */
#ifndef KMIGD_H
#define KMIGD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"

#define KMIGD_PROTOCOL	1
#define KMIGD_LINE_MAX	65536		/* a request, its newline included */
#define KMIGD_MAX_ARGS	64
#define KMIGD_ARG_MAX	1024
#define KMIGD_MAX_JOBS	256		/* ended ones beyond are forgotten */
#define KMIGD_MAX_CONNS	64
#define KMIGD_OUT_MAX	(1 << 20)	/* a client that reads no more */

/* proto.c */
enum kmigd_op {
	KMIGD_HELLO, KMIGD_START, KMIGD_QUERY, KMIGD_CANCEL,
	KMIGD_POSTCOPY_START, KMIGD_RECOVER, KMIGD_CONTEXTS, KMIGD_DEVICES,
	KMIGD_SUBSCRIBE,
};

struct kmigd_req {
	enum kmigd_op op;
	uint32_t job;			/* 0: not given */
	const char *type;		/* start: a job type */
	unsigned int argc;		/* start, recover */
	const char *argv[KMIGD_MAX_ARGS];
	struct json *tree;		/* what the strings point into */
};

/* @line (@len bytes, no newline): 0, or -EINVAL/-EPROTO with why in @err. */
int kmigd_req_parse(struct kmigd_req *r, const char *line, size_t len,
		    char *err, size_t n);
void kmigd_req_free(struct kmigd_req *r);
/* The job types, NULL-terminated; each is the kmig subcommand it runs. */
extern const char *const kmigd_job_types[];
/* The kmig subcommand a job type runs, or NULL for no such type. */
const char *kmigd_job_cmd(const char *type);

/* log.c: one line to stderr, "<PRIO>" first for the journal. */
enum { KMIGD_ERR = 3, KMIGD_WARNING = 4, KMIGD_NOTICE = 5, KMIGD_INFO = 6 };
void kmigd_log(int prio, uint32_t job, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* jobs.c */
enum kmigd_job_state { JOB_RUNNING, JOB_COMPLETED, JOB_FAILED,
		       JOB_CANCELLED, JOB_UNKNOWN };

struct kmigd_watch {
	int kind;			/* WATCH_* of main.c */
	void *p;
};

struct kmigd_job {
	struct kmigd_watch watch;	/* its pidfd's */
	uint32_t id;
	char type[24];
	unsigned int argc;
	char **argv;			/* the client's arguments */
	pid_t pid;
	int pidfd;			/* -1 once ended */
	uint64_t starttime;		/* /proc/PID/stat's, against PID reuse */
	bool child;			/* started by this kmigd: it reaps */
	bool cancel;			/* cancel was asked */
	enum kmigd_job_state state;
	int exit;			/* -1: none known */
	int signal;			/* 0: none */
	int64_t started_ms, ended_ms;	/* CLOCK_REALTIME */
	char error[512];
	struct json *info;		/* its last info.json */
	int64_t info_mtime_ns;
	off_t log_off;			/* read into the log up to here */
	char dir[128];
};

struct kmigd;
int kmigd_jobs_init(struct kmigd *d);
void kmigd_jobs_free(struct kmigd *d);
struct kmigd_job *kmigd_job_find(struct kmigd *d, uint32_t id);
/* Start a job of @type with @argv: it, or NULL with why in @err. */
struct kmigd_job *kmigd_job_start(struct kmigd *d, const char *type,
				  unsigned int argc, const char *const *argv,
				  int *ret, char *err, size_t n);
int kmigd_job_cancel(struct kmigd_job *j, char *err, size_t n);
int kmigd_job_postcopy_start(struct kmigd_job *j, char *err, size_t n);
/* Its pidfd became readable: the job ended. */
void kmigd_job_ended(struct kmigd *d, struct kmigd_job *j);
/* Every 250 ms: new job info and log lines. */
void kmigd_jobs_tick(struct kmigd *d);

/* record.c: the job's directory */
const char *kmigd_job_state_name(enum kmigd_job_state s);
void kmigd_job_path(const struct kmigd_job *j, const char *name, char *buf,
		    size_t n);
struct json *kmigd_job_read_json(const struct kmigd_job *j, const char *name);
int kmigd_job_put(const struct kmigd_job *j, const char *name,
		  const char *text);
void kmigd_job_save_record(const struct kmigd_job *j);
void kmigd_job_save_end(const struct kmigd_job *j);
bool kmigd_job_read_end(struct kmigd_job *j);
void kmigd_job_write(struct jw *w, const struct kmigd_job *j);
bool kmigd_job_load_info(struct kmigd_job *j);
void kmigd_job_tail_log(struct kmigd_job *j);
void kmigd_job_log_error(struct kmigd_job *j);
void kmigd_job_read_exit(struct kmigd_job *j);

/* conn.c */
struct kmigd_conn;
void kmigd_conn_accept(struct kmigd *d);
void kmigd_conn_io(struct kmigd *d, struct kmigd_conn *c, uint32_t events);
/* Close the connections that failed or ended (@all: every one). Only
 * between event batches: nothing of a batch may point at a closed one. */
void kmigd_conns_sweep(struct kmigd *d, bool all);
/* An event (a whole JSON object in @w) to every subscriber. */
void kmigd_event(struct kmigd *d, struct jw *w);

struct kmigd {
	const char *sock_path, *state_dir, *kmig_path;
	gid_t group;			/* may connect besides root and us */
	bool have_group;
	int epfd, lfd;
	struct kmigd_watch lwatch;
	struct kmigd_job *jobs[KMIGD_MAX_JOBS];
	unsigned int njobs;
	uint32_t next_id;
	struct kmigd_conn *conns;
	unsigned int nconns;
};

enum { WATCH_LISTEN, WATCH_CONN, WATCH_JOB, WATCH_TIMER, WATCH_SIGNAL,
       WATCH_NETLINK };

int kmigd_watch_add(struct kmigd *d, int fd, uint32_t events,
		    struct kmigd_watch *w);
int64_t kmigd_realtime_ms(void);

#endif /* KMIGD_H */
