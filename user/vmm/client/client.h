/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Client of kmig-vmm's control socket (Documentation/vmm.rst), for the
 * agent and the tests. Functions return 0 or -errno; for a refusal by the
 * VMM the errno is the one it named, and c->reply holds its message
 * ("err ENAME ..."); when no reply came (the VMM is gone), c->reply is
 * empty.
 */
#ifndef KMIG_VMM_CLIENT_H
#define KMIG_VMM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most vCPU state the VMM's "load" takes, in bytes. */
#define VMM_STATE_MAX	(16u << 20)

struct vmm_client {
	int fd;
	char reply[1024];
};

struct vmm_status {
	char state[16];
	unsigned int vcpus;
	uint64_t counter;
	uint64_t writes;
	uint64_t throttled_ms;
	uint32_t ws_pages;
	uint64_t mem;
	/* The network device; 0 from a VMM that does not report them. */
	uint64_t net_sent;		/* frames sent out of its interface */
	uint64_t net_seq;		/* the guest's last frame number */
	uint64_t net_dropped;		/* discarded (net off) or lost */
	uint64_t net_announced;		/* announce frames sent */
};

struct vmm_client_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	int fd;
	bool huge;			/* ctx's ":huge": KMIG_SLOT_HUGE */
};

/* Connect to @path (a file, or "@name" in the abstract namespace),
 * retrying for up to @timeout_ms while the VMM starts. */
int vmm_client_connect(struct vmm_client *c, const char *path,
		       int timeout_ms);
void vmm_client_close(struct vmm_client *c);
/* One request line; the reply line lands in c->reply. */
int vmm_client_cmd(struct vmm_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int vmm_client_status(struct vmm_client *c, struct vmm_status *st);
/* Why request @ret failed: the VMM's "err ..." reply when it refused,
 * else that it did not answer, and @ret. Static: valid until the next
 * call. */
const char *vmm_client_why(const struct vmm_client *c, int ret);
/* Whether request @ret failed because the VMM is gone: its connection
 * ended or was refused (not a timeout: a VMM slow to answer may still run
 * its guest). */
bool vmm_client_gone(const struct vmm_client *c, int ret);
/* The vCPU state stream, malloc'd. */
int vmm_client_save(struct vmm_client *c, uint8_t **buf, size_t *len);
int vmm_client_load(struct vmm_client *c, const uint8_t *buf, size_t len);
/* Guest RAM slots with their fds (the caller closes them). */
int vmm_client_memfds(struct vmm_client *c, struct vmm_client_slot *slots,
		      unsigned int max, unsigned int *n);

/* The VM's kmig memory context (`ctx`): its fd in *@ctx_fd (the caller
 * closes it) and the slots (their fd is -1: map the context at
 * KMIG_SLOT_OFFSET(id)). */
int vmm_client_ctx(struct vmm_client *c, struct vmm_client_slot *slots,
		   unsigned int max, unsigned int *n, int *ctx_fd);

/*
 * The replies parsed, each a line without its newline. A reply: 0 for
 * "ok", -errno for "err ENAME ...", -EPROTO for anything else. The rest
 * 0 or -EPROTO: status's fields; save's length (1 byte..64 MiB); memfd's
 * and ctx's "ok N ID:GPA:SIZE[:huge] ..." (hex GPA and SIZE; ":huge": a
 * KMIG_SLOT_HUGE slot) into at most @max slots, their fds -1.
 */
int vmm_client_parse_reply(const char *reply);
int vmm_client_parse_status(const char *reply, struct vmm_status *st);
int vmm_client_parse_len(const char *reply, size_t *len);
int vmm_client_parse_slots(const char *reply, struct vmm_client_slot *slots,
			   unsigned int max, unsigned int *n);

#endif /* KMIG_VMM_CLIENT_H */
