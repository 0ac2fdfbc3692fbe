// SPDX-License-Identifier: GPL-2.0
/*
 * kmig resume: run a paused guest on this host again: the devices back
 * to RUNNING first, then the vCPUs. A guest handed over to a destination
 * (its VMM says "migrated": the migration completed, or could not confirm
 * its switchover and `kmig migrate` exited with status 3) may run there;
 * only --force runs it here.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <linux/kmig.h>

#include "mig.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig resume --vmm SOCK [--device NAME:INSTANCE]... [--force]\n"
"\n"
"Resume the paused guest of the VMM behind control socket SOCK, and the\n"
"devices given. A guest handed over to a destination (after `kmig migrate`\n"
"completed, or exited with status 3) needs --force: first make sure it\n"
"does not run on the destination.\n"
"\n"
"  --vmm SOCK                 the VMM's control socket (required)\n"
"  --device NAME:INSTANCE     start this device again (repeatable)\n"
"  --force                    resume a guest handed over to a destination\n"
"  --help                     this text\n";

/* resume's own option, --force (mig_own_opt). */
static int resume_opt(struct mig_opts *o, int c, void *force)
{
	(void)o;
	if (c != 'f')
		return MIG_OPT_SHARED;
	*(bool *)force = true;
	return 0;
}

int resume_parse(struct mig_opts *o, bool *force, int argc, char *argv[])
{
	static const struct option opts[] = {
		MIG_LONGOPT_VMM,
		MIG_LONGOPT_DEVICE,
		{ "force", no_argument, NULL, 'f' },
		MIG_LONGOPT_HELP,
		{ }
	};
	int ret;

	o->cmd = "resume";
	*force = false;
	ret = mig_parse_opts(o, argc, argv, opts, usage, resume_opt, force);
	return ret ? ret : mig_parse_end(o, argc, argv, MIG_PEER_NONE);
}

static int resume(struct mig_opts *o, bool force, struct vmm_client *vmm,
		  char *err, size_t n)
{
	struct vmm_status st;
	unsigned int i;
	int ret;

	ret = vmm_client_connect(vmm, o->vmm, 5000);
	if (ret) {
		snprintf(err, n, "cannot connect to the VMM at %s: %s", o->vmm,
			 strerror(-ret));
		return ret;
	}
	ret = vmm_client_status(vmm, &st);
	if (ret) {
		snprintf(err, n, "VMM status: %s", strerror(-ret));
		return ret;
	}
	if (!strcmp(st.state, "migrated") && !force) {
		snprintf(err, n, "the guest of the VMM at %s was handed over to a destination and may run there; make sure it does not, then --force runs it here",
			 o->vmm);
		return -EPERM;
	}
	if (strcmp(st.state, "paused") && strcmp(st.state, "running") &&
	    strcmp(st.state, "migrated")) {
		snprintf(err, n, "the VMM at %s is %s: it has no guest to resume",
			 o->vmm, st.state);
		return -EINVAL;
	}
	for (i = 0; i < o->ndevs; i++) {
		struct mig_device *d = &o->devs[i];

		ret = mig_dev_open(d, err, n);
		if (ret)
			return ret;
		ret = mig_dev_set_state(d, KMIG_DEVICE_STATE_RUNNING);
		if (ret) {
			snprintf(err, n, "device %s:%u: cannot start it: %s",
				 d->name, d->instance, strerror(-ret));
			return ret;
		}
	}
	if (!strcmp(st.state, "running")) {
		printf("kmig resume: the guest was running already\n");
		return 0;
	}
	ret = vmm_client_cmd(vmm, force ? "resume force" : "resume");
	if (ret) {
		snprintf(err, n, "the VMM refused to resume the guest: %.300s",
			 vmm->reply[0] ? vmm->reply : strerror(-ret));
		return ret;
	}
	printf("kmig resume: the guest runs here\n");
	return 0;
}

int resume_main(int argc, char *argv[])
{
	struct mig_opts o = { 0 };
	struct vmm_client vmm = { .fd = -1 };
	char err[512] = "";
	unsigned int i;
	bool force;
	int ret;

	ret = resume_parse(&o, &force, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = o.ndevs ? mig_ensure_module(err, sizeof(err)) : 0;
	if (!ret)
		ret = resume(&o, force, &vmm, err, sizeof(err));
	if (ret)
		fprintf(stderr, "kmig resume: %s\n", err);
	for (i = 0; i < o.ndevs; i++)
		mig_dev_close(&o.devs[i]);
	vmm_client_close(&vmm);
	return ret ? 1 : 0;
}
