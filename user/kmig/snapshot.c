// SPDX-License-Identifier: GPL-2.0
/*
 * What kmig save and kmig restore share (snapshot.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "snapshot.h"

int snap_parse(struct snap_opts *so, bool save, const char *usage, int argc,
	       char *argv[])
{
	static const struct option save_opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "resume", no_argument, NULL, 'r' },
		{ "durable", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	}, restore_opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "paused", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c, ret;

	memset(so, 0, sizeof(*so));
	so->o.cmd = save ? "save" : "restore";
	so->resume = !save;
	opterr = 0;
	optind = 0;		/* from the start, as a fresh process */
	while ((c = getopt_long(argc, argv, "+:", save ? save_opts :
				restore_opts, NULL)) != -1) {
		if (c == 'r' || c == 'p' || c == 'd') {
			so->resume = c == 'r' ? true : c == 'p' ? false :
				     so->resume;
			so->durable |= c == 'd';
			continue;
		}
		ret = mig_parse_common(&so->o, c, usage, argv);
		if (ret)
			return ret;
	}
	if (optind == argc)
		return mig_usage_error(so->o.cmd, "which FILE?");
	so->file = argv[optind++];
	return mig_parse_end(&so->o, argc, argv, false);
}

int snap_attach(struct mig_vm *vm, const struct snap_opts *so, int prot,
		char *state, size_t n, char *err, size_t errlen)
{
	struct vmm_status st;
	int ret;

	ret = mig_vm_attach(vm, so->o.vmm, prot, err, errlen);
	if (ret)
		return ret;
	ret = vmm_client_status(&vm->vmm, &st);
	if (ret) {
		snprintf(err, errlen, "VMM status: %s", strerror(-ret));
		return ret;
	}
	snprintf(state, n, "%s", st.state);
	return 0;
}
