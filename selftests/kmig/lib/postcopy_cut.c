// SPDX-License-Identifier: GPL-2.0
/*
 * A postcopy migration cut right after RUN (postcopy_cut.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "postcopy_cut.h"
#include "proc.h"

void pc_cut_init(struct pc_cut *c, const char *dir)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sock_a, sizeof(c->sock_a), "%s/vm-a.sock", dir);
	snprintf(c->sock_b, sizeof(c->sock_b), "%s/vm-b.sock", dir);
	run_dir_clean(dir, c->sock_a, c->sock_b);
}

/*
 * A's guest runs; B's waits for the migration, its log restarted at RUN
 * when @cfg asks.
 */
static int start_vmms(struct pc_cut *c, const struct pc_cut_cfg *cfg,
		      char *why, size_t n)
{
	struct vmm_client vc = { .fd = -1 };
	struct vmm_status st;
	int ret;

	c->vmm_a = proc_spawnf("kmig-a", "vmm-a.log",
			       "%s --ctl %s --mem 16 --pattern random --batch 4 --rate %s",
			       proc_bin("vmm/kmig-vmm"), c->sock_a, cfg->rate_a);
	c->vmm_b = proc_spawnf("kmig-b", "vmm-b.log",
			       "%s --ctl %s --mem 16 --incoming --rate %s",
			       proc_bin("vmm/kmig-vmm"), c->sock_b, cfg->rate_b);
	ret = __vmm_wait_counter(c->sock_a, 0, PROC_WAIT_MS, &st);
	if (ret)
		return snprintf(why, n, "A's guest does not run: %s",
				strerror(-ret)), ret;
	ret = vmm_status_of(c->sock_b, &st);
	if (ret)
		return snprintf(why, n, "B's VMM: %s", strerror(-ret)), ret;
	if (strcmp(st.state, "incoming"))
		return snprintf(why, n, "B's VMM is %s, not incoming",
				st.state), -EINVAL;
	if (!cfg->dirtylog_b)
		return 0;
	ret = vmm_client_connect(&vc, c->sock_b, 5000);
	if (!ret)
		ret = vmm_client_cmd(&vc, "dirtylog at-resume");
	if (ret)
		snprintf(why, n, "B's dirtylog at-resume: %s %s",
			 strerror(-ret), vc.reply);
	vmm_client_close(&vc);
	return ret;
}

int __pc_cut_start(struct pc_cut *c, const struct pc_cut_cfg *cfg,
		   char *why, size_t n)
{
	int ret, status;

	ret = hosts_sh("hosts_down && hosts_up");
	if (ret)
		return snprintf(why, n, "hosts_up: status %d", ret), -EIO;
	ret = start_vmms(c, cfg, why, n);
	if (ret)
		return ret;
	/* the destination's agent stops once RESUMED is out */
	setenv("KMIG_STOP_AT", "postcopy", 1);
	c->incoming = proc_spawnf("kmig-b", "incoming.log",
				  "%s incoming --vmm %s --listen %s --timeout 60 --io-timeout 5 %s",
				  proc_bin("kmig"), c->sock_b, PC_CUT_ADDR,
				  cfg->tls ? cfg->tls : "");
	unsetenv("KMIG_STOP_AT");
	usleep(500 * 1000);
	/*
	 * No push before the destination guest's first fault, which its
	 * agent, held, never requests: pages are still missing at the cut
	 * on a kernel of any speed.
	 */
	setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	c->migrate = proc_spawnf("kmig-a", "migrate.log",
				 "%s migrate --vmm %s --to %s --timeout 60 --io-timeout 5 --channels 2 %s %s --postcopy --postcopy-bandwidth 1 %s",
				 proc_bin("kmig"), c->sock_a, PC_CUT_ADDR,
				 cfg->bandwidth ? "--bandwidth" : "",
				 cfg->bandwidth ? cfg->bandwidth : "",
				 cfg->tls ? cfg->tls : "");
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	/* RUN: the guest runs at the destination, its pages still coming */
	if (!proc_stopped(c->incoming, &status, PROC_WAIT_MS))
		return snprintf(why, n, "kmig incoming did not reach RUN: %s",
				file_text("incoming.log")), -ETIMEDOUT;
	if (proc_wait_exit(c->migrate, 0) != -ETIMEDOUT)
		return snprintf(why, n, "postcopy ended before the cut: %s",
				file_text("migrate.log")), -EALREADY;
	return 0;
}

int __pc_cut_break(struct pc_cut *c, const char *fault, char *why, size_t n)
{
	int ret = 0;

	if (!strcmp(fault, "silent"))
		ret = hosts_sh("netem loss 100%");
	else if (!strcmp(fault, "link_cut"))
		ret = hosts_sh("link_cut");
	else if (!strcmp(fault, "incoming") || !strcmp(fault, "migrate"))
		kill(!strcmp(fault, "incoming") ? c->incoming : c->migrate,
		     SIGKILL);
	else if (!strcmp(fault, "vmm_a") || !strcmp(fault, "vmm_b"))
		kill(!strcmp(fault, "vmm_a") ? c->vmm_a : c->vmm_b, SIGKILL);
	else
		return snprintf(why, n, "no fault '%s'", fault), -EINVAL;
	kill(c->incoming, SIGCONT);
	if (ret)
		snprintf(why, n, "%s: status %d", fault, ret);
	return ret ? -EIO : 0;
}

int pc_cut_stop(struct pc_cut *c)
{
	pid_t *const all[] = { &c->resume, &c->recover, &c->migrate,
			       &c->incoming, &c->vmm_b, &c->vmm_a };
	int ret;

	/* B's vCPUs may wait for pages, killably; its agents on them */
	ret = proc_stop_all(all, sizeof(all) / sizeof(all[0]), PROC_STOP_MS);
	return hosts_sh("hosts_down") ?: ret;
}
