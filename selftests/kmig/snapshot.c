// SPDX-License-Identifier: GPL-2.0
/*
 * kmig save and kmig restore with real KVM guests on kmig memory: a
 * dirtying guest saved (and left paused) is in the file byte for byte,
 * is restored into a second VMM byte for byte, and runs there; --resume runs the saved one on; a file
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

/* A running source guest writing its memory, and a VMM waiting. */
static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(snapshot) *self)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("snap-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 1500");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("snap-b"), "/dev/null",
		   VMM_ARGS " --incoming");
	usleep(300 * 1000);	/* let the guest write a while */
}

TEST_F_TIMEOUT(snapshot, saved_guest_restores_byte_for_byte_and_runs, 150)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;

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
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "resume"));
	vmm_client_close(&c);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(&self->b, st.counter, &st);
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
