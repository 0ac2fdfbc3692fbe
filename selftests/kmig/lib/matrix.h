/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fault matrix of precopy and postcopy (Documentation/testing.rst, "Fault
 * matrix"): its fixture and its one test, included by the programs that
 * add its rows as variants (fault_matrix_*.c, split by phase to stay
 * within the bed's time for one program). Each row is a fault at a
 * phase. The agent that reaches the phase first stops itself there
 * (KMIG_STOP_AT, util.h); the test breaks something, lets it go on, and
 * checks the row's promise: both agents' exit statuses and what they
 * say, where the guest runs (never on both hosts: both VMMs are asked),
 * and that no page is lost: a guest that ends on the destination has
 * there, before it resumed, the memory and vCPU state the source had at
 * its pause; one that stays on the source migrates again (rows marked
 * AGAIN), intact, to a new destination. Rows marked POSTCOPY migrate
 * with --postcopy (Documentation/postcopy.rst, "Failures and what to
 * do"): the source stops at "switchover" after the switch, its guest
 * paused and marked migrated, before anything of it is sent; a guest
 * that ends on the destination has there, in every page its guest did
 * not write since RUN, the memory the source had at its pause.
 *
 * The two hosts are network namespaces joined by veth
 * (selftests/qemu/hosts.sh).
 */
#ifndef KMIG_TEST_MATRIX_H
#define KMIG_TEST_MATRIX_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "kmig.h"
#include "kselftest_harness.h"
#include "pages.h"
#include "proc.h"

#define RUN_DIR		"/run/kmig-fault-matrix"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"
#ifndef TO		/* a file of rows may take its own ports */
#define TO		"198.18.0.2:4500"
#define RECOVER_TO	"198.18.0.2:4501"	/* kmig postcopy-recover */
#endif
#define KILLED		(128 + SIGKILL)
#define WAIT_MS		30000

enum fault {
	KILL_SRC_AGENT, KILL_DST_AGENT, KILL_SRC_VMM, KILL_DST_VMM,
	LINK_DOWN, LOSS, DELAY, REORDER,
	SRC_DISK_FULL, DST_DISK_FULL, SRC_EIO, DST_EIO,
	PAGE_LIMIT, RMMOD,
};

/* Where the guest is at the end. */
enum ends {
	ON_A,		/* runs on the source */
	ON_B,		/* runs on the destination */
	PAUSED_ON_A,	/* paused on the source; the user resumes it there */
	NOWHERE,	/* its VMM was killed */
	RECOVER_ON_B,	/* postcopy after RUN: B runs it, blocked where it
			 * touches a missing page; A keeps it paused
			 * (migrated); the user runs the recovery */
};

FIXTURE(matrix) {
	struct vmm_proc a, b;
	pid_t migrate, incoming;
	char dir[96];
	char dm[32];		/* the dm device of an EIO row */
};

FIXTURE_VARIANT(matrix) {
	enum fault fault;
	const char *phase;	/* KMIG_STOP_AT: setup, rounds, switchover, run */
	enum ends ends;
	int mig_rc, in_rc;	/* exit statuses */
	const char *mig_says, *in_says;
	bool again;		/* migrate again afterwards (recovery) */
	bool postcopy;		/* kmig migrate --postcopy (POSTCOPY rows) */
	/*
	 * A race the row allows (OR_ON_A): the source may see the fault
	 * before its guest is handed over (then it exits 1 and the guest
	 * runs on A again) or after (the row's promise).
	 */
	bool or_on_a;
};

/* The agent that stops at @v's phase: the destination's only at "run". */
static bool dst_stops(const FIXTURE_VARIANT(matrix) *v)
{
	return v->phase && !strcmp(v->phase, "run");
}

/* system() of a command line built with printf(): its wait status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

FIXTURE_SETUP(matrix)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	memset(self, 0, sizeof(*self));
	mkdir(RUN_DIR, 0700);
	snprintf(self->dir, sizeof(self->dir), "/dev/shm/kmig-matrix-%d",
		 getpid());
	ASSERT_EQ(0, sh("mkdir -p %s/src %s/dst %s/src2 %s/dst2", self->dir,
			self->dir, self->dir, self->dir));
	/* The hosts of the row before, healed: a new pair costs seconds. */
	ASSERT_EQ(0, hosts_sh("hosts_heal 2>/dev/null || { hosts_down; hosts_up; }"));
}

/* Once every row has run (the harness's children end with _exit()). */
static void __attribute__((destructor)) hosts_remove(void)
{
	if (getenv("KMIG_PROJECT"))
		hosts_sh("hosts_down");
}

FIXTURE_TEARDOWN(matrix)
{
	proc_stop(&self->migrate);
	proc_stop(&self->incoming);
	proc_stop(&self->a.pid);
	proc_stop(&self->b.pid);
	sh("umount %s/src %s/dst 2>/dev/null", self->dir, self->dir);
	if (self->dm[0])
		sh("dmsetup remove %s", self->dm);
	sh("rm -rf %s", self->dir);
}

/* Request @cmd of the VMM @v on a connection of its own: 0 or -errno. */
static int vmm_do(struct vmm_proc *v, const char *cmd)
{
	struct vmm_client c = { .fd = -1 };
	int ret = vmm_connect(v, &c);

	if (!ret)
		ret = vmm_client_cmd(&c, "%s", cmd);
	vmm_client_close(&c);
	return ret;
}

/* A VMM on host @ns: 4 MiB, the source's guest dirtying 200 pages/s. */
static int vmm_on(struct vmm_proc *v, const char *ns, const char *sock,
		  const char *log, bool incoming)
{
	struct vmm_status st;

	v->pid = proc_spawnf(ns, log, "%s --ctl %s --mem 4 %s",
			     proc_bin("vmm/kmig-vmm"), sock,
			     incoming ? "--incoming" :
			     "--pattern random --rate 200");
	snprintf(v->sock, sizeof(v->sock), "%s", sock);
	return vmm_status(v, &st);
}

/*
 * Both agents, saving at the switchover into @src and @dst (in postcopy
 * the source only: the destination's memory arrives after it runs); the
 * one of @phase (if any) stops there.
 */
static void agents_start(FIXTURE_DATA(matrix) *self, const char *phase,
			 bool dst_stop, bool postcopy, unsigned int io_timeout,
			 const char *src, const char *dst)
{
	char dst_save[160] = "";

	if (!postcopy)
		snprintf(dst_save, sizeof(dst_save), "--save-at-switchover %s",
			 dst);
	if (phase && dst_stop)
		setenv("KMIG_STOP_AT", phase, 1);
	self->incoming = proc_spawnf("kmig-b", "incoming.log",
				     "%s incoming --vmm %s --listen %s --timeout 30 --io-timeout %u %s",
				     proc_bin("kmig"), VMM_B, TO, io_timeout,
				     dst_save);
	unsetenv("KMIG_STOP_AT");
	if (phase && !dst_stop)
		setenv("KMIG_STOP_AT", phase, 1);
	/*
	 * After RUN, pages stay missing until the destination's guest
	 * faults and its agent, held, requests one (postcopy_cut.h).
	 */
	if (postcopy && dst_stop)
		setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	self->migrate = proc_spawnf("kmig-a", "migrate.log",
				    "%s migrate --vmm %s --to %s --timeout 30 --io-timeout %u --save-at-switchover %s %s",
				    proc_bin("kmig"), VMM_A, TO, io_timeout, src,
				    postcopy ? "--postcopy" : "");
	unsetenv("KMIG_STOP_AT");
	unsetenv("KMIG_PUSH_AFTER_FAULT");
}

/* A save directory of @v's row that fills up or fails every write. */
static void break_save_dir(struct __test_metadata *_metadata,
			   FIXTURE_DATA(matrix) *self,
			   const FIXTURE_VARIANT(matrix) *v)
{
	const char *side = v->fault == SRC_DISK_FULL || v->fault == SRC_EIO ?
			   "src" : "dst";

	/* 1.5 MiB: the second MiB of a slot is written in part */
	if (v->fault == SRC_DISK_FULL || v->fault == DST_DISK_FULL)
		ASSERT_EQ(0, sh("mount -t tmpfs -o size=1536k kmig-full %s/%s",
				self->dir, side));
	if (v->fault != SRC_EIO && v->fault != DST_EIO)
		return;
	/* slot 0's file: a device whose every write fails (dm's error) */
	snprintf(self->dm, sizeof(self->dm), "kmig-eio-%d", getpid());
	ASSERT_EQ(0, sh("modprobe dm-mod && dmsetup create %s --noudevsync --table '0 16384 error' && mknod %s/%s/slot-0.bin b $(dmsetup info -c --noheadings -o major %s) $(dmsetup info -c --noheadings -o minor %s)",
			self->dm, self->dir, side, self->dm, self->dm));
}

/* Wait until the guest of @sock wrote more than @n pages: 0 or -errno. */
static int writes_above(const char *sock, uint64_t n)
{
	struct vmm_status st;
	int ms, ret;

	for (ms = 0; ms < WAIT_MS; ms += 100) {
		ret = vmm_status_of(sock, &st);
		if (ret || st.writes > n)
			return ret;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(matrix) *self, const FIXTURE_VARIANT(matrix) *v)
{
	char src[128], dst[128];
	struct vmm_status st;

	ASSERT_EQ(0, vmm_on(&self->a, "kmig-a", VMM_A, "vmm-a.log", false));
	ASSERT_EQ(0, __vmm_wait_counter(VMM_A, 0, WAIT_MS, &st));
	ASSERT_EQ(0, vmm_on(&self->b, "kmig-b", VMM_B, "vmm-b.log", true));
	if (v->postcopy)
		ASSERT_EQ(0, vmm_do(&self->b, "dirtylog at-resume"));
	/* 400 writes over 768 pages: about 300 pages, over the limit */
	if (v->fault == PAGE_LIMIT) {
		ASSERT_EQ(0, writes_above(VMM_A, 400));
		ASSERT_EQ(0, ctx_page_limit_of(self->b.pid, 100));
	}
	if (v->fault == LOSS || v->fault == DELAY || v->fault == REORDER)
		ASSERT_EQ(0, sh("modprobe sch_netem"));
	break_save_dir(_metadata, self, v);
	snprintf(src, sizeof(src), "%s/src", self->dir);
	snprintf(dst, sizeof(dst), "%s/dst", self->dir);
	/*
	 * Silence is a failure after 2 s; netem's rows allow 5 s, as their
	 * agent stays stopped while netem is set up, and the other side's
	 * clock runs (a loaded bed took over 2 s: the destination gave up
	 * before the loss began).
	 */
	agents_start(self, v->phase, dst_stops(v), v->postcopy,
		     v->fault == LOSS || v->fault == DELAY ||
		     v->fault == REORDER ? 5 : 2, src, dst);
}

/* `rmmod kmig` is refused while the guests hold the module. */
static void rmmod_refused(struct __test_metadata *_metadata)
{
	EXPECT_NE(0, sh("rmmod kmig 2>rmmod.log"));
	EXPECT_TRUE(file_has("rmmod.log", "in use")) TH_LOG("%s", file_text("rmmod.log"));
	EXPECT_EQ(0, access("/sys/module/kmig", F_OK));
}

/* The fault of @v, while the agent of its phase is stopped (if any). */
static void inject(struct __test_metadata *_metadata,
		   FIXTURE_DATA(matrix) *self, const FIXTURE_VARIANT(matrix) *v)
{
	switch (v->fault) {
	case KILL_SRC_AGENT:
		proc_stop(&self->migrate);
		break;
	case KILL_DST_AGENT:
		proc_stop(&self->incoming);
		break;
	case KILL_SRC_VMM:
		proc_stop(&self->a.pid);
		break;
	case KILL_DST_VMM:
		proc_stop(&self->b.pid);
		break;
	case LINK_DOWN:
		ASSERT_EQ(0, hosts_sh("link_down"));
		break;
	case LOSS:
		ASSERT_EQ(0, hosts_sh("netem loss 100%"));
		break;
	case DELAY:
		ASSERT_EQ(0, hosts_sh("netem delay 20ms"));
		break;
	case REORDER:
		ASSERT_EQ(0, hosts_sh("netem delay 5ms reorder 50% 50%"));
		break;
	case RMMOD:
		rmmod_refused(_metadata);
		break;
	default:	/* set up before the start */
		break;
	}
}

/* An agent's exit status within WAIT_MS (it is killed when late). */
static int agent_end(pid_t *pid)
{
	int ret;

	if (*pid <= 0)
		return KILLED;
	ret = proc_wait_exit(*pid, WAIT_MS);
	if (ret == -ETIMEDOUT)
		proc_stop(pid);
	*pid = 0;
	return ret;
}

static void says(struct __test_metadata *_metadata, const char *log,
		 const char *what)
{
	if (what)
		EXPECT_TRUE(file_has(log, what))
			TH_LOG("%s did not say '%s': %s", log, what,
			       file_text(log));
}

/* "running", "paused", ...; "gone" when its VMM was killed or does not
 * answer. */
static const char *state_of(struct vmm_proc *v, struct vmm_status *st)
{
	static char state[4][32];
	static int i;

	i = (i + 1) % 4;
	if (v->pid <= 0 || vmm_status_of(v->sock, st))
		return "gone";
	snprintf(state[i], sizeof(state[i]), "%s", st->state);
	return state[i];
}

/* Whether the guest of @v runs: running, and its counter moves within
 * 3 s (a guest resumed a moment ago may take a while under emulation). */
static bool runs(struct vmm_proc *v)
{
	struct vmm_status st;
	uint64_t c;
	int ms;

	if (strcmp(state_of(v, &st), "running"))
		return false;
	c = st.counter;
	for (ms = 0; ms < 3000; ms += 200) {
		usleep(200000);
		if (strcmp(state_of(v, &st), "running"))
			return false;
		if (st.counter > c)
			return true;
	}
	return false;
}

/* Every file of @a is in @b, the same (slot-N.bin, vcpus.bin). */
static void same_saves(struct __test_metadata *_metadata, const char *dir,
		       const char *a, const char *b)
{
	EXPECT_EQ(0, sh("test -s %s/%s/vcpus.bin && diff -r %s/%s %s/%s",
			dir, a, dir, a, dir, b))
		TH_LOG("the destination's memory or vCPU state differs from the source's at its pause");
}

/*
 * Postcopy: B's memory equals A's at its pause (the source's save) in
 * every page B's guest did not write since RUN (B's dirty log).
 */
static void same_since_run(struct __test_metadata *_metadata, const char *dir)
{
	char src[128], why[256] = "";
	struct vmm_status st;
	long diff, unlogged;

	snprintf(src, sizeof(src), "%s/src", dir);
	diff = pages_differ(VMM_B, pages_ref_images, src, &st, &unlogged, why,
			    sizeof(why));
	ASSERT_LE(0, diff) TH_LOG("%s", why);
	EXPECT_EQ(0, unlogged)
		TH_LOG("%ld pages differ from the source's at its pause, %ld of them not written since RUN",
		       diff, unlogged);
}

/* A's VMM once the guest left it: paused, or marked migrated at the
 * switch (postcopy, and precopy once LOADED came). */
static const char *left_a(const FIXTURE_VARIANT(matrix) *v)
{
	return v->postcopy ? "migrated" : "paused";
}

/* Where the guest is: @v's promise, and on one host at most. */
static void guest_where(struct __test_metadata *_metadata,
			FIXTURE_DATA(matrix) *self,
			const FIXTURE_VARIANT(matrix) *v)
{
	bool on_a = runs(&self->a), on_b;
	struct vmm_status st;

	EXPECT_EQ(v->ends == ON_A, on_a)
		TH_LOG("source VMM: %s", state_of(&self->a, &st));
	/*
	 * RECOVER_ON_B: B's VMM answers status from the guest's counters'
	 * page, stale at the switch, so missing until the recovery brings
	 * it (and its one control connection waits meanwhile): asked after
	 * it (recover_postcopy()).
	 */
	if (v->ends != RECOVER_ON_B) {
		on_b = runs(&self->b);
		EXPECT_FALSE(on_a && on_b)
			TH_LOG("the guest runs on both hosts");
		EXPECT_EQ(v->ends == ON_B, on_b)
			TH_LOG("destination VMM: %s", state_of(&self->b, &st));
	}
	if (v->ends == PAUSED_ON_A)
		EXPECT_STREQ(left_a(v), state_of(&self->a, &st));
	/* handed over: the source's VMM refuses a plain resume */
	if ((v->ends == ON_B || v->ends == RECOVER_ON_B) &&
	    v->fault != KILL_SRC_VMM)
		EXPECT_STREQ("migrated", state_of(&self->a, &st));
	if (v->ends != ON_B && v->ends != RECOVER_ON_B &&
	    v->fault != KILL_DST_VMM)
		EXPECT_STREQ("incoming", state_of(&self->b, &st));
	if (v->ends == ON_B && v->postcopy)
		same_since_run(_metadata, self->dir);
	else if (v->ends == ON_B)
		same_saves(_metadata, self->dir, "src", "dst");
}

/*
 * A postcopy stopped after RUN: `kmig postcopy-recover` on B, `kmig
 * migrate --resume` on A, over the healed link and a new port; both
 * complete, the guest runs on B with every page, and not on A.
 */
static void recover_postcopy(struct __test_metadata *_metadata,
			     FIXTURE_DATA(matrix) *self)
{
	ASSERT_EQ(0, hosts_sh("hosts_heal"));
	self->incoming = proc_spawnf("kmig-b", "recover.log",
				     "%s postcopy-recover --vmm %s --listen %s --timeout 30 --io-timeout 2",
				     proc_bin("kmig"), VMM_B, RECOVER_TO);
	self->migrate = proc_spawnf("kmig-a", "resume.log",
				    "%s migrate --resume --vmm %s --to %s --io-timeout 2",
				    proc_bin("kmig"), VMM_A, RECOVER_TO);
	EXPECT_EQ(0, agent_end(&self->migrate))
		TH_LOG("%s", file_text("resume.log"));
	EXPECT_EQ(0, agent_end(&self->incoming))
		TH_LOG("%s", file_text("recover.log"));
	EXPECT_FALSE(runs(&self->a));
	EXPECT_TRUE(runs(&self->b));
	same_since_run(_metadata, self->dir);
}

/*
 * Recovery: the user resumes a guest paused on the source with kmig
 * resume, and one whose destination died after it ran there, or that a
 * postcopy switch marked migrated, with kmig resume --force (from its state at the pause: the user's call; kmig
 * migrate refuses it, as it migrated away). A guest
 * on the source then migrates again (AGAIN), with the network healed, to
 * a new destination, and arrives whole.
 */
static void recover(struct __test_metadata *_metadata,
		    FIXTURE_DATA(matrix) *self, const FIXTURE_VARIANT(matrix) *v)
{
	char src[128], dst[128];
	bool force = (v->ends == NOWHERE && self->a.pid > 0) ||
		     (v->ends == PAUSED_ON_A && v->postcopy);

	if (force) {
		/* Not by migrating it: A's guest migrated away. */
		EXPECT_EQ(1, proc_wait_exit(proc_spawnf("kmig-a", "migrate.log",
			  "%s migrate --vmm %s --to %s", proc_bin("kmig"), VMM_A,
			  TO), WAIT_MS));
		says(_metadata, "migrate.log", "migrated away");
	}
	if (v->ends == RECOVER_ON_B) {
		recover_postcopy(_metadata, self);
		return;
	}
	if (v->ends == PAUSED_ON_A || force) {
		EXPECT_EQ(0, proc_wait_exit(proc_spawnf(NULL, "resume.log",
			  "%s resume --vmm %s %s", proc_bin("kmig"), VMM_A,
			  force ? "--force" : ""), WAIT_MS))
			TH_LOG("%s", file_text("resume.log"));
		EXPECT_TRUE(runs(&self->a));
	}
	if (!v->again)
		return;
	ASSERT_EQ(0, hosts_sh("hosts_heal"));
	proc_stop(&self->b.pid);
	ASSERT_EQ(0, vmm_on(&self->b, "kmig-b", VMM_B, "vmm-b2.log", true));
	snprintf(src, sizeof(src), "%s/src2", self->dir);
	snprintf(dst, sizeof(dst), "%s/dst2", self->dir);
	agents_start(self, NULL, false, false, 2, src, dst);
	EXPECT_EQ(0, agent_end(&self->migrate)) TH_LOG("%s", file_text("migrate.log"));
	EXPECT_EQ(0, agent_end(&self->incoming)) TH_LOG("%s", file_text("incoming.log"));
	EXPECT_FALSE(runs(&self->a));
	EXPECT_TRUE(runs(&self->b));
	same_saves(_metadata, self->dir, "src2", "dst2");
}


TEST_F_TIMEOUT(matrix, row, 90)
{
	pid_t *stopper = dst_stops(variant) ? &self->incoming : &self->migrate;
	FIXTURE_VARIANT(matrix) row = *variant;
	int status;

	start(_metadata, self, variant);
	if (variant->phase) {
		ASSERT_TRUE(proc_stopped(*stopper, &status, WAIT_MS))
			TH_LOG("the agent ended (%x) before '%s': %s", status,
			       variant->phase, file_text(dst_stops(variant) ?
			       "incoming.log" : "migrate.log"));
	}
	inject(_metadata, self, variant);
	if (*stopper > 0)
		kill(*stopper, SIGCONT);
	status = agent_end(&self->migrate);
	if (variant->or_on_a && status == 1) {
		TH_LOG("the source saw the fault before it handed the guest over");
		row.ends = ON_A;
		row.mig_rc = 1;
		row.mig_says = NULL;
		row.again = false;
	}
	EXPECT_EQ(row.mig_rc, status);
	EXPECT_EQ(row.in_rc, agent_end(&self->incoming));
	/* What each said, in the TAP output: the row's report. */
	TH_LOG("%s", file_text("migrate.log"));
	TH_LOG("%s", file_text("incoming.log"));
	says(_metadata, "migrate.log", row.mig_says);
	says(_metadata, "incoming.log", row.in_says);
	guest_where(_metadata, self, &row);
	recover(_metadata, self, &row);
}

/* A row: its name, fault, phase, promise; AGAIN: migrate again after. */
#define ROW(name, f, ph, e, mrc, irc, ms, is, ...)			\
	FIXTURE_VARIANT_ADD(matrix, name) {				\
		.fault = f, .phase = ph, .ends = e, .mig_rc = mrc,	\
		.in_rc = irc, .mig_says = ms, .in_says = is, __VA_ARGS__ \
	}
#define AGAIN	.again = true
#define POSTCOPY	.postcopy = true
#define OR_ON_A		.or_on_a = true


#endif /* KMIG_TEST_MATRIX_H */
