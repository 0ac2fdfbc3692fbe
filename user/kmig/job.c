// SPDX-License-Identifier: GPL-2.0
/*
 * kmig job: a client of kmigd (Documentation/kmigd.rst). It starts jobs,
 * follows them, queries, cancels and recovers them, all through kmigd's
 * socket; `kmig --daemon CMD ARGS...` is `kmig job run CMD ARGS...`.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmigd_client.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig job [--socket PATH] [--json] COMMAND\n"
"\n"
"Talk to kmigd, the agent as a service, which runs migration jobs.\n"
"\n"
"Commands:\n"
"  start TYPE [ARGS...]    start a job (TYPE: migrate, incoming, save,\n"
"                          restore, postcopy-recover, colo; ARGS: that\n"
"                          kmig command's); print its id\n"
"  run TYPE [ARGS...]      start a job and follow it to its end\n"
"  wait ID                 follow job ID to its end\n"
"  list                    every job kmigd knows\n"
"  info ID                 one job, with its job info\n"
"  cancel ID               cancel job ID (a migration: before switchover)\n"
"  postcopy-start ID       switch migration ID to postcopy\n"
"  recover ID [ARGS...]    recover postcopy migration ID after a cut link\n"
"  contexts | devices      the module's contexts, its devices\n"
"  events                  print kmigd's events as they come\n"
"\n"
"  --socket PATH   kmigd's socket (default " KMIGD_SOCKET ")\n"
"  --json          kmigd's replies as they are\n"
"\n"
"run and wait exit 0 when the job completed, 1 when it failed or was\n"
"cancelled, 3 when where the guest runs is not known.\n";

struct job_cli {
	const char *socket;
	bool json;
	struct kmigd_client c;
	char err[1024];
};

static void add_args(struct jw *w, int argc, char *argv[])
{
	int i;

	jw_key(w, "args");
	jw_array(w);
	for (i = 0; i < argc; i++)
		jw_str(w, argv[i]);
	jw_end(w, ']');
}

/*
 * Request @op (for job @id unless 0, with @type and @argv when given):
 * kmigd's reply, or NULL after saying why.
 */
static struct json *call(struct job_cli *k, const char *op, uint64_t id,
			 const char *type, int argc, char *argv[])
{
	struct json *reply = NULL;
	struct jw w;
	int ret;

	jw_init(&w);
	jw_object(&w);
	jw_field_u64(&w, "v", 1);
	jw_field_str(&w, "op", op);
	if (id)
		jw_field_u64(&w, "job", id);
	if (type)
		jw_field_str(&w, "type", type);
	if (argv)
		add_args(&w, argc, argv);
	jw_end(&w, '}');
	if (jw_text(&w))
		reply = kmigd_client_call(&k->c, jw_text(&w), &ret, k->err,
					  sizeof(k->err));
	else
		snprintf(k->err, sizeof(k->err), "out of memory");
	jw_free(&w);
	if (!reply)
		fprintf(stderr, "kmig job %s: %s\n", op, k->err);
	return reply;
}

static void print_json(const struct json *j)
{
	struct jw w;

	jw_init(&w);
	jw_value(&w, j);
	if (jw_text(&w))
		printf("%s\n", jw_text(&w));
	jw_free(&w);
	fflush(stdout);
}

/* One job record, for a person. */
static void show(const struct json *job)
{
	const struct json *info = json_get(job, "info");

	printf("job %llu: %s %s", (unsigned long long)json_get_u64(job, "id"),
	       json_get_str(job, "type"), json_get_str(job, "state"));
	if (*json_get_str(job, "error"))
		printf(": %s", json_get_str(job, "error"));
	printf("\n");
	if (!info || info->type != JSON_OBJECT)
		return;
	printf("  %s, %llu of %llu bytes, round %llu, %llu ms, downtime %llu ms\n",
	       json_get_str(info, "status"),
	       (unsigned long long)json_get_u64(info, "data_processed"),
	       (unsigned long long)json_get_u64(info, "data_total"),
	       (unsigned long long)json_get_u64(info, "memory_iteration"),
	       (unsigned long long)json_get_u64(info, "time_elapsed"),
	       (unsigned long long)json_get_u64(info, "downtime"));
}

static int exit_status(const struct json *job)
{
	const char *state = json_get_str(job, "state");

	return !strcmp(state, "completed") ? 0 :
	       !strcmp(state, "unknown") ? 3 : 1;
}

/*
 * Follow job @id to its end on a second connection subscribed to events:
 * subscribed first, then asked, so that no end goes unseen.
 */
static int follow(struct job_cli *k, uint64_t id)
{
	struct json *ev = NULL, *reply;
	const struct json *job;
	int ret, status = 1;

	reply = call(k, "subscribe", 0, NULL, 0, NULL);
	json_free(reply);
	if (!reply)
		return 1;
	reply = call(k, "query", id, NULL, 0, NULL);
	if (!reply)
		return 1;
	job = json_get(reply, "job");
	while (strcmp(json_get_str(job, "state"), "running") == 0) {
		json_free(ev);
		ev = kmigd_client_recv(&k->c, &ret, k->err, sizeof(k->err));
		if (!ev) {
			fprintf(stderr, "kmig job: %s\n", k->err);
			goto out;
		}
		if (strcmp(json_get_str(ev, "event"), "ended") ||
		    json_get_u64(json_get(ev, "job"), "id") != id)
			continue;
		job = json_get(ev, "job");
	}
	if (k->json)
		print_json(job);
	else
		show(job);
	status = exit_status(job);
out:
	json_free(ev);
	json_free(reply);
	return status;
}

static int events(struct job_cli *k)
{
	struct json *ev;
	int ret;

	ev = call(k, "subscribe", 0, NULL, 0, NULL);
	if (!ev)
		return 1;
	for (;;) {
		json_free(ev);
		ev = kmigd_client_recv(&k->c, &ret, k->err, sizeof(k->err));
		if (!ev) {
			fprintf(stderr, "kmig job events: %s\n", k->err);
			return 1;
		}
		print_json(ev);
	}
}

static int parse_id(const char *cmd, int argc, char *argv[], uint64_t *id)
{
	char *end;

	if (argc < 2) {
		fprintf(stderr, "kmig job %s: a job ID is required\n", cmd);
		return -EINVAL;
	}
	errno = 0;
	*id = strtoull(argv[1], &end, 10);
	if (errno || *end || !*id || *id > UINT32_MAX) {
		fprintf(stderr, "kmig job %s: '%s' is not a job ID\n", cmd,
			argv[1]);
		return -EINVAL;
	}
	return 0;
}

static int command(struct job_cli *k, int argc, char *argv[])
{
	const char *cmd = argv[0];
	struct json *reply = NULL;
	const struct json *jobs;
	uint64_t id = 0;
	size_t i;

	if (!strcmp(cmd, "start") || !strcmp(cmd, "run")) {
		if (argc < 2) {
			fprintf(stderr, "kmig job %s: a job TYPE is required\n", cmd);
			return 2;
		}
		reply = call(k, "start", 0, argv[1], argc - 2, argv + 2);
		if (!reply)
			return 1;
		id = json_get_u64(reply, "job");
		if (!strcmp(cmd, "run")) {
			json_free(reply);
			return follow(k, id);
		}
		if (k->json)
			print_json(reply);
		else
			printf("%llu\n", (unsigned long long)id);
		json_free(reply);
		return 0;
	}
	if (!strcmp(cmd, "list") || !strcmp(cmd, "contexts") ||
	    !strcmp(cmd, "devices")) {
		if (argc != 1) {
			fprintf(stderr, "kmig job %s: takes no arguments\n", cmd);
			return 2;
		}
		reply = call(k, !strcmp(cmd, "list") ? "query" : cmd, 0, NULL,
			     0, NULL);
		if (!reply)
			return 1;
		jobs = json_get(reply, "jobs");
		if (k->json || !jobs)
			print_json(reply);
		else
			for (i = 0; i < jobs->n; i++)
				show(&jobs->items[i]);
		json_free(reply);
		return 0;
	}
	if (!strcmp(cmd, "events"))
		return events(k);
	if (strcmp(cmd, "wait") && strcmp(cmd, "info") &&
	    strcmp(cmd, "cancel") && strcmp(cmd, "postcopy-start") &&
	    strcmp(cmd, "recover")) {
		fprintf(stderr, "kmig job: unknown command '%s'\n\n%s", cmd,
			usage);
		return 2;
	}
	if (parse_id(cmd, argc, argv, &id))
		return 2;
	if (strcmp(cmd, "recover") && argc != 2) {
		fprintf(stderr, "kmig job %s: takes only a job ID\n", cmd);
		return 2;
	}
	if (!strcmp(cmd, "wait"))
		return follow(k, id);
	if (!strcmp(cmd, "recover")) {
		reply = call(k, "recover", id, NULL, argc - 2, argv + 2);
		if (!reply)
			return 1;
		id = json_get_u64(reply, "job");
		json_free(reply);
		return follow(k, id);
	}
	reply = call(k, !strcmp(cmd, "info") ? "query" : cmd, id, NULL, 0,
		     NULL);
	if (!reply)
		return 1;
	if (k->json)
		print_json(reply);
	else if (!strcmp(cmd, "info"))
		show(json_get(reply, "job"));
	json_free(reply);
	return 0;
}

int job_run(const char *socket, bool json, int argc, char *argv[])
{
	struct job_cli k = { .socket = socket ? socket : KMIGD_SOCKET,
			     .json = json };
	int status;

	if (kmigd_client_open(&k.c, k.socket, k.err, sizeof(k.err))) {
		fprintf(stderr, "kmig job: %s\n", k.err);
		return 1;
	}
	status = command(&k, argc, argv);
	kmigd_client_close(&k.c);
	return status;
}

int job_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *socket = NULL;
	bool json = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "kmig job: a command is required\n\n%s", usage);
		return 2;
	}
	return job_run(socket, json, argc - optind, argv + optind);
}
