// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for kmig-vmm's control requests (user/vmm/req.c):
 * what any client of the control socket may send.
 *
 * Input: the request line (cut at the first newline or NUL, at most 255
 * bytes as the socket reader takes them).
 *
 * The invariants: a refusal is -EINVAL or -ERANGE with a message; an
 * accepted request's values are in their documented ranges (load 1..16
 * MiB, throttle 0..99, rate 0..2^40, hot pages at most the working set,
 * ring entries at most VMM_RING_MAX, announce frames 1..VMM_ANNOUNCE_MAX);
 * the line's words decide it, so the request parses the same again after
 * the parser cut the line into words.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "vmm.h"

#define LINE_MAX_LEN	256
#define WS_PAGES	1000

static void in_range(const struct vmm_req *r)
{
	switch (r->cmd) {
	case VMM_REQ_LOAD:
		if (!r->value || r->value > VMM_STATE_MAX)
			abort();
		break;
	case VMM_REQ_THROTTLE:
		if (r->value > 99)
			abort();
		break;
	case VMM_REQ_RATE:
		if (r->value > 1ull << 40)
			abort();
		break;
	case VMM_REQ_PATTERN:
		if (r->pattern >= GUEST_PATTERN_MAX ||
		    (r->hot && r->value > WS_PAGES) || (!r->hot && r->value))
			abort();
		break;
	case VMM_REQ_RING:	/* any GPA: the device checks it */
		if (r->entries > VMM_RING_MAX || r->hot)
			abort();
		break;
	case VMM_REQ_ANNOUNCE:
		if (!r->value || r->value > VMM_ANNOUNCE_MAX || r->hot ||
		    r->entries)
			abort();
		break;
	default:
		if (r->cmd > VMM_REQ_QUIT || r->value || r->hot || r->entries)
			abort();
	}
	if (r->force && r->cmd != VMM_REQ_RESUME)
		abort();
}

/* The words of @line joined by single spaces, at most three of them. */
static void words(char *line)
{
	char *p = line, *w, *save;
	int i;

	for (i = 0; i < 3 && (w = strtok_r(i ? NULL : line, " ", &save)); i++) {
		if (i)
			*p++ = ' ';
		memmove(p, w, strlen(w));
		p += strlen(w);
	}
	*p = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_LEN], again[LINE_MAX_LEN], err[256], err2[256];
	struct vmm_req r, r2;
	size_t n = 0;
	int ret, ret2;

	while (n < size && n + 1 < sizeof(line) && data[n] != '\n' && data[n])
		n++;
	memcpy(line, data, n);
	line[n] = 0;
	memcpy(again, line, n + 1);
	words(again);
	err[0] = 0;
	ret = vmm_req_parse(line, WS_PAGES, &r, err, sizeof(err));
	if (ret) {
		if ((ret != -EINVAL && ret != -ERANGE) || !err[0])
			abort();
	} else {
		in_range(&r);
	}
	err2[0] = 0;
	ret2 = vmm_req_parse(again, WS_PAGES, &r2, err2, sizeof(err2));
	if (ret2 != ret || strcmp(err, err2) ||
	    (!ret && memcmp(&r, &r2, sizeof(r))))
		abort();
	return 0;
}
