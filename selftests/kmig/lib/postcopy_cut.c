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

#include <linux/kmig.h>

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
 * Whether the VMM at @sock (@who's) is in state @want; its status in *@st.
 * Otherwise why not, in @why.
 */
static int vmm_in_state(const char *sock, const char *who, const char *want,
			struct vmm_status *st, char *why, size_t n)
{
	int ret = vmm_status_of(sock, st);

	if (ret)
		return snprintf(why, n, "%s's VMM: %s", who, strerror(-ret)),
		       ret;
	if (strcmp(st->state, want))
		return snprintf(why, n, "%s's VMM is %s, not %s", who,
				st->state, want), -EINVAL;
	return 0;
}

/*
 * A's guest runs; B's waits for the migration, its log restarted at RUN
 * when @cfg asks.
 */
static int start_vmms(struct pc_cut *c, const struct pc_cut_cfg *cfg,
		      char *why, size_t n)
{
	const char *huge = cfg->huge ? " --huge" : "";
	struct vmm_client vc = { .fd = -1 };
	struct vmm_status st;
	int ret;

	c->vmm_a = proc_spawnf("kmig-a", "vmm-a.log",
			       "%s --ctl %s --mem 8 --pattern %s --batch 4 --rate %s%s",
			       proc_bin("vmm/kmig-vmm"), c->sock_a,
			       cfg->idle_missing ? "none" : "random",
			       cfg->rate_a, huge);
	c->vmm_b = proc_spawnf("kmig-b", "vmm-b.log",
			       "%s --ctl %s --mem 8 --incoming --rate %s%s",
			       proc_bin("vmm/kmig-vmm"), c->sock_b, cfg->rate_b,
			       huge);
	ret = __vmm_wait_counter(c->sock_a, 0, PROC_WAIT_MS, &st);
	if (ret)
		return snprintf(why, n, "A's guest does not run: %s",
				strerror(-ret)), ret;
	ret = vmm_in_state(c->sock_b, "B", "incoming", &st, why, n);
	if (ret)
		return ret;
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

/* A VMM's guest memory: its kmig context, through the VMM's `ctx`, and
 * the slot that holds PC_CUT_IDLE_GPA. */
static int ctx_open(const char *sock, struct vmm_client_slot *slot, int *ctx,
		    char *why, size_t n)
{
	struct vmm_client vc = { .fd = -1 };
	struct vmm_client_slot slots[8];
	unsigned int nslots = 0, i;
	int ret;

	*ctx = -1;
	ret = vmm_client_connect(&vc, sock, 5000);
	if (!ret)
		ret = vmm_client_ctx(&vc, slots, 8, &nslots, ctx);
	if (ret)
		snprintf(why, n, "the VMM on %s: ctx: %s %s", sock,
			 strerror(-ret), vc.reply);
	vmm_client_close(&vc);
	for (i = 0; !ret && i < nslots; i++)
		if (PC_CUT_IDLE_GPA >= slots[i].gpa &&
		    PC_CUT_IDLE_GPA - slots[i].gpa < slots[i].size) {
			*slot = slots[i];
			return 0;
		}
	if (!ret)
		snprintf(why, n, "the VMM on %s has no slot at %#x", sock,
			 PC_CUT_IDLE_GPA);
	if (*ctx >= 0)
		close(*ctx);
	return ret ? ret : -ERANGE;
}

/*
 * @cfg's idle_missing pages from PC_CUT_IDLE_GPA written (a pattern of
 * their number) through @ctx's slot @sl, while the source is held after
 * its first pass.
 */
static int write_missing(const struct pc_cut_cfg *cfg, int ctx,
			 const struct vmm_client_slot *sl, char *why, size_t n)
{
	uint64_t page[512], off, at = PC_CUT_IDLE_GPA - sl->gpa;
	unsigned int i, k;

	if (at + cfg->idle_missing * 4096ull > sl->size)
		return snprintf(why, n, "%u pages do not fit slot %u",
				cfg->idle_missing, sl->id), -ERANGE;
	for (i = 0; i < cfg->idle_missing; i++) {
		for (k = 0; k < 512; k++)
			page[k] = (uint64_t)i << 32 | k;
		off = KMIG_SLOT_OFFSET(sl->id) + at + i * 4096ull;
		if (pwrite(ctx, page, sizeof(page), off) != sizeof(page))
			return snprintf(why, n, "writing page %u: %m", i), -EIO;
	}
	return 0;
}

/*
 * The source, held after its first pass, gets the idle cut's missing
 * pages (@ctx), and goes on.
 */
static int hold_first_pass(struct pc_cut *c, const struct pc_cut_cfg *cfg,
			   int ctx, const struct vmm_client_slot *sl,
			   char *why, size_t n)
{
	int status, ret;

	if (!proc_stopped(c->migrate, &status, PROC_WAIT_MS))
		return snprintf(why, n, "kmig migrate did not stop after its first pass: %s",
				file_text("migrate.log")), -ETIMEDOUT;
	ret = write_missing(cfg, ctx, sl, why, n);
	kill(c->migrate, SIGCONT);
	return ret;
}

int __pc_cut_start(struct pc_cut *c, const struct pc_cut_cfg *cfg,
		   char *why, size_t n)
{
	struct vmm_client_slot sl;
	int ret, status, ctx = -1;

	/* The hosts of the test before, healed: a new pair costs a second. */
	ret = hosts_sh("hosts_heal 2>/dev/null || { hosts_down; hosts_up; }");
	if (ret)
		return snprintf(why, n, "hosts_up: status %d", ret), -EIO;
	ret = start_vmms(c, cfg, why, n);
	if (ret)
		return ret;
	/* the destination's agent stops once RESUMED is out, or earlier */
	setenv("KMIG_STOP_AT", cfg->stop_b ? cfg->stop_b : "postcopy", 1);
	if (cfg->delay_b)
		setenv("KMIG_DELAY_AT", cfg->delay_b, 1);
	c->incoming = proc_spawnf("kmig-b", "incoming.log",
				  "%s incoming --vmm %s --listen %s --timeout 60 --io-timeout 5 %s",
				  proc_bin("kmig"), c->sock_b, PC_CUT_ADDR,
				  cfg->tls ? cfg->tls : "");
	unsetenv("KMIG_STOP_AT");
	unsetenv("KMIG_DELAY_AT");
	/* the source retries its connection for 5 s while B starts */
	/* idle: the source stops after its first pass (hold_first_pass()) */
	if (cfg->idle_missing) {
		ret = ctx_open(c->sock_a, &sl, &ctx, why, n);
		if (ret)
			return ret;
		setenv("KMIG_STOP_AT", "rounds", 1);
	}
	/*
	 * No push before the destination guest's first fault, which its
	 * agent, held, never requests: pages are still missing at the cut
	 * on a kernel of any speed. Idle: no push at all, though that
	 * guest's agent goes on and has its stale counters' page answered.
	 */
	if (!cfg->push_now)
		setenv("KMIG_PUSH_AFTER_FAULT",
		       cfg->idle_missing ? "never" : "1", 1);
	c->migrate = proc_spawnf("kmig-a", "migrate.log",
				 "%s migrate --vmm %s --to %s --timeout 60 --io-timeout 5 --channels 2 %s %s --postcopy %s %s",
				 proc_bin("kmig"), c->sock_a, PC_CUT_ADDR,
				 cfg->bandwidth ? "--bandwidth" : "",
				 cfg->bandwidth ? cfg->bandwidth : "",
				 cfg->push_now ? "" : "--postcopy-bandwidth 1",
				 cfg->tls ? cfg->tls : "");
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	unsetenv("KMIG_STOP_AT");
	if (cfg->idle_missing) {
		ret = hold_first_pass(c, cfg, ctx, &sl, why, n);
		close(ctx);
		if (ret)
			return ret;
	}
	/* RUN (or B's stop): the guest runs at B, its pages still coming */
	if (!proc_stopped(c->incoming, &status, PROC_WAIT_MS))
		return snprintf(why, n, "kmig incoming did not reach %s: %s",
				cfg->stop_b ? cfg->stop_b : "RUN",
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

int __pc_cut_force_a(struct pc_cut *c, char *why, size_t n)
{
	struct vmm_status st;
	pid_t pid;
	int ret;

	ret = vmm_in_state(c->sock_a, "A", "migrated", &st, why, n);
	if (ret)
		return ret;
	pid = proc_spawnf("kmig-a", "resume.log", "%s resume --vmm %s --force",
			  proc_bin("kmig"), c->sock_a);
	ret = proc_wait_exit(pid, PROC_WAIT_MS);
	if (ret)
		return snprintf(why, n, "kmig resume --force: %d: %s", ret,
				file_text("resume.log")), ret < 0 ? ret : -EIO;
	ret = __vmm_wait_counter(c->sock_a, st.counter, PROC_WAIT_MS, &st);
	if (ret)
		return snprintf(why, n, "A's guest does not run again: %s",
				strerror(-ret)), ret;
	if (strcmp(st.state, "running"))
		return snprintf(why, n, "A's VMM is %s, not running",
				st.state), -EINVAL;
	return 0;
}

int pc_cut_stop(struct pc_cut *c)
{
	pid_t *const all[] = { &c->resume, &c->recover, &c->migrate,
			       &c->incoming, &c->vmm_b, &c->vmm_a };

	/* B's vCPUs may wait for pages, killably; its agents on them */
	return proc_stop_all(all, sizeof(all) / sizeof(all[0]), PROC_STOP_MS);
}

/*
 * The hosts, once every test of a program that cut a postcopy has run
 * (the harness's children end with _exit()).
 */
static void __attribute__((destructor)) hosts_remove(void)
{
	if (getenv("KMIG_PROJECT"))
		hosts_sh("hosts_down");
}
