// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for kmigd's requests (user/kmigd/proto.c,
 * kmigd_req_parse()) and the JSON under them (user/lib/json.c).
 *
 * Input: one request line, as a client would send it.
 *
 * The invariants: a refusal says why; an accepted request is whole (a
 * start has a known type, a cancel a job, every argument a string
 * without --ctl); and any JSON the parser takes, the writer writes back
 * as JSON the parser takes again, and writes the same way twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kmigd.h"

static void round_trip(const char *text, size_t len)
{
	struct json *a, *b;
	struct jw w1, w2;
	char why[128];

	a = json_parse(text, len, why, sizeof(why));
	if (!a)
		return;
	jw_init(&w1);
	jw_value(&w1, a);
	if (!jw_text(&w1))
		abort();
	b = json_parse(jw_text(&w1), strlen(jw_text(&w1)), why, sizeof(why));
	if (!b)
		abort();
	jw_init(&w2);
	jw_value(&w2, b);
	if (!jw_text(&w2) || strcmp(jw_text(&w1), jw_text(&w2)))
		abort();
	jw_free(&w1);
	jw_free(&w2);
	json_free(a);
	json_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct kmigd_req r;
	char err[256];
	unsigned int i;

	if (size >= KMIGD_LINE_MAX)
		return 0;
	round_trip(text, size);
	err[0] = '\0';
	if (kmigd_req_parse(&r, text, size, err, sizeof(err))) {
		if (!err[0])
			abort();
		kmigd_req_free(&r);
		return 0;
	}
	if (r.op == KMIGD_START && (!r.type || !kmigd_job_cmd(r.type)))
		abort();
	if ((r.op == KMIGD_CANCEL || r.op == KMIGD_POSTCOPY_START ||
	     r.op == KMIGD_RECOVER) && !r.job)
		abort();
	for (i = 0; i < r.argc; i++)
		if (!r.argv[i] || !strcmp(r.argv[i], "--ctl") ||
		    !strncmp(r.argv[i], "--ctl=", 6))
			abort();
	kmigd_req_free(&r);
	return 0;
}
