// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the VMM client's reply parsers (user/vmm/client/):
 * what a VMM, or whatever answers on its socket, says to the agent.
 *
 * Input: the bytes the VMM sends. The client reads the first line of them
 * as the reply to `status` through a socketpair (vmm_client_status());
 * that line, and the input's first line as a string, go to each parser.
 *
 * The invariants: a reply's verdict is 0 exactly for "ok" and "ok ...",
 * a named errno for "err ENAME" (EIO for a name it does not know), else
 * -EPROTO; the client over the socket agrees with the parsers on the
 * same line, or says -EMSGSIZE for a line longer than its buffer and
 * -ECONNRESET for one that never ends; parsed slots are at most the room
 * given, each with fd -1; a parsed length is 1 byte to 64 MiB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

#define MAX_SLOTS	4
#define MAX_INPUT	4096

static void check_reply(const char *line)
{
	int ret = vmm_client_parse_reply(line);

	if (!strncmp(line, "ok", 2) && (!line[2] || line[2] == ' ')) {
		if (ret)
			abort();
	} else if (ret != -EPROTO &&
		   (strncmp(line, "err", 3) || ret >= 0 || ret <= -200)) {
		abort();
	}
}

static void check_parsers(const char *line)
{
	struct vmm_client_slot *slots = calloc(MAX_SLOTS, sizeof(*slots));
	struct vmm_status st;
	unsigned int n, i;
	size_t len;

	if (!slots)
		abort();
	check_reply(line);
	if (!vmm_client_parse_status(line, &st) &&
	    strnlen(st.state, sizeof(st.state)) == sizeof(st.state))
		abort();
	if (!vmm_client_parse_len(line, &len) && (!len || len > 64u << 20))
		abort();
	if (!vmm_client_parse_slots(line, slots, MAX_SLOTS, &n)) {
		if (n > MAX_SLOTS)
			abort();
		for (i = 0; i < n; i++)
			if (slots[i].fd != -1)
				abort();
	}
	free(slots);
}

/* The client reading @p through a socket: vmm_client_status()'s answer. */
static int status_sock(const uint8_t *p, size_t n, struct vmm_client *c,
		       struct vmm_status *st)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (n && send(sv[1], p, n, MSG_NOSIGNAL) != (ssize_t)n)
		abort();
	shutdown(sv[1], SHUT_WR);
	c->fd = sv[0];
	ret = vmm_client_status(c, st);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

/* What the socket reader should say about @p. */
static void same(const uint8_t *p, size_t n, int ret, const struct vmm_client *c,
		 const struct vmm_status *st)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t len = nl ? (size_t)(nl - p) : n;
	struct vmm_status want;
	int expect;

	memset(&want, 0, sizeof(want));
	if (len >= sizeof(c->reply) - 1) {
		if (ret != -EMSGSIZE)
			abort();
		return;
	}
	if (!nl) {
		if (ret != -ECONNRESET)
			abort();
		return;
	}
	if (memcmp(c->reply, p, len) || c->reply[len])
		abort();
	if (memchr(p, 0, len))
		return;		/* the string ends before the line */
	expect = vmm_client_parse_reply(c->reply);
	if (!expect)
		expect = vmm_client_parse_status(c->reply, &want);
	if (ret != expect || (!ret && memcmp(&want, st, sizeof(want))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;
	char *line;
	int ret;

	if (size > MAX_INPUT)
		return 0;
	line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, data, size);
	line[size] = 0;
	line[strcspn(line, "\n")] = 0;
	check_parsers(line);
	free(line);
	memset(&st, 0, sizeof(st));
	ret = status_sock(data, size, &c, &st);
	same(data, size, ret, &c, &st);
	return 0;
}
