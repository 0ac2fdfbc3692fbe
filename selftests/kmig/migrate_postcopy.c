// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy live migration end to end on one machine
 * (Documentation/postcopy.rst): a source kmig-vmm whose guest keeps
 * dirtying memory, a destination kmig-vmm started --incoming, and
 * `kmig incoming` / `kmig migrate --postcopy` between them over
 * 127.0.0.1, with one and with four page channels.
 *
 * The guest writes random pages, and the push after the switch waits for
 * the destination guest's first fault (KMIG_PUSH_AFTER_FAULT=1), then is
 * capped (--postcopy-bandwidth 1): the destination's guest, running
 * meanwhile, faults on pages that have not arrived, and those are
 * requested. Without the wait, on a slow kernel (the debug bed) the
 * whole push could end before the guest runs.
 *
 * Checked: both agents succeed; the source's VMM stays "migrated"; the
 * destination's guest faulted, and the source had requests after RESUMED;
 * the destination held stale pages, and requested none of them before
 * RUN (discarded: missing like the others); the destination's VMM names
 * its vCPU threads (`vcpus`), and the faults
 * of its guest are charged to them: a vCPU that faulted was blocked for
 * some time; while postcopy runs, both agents publish its progress in
 * their job info (KMIG_JOB_DIR: pages remaining), none remaining at the
 * end;
 * the guest's counter advances on the destination; and its memory there,
 * once paused, equals the source's at the pause in every page but those
 * its guest wrote since RUN. Every page not in its dirty log since the
 * resume (precopy's pages) must be equal; the logged ones (installed or
 * written since) may differ no more often than the guest wrote, which the
 * pace of the destination's VMM keeps low.
 *
 * The same with a prefetch window: answers carry pages nobody asked for.
 *
 * The same on huge slots (both VMMs --huge, KMIG_SLOT_HUGE), where
 * blocks also come back whole (postcopy_blocks_whole: the source discards,
 * pushes and answers a huge slot in whole 2 MiB blocks).
 *
 * The destination receives every page after the switch in place, into
 * its staged page, and hands it over (postcopy_pages_staged; none
 * copied), but on huge slots, which it copies in whole blocks; and with
 * KMIG_STAGED_INSTALL=0 (live_copied) it copies every page, as with a
 * module before API version 4.
 *
 * The same with the two races of RUN against the listening side made to
 * happen (KMIG_DELAY_AT): every page arrived before the destination
 * listens (no fault), and faults raised before the fault thread reads.
 *
 * Then a failure before RUN: a destination whose VMM refuses the vCPU
 * state (it has another number of vCPUs) says FAILED, and the source runs
 * the guest again. And a link cut or either agent killed right after RUN
 * (two network namespaces): the guest runs at the destination and never
 * again at the source, each surviving agent says so (exit status 3), and
 * both VMMs are there for the recovery (migrate_pcrecover.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "ctx.h"
#include "guest/abi.h"
#include "kvm.h"
#include "pages.h"
#include "postcopy_cut.h"
#include "proc.h"

#define TEST_TIMEOUT	180
#define PAGE		4096u
/* Pages a guest writes besides its working set: parameters, stacks. */
#define OTHER_PAGES	8

FIXTURE(postcopy) {
	struct vmm_proc a, b;
	char dir[128];
	bool huge;		/* both VMMs --huge */
	bool copied;		/* the destination: KMIG_STAGED_INSTALL=0 */
};

FIXTURE_VARIANT(postcopy) {
	unsigned int channels;
	unsigned int port;
};

FIXTURE_VARIANT_ADD(postcopy, one_channel) {
	.channels = 1, .port = 24601,
};

FIXTURE_VARIANT_ADD(postcopy, four_channels) {
	.channels = 4, .port = 24602,
};

/* No VMM yet, the directory of this run of test @what named. */
static void pc_dir_setup(FIXTURE_DATA(postcopy) *p, const char *what)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "%spostcopy-%s-%d",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", what, getpid());
}

static void pc_dir_teardown(struct __test_metadata *_metadata,
			      FIXTURE_DATA(postcopy) *p)
{
	char cmd[256];

	vmm_stop(&p->a);
	vmm_stop(&p->b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", p->dir);
}

FIXTURE_SETUP(postcopy)
{
	pc_dir_setup(self, variant->channels > 1 ? "n" : "1");
}

FIXTURE_TEARDOWN(postcopy)
{
	pc_dir_teardown(_metadata, self);
}

/*
 * The job info each agent publishes while it runs ($KMIG_JOB_DIR): of
 * the active ones that carry postcopy's progress, the one with the most
 * pages remaining.
 */
struct job_watch {
	char dir[2][PATH_MAX];		/* the destination's, the source's */
	char *seen[2];
	uint64_t remaining[2];
	bool stop;			/* atomic */
	pthread_t thread;
};

static char *slurp(const char *path)
{
	char *buf = calloc(1, 65536);
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fread(buf, 1, 65535, f))
			buf[0] = 0;
		fclose(f);
	}
	return buf;
}

static void *watch_jobs(void *arg)
{
	struct job_watch *w = arg;
	char path[PATH_MAX + 16];
	uint64_t left;
	char *info;
	int i;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/info.json", w->dir[i]);
			info = slurp(path);
			left = json_u64(info, "postcopy_remaining");
			if (strstr(info, "\"status\": \"active\"") &&
			    left != ~0ull && (!w->seen[i] || left > w->remaining[i])) {
				free(w->seen[i]);
				w->seen[i] = info;
				w->remaining[i] = left;
				continue;
			}
			free(info);
		}
		usleep(50 * 1000);
	}
	return NULL;
}

/* The destination VMM's `vcpus`: @n thread ids, each a thread of its. */
static void expect_vcpu_threads(struct __test_metadata *_metadata,
				struct vmm_proc *b, unsigned int n)
{
	struct vmm_client c = { .fd = -1 };
	char task[64], *p;
	unsigned int i = 0;
	long tid;

	ASSERT_EQ(0, vmm_connect(b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "vcpus")) TH_LOG("%s", c.reply);
	p = strstr(c.reply, "tids=");
	ASSERT_NE(NULL, p) TH_LOG("%s", c.reply);
	for (p += 5; *p; i++) {
		tid = strtol(p, &p, 10);
		snprintf(task, sizeof(task), "/proc/%d/task/%ld", b->pid, tid);
		EXPECT_EQ(0, access(task, F_OK)) TH_LOG("%s: not a thread of the VMM", task);
		if (*p == ',')
			p++;
	}
	EXPECT_EQ(n, i) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
}

/*
 * Blocktime at the destination: its two vCPUs' lists, and a vCPU that
 * faulted was blocked; the sums agree.
 */
static void expect_blocktime(struct __test_metadata *_metadata,
			     const char *in_out)
{
	uint64_t faults[8], us[8], sum = 0, n = 0;
	int i;

	ASSERT_EQ(2, json_u64_list(in_out, "postcopy_vcpu_faults", faults, 8))
		TH_LOG("%s", in_out);
	ASSERT_EQ(2, json_u64_list(in_out, "postcopy_vcpu_blocktime_us", us, 8));
	for (i = 0; i < 2; i++) {
		if (faults[i]) {
			EXPECT_LT(0, us[i])
				TH_LOG("vCPU %d: %llu faults, no blocktime", i,
				       (unsigned long long)faults[i]);
		}
		sum += us[i];
		n += faults[i];
	}
	EXPECT_LT(0, n) TH_LOG("no fault of a vCPU: %s", in_out);
	EXPECT_EQ(sum, json_u64(in_out, "postcopy_vcpu_blocktime_total_us"));
	EXPECT_GE(json_u64(in_out, "postcopy_faults"),
		  n + json_u64(in_out, "postcopy_non_vcpu_faults"));
	EXPECT_GE(sum / 1000, json_u64(in_out, "postcopy_blocktime"));
	TH_LOG("vCPU faults %llu, %llu; blocked %llu, %llu us; all at once %llu ms; other threads %llu faults",
	       (unsigned long long)faults[0], (unsigned long long)faults[1],
	       (unsigned long long)us[0], (unsigned long long)us[1],
	       (unsigned long long)json_u64(in_out, "postcopy_blocktime"),
	       (unsigned long long)json_u64(in_out, "postcopy_non_vcpu_faults"));
}

/*
 * How the destination installed the pages that came after the switch:
 * each received into its staged page and handed over, none copied; on
 * huge slots or with KMIG_STAGED_INSTALL=0, all copied.
 */
static void expect_staged(struct __test_metadata *_metadata,
			  FIXTURE_DATA(postcopy) *self, const char *in_out)
{
	uint64_t staged = json_u64(in_out, "postcopy_pages_staged");
	uint64_t copied = json_u64(in_out, "postcopy_pages_copied");

	ASSERT_NE(~0ull, staged) TH_LOG("%s", in_out);
	ASSERT_NE(~0ull, copied) TH_LOG("%s", in_out);
	TH_LOG("pages after the switch: %llu staged, %llu copied",
	       (unsigned long long)staged, (unsigned long long)copied);
	if (self->huge || self->copied) {
		EXPECT_EQ(0, staged);
		EXPECT_LT(0, copied);
	} else {
		EXPECT_LT(0, staged);
		EXPECT_EQ(0, copied);
	}
}

/*
 * One postcopy of the dirtying guest over @channels page channels, the
 * destination's agent with $KMIG_DELAY_AT @delay (or none). The push
 * waits for the guest's first fault, and 1 s more when the jobs are
 * watched, so that postcopy lasts; with
 * @push_now it does not (nor is it slowed), and all of it has arrived
 * before the delayed RUN lets the guest run: no fault.
 */
static void live(struct __test_metadata *_metadata,
		 FIXTURE_DATA(postcopy) *self, unsigned int channels,
		 unsigned int port, const char *delay, bool push_now,
		 unsigned int prefetch)
{
	char mig_args[PATH_MAX + 128], src[PATH_MAX], addr[32];
	struct vmm_status st, sa, sb;
	struct vmm_client c = { .fd = -1 };
	struct job_watch w = { 0 };
	struct agents r;
	uint64_t counter;
	bool watch = !delay && !push_now;

	REQUIRE_BED();
	snprintf(src, sizeof(src), "%s/src", self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, mkdir(src, 0755));

	vmm_startf(&self->a, vmm_sock("pc-a"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --pattern random --batch 4 --rate 2000%s",
		   self->huge ? " --huge" : "");
	vmm_wait_counter(&self->a, 0, &st);
	/* paced: the guest writes few pages here after RUN */
	vmm_startf(&self->b, vmm_sock("pc-b"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --incoming --rate 400%s",
		   self->huge ? " --huge" : "");
	/* from the resume on, its log names every page installed or written */
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "dirtylog at-resume"));
	vmm_client_close(&c);
	usleep(300 * 1000);

	snprintf(mig_args, sizeof(mig_args),
		 "--channels %u --postcopy%s --postcopy-prefetch %u --timeout 60 --json --save-at-switchover %s",
		 channels, push_now ? "" : " --postcopy-bandwidth 1", prefetch,
		 src);
	if (!push_now)
		setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	if (delay)
		setenv("KMIG_DELAY_AT", delay, 1);
	snprintf(w.dir[0], sizeof(w.dir[0]), "%s/in-job", self->dir);
	snprintf(w.dir[1], sizeof(w.dir[1]), "%s/out-job", self->dir);
	if (watch) {
		ASSERT_EQ(0, mkdir(w.dir[0], 0755));
		ASSERT_EQ(0, mkdir(w.dir[1], 0755));
		ASSERT_EQ(0, pthread_create(&w.thread, NULL, watch_jobs, &w));
		setenv("KMIG_JOB_DIR", w.dir[0], 1);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	if (self->copied)
		setenv("KMIG_STAGED_INSTALL", "0", 1);
	agents_listen(&r, &self->b, addr, "--timeout 60 --json");
	unsetenv("KMIG_STAGED_INSTALL");
	if (watch) {
		setenv("KMIG_JOB_DIR", w.dir[1], 1);
		/* the push held 1 s after the first fault: seen both sides */
		setenv("KMIG_DELAY_AT", "pc-push:1000", 1);
	}
	agents_migrate(&r, &self->a, addr, mig_args, 100);
	unsetenv("KMIG_JOB_DIR");
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	unsetenv("KMIG_DELAY_AT");
	if (watch) {
		__atomic_store_n(&w.stop, true, __ATOMIC_RELEASE);
		pthread_join(w.thread, NULL);
	}
	if (r.mig_ret || r.in_ret) {
		TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
		TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	}
	ASSERT_EQ(0, r.mig_ret);
	ASSERT_EQ(0, r.in_ret);
	EXPECT_NE(NULL, strstr(r.mig_out, "\"status\": \"completed\""));
	EXPECT_NE(NULL, strstr(r.in_out, "\"status\": \"completed\""));
	EXPECT_LT(0, json_u64(r.mig_out, "postcopy_discarded"))
		TH_LOG("%s", r.mig_out);
	if (push_now) {
		EXPECT_EQ(0, json_u64(r.in_out, "postcopy_faults"))
			TH_LOG("%s", r.in_out);
	} else {
		EXPECT_LT(0, json_u64(r.in_out, "postcopy_faults"))
			TH_LOG("%s", r.in_out);
		/* requested, not only met by the push, which waited */
		EXPECT_LT(0, json_u64(r.mig_out, "postcopy_fault_requests"))
			TH_LOG("%s", r.mig_out);
	}
	/*
	 * Stale pages are discarded at the switch, never fetched: every
	 * request is a fault's (a fault whose page the push brought before
	 * the fault thread read it is not requested), and before RUN the
	 * only faults are the load's.
	 */
	EXPECT_LE(json_u64(r.in_out, "postcopy_requests"),
		  json_u64(r.in_out, "postcopy_faults"))
		TH_LOG("%s", r.in_out);
	if (!push_now) {
		EXPECT_LT(0, json_u64(r.in_out, "postcopy_stale"))
			TH_LOG("%s", r.in_out);
	}
	EXPECT_LE(json_u64(r.in_out, "postcopy_requests_before_run"),
		  json_u64(r.in_out, "postcopy_load_faults"))
		TH_LOG("%s", r.in_out);
	/* pages nobody asked for came with the answers: checked below */
	if (prefetch) {
		EXPECT_LT(0, json_u64(r.mig_out, "postcopy_prefetched"))
			TH_LOG("%s", r.mig_out);
	} else {
		EXPECT_EQ(0, json_u64(r.mig_out, "postcopy_prefetched"));
	}
	EXPECT_EQ(0, json_u64(r.in_out, "postcopy_remaining"));
	EXPECT_EQ(0, json_u64(r.mig_out, "postcopy_remaining"));
	if (watch) {
		expect_vcpu_threads(_metadata, &self->b, 2);
		expect_blocktime(_metadata, r.in_out);
		/* the source answered on the urgent path */
		EXPECT_LT(0, json_u64(r.mig_out, "postcopy_urgent_bytes"));
		/* progress while it ran, on both sides */
		for (int i = 0; i < 2; i++) {
			EXPECT_NE(NULL, w.seen[i]) TH_LOG("%s: no active postcopy job info",
							  w.dir[i]);
			EXPECT_LT(0, w.remaining[i]) TH_LOG("%s", w.seen[i]);
			free(w.seen[i]);
		}
	}
	TH_LOG("%u channel(s): faults %llu, fault to install p50 < %llu us, p99 < %llu us",
	       channels,
	       (unsigned long long)json_u64(r.in_out, "postcopy_faults"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_fault_latency_p50_us"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_fault_latency_p99_us"));
	TH_LOG("%u channel(s): total %llu ms, run after %llu ms, %llu discarded, %llu stale, %llu requests, %llu pushed, %llu blocks whole",
	       channels,
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"),
	       (unsigned long long)json_u64(r.in_out, "downtime"),
	       (unsigned long long)json_u64(r.mig_out, "postcopy_discarded"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_stale"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_requests"),
	       (unsigned long long)json_u64(r.mig_out, "postcopy_pushed"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_blocks_whole"));
	expect_staged(_metadata, self, r.in_out);
	/* a huge slot's blocks come back whole: 2 MiB folios */
	if (self->huge) {
		EXPECT_LT(0, json_u64(r.in_out, "postcopy_blocks_whole"))
			TH_LOG("%s", r.in_out);
	}
	agents_free(&r);

	/* The source stays paused for good; the guest goes on there. */
	ASSERT_EQ(0, vmm_status(&self->a, &sa));
	EXPECT_STREQ("migrated", sa.state);
	counter = sa.counter;
	vmm_wait_counter(&self->b, counter, &st);
	vmm_wait_counter(&self->b, st.counter, &st);

	/* Memory: the source's at the pause, but for the pages written since. */
	EXPECT_SAME_BUT_WRITTEN_SINCE_RUN(self->b.sock, pages_ref_images, src,
					  sa.writes, &sb, OTHER_PAGES);
}

TEST_F_TIMEOUT(postcopy, live, TEST_TIMEOUT)
{
	live(_metadata, self, variant->channels, variant->port, NULL, false, 0);
}

/*
 * A destination that copies every page (KMIG_STAGED_INSTALL=0, as with
 * a module before API version 4): the same, byte-exact.
 */
TEST_F_TIMEOUT(postcopy, live_copied, TEST_TIMEOUT)
{
	self->copied = true;
	live(_metadata, self, variant->channels, variant->port + 40, NULL,
	     false, 0);
}

/*
 * The two races of RUN against the listening side, made to happen: the
 * destination's runner held after POSTCOPY_RUN while the page channels
 * go on, so that every page has arrived before it listens; and its fault
 * thread held, so that the guest faults before anyone reads the faults,
 * which wait for it.
 */
FIXTURE(race) {
	FIXTURE_DATA(postcopy) p;
};

FIXTURE_VARIANT(race) {
	const char *delay;
	bool push_now;
	unsigned int port;
};

/*
 * Held 3 s: the uncapped push of the few hundred pages postcopy has left
 * here (136 to 1019 in the CI runs) takes well under one.
 */
FIXTURE_VARIANT_ADD(race, pages_before_listen) {
	.delay = "pc-listen:3000", .push_now = true, .port = 24651,
};

FIXTURE_VARIANT_ADD(race, faults_before_their_server) {
	.delay = "pc-faults:2000", .port = 24652,
};

FIXTURE_SETUP(race)
{
	pc_dir_setup(&self->p, "race");
}

FIXTURE_TEARDOWN(race)
{
	pc_dir_teardown(_metadata, &self->p);
}

TEST_F_TIMEOUT(race, run_and_listen, TEST_TIMEOUT)
{
	live(_metadata, &self->p, 4, variant->port, variant->delay,
	     variant->push_now, 0);
}

/*
 * A prefetch window of 64 pages (--postcopy-prefetch): answers carry
 * pages that follow the faulting one, which nobody requested; memory
 * ends byte-exact all the same.
 */
FIXTURE(prefetch) {
	FIXTURE_DATA(postcopy) p;
};

FIXTURE_SETUP(prefetch)
{
	pc_dir_setup(&self->p, "prefetch");
}

FIXTURE_TEARDOWN(prefetch)
{
	pc_dir_teardown(_metadata, &self->p);
}

TEST_F_TIMEOUT(prefetch, sends_unrequested_pages_byte_exact, TEST_TIMEOUT)
{
	live(_metadata, &self->p, 2, 24661, NULL, false, 64);
}

/*
 * Huge slots (KMIG_SLOT_HUGE, kmig-vmm --huge) on both sides: 2 MiB
 * folios where precopy's pages land; postcopy's blocks are discarded,
 * pushed and answered whole, and some are installed whole (2 MiB again);
 * memory ends byte-exact all the same.
 */
FIXTURE(huge) {
	FIXTURE_DATA(postcopy) p;
};

FIXTURE_SETUP(huge)
{
	pc_dir_setup(&self->p, "huge");
	self->p.huge = true;
}

FIXTURE_TEARDOWN(huge)
{
	pc_dir_teardown(_metadata, &self->p);
}

TEST_F_TIMEOUT(huge, live_byte_exact, TEST_TIMEOUT)
{
	live(_metadata, &self->p, 1, 24603, NULL, false, 0);
}

/* The destination refuses the vCPU state: the guest runs at the source. */
TEST_F_TIMEOUT(postcopy, failure_before_run_resumes_the_source, TEST_TIMEOUT)
{
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("pc-fa"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 2 --pattern seq --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("pc-fb"), "/dev/null",
		   "--mem 16 --slots 2 --vcpus 1 --incoming");

	run_agents(&self->a, &self->b, variant->port + 10, "--timeout 60",
		   "--channels 2 --postcopy --timeout 60", 100, &r);
	TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
	TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	EXPECT_EQ(1, r.mig_ret);
	EXPECT_EQ(1, r.in_ret);
	EXPECT_NE(NULL, strstr(r.mig_out, "vCPU"));
	agents_free(&r);

	vmm_expect_stayed(&self->a, &self->b);
}

/*
 * `status` of the VMM on @sock, answered within @ms (its raw reply in
 * @c->reply), or -errno: EAGAIN if it did not answer in time.
 */
static int status_within(const char *sock, int ms, struct vmm_client *c,
			 struct vmm_status *st)
{
	struct timeval tmo = { .tv_sec = ms / 1000 };
	int ret;

	ret = vmm_client_connect(c, sock, 5000);
	if (ret)
		return ret;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	return vmm_client_status(c, st);
}

/*
 * kmig-vmm's unmap and map (postcopy's listen step): only while incoming,
 * only with kmig memory; meanwhile nothing reads guest RAM, and the
 * context's pages can be put in missing mode, which a mapping forbids.
 * Mapped again, `status` answers at once though the page of the guest's
 * counters is missing (with no server here to bring it).
 */
TEST_F_TIMEOUT(postcopy, vmm_unmaps_guest_ram_only_while_incoming, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 }, m = { .fd = -1 };
	struct vmm_client_slot slots[8];
	uint64_t params[1] = { 0 }, first, n;
	struct vmm_status st;
	unsigned int nslots;
	int ctx;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("pc-ua"), "/dev/null",
		   "--mem 4 --pattern none --rate 100");
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "unmap")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);

	vmm_startf(&self->b, vmm_sock("pc-ub"), "/dev/null",
		   "--mem 4 --incoming");
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_ctx(&c, slots, 8, &nslots, &ctx))
		TH_LOG("%s", c.reply);
	EXPECT_EQ(-EBUSY, kmig_ctx_set_missing(ctx, slots[0].id, 0, 1));
	EXPECT_EQ(-EALREADY, vmm_client_cmd(&c, "map")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, vmm_client_cmd(&c, "unmap")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EALREADY, vmm_client_cmd(&c, "unmap"));
	EXPECT_EQ(0, kmig_ctx_set_missing(ctx, slots[0].id,
					  slots[0].size / PAGE - 1, 1));
	/* the counters' page, present: discarded */
	params[GUEST_PARAMS_GPA / PAGE / 64] = 1ull << (GUEST_PARAMS_GPA / PAGE % 64);
	EXPECT_EQ(0, kmig_ctx_set_missing_runs(ctx, slots[0].id, params,
					       GUEST_PARAMS_GPA / PAGE + 1,
					       KMIG_SET_MISSING_DISCARD,
					       &first, &n));
	ASSERT_EQ(0, vmm_client_status(&c, &st));
	EXPECT_STREQ("incoming", st.state);
	EXPECT_EQ(0, st.counter);
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "resume"));
	EXPECT_NE(NULL, strstr(c.reply, "'map' first")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&c, "pattern seq"));
	ASSERT_EQ(0, vmm_client_cmd(&c, "map")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EBUSY, kmig_ctx_set_missing(ctx, slots[0].id, 0, 1));
	close(ctx);
	vmm_client_close(&c);
	ASSERT_EQ(0, status_within(vmm_sock("pc-ub"), 5000, &c, &st))
		TH_LOG("%s", c.reply);
	EXPECT_STREQ("incoming", st.state);
	EXPECT_NE(NULL, strstr(c.reply, " counters=absent")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);

	/* memfd memory has no missing mode: nothing to unmap it for */
	vmm_stop(&self->a);
	vmm_startf(&self->a, vmm_sock("pc-uc"), "/dev/null",
		   "--mem 4 --incoming --backend memfd");
	ASSERT_EQ(0, vmm_connect(&self->a, &m));
	EXPECT_EQ(-EOPNOTSUPP, vmm_client_cmd(&m, "unmap")) TH_LOG("%s", m.reply);
	vmm_client_close(&m);
}

#define RUN_DIR		"/run/kmig-postcopy"

/* Two hosts, a VMM and an agent on each (postcopy_cut.h). */
FIXTURE(cut) {
	struct pc_cut cut;
};

FIXTURE_SETUP(cut)
{
	ASSERT_NE(NULL, getenv("KMIG_PROJECT"));
	pc_cut_init(&self->cut, RUN_DIR);
}

FIXTURE_TEARDOWN(cut)
{
	EXPECT_EQ(0, pc_cut_stop(&self->cut));
}

/* What breaks right after RUN, and how each agent ends. */
FIXTURE_VARIANT(cut) {
	const char *fault;		/* link_cut, or the agent killed (pc_cut_break) */
	int mig_exit, in_exit;
};

FIXTURE_VARIANT_ADD(cut, link_cut) {
	.fault = "link_cut", .mig_exit = 3, .in_exit = 3,
};

FIXTURE_VARIANT_ADD(cut, destination_agent_killed) {
	.fault = "incoming", .mig_exit = 3, .in_exit = 128 + SIGKILL,
};

FIXTURE_VARIANT_ADD(cut, source_agent_killed) {
	.fault = "migrate", .mig_exit = 128 + SIGKILL, .in_exit = 3,
};

TEST_F_TIMEOUT(cut, after_run_the_guest_runs_once, TEST_TIMEOUT)
{
	const struct pc_cut_cfg cfg = { .rate_a = "2000", .rate_b = "200" };
	struct pc_cut *cut = &self->cut;
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;

	REQUIRE_KVM();
	if (!getenv("KMIG_KO"))
		SKIP(return, "KMIG_KO is not set (the test bed sets it)");
	pc_cut_start(cut, &cfg);
	pc_cut_break(cut, variant->fault);

	/* Each may have it running there: neither resumes it here. */
	EXPECT_EQ(variant->mig_exit, proc_wait_exit(cut->migrate, 45000))
		TH_LOG("%s", file_text("migrate.log"));
	cut->migrate = 0;
	EXPECT_EQ(variant->in_exit, proc_wait_exit(cut->incoming, 45000))
		TH_LOG("%s", file_text("incoming.log"));
	cut->incoming = 0;
	if (variant->in_exit == 3)
		EXPECT_TRUE(file_has("incoming.log", "the guest may run here"))
			TH_LOG("%s", file_text("incoming.log"));
	ASSERT_EQ(0, vmm_status_of(cut->sock_a, &st));
	EXPECT_STREQ("migrated", st.state);
	/*
	 * It ran at B, pages still missing there (B's agent was held from
	 * RESUMED on): B's VMM says so at once, though the guest's counters
	 * are in a page the guest writes all the time, stale at the switch,
	 * so discarded and missing like the others: `status` must not wait
	 * for it.
	 */
	ASSERT_EQ(0, status_within(cut->sock_b, 5000, &c, &st))
		TH_LOG("%s", c.reply);
	EXPECT_STREQ("running", st.state);
	TH_LOG("%s", c.reply);
	vmm_client_close(&c);
}

TEST_HARNESS_MAIN
