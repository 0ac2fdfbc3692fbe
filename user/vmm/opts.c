// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's options (Documentation/vmm.rst, "Running it").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kmig-vmm --ctl PATH [options]\n"
		"  --ctl PATH        control socket (protocol: Documentation/vmm.rst)\n"
		"  --mem MIB         guest RAM, a multiple of 2 MiB per slot (default 64)\n"
		"  --slots N         memory slots, 1..%d (default 1)\n"
		"  --vcpus N         vCPUs, 1..%d (default 1)\n"
		"  --pattern P       none, seq, random or hot (default random)\n"
		"  --batch N         pages dirtied between two ticks (default 64)\n"
		"  --hot-pages N     hot set size for the hot pattern (default 1/16)\n"
		"  --rate N          pages per second, all vCPUs together (0: no limit)\n"
		"  --incoming        do not run: wait for a \"load\" and a \"resume\"\n"
		"  --prealloc        give all guest RAM its memory at start\n"
		"  --backend B       guest RAM from kmig (a /dev/kmig context, default)\n"
		"                    or memfd\n"
		"  --kvm-log[=L]     kmig backend: KVM logs the vCPUs' writes and hands\n"
		"                    its log to kmig (memory model (b)); L: bitmap\n"
		"                    (default) or ring (KVM's dirty ring)\n"
		"  --dirty-ring N    entries of a vCPU's ring, a power of 2 from 256\n"
		"                    (default 4096; implies --kvm-log=ring)\n"
		"  --huge            kmig backend: 2 MiB pages, mapped 2 MiB by the host\n"
		"                    and KVM (implies --kvm-log)\n"
		"  --net-if IFACE    network device: the guest's frames leave through\n"
		"                    IFACE (this network namespace's), one every\n"
		"  --net-every N     N ticks of vCPU 0 (default 1; 0: the guest sends none)\n"
		"  --net-off         discard the guest's frames until \"net on\"\n",
		VMM_MAX_SLOTS, GUEST_MAX_VCPUS);
}

static int number(const char *opt, const char *s, unsigned long long min,
		  unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *v < min || *v > max) {
		fprintf(stderr, "kmig-vmm: %s: '%s' is not a number from %llu to %llu\n",
			opt, s, min, max);
		return -EINVAL;
	}
	return 0;
}

static int pattern(const char *s, uint32_t *p)
{
	for (*p = 0; *p < GUEST_PATTERN_MAX; (*p)++)
		if (!strcmp(s, vmm_patterns[*p]))
			return 0;
	fprintf(stderr, "kmig-vmm: --pattern: none, seq, random or hot\n");
	return -EINVAL;
}

static int kvm_log(const char *s, struct vmm_config *cfg)
{
	cfg->kvm_log = true;
	if (!s || !strcmp(s, "bitmap"))
		return 0;
	if (!strcmp(s, "ring")) {
		if (!cfg->dring_entries)
			cfg->dring_entries = VMM_DRING_DEFAULT;
		return 0;
	}
	fprintf(stderr, "kmig-vmm: --kvm-log='%s': bitmap or ring\n", s);
	return -EINVAL;
}

static int dirty_ring(const char *s, struct vmm_config *cfg)
{
	unsigned long long v;
	int ret = number("--dirty-ring", s, 256, 1 << 20, &v);

	if (!ret && (v & (v - 1))) {
		fprintf(stderr, "kmig-vmm: --dirty-ring: %llu is not a power of 2\n",
			v);
		ret = -EINVAL;
	}
	cfg->kvm_log = true;
	cfg->dring_entries = v;
	return ret;
}

static int backend(const char *s, const struct vmm_mem_backend **b)
{
	if (!strcmp(s, "kmig")) {
		*b = &vmm_mem_kmig;
	} else if (!strcmp(s, "memfd")) {
		*b = &vmm_mem_memfd;
	} else {
		fprintf(stderr, "kmig-vmm: --backend '%s': kmig or memfd\n", s);
		return -EINVAL;
	}
	return 0;
}

/* One option @c with @optarg into @cfg (*@hot: --hot-pages). */
static int option(int c, struct vmm_config *cfg, const char **ctl,
		  unsigned long long *hot)
{
	unsigned long long v = 0;
	int ret = 0;

	switch (c) {
	case 'c': *ctl = optarg; break;
	case 'm': ret = number("--mem", optarg, 2, 2048, &v);
		  cfg->mem_size = v; break;
	case 's': ret = number("--slots", optarg, 1, VMM_MAX_SLOTS, &v);
		  cfg->nslots = v; break;
	case 'v': ret = number("--vcpus", optarg, 1, GUEST_MAX_VCPUS, &v);
		  cfg->nvcpus = v; break;
	case 'p': ret = pattern(optarg, &cfg->pattern); break;
	case 'b': ret = number("--batch", optarg, 0, 1 << 20, &v);
		  cfg->batch = v; break;
	case 'H': ret = number("--hot-pages", optarg, 1, 1 << 20, hot); break;
	case 'r': ret = number("--rate", optarg, 0, 1ull << 40, &v);
		  cfg->rate = v; break;
	case 'i': cfg->incoming = true; break;
	case 'P': cfg->prealloc = true; break;
	case 'K': ret = kvm_log(optarg, cfg); break;
	case 'R': ret = dirty_ring(optarg, cfg); break;
	case 'G': cfg->huge = cfg->kvm_log = true; break;
	case 'B': ret = backend(optarg, &cfg->backend); break;
	case 'N': cfg->net_if = optarg; break;
	case 'E': ret = number("--net-every", optarg, 0, 1 << 20, &v);
		  cfg->net_every = v; break;
	case 'O': cfg->net_off = true; break;
	case 'h': usage(stdout); return 1;
	default: usage(stderr); return -EINVAL;
	}
	return ret;
}

int vmm_opts_parse(int argc, char **argv, struct vmm_config *cfg,
		   const char **ctl)
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "slots", required_argument, NULL, 's' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "hot-pages", required_argument, NULL, 'H' },
		{ "rate", required_argument, NULL, 'r' },
		{ "incoming", no_argument, NULL, 'i' },
		{ "prealloc", no_argument, NULL, 'P' },
		{ "kvm-log", optional_argument, NULL, 'K' },
		{ "dirty-ring", required_argument, NULL, 'R' },
		{ "huge", no_argument, NULL, 'G' },
		{ "backend", required_argument, NULL, 'B' },
		{ "net-if", required_argument, NULL, 'N' },
		{ "net-every", required_argument, NULL, 'E' },
		{ "net-off", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long hot = 0;
	int c, ret = 0;

	*cfg = (struct vmm_config){
		.mem_size = 64, .nslots = 1, .nvcpus = 1,
		.pattern = GUEST_PATTERN_RANDOM, .batch = 64,
		.backend = &vmm_mem_kmig, .net_every = 1,
	};
	*ctl = NULL;
	optind = 0;		/* from the start, as a fresh process */
	while (!ret && (c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		ret = option(c, cfg, ctl, &hot);
	if (ret)
		return ret;
	if (!*ctl || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	cfg->mem_size <<= 20;
	if (cfg->mem_size <= GUEST_WS_GPA ||
	    cfg->mem_size % (cfg->nslots * (2 << 20))) {
		fprintf(stderr, "kmig-vmm: --mem: %llu MiB does not split into %u slots of whole 2 MiB\n",
			(unsigned long long)cfg->mem_size >> 20, cfg->nslots);
		return -EINVAL;
	}
	if (cfg->kvm_log && cfg->backend != &vmm_mem_kmig) {
		fprintf(stderr, "kmig-vmm: --%s: only guest RAM from kmig (--backend kmig) has a log to hand KVM's to\n",
			cfg->huge ? "huge" : "kvm-log");
		return -EINVAL;
	}
	if (!cfg->net_if && cfg->net_off) {
		fprintf(stderr, "kmig-vmm: --net-off: there is no network device without --net-if\n");
		return -EINVAL;
	}
	cfg->hot_pages = hot ? hot : (cfg->mem_size - GUEST_WS_GPA) /
				     GUEST_PAGE_SIZE / 16;
	return 0;
}
