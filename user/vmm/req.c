// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's requests, parsed (Documentation/vmm.rst): a line
 * in, what to do out, or the refusal's errno and message. No VM state is
 * read or changed here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "vmm.h"

const char *const vmm_patterns[GUEST_PATTERN_MAX] = {
	[GUEST_PATTERN_NONE] = "none",
	[GUEST_PATTERN_SEQ] = "seq",
	[GUEST_PATTERN_RANDOM] = "random",
	[GUEST_PATTERN_HOT] = "hot",
};

static const char *const cmds[] = {
	[VMM_REQ_STATUS] = "status", [VMM_REQ_PAUSE] = "pause",
	[VMM_REQ_RESUME] = "resume", [VMM_REQ_MIGRATED] = "migrated",
	[VMM_REQ_SAVE] = "save", [VMM_REQ_LOAD] = "load",
	[VMM_REQ_THROTTLE] = "throttle", [VMM_REQ_RATE] = "rate",
	[VMM_REQ_PATTERN] = "pattern", [VMM_REQ_CHECKSUM] = "checksum",
	[VMM_REQ_MEMFD] = "memfd", [VMM_REQ_CTX] = "ctx",
	[VMM_REQ_DIRTYLOG] = "dirtylog", [VMM_REQ_UNMAP] = "unmap",
	[VMM_REQ_MAP] = "map", [VMM_REQ_NET] = "net",
	[VMM_REQ_RING] = "ring", [VMM_REQ_VCPUS] = "vcpus",
	[VMM_REQ_ANNOUNCE] = "announce", [VMM_REQ_QUIT] = "quit",
};

static int refuse(char *err, size_t n, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(char *err, size_t n, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return ret;
}

static int number(const char *what, const char *arg, unsigned long max,
		  uint64_t *v, char *err, size_t n)
{
	unsigned long x;
	char *end;

	x = strtoul(arg ? arg : "", &end, 10);
	if (!arg || !*arg || *end || x > max)
		return refuse(err, n, -ERANGE,
			      "%s: need a number from 0 to %lu", what, max);
	*v = x;
	return 0;
}

static int load_len(const char *arg, uint64_t *len, char *err, size_t n)
{
	unsigned long x;
	char *end;

	x = strtoul(arg ? arg : "", &end, 10);
	if (!arg || *end || !x || x > VMM_STATE_MAX)
		return refuse(err, n, -EINVAL,
			      "load: need a length of 1..16777216 bytes");
	*len = x;
	return 0;
}

/* `ring GPA [ENTRIES]`: GPA in hex (0x...) or decimal. */
static int ring(struct vmm_req *r, const char *gpa, const char *entries,
		char *err, size_t n)
{
	unsigned long long x;
	uint64_t e = 0;
	char *end;

	x = strtoull(gpa ? gpa : "", &end, 0);
	if (!gpa || !*gpa || *end)
		return refuse(err, n, -EINVAL,
			      "ring: say 'ring GPA [ENTRIES]' (GPA of its descriptor page)");
	r->value = x;
	if (entries && (number("ring entries", entries, VMM_RING_MAX, &e,
			       err, n) || !e))
		return refuse(err, n, -ERANGE,
			      "ring entries: need a number from 1 to %u",
			      VMM_RING_MAX);
	r->entries = e;
	return 0;
}

static int pattern(struct vmm_req *r, const char *name, const char *hot,
		   uint32_t ws_pages, char *err, size_t n)
{
	for (r->pattern = 0; r->pattern < GUEST_PATTERN_MAX; r->pattern++)
		if (name && !strcmp(name, vmm_patterns[r->pattern]))
			break;
	if (r->pattern == GUEST_PATTERN_MAX)
		return refuse(err, n, -EINVAL,
			      "pattern: none, seq, random or hot");
	r->hot = hot != NULL;
	return hot ? number("pattern hot pages", hot, ws_pages, &r->value,
			    err, n) : 0;
}

/* The arguments of command @r->cmd. */
static int args(struct vmm_req *r, const char *a1, const char *a2,
		uint32_t ws_pages, char *err, size_t n)
{
	switch (r->cmd) {
	case VMM_REQ_RESUME:
		r->force = a1 && !strcmp(a1, "force");
		if (a1 && !r->force)
			return refuse(err, n, -EINVAL,
				      "resume: say 'resume' or 'resume force'");
		return 0;
	case VMM_REQ_LOAD:
		return load_len(a1, &r->value, err, n);
	case VMM_REQ_THROTTLE:
		return number("throttle", a1, 99, &r->value, err, n);
	case VMM_REQ_RATE:
		return number("rate", a1, 1ul << 40, &r->value, err, n);
	case VMM_REQ_PATTERN:
		return pattern(r, a1, a2, ws_pages, err, n);
	case VMM_REQ_RING:
		return ring(r, a1, a2, err, n);
	case VMM_REQ_DIRTYLOG:
		if (!a1 || strcmp(a1, "at-resume"))
			return refuse(err, n, -EINVAL,
				      "dirtylog: say 'dirtylog at-resume'");
		return 0;
	case VMM_REQ_ANNOUNCE:
		r->value = VMM_ANNOUNCE_FRAMES;
		if (a1 && (number("announce", a1, VMM_ANNOUNCE_MAX, &r->value,
				  err, n) || !r->value))
			return refuse(err, n, -ERANGE,
				      "announce: need a number of frames from 1 to %u",
				      VMM_ANNOUNCE_MAX);
		return 0;
	case VMM_REQ_NET:
		r->on = a1 && !strcmp(a1, "on");
		if (!a1 || (!r->on && strcmp(a1, "off")))
			return refuse(err, n, -EINVAL,
				      "net: say 'net on' or 'net off'");
		return 0;
	default:
		return 0;
	}
}

int vmm_req_parse(char *line, uint32_t ws_pages, struct vmm_req *r,
		  char *err, size_t n)
{
	char *save_ptr, *cmd = strtok_r(line, " ", &save_ptr);
	char *a1 = strtok_r(NULL, " ", &save_ptr);
	char *a2 = strtok_r(NULL, " ", &save_ptr);
	unsigned int i;

	memset(r, 0, sizeof(*r));
	if (!cmd)
		return refuse(err, n, -EINVAL, "empty request");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i]))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return refuse(err, n, -EINVAL, "unknown command '%.32s'", cmd);
	r->cmd = i;
	return args(r, a1, a2, ws_pages, err, n);
}
