// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the command lines: each `kmig` subcommand's parser
 * and kmig-vmm's.
 *
 * Input: a byte choosing the parser (modulo 7: migrate, incoming, resume,
 * stats, devices, version, kmig-vmm), then the arguments, separated by
 * NUL bytes (at most 32). Every parser runs twice on them, so getopt's
 * state from one parse must not leak into the next.
 *
 * The invariants: a parser returns 0, 1 (it printed its help) or -EINVAL,
 * the same each time; what it accepted lies in the ranges its help text
 * gives; nothing exits the process.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "mig.h"
#include "subcommands.h"
#include "vmm.h"

#define MAX_ARGS	32

enum parser { P_MIGRATE, P_INCOMING, P_RESUME, P_STATS, P_DEVICES,
	      P_VERSION, P_VMM, P_COUNT };

static const char *const names[P_COUNT] = {
	"migrate", "incoming", "resume", "stats", "devices", "version",
	"kmig-vmm",
};

/*
 * Hermetic: `--to NAME:PORT` resolves names, and a fuzzer must not ask DNS.
 * Every look-up here is numeric only, so a name fails at once, as an
 * unknown one would.
 */
int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static int (*real)(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real)
		real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

/* The port of @a: sin_port and sin6_port share their place. */
static unsigned int port_of(const struct mig_addr *a)
{
	const struct sockaddr_in *in = (const void *)&a->ss;

	if (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6)
		return 0;
	return in->sin_port;
}

/* What migrate, incoming and resume accepted. */
static void check_mig(const struct mig_opts *o, enum parser p)
{
	unsigned int i;

	if (!o->vmm || !o->vmm[0] || o->ndevs > MIG_MAX_DEVICES)
		abort();
	if (o->io_timeout_s && (o->io_timeout_s < 2 || o->io_timeout_s > 3600))
		abort();
	if (o->timeout_ms > 86400000)
		abort();
	if (p == P_MIGRATE &&
	    (o->channels < 1 || o->channels > MIG_MAX_CHANNELS + 1 ||
	     o->channels == 2 || o->max_downtime_ms < 1 ||
	     o->max_downtime_ms > 60000 || o->max_throttle > 99 ||
	     o->bandwidth > 1048576ull << 20))
		abort();
	if (p != P_RESUME && !port_of(&o->addr))
		abort();
	for (i = 0; i < o->ndevs; i++)
		if (!o->devs[i].name[0] || o->devs[i].instance > 65535 ||
		    strnlen(o->devs[i].name, sizeof(o->devs[i].name)) ==
		    sizeof(o->devs[i].name))
			abort();
}

static void check_vmm(const struct vmm_config *cfg, const char *ctl)
{
	if (!ctl || cfg->nslots < 1 || cfg->nslots > VMM_MAX_SLOTS ||
	    cfg->nvcpus < 1 || cfg->nvcpus > GUEST_MAX_VCPUS ||
	    cfg->pattern >= GUEST_PATTERN_MAX || cfg->mem_size <= GUEST_WS_GPA ||
	    cfg->mem_size % (cfg->nslots * (2ull << 20)) ||
	    cfg->mem_size > 2048ull << 20 || !cfg->hot_pages)
		abort();
}

/* One parse: its verdict, the result checked when it accepted. */
static int parse(enum parser p, int argc, char **argv)
{
	struct mig_opts *o = calloc(1, sizeof(*o));
	struct vmm_config cfg;
	const char *ctl;
	bool flag;
	uint32_t id;
	int ret;

	if (!o)
		abort();
	switch (p) {
	case P_MIGRATE:
		ret = migrate_parse(o, argc, argv);
		break;
	case P_INCOMING:
		ret = incoming_parse(o, argc, argv);
		break;
	case P_RESUME:
		ret = resume_parse(o, &flag, argc, argv);
		break;
	case P_STATS:
		ret = stats_parse(argc, argv, &flag, &id);
		break;
	case P_DEVICES:
		ret = devices_parse(argc, argv, &flag);
		break;
	case P_VERSION:
		ret = version_parse(argc, argv);
		break;
	default:
		ret = vmm_opts_parse(argc, argv, &cfg, &ctl);
		if (!ret)
			check_vmm(&cfg, ctl);
	}
	if (ret != 0 && ret != 1 && ret != -EINVAL)
		abort();
	if (!ret && p <= P_RESUME)
		check_mig(o, p);
	free(o);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *args, *p, *end;
	enum parser which;
	int argc = 1;

	if (!size)
		return 0;
	which = data[0] % P_COUNT;
	args = malloc(size);	/* the arguments, each one terminated */
	if (!args)
		abort();
	memcpy(args, data + 1, size - 1);
	args[size - 1] = 0;
	argv[0] = (char *)names[which];
	for (p = args, end = args + size - 1; p < end && argc <= MAX_ARGS;
	     p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	if (parse(which, argc, argv) != parse(which, argc, argv))
		abort();
	free(args);
	return 0;
}
