// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm: options, then run until a client sends "quit".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
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
		"                    or memfd\n",
		VMM_MAX_SLOTS, GUEST_MAX_VCPUS);
}

static int parse_pattern(const char *s)
{
	static const char *const names[] = { "none", "seq", "random", "hot" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
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

int main(int argc, char **argv)
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
		{ "backend", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm_config cfg = {
		.mem_size = 64, .nslots = 1, .nvcpus = 1,
		.pattern = GUEST_PATTERN_RANDOM, .batch = 64,
		.backend = &vmm_mem_kmig,
	};
	unsigned long long v, hot = 0;
	static struct vmm vmm;
	const char *ctl = NULL;
	char err[256];
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1 && !ret) {
		switch (c) {
		case 'c': ctl = optarg; break;
		case 'm': ret = number("--mem", optarg, 2, 2048, &v);
			  cfg.mem_size = v; break;
		case 's': ret = number("--slots", optarg, 1, VMM_MAX_SLOTS, &v);
			  cfg.nslots = v; break;
		case 'v': ret = number("--vcpus", optarg, 1, GUEST_MAX_VCPUS, &v);
			  cfg.nvcpus = v; break;
		case 'p': c = parse_pattern(optarg);
			  if (c < 0) {
				  fprintf(stderr, "kmig-vmm: --pattern: none, seq, random or hot\n");
				  ret = -EINVAL;
			  }
			  cfg.pattern = c; break;
		case 'b': ret = number("--batch", optarg, 0, 1 << 20, &v);
			  cfg.batch = v; break;
		case 'H': ret = number("--hot-pages", optarg, 1, 1 << 20, &hot); break;
		case 'r': ret = number("--rate", optarg, 0, 1ull << 40, &v);
			  cfg.rate = v; break;
		case 'i': cfg.incoming = true; break;
		case 'P': cfg.prealloc = true; break;
		case 'B': if (!strcmp(optarg, "kmig")) {
				  cfg.backend = &vmm_mem_kmig;
			  } else if (!strcmp(optarg, "memfd")) {
				  cfg.backend = &vmm_mem_memfd;
			  } else {
				  fprintf(stderr, "kmig-vmm: --backend '%s': kmig or memfd\n", optarg);
				  ret = -EINVAL;
			  }
			  break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (ret || !ctl || optind != argc) {
		if (!ret)
			usage(stderr);
		return 2;
	}
	cfg.mem_size <<= 20;
	if (cfg.mem_size <= GUEST_WS_GPA || cfg.mem_size % (cfg.nslots * (2 << 20))) {
		fprintf(stderr, "kmig-vmm: --mem: %llu MiB does not split into %u slots of whole 2 MiB\n",
			(unsigned long long)cfg.mem_size >> 20, cfg.nslots);
		return 2;
	}
	cfg.hot_pages = hot ? hot : (cfg.mem_size - GUEST_WS_GPA) / GUEST_PAGE_SIZE / 16;

	signal(SIGPIPE, SIG_IGN);
	ret = vmm_vm_create(&vmm, &cfg);
	if (ret) {
		fprintf(stderr, "kmig-vmm: cannot create the VM (%llu MiB, %u vCPUs): %s\n",
			(unsigned long long)cfg.mem_size >> 20, cfg.nvcpus,
			strerror(-ret));
		return 1;
	}
	if (cfg.prealloc) {
		ret = vmm_mem_prealloc(&vmm.mem);
		if (ret) {
			fprintf(stderr, "kmig-vmm: --prealloc: %s\n", strerror(-ret));
			vmm_vm_destroy(&vmm);
			return 1;
		}
	}
	ret = vmm_vcpus_start(&vmm);
	if (!ret && !cfg.incoming) {
		ret = vmm_resume(&vmm, false, err, sizeof(err));
		if (ret)
			fprintf(stderr, "kmig-vmm: cannot start the guest: %s\n",
				err);
	}
	if (!ret) {
		ret = vmm_ctl_serve(&vmm, ctl);
		if (ret)
			fprintf(stderr, "kmig-vmm: control socket %s: %s\n", ctl,
				strerror(-ret));
	}
	vmm_vcpus_stop(&vmm);
	vmm_vm_destroy(&vmm);
	return ret ? 1 : 0;
}
