// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm: options (opts.c), then run until a client sends "quit".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	static struct vmm vmm;
	const char *ctl;
	char err[256];
	int ret;

	ret = vmm_opts_parse(argc, argv, &cfg, &ctl);
	if (ret)
		return ret > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	if (vmm_net_open(&vmm.net, cfg.net_if, cfg.net_off))
		return 1;
	ret = vmm_vm_create(&vmm, &cfg);
	if (ret) {
		fprintf(stderr, "kmig-vmm: cannot create the VM (%llu MiB, %u vCPUs): %s\n",
			(unsigned long long)cfg.mem_size >> 20, cfg.nvcpus,
			strerror(-ret));
		vmm_net_close(&vmm.net);
		return 1;
	}
	if (cfg.prealloc) {
		ret = vmm_mem_prealloc(&vmm.mem);
		if (ret) {
			fprintf(stderr, "kmig-vmm: --prealloc: %s\n", strerror(-ret));
			vmm_vm_destroy(&vmm);
			vmm_net_close(&vmm.net);
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
	vmm_net_close(&vmm.net);
	return ret ? 1 : 0;
}
