// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd's requests: one line of JSON each, checked field by field before
 * anything acts on it (Documentation/kmigd.rst, Requests).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kmigd.h"

static const struct {
	const char *name;
	enum kmigd_op op;
	bool job;			/* takes "job" */
	bool needs_job;
	bool args;			/* takes "args" */
} ops[] = {
	{ .name = "hello", .op = KMIGD_HELLO },
	{ .name = "start", .op = KMIGD_START, .args = true },
	{ .name = "query", .op = KMIGD_QUERY, .job = true },
	{ .name = "cancel", .op = KMIGD_CANCEL, .job = true,
	  .needs_job = true },
	{ .name = "postcopy-start", .op = KMIGD_POSTCOPY_START, .job = true,
	  .needs_job = true },
	{ .name = "recover", .op = KMIGD_RECOVER, .job = true,
	  .needs_job = true, .args = true },
	{ .name = "contexts", .op = KMIGD_CONTEXTS },
	{ .name = "devices", .op = KMIGD_DEVICES },
	{ .name = "subscribe", .op = KMIGD_SUBSCRIBE },
};

/* Job types: each is the kmig subcommand it runs. */
const char *const kmigd_job_types[] = { "migrate", "incoming",
	"postcopy-recover", "save", "restore", "colo", NULL };

const char *kmigd_job_cmd(const char *type)
{
	size_t i;

	for (i = 0; kmigd_job_types[i]; i++)
		if (!strcmp(kmigd_job_types[i], type))
			return kmigd_job_types[i];
	return NULL;
}

static int bad(char *err, size_t n, int ret, const char *what)
{
	snprintf(err, n, "%s", what);
	return ret;
}

static int args(struct kmigd_req *r, const struct json *a, char *err,
		size_t n)
{
	size_t i, len;

	if (!a)
		return 0;
	if (a->type != JSON_ARRAY)
		return bad(err, n, -EINVAL, "\"args\" is not an array of strings");
	if (a->n > KMIGD_MAX_ARGS)
		return bad(err, n, -EINVAL, "\"args\" has more than 64 strings");
	for (i = 0; i < a->n; i++) {
		if (a->items[i].type != JSON_STRING)
			return bad(err, n, -EINVAL, "\"args\" is not an array of strings");
		len = strlen(a->items[i].str);
		if (len > KMIGD_ARG_MAX)
			return bad(err, n, -EINVAL, "an argument is longer than 1024 bytes");
		/* kmigd gives a migration its control socket itself */
		if (!strcmp(a->items[i].str, "--ctl") ||
		    !strncmp(a->items[i].str, "--ctl=", 6))
			return bad(err, n, -EINVAL, "--ctl is kmigd's: its jobs' control sockets are its own");
		r->argv[r->argc++] = a->items[i].str;
	}
	return 0;
}

static int fields(struct kmigd_req *r, const struct json *t, size_t op,
		  char *err, size_t n)
{
	size_t i;
	int64_t v;

	for (i = 0; i < t->n; i++) {
		const char *k = t->keys[i];

		if (!strcmp(k, "v") || !strcmp(k, "op"))
			continue;
		if (!strcmp(k, "job") && ops[op].job)
			continue;
		if (!strcmp(k, "args") && ops[op].args)
			continue;
		if (!strcmp(k, "type") && ops[op].op == KMIGD_START)
			continue;
		snprintf(err, n, "\"%.64s\" is not a field of %s", k,
			 ops[op].name);
		return -EINVAL;
	}
	if (json_get(t, "job")) {
		if (json_int(json_get(t, "job"), 1, UINT32_MAX, &v))
			return bad(err, n, -EINVAL, "\"job\" is not a job id (1 to 4294967295)");
		r->job = v;
	} else if (ops[op].needs_job) {
		snprintf(err, n, "%s needs \"job\"", ops[op].name);
		return -EINVAL;
	}
	return args(r, json_get(t, "args"), err, n);
}

int kmigd_req_parse(struct kmigd_req *r, const char *line, size_t len,
		    char *err, size_t n)
{
	const struct json *op, *type;
	char why[128];
	int64_t v;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->tree = json_parse(line, len, why, sizeof(why));
	if (!r->tree) {
		snprintf(err, n, "not JSON: %s", why);
		return -EINVAL;
	}
	if (r->tree->type != JSON_OBJECT)
		return bad(err, n, -EINVAL, "a request is a JSON object");
	if (json_int(json_get(r->tree, "v"), 0, INT32_MAX, &v))
		return bad(err, n, -EPROTO, "\"v\", the protocol version, is missing");
	if (v != KMIGD_PROTOCOL) {
		snprintf(err, n, "protocol version %lld: this kmigd speaks %d",
			 (long long)v, KMIGD_PROTOCOL);
		return -EPROTO;
	}
	op = json_get(r->tree, "op");
	if (!op || op->type != JSON_STRING)
		return bad(err, n, -EINVAL, "\"op\" is missing");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, op->str))
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		snprintf(err, n, "unknown op \"%.64s\"", op->str);
		return -EINVAL;
	}
	r->op = ops[i].op;
	if (fields(r, r->tree, i, err, n))
		return -EINVAL;
	if (r->op != KMIGD_START)
		return 0;
	type = json_get(r->tree, "type");
	if (!type || type->type != JSON_STRING)
		return bad(err, n, -EINVAL, "start needs \"type\"");
	if (!kmigd_job_cmd(type->str)) {
		snprintf(err, n, "unknown job type \"%.64s\"", type->str);
		return -EINVAL;
	}
	r->type = type->str;
	return 0;
}

void kmigd_req_free(struct kmigd_req *r)
{
	json_free(r->tree);
	r->tree = NULL;
}
