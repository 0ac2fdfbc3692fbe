// SPDX-License-Identifier: GPL-2.0
/*
 * kmig save and kmig restore with real KVM guests on kmig memory: a
 * dirtying guest saved (and left paused) is in the file byte for byte,
 * is restored into a second VMM byte for byte, and runs there, saved
 * with N threads, with O_DIRECT, live (running while it is written), or
 * live with O_DIRECT;
 * --resume runs the saved one on; a file
 * with a damaged page, or cut short, is refused and the guest is not
 * started; an existing file is not overwritten.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ctx.h"
#include "kvm.h"
#include "proc.h"
#include "snap.h"
#include "snapfile.h"

#define VMM_ARGS	"--mem 16 --slots 2 --vcpus 2"

FIXTURE(snapshot) {
	struct vmm_proc a, b;
	char file[64], file2[80];
};

FIXTURE_SETUP(snapshot)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	/* tmpfs when there is one: the bed's 9p is slow to write */
	snprintf(self->file, sizeof(self->file), "%ssnap-%d.kmig",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", getpid());
	snprintf(self->file2, sizeof(self->file2), "%s.again", self->file);
	/*
	 * The guest writes a batch of 64 pages per vCPU every 85 ms (--rate
	 * 1500, two vCPUs), and a fast host writes the file in less: no page
	 * need be dirty after a live save's first pass. Every save --live
	 * here waits 400 ms there, so that at least one dirty round comes.
	 */
	setenv("KMIG_DELAY_AT", "save-live:400", 1);
}

FIXTURE_TEARDOWN(snapshot)
{
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->file);
	unlink(self->file2);
}

/* `kmig ARGS...`'s exit status, its output in kmig.log. */
static int kmig(const char *a1, const char *a2, const char *a3,
		const char *a4, const char *a5)
{
	const char *argv[] = { proc_bin("kmig"), a1, a2, a3, a4, a5, NULL };

	return proc_wait_exit(proc_spawn(NULL, "kmig.log", argv), 60000);
}

/* A running source guest writing its memory, and a VMM waiting; both
 * with @more arguments. */
static void start_with(struct __test_metadata *_metadata,
		       FIXTURE_DATA(snapshot) *self, const char *more)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("snap-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 1500%s", more);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("snap-b"), "/dev/null",
		   VMM_ARGS " --incoming%s", more);
	usleep(300 * 1000);	/* let the guest write a while */
}

static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(snapshot) *self)
{
	start_with(_metadata, self, "");
}

TEST_F_TIMEOUT(snapshot, saved_guest_restores_byte_for_byte_and_runs, 150)
{

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, self->file, NULL))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("paused", snap_vmm_state(&self->a));
	EXPECT_SAME_MEMORY(&self->a, self->file);
	ASSERT_EQ(0, kmig("restore", "--vmm", self->b.sock, "--paused",
			  self->file)) TH_LOG("%s", file_text("kmig.log"));
	/* Loaded and not run: the VMM waits to be told to resume. */
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
}

/*
 * On huge slots (2 MiB folios), the restore writes through the agent's
 * map with one writable PMD a folio (kmig_ctx_map_huge()).
 */
TEST_F_TIMEOUT(snapshot, huge_guest_restores_byte_for_byte, 150)
{
	REQUIRE_BED();
	start_with(_metadata, self, " --huge");
	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, self->file, NULL))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_SAME_MEMORY(&self->a, self->file);
	ASSERT_EQ(0, kmig("restore", "--vmm", self->b.sock, "--paused",
			  self->file))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
}

/* kmig(), with @args (up to 10, NULL ended). */
static int kmig_argv(const char *const *args)
{
	const char *argv[12] = { proc_bin("kmig") };
	int i;

	for (i = 0; i < 10 && args[i]; i++)
		argv[i + 1] = args[i];
	return proc_wait_exit(proc_spawn(NULL, "kmig.log", argv), 60000);
}

/*
 * kmig with @args and --direct-io: 0 when it ran, 4 (a skip) when the
 * file's filesystem refuses O_DIRECT and kmig said so clearly.
 */
static int kmig_direct(struct __test_metadata *_metadata,
		       const char *const *args)
{
	int ret = kmig_argv(args);

	if (ret && file_has("kmig.log", "refuses O_DIRECT")) {
		EXPECT_TRUE(file_has("kmig.log", "--direct-io"));
		return 4;
	}
	EXPECT_EQ(0, ret) TH_LOG("%s", file_text("kmig.log"));
	return ret;
}

TEST_F_TIMEOUT(snapshot, threads_and_direct_io_restore_byte_for_byte, 150)
{
	const char *save[] = { "save", "--vmm", self->a.sock, "--direct-io",
			       self->file2, NULL };
	const char *restore[] = { "restore", "--vmm", self->b.sock,
				  "--threads=4", "--direct-io", "--paused",
				  self->file2, NULL };
	int ret;

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, "--threads=3",
			  self->file)) TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has("kmig.log", "(3 threads)"));
	EXPECT_SAME_MEMORY(&self->a, self->file);
	/* Again with O_DIRECT from the guest's kmig memory. */
	ret = kmig_direct(_metadata, save);
	if (ret == 4)
		SKIP(return, "%s", file_text("kmig.log"));
	ASSERT_EQ(0, ret);
	TH_LOG("%s", file_text("kmig.log"));
	EXPECT_SAME_MEMORY(&self->a, self->file2);
	ASSERT_EQ(0, kmig_direct(_metadata, restore));
	TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
	EXPECT_SAME_MEMORY(&self->b, self->file2);
	vmm_resume_runs(&self->b);
}

TEST_F_TIMEOUT(snapshot, live_save_of_a_dirtying_guest_restores_byte_for_byte, 150)
{
	/* 1 to 3 dirty rounds, each rewriting pages in place. */
	const char *live[] = { "save", "--vmm", self->a.sock, "--live",
			       "--live-dirty=1", "--live-rounds=3", self->file,
			       NULL };
	const char *said;
	unsigned int rounds = 0;

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, kmig_argv(live)) TH_LOG("%s", file_text("kmig.log"));
	said = strstr(file_text("kmig.log"), "live: ");
	ASSERT_NE(NULL, said) TH_LOG("%s", file_text("kmig.log"));
	ASSERT_EQ(1, sscanf(said, "live: %u dirty rounds", &rounds));
	TH_LOG("%s", said);
	EXPECT_LE(1, rounds);
	EXPECT_GE(3, rounds);
	/* The file holds the memory as it was at the pause. */
	EXPECT_STREQ("paused", snap_vmm_state(&self->a));
	EXPECT_SAME_MEMORY(&self->a, self->file);
	ASSERT_EQ(0, kmig("restore", "--vmm", self->b.sock, "--paused",
			  self->file)) TH_LOG("%s", file_text("kmig.log"));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
	/* --live wants a running guest. */
	EXPECT_EQ(1, kmig("save", "--vmm", self->a.sock, "--live",
			  self->file2));
	EXPECT_TRUE(file_has("kmig.log", "paused already"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_NE(0, access(self->file2, F_OK));
}

/*
 * Live and O_DIRECT together: the dirty rounds rewrite pages in place
 * through the O_DIRECT descriptor, from several threads.
 */
TEST_F_TIMEOUT(snapshot, live_save_with_direct_io_restores_byte_for_byte, 150)
{
	const char *live[] = { "save", "--vmm", self->a.sock, "--live",
			       "--live-dirty=1", "--live-rounds=3",
			       "--direct-io", "--threads=2", self->file2,
			       NULL };
	const char *restore[] = { "restore", "--vmm", self->b.sock,
				  "--direct-io", "--paused", self->file2,
				  NULL };
	unsigned int rounds = 0;
	const char *said;
	int ret;

	REQUIRE_BED();
	start(_metadata, self);
	ret = kmig_direct(_metadata, live);
	if (ret == 4)
		SKIP(return, "%s", file_text("kmig.log"));
	ASSERT_EQ(0, ret);
	TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has("kmig.log", "(2 threads, O_DIRECT"));
	said = strstr(file_text("kmig.log"), "live: ");
	ASSERT_NE(NULL, said);
	ASSERT_EQ(1, sscanf(said, "live: %u dirty rounds", &rounds));
	EXPECT_LE(1, rounds);
	EXPECT_STREQ("paused", snap_vmm_state(&self->a));
	EXPECT_SAME_MEMORY(&self->a, self->file2);
	ASSERT_EQ(0, kmig_direct(_metadata, restore));
	EXPECT_SAME_MEMORY(&self->b, self->file2);
	vmm_resume_runs(&self->b);
}

TEST_F_TIMEOUT(snapshot, resume_runs_the_saved_guest_on, 150)
{
	struct vmm_status st;

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, "--resume",
			  self->file)) TH_LOG("%s", file_text("kmig.log"));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->a, st.counter, &st);
	/* ... and the file restores into a guest that runs. */
	ASSERT_EQ(0, kmig("restore", "--vmm", self->b.sock, self->file, NULL))
		TH_LOG("%s", file_text("kmig.log"));
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->b, st.counter, &st);
}

TEST_F_TIMEOUT(snapshot, damaged_or_cut_files_start_no_guest, 150)
{
	struct kmig_snap s;
	struct stat sb;
	char err[256];
	uint64_t p;
	uint8_t b;
	int fd;

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, "--resume",
			  self->file)) TH_LOG("%s", file_text("kmig.log"));
	fd = open(self->file, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmig_snap_open(fd, &s, err, sizeof(err)));
	/* A byte of the first page the file has, flipped. */
	for (p = 0; !(s.slot[0].bitmap[p / 64] & (1ull << (p % 64))); p++)
		;
	ASSERT_EQ(1, pread(fd, &b, 1, s.slot[0].pages_off + p * 4096 + 7));
	b ^= 1;
	ASSERT_EQ(1, pwrite(fd, &b, 1, s.slot[0].pages_off + p * 4096 + 7));
	kmig_snap_close(&s);
	EXPECT_EQ(1, kmig("restore", "--vmm", self->b.sock, self->file, NULL));
	EXPECT_TRUE(file_has("kmig.log", "checksum mismatch"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
	/* Cut short: refused before a page is read. */
	ASSERT_EQ(0, fstat(fd, &sb));
	ASSERT_EQ(0, ftruncate(fd, sb.st_size - 1));
	close(fd);
	EXPECT_EQ(1, kmig("restore", "--vmm", self->b.sock, self->file, NULL));
	EXPECT_TRUE(file_has("kmig.log", "torn or cut"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
}

TEST_F_TIMEOUT(snapshot, an_existing_file_is_not_overwritten, 150)
{
	int fd;

	REQUIRE_BED();
	start(_metadata, self);
	fd = open(self->file, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "keep\n", 5));
	close(fd);
	EXPECT_EQ(1, kmig("save", "--vmm", self->a.sock, self->file, NULL));
	EXPECT_TRUE(file_has("kmig.log", "File exists"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has(self->file, "keep"));
	/* The guest was not paused for it. */
	EXPECT_STREQ("running", snap_vmm_state(&self->a));
	EXPECT_EQ(2, kmig("save", "--vmm", self->a.sock, NULL, NULL));
	EXPECT_EQ(1, kmig("restore", "--vmm", self->a.sock, self->file, NULL));
}

TEST_HARNESS_MAIN
