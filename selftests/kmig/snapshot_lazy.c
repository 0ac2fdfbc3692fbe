// SPDX-License-Identifier: GPL-2.0
/*
 * kmig restore --lazy with real KVM guests on kmig memory: the guest runs
 * while its pages still come from the file (its counter advances before
 * the fill ends) and the memory ends as the file holds it, byte for byte;
 * a range that fails its checksum ends the guest's faults with SIGBUS
 * (KVM_RUN fails: the VMM reports the failure) and the restore names the
 * range; an agent killed mid-fill leaves the guest's faults waiting, and
 * --resume-fill takes over from what the module holds; a recorded working
 * set is prefetched by the next lazy restore, which then faults less.
 * Every page is read straight into its staged page and handed over
 * (pages staged; none copied), faults and fillers meeting on one range
 * included; with KMIG_STAGED_INSTALL=0, and on huge slots, pages are
 * copied, to the same bytes.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ctx.h"
#include "kvm.h"
#include "proc.h"
#include "snap.h"
#include "snapfile.h"

/* 64 MiB in 2 slots: 128 ranges of 1 MiB; --fill-rate 8: 16 s to fill. */
#define VMM_ARGS	"--mem 64 --slots 2 --vcpus 2"
#define SLOW		"8"
/* For a restore killed mid-fill: 64 s for 64 MiB, however late the kill. */
#define SLOWEST		"1"

FIXTURE(lazy) {
	struct vmm_proc a, b;
	char file[64], ws[80];
	pid_t agent, agent2;
};

FIXTURE_SETUP(lazy)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	self->agent = self->agent2 = 0;
	snprintf(self->file, sizeof(self->file), "%slazy-%d.kmig",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", getpid());
	snprintf(self->ws, sizeof(self->ws), "%s.ws", self->file);
}

FIXTURE_TEARDOWN(lazy)
{
	proc_stop(&self->agent);
	proc_stop(&self->agent2);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->file);
	unlink(self->ws);
}

/* `kmig restore --vmm SOCK ARGS... FILE` into @v, its output in @log. */
static pid_t restore_to(FIXTURE_DATA(lazy) *self, struct vmm_proc *v,
			const char *log, const char *a1, const char *a2,
			const char *a3, const char *a4)
{
	const char *argv[] = { proc_bin("kmig"), "restore", "--vmm",
			       v->sock, a1, a2, a3, a4, NULL, NULL };
	unsigned int i;

	for (i = 4; argv[i]; i++)
		;
	argv[i] = self->file;
	return proc_spawn(NULL, log, argv);
}

/* The same into VMM b. */
static pid_t restore(FIXTURE_DATA(lazy) *self, const char *log,
		     const char *a1, const char *a2, const char *a3,
		     const char *a4)
{
	return restore_to(self, &self->b, log, a1, a2, a3, a4);
}

/*
 * A guest that wrote its memory a while, saved, and a VMM waiting; both
 * VMMs with @more arguments.
 */
static void saved_with(struct __test_metadata *_metadata,
		       FIXTURE_DATA(lazy) *self, const char *more)
{
	const char *argv[] = { proc_bin("kmig"), "save", "--vmm", self->a.sock,
			       self->file, NULL };
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("lazy-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 3000%s", more);
	vmm_wait_counter(&self->a, 0, &st);
	usleep(1500 * 1000);
	ASSERT_EQ(0, proc_wait_exit(proc_spawn(NULL, "save.log", argv), 60000))
		TH_LOG("%s", file_text("save.log"));
	vmm_stop(&self->a);
	vmm_startf(&self->b, vmm_sock("lazy-b"), "/dev/null",
		   VMM_ARGS " --incoming%s", more);
}

static void saved(struct __test_metadata *_metadata,
		  FIXTURE_DATA(lazy) *self)
{
	saved_with(_metadata, self, "");
}

/* The number after @what in @log, or -1. */
static long long number_after(const char *log, const char *what)
{
	const char *p = strstr(file_text(log), what);

	return p ? strtoll(p + strlen(what), NULL, 10) : -1;
}

/*
 * How lazy.log's restore gave pages memory: every one read into its
 * staged page and handed over (@staged), or every one copied.
 */
static void expect_installs(struct __test_metadata *_metadata, bool staged)
{
	long long s = number_after("lazy.log", "pages staged ");
	long long c = number_after("lazy.log", ", copied ");

	if (staged) {
		EXPECT_LT(0, s) TH_LOG("%s", file_text("lazy.log"));
		EXPECT_EQ(0, c) TH_LOG("%s", file_text("lazy.log"));
	} else {
		EXPECT_EQ(0, s) TH_LOG("%s", file_text("lazy.log"));
		EXPECT_LT(0, c) TH_LOG("%s", file_text("lazy.log"));
	}
}

static bool running(pid_t pid)
{
	int status;

	return !proc_reaped(pid, &status, 0);
}

/* A lazy restore (--fill-rate SLOWEST) stopped at @point, then killed. */
static void killed_at(struct __test_metadata *_metadata,
		      FIXTURE_DATA(lazy) *self, const char *point)
{
	int status;

	setenv("KMIG_STOP_AT", point, 1);
	self->agent = restore(self, "lazy.log", "--lazy", "--fill-rate",
			      SLOWEST, NULL);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->agent, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("lazy.log"));
	kill(self->agent, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, proc_wait_exit(self->agent, 10000));
	self->agent = 0;
}

TEST_F_TIMEOUT(lazy, guest_runs_during_the_fill_and_memory_ends_exact, 240)
{
	struct vmm_status st;
	pid_t pid;

	REQUIRE_BED();
	saved(_metadata, self);
	/* Paused: nothing but the fill writes, so the end is the file. */
	self->agent = restore(self, "lazy.log", "--lazy", "--paused",
			      "--threads", "2");
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	/* Read into their staged pages, handed over; none copied. */
	expect_installs(_metadata, true);
	vmm_stop(&self->b);

	/* Running: the counter moves while the fill still goes on. */
	vmm_startf(&self->b, vmm_sock("lazy-b2"), "/dev/null",
		   VMM_ARGS " --incoming");
	pid = restore(self, "lazy2.log", "--lazy", "--fill-rate", SLOW, NULL);
	self->agent = pid;
	vmm_wait_counter(&self->b, 0, &st);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	vmm_wait_counter(&self->b, st.counter + 2, &st);
	EXPECT_TRUE(running(pid)) TH_LOG("the fill ended before the guest ran: %s",
					 file_text("lazy2.log"));
	ASSERT_EQ(0, proc_wait_exit(pid, 120000))
		TH_LOG("%s", file_text("lazy2.log"));
	self->agent = 0;
	EXPECT_LT(0, number_after("lazy2.log", "faults "))
		TH_LOG("%s", file_text("lazy2.log"));
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->b, st.counter, &st);
}

TEST_F_TIMEOUT(lazy, a_damaged_range_ends_faults_with_sigbus, 240)
{
	const struct kmig_snap_slot *sl;
	struct vmm_status st;
	struct kmig_snap s;
	char err[256];
	uint64_t p;
	uint8_t b;
	int fd, i;

	REQUIRE_BED();
	saved(_metadata, self);
	fd = open(self->file, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmig_snap_open(fd, &s, err, sizeof(err)));
	/*
	 * A byte of the last page the file has, flipped: the guest runs
	 * before its range is read (by a fault or, last, by the fill).
	 */
	sl = &s.slot[s.nslots - 1];
	for (p = sl->npages - 1; !(sl->bitmap[p / 64] & (1ull << (p % 64)));
	     p--)
		;
	ASSERT_EQ(1, pread(fd, &b, 1, sl->pages_off + p * 4096 + 7));
	b ^= 1;
	ASSERT_EQ(1, pwrite(fd, &b, 1, sl->pages_off + p * 4096 + 7));
	snprintf(err, sizeof(err), "slot %u pages %llu..%llu: checksum mismatch",
		 sl->id, (unsigned long long)p / 256 * 256,
		 (unsigned long long)(p / 256 * 256 + 255 < sl->npages ?
				      p / 256 * 256 + 255 : sl->npages - 1));
	kmig_snap_close(&s);
	close(fd);
	self->agent = restore(self, "lazy.log", "--lazy", "--fill-rate", SLOW,
			      NULL);
	EXPECT_EQ(1, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	EXPECT_TRUE(file_has("lazy.log", err))
		TH_LOG("no '%s' in: %s", err, file_text("lazy.log"));
	/* Its vCPUs got no page: KVM_RUN failed, or the VMM died. */
	for (i = 0; i < 300 && !vmm_status(&self->b, &st) &&
		    !strcmp(st.state, "running"); i++)
		usleep(100 * 1000);
	snprintf(err, sizeof(err), "%s", snap_vmm_state(&self->b));
	EXPECT_TRUE(!strcmp(err, "failed") || !strcmp(err, "gone"))
		TH_LOG("the VMM is %s after the damaged range", err);
}

TEST_F_TIMEOUT(lazy, a_killed_agent_leaves_faults_waiting_for_resume_fill, 240)
{
	struct vmm_status st;

	REQUIRE_BED();
	saved(_metadata, self);
	/* the agent stops with its first faults read and not served */
	killed_at(_metadata, self, "lazy-fault");
	/*
	 * Its faults wait: the VMM did not die (it says "running" below,
	 * once the next server filled its pages, so it did not fail either).
	 */
	usleep(500 * 1000);
	EXPECT_TRUE(running(self->b.pid));
	self->agent = restore(self, "resume.log", "--resume-fill", "--threads",
			      "2", NULL);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("resume.log"));
	self->agent = 0;
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->b, st.counter + 2, &st);
}

TEST_F_TIMEOUT(lazy, a_killed_paused_restore_resumes_to_exact_memory, 240)
{
	pid_t pid;

	REQUIRE_BED();
	saved(_metadata, self);
	pid = restore(self, "lazy.log", "--lazy", "--paused", "--fill-rate",
		      SLOWEST);
	self->agent = pid;
	usleep(2000 * 1000);
	ASSERT_TRUE(running(pid)) TH_LOG("%s", file_text("lazy.log"));
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, proc_wait_exit(pid, 10000));
	self->agent = restore(self, "resume.log", "--resume-fill", "--paused",
			      NULL, NULL);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("resume.log"));
	self->agent = 0;
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
}

/*
 * Killed before the guest ever ran, when its pages were put in missing
 * mode but the VMM's own (the payload and parameter page kmig-vmm writes
 * at start) were not yet overwritten with the file's: --resume-fill does
 * the setup again, so the memory is the file's, and the guest's state is
 * loaded (it runs when resumed).
 */
TEST_F_TIMEOUT(lazy, killed_before_the_guest_ran_resume_fill_sets_it_up, 240)
{
	REQUIRE_BED();
	saved(_metadata, self);
	killed_at(_metadata, self, "lazy-setup");
	self->agent = restore(self, "resume.log", "--resume-fill", "--paused",
			      NULL, NULL);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("resume.log"));
	self->agent = 0;
	TH_LOG("%s", file_text("resume.log"));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
}

/*
 * Two lazy restores of one file at once, into two VMMs: each reads it on
 * its own (the one page cache serves both), and both end exact and run.
 */
TEST_F_TIMEOUT(lazy, two_lazy_restores_of_one_file_at_once, 240)
{
	REQUIRE_BED();
	saved(_metadata, self);
	vmm_startf(&self->a, vmm_sock("lazy-a2"), "/dev/null",
		   VMM_ARGS " --incoming");
	self->agent = restore(self, "lazy.log", "--lazy", "--paused",
			      "--fill-rate", SLOW);
	self->agent2 = restore_to(self, &self->a, "lazy2.log", "--lazy",
				  "--paused", "--fill-rate", SLOW);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	ASSERT_EQ(0, proc_wait_exit(self->agent2, 120000))
		TH_LOG("%s", file_text("lazy2.log"));
	self->agent2 = 0;
	EXPECT_SAME_MEMORY(&self->b, self->file);
	EXPECT_SAME_MEMORY(&self->a, self->file);
	vmm_resume_runs(&self->b);
	vmm_resume_runs(&self->a);
}

TEST_F_TIMEOUT(lazy, the_recorded_working_set_is_prefetched_first, 300)
{
	long long faults1, faults2;
	struct vmm_status st;

	REQUIRE_BED();
	saved(_metadata, self);
	self->agent = restore(self, "lazy.log", "--lazy", "--fill-rate", SLOW,
			      "--record-ws");
	vmm_wait_counter(&self->b, 0, &st);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	ASSERT_EQ(0, access(self->ws, R_OK));
	faults1 = number_after("lazy.log", "faults ");
	vmm_stop(&self->b);

	vmm_startf(&self->b, vmm_sock("lazy-b2"), "/dev/null",
		   VMM_ARGS " --incoming");
	self->agent = restore(self, "lazy2.log", "--lazy", "--fill-rate",
			      SLOW, NULL);
	ASSERT_EQ(0, __vmm_wait_counter(self->b.sock, 0, PROC_WAIT_MS, &st))
		TH_LOG("%s", file_text("lazy2.log"));
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy2.log"));
	self->agent = 0;
	faults2 = number_after("lazy2.log", "faults ");
	TH_LOG("faults: %lld recording, %lld with the working set prefetched",
	       faults1, faults2);
	EXPECT_LT(0, number_after("lazy2.log", "served for faults, "))
		TH_LOG("%s", file_text("lazy2.log"));
	ASSERT_LE(8, faults1) TH_LOG("%s", file_text("lazy.log"));
	EXPECT_LT(faults2 * 2, faults1)
		TH_LOG("%s\n%s", file_text("lazy.log"), file_text("lazy2.log"));
}

/*
 * The fault thread and the fillers on the same ranges: the memory read
 * through a mapping from its start while the fill goes the same way, its
 * first range held by its filler 3 s after the read (KMIG_DELAY_AT), so
 * that the reader's faults meet a range a filler reads (the fault thread
 * leaves it to that filler, whose install wakes the fault) and ranges a
 * filler claimed and waits to read (--fill-rate: the fault thread takes
 * them). One thread stages each range: a second writer into a page
 * handed over would fail the restore. Every byte is the file's, as the
 * faults saw it and at the end, and every page was staged.
 */
TEST_F_TIMEOUT(lazy, faults_and_fillers_on_one_range_stage_it_once, 240)
{
	struct snap_ctx c;
	char why[256];
	int status;

	REQUIRE_BED();
	saved(_metadata, self);
	/* before the agent holds the VMM's one control connection */
	ASSERT_EQ(0, snap_ctx_open(&self->b, &c));
	/*
	 * Stopped before anything is served, once the pages the VMM had are
	 * overwritten with the file's (before, a reader would see the VMM's).
	 */
	setenv("KMIG_STOP_AT", "lazy-serve", 1);
	setenv("KMIG_DELAY_AT", "lazy-fill:3000", 1);
	self->agent = restore(self, "lazy.log", "--lazy", "--paused",
			      "--fill-rate", SLOW);
	unsetenv("KMIG_STOP_AT");
	unsetenv("KMIG_DELAY_AT");
	ASSERT_TRUE(proc_stopped(self->agent, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("lazy.log"));
	kill(self->agent, SIGCONT);
	EXPECT_EQ(0, snap_ctx_differs(&c, self->file, true, why,
				      sizeof(why)))
		TH_LOG("through a mapping: %s", why);
	snap_ctx_close(&c);
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	EXPECT_SAME_MEMORY(&self->b, self->file);
	EXPECT_LT(0, number_after("lazy.log", "; faults "))
		TH_LOG("the reader never faulted: %s", file_text("lazy.log"));
	EXPECT_LT(0, number_after("lazy.log", " ranges, "))
		TH_LOG("no range served for a fault: %s", file_text("lazy.log"));
	expect_installs(_metadata, true);
	/* the faults, their latency (the held range's: about 3 s) */
	TH_LOG("%s", file_text("lazy.log"));
	vmm_resume_runs(&self->b);
}

/*
 * A paused lazy restore that copies every page it installs: the memory
 * the file's, no page staged; and the guest runs.
 */
static void restore_copies(struct __test_metadata *_metadata,
			   FIXTURE_DATA(lazy) *self)
{
	self->agent = restore(self, "lazy.log", "--lazy", "--paused",
			      "--threads", "2");
	ASSERT_EQ(0, proc_wait_exit(self->agent, 120000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	EXPECT_SAME_MEMORY(&self->b, self->file);
	expect_installs(_metadata, false);
	vmm_resume_runs(&self->b);
}

/* KMIG_STAGED_INSTALL=0: every page copied, and the log says why. */
TEST_F_TIMEOUT(lazy, with_staged_installs_off_pages_are_copied, 240)
{
	REQUIRE_BED();
	saved(_metadata, self);
	setenv("KMIG_STAGED_INSTALL", "0", 1);
	restore_copies(_metadata, self);
	unsetenv("KMIG_STAGED_INSTALL");
	EXPECT_TRUE(file_has("lazy.log", "pages are copied (KMIG_STAGED_INSTALL=0)"))
		TH_LOG("%s", file_text("lazy.log"));
}

/* Huge slots: a staged page is 4 KiB, so their pages are copied. */
TEST_F_TIMEOUT(lazy, huge_slots_are_copied, 240)
{
	REQUIRE_BED();
	saved_with(_metadata, self, " --huge");
	restore_copies(_metadata, self);
}

TEST_HARNESS_MAIN
