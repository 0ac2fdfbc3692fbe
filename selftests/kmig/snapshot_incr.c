// SPDX-License-Identifier: GPL-2.0
/*
 * kmig save --incremental with real KVM guests on kmig memory: a
 * dirtying guest saved, run on, and saved again into the same file
 * (stopped, and live) has in the file its memory at the second save,
 * byte for byte, having written fewer pages than the file holds, and the
 * file restores into a second VMM byte for byte and runs there; a file
 * that a lazy restore reads refuses the merge, and a file being merged
 * into refuses a lazy restore; a snapshot of another layout, or a file
 * that is no snapshot, is refused before the guest is paused, and left
 * as it was; a merge into a file on a file system without room for its
 * new pages is refused and leaves the file as it was, byte for byte.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ctx.h"
#include "kvm.h"
#include "proc.h"
#include "snap.h"
#include "snapfile.h"

#define VMM_ARGS	"--mem 16 --slots 2 --vcpus 2"

FIXTURE(incr) {
	struct vmm_proc a, b, c;
	char file[64];
	char mnt[64];			/* a small tmpfs mounted there */
	pid_t agent;
};

FIXTURE_SETUP(incr)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	memset(&self->c, 0, sizeof(self->c));
	self->agent = 0;
	self->mnt[0] = 0;
	/* tmpfs when there is one: the bed's 9p is slow to write */
	snprintf(self->file, sizeof(self->file), "%sincr-%d.kmig",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", getpid());
	/* As in snapshot.c: a live save's first pass leaves dirty pages. */
	setenv("KMIG_DELAY_AT", "save-live:400", 1);
}

FIXTURE_TEARDOWN(incr)
{
	proc_stop(&self->agent);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	vmm_stop(&self->c);
	unlink(self->file);
	if (self->mnt[0]) {
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
	}
}

/* `kmig ARGS...` (up to 10, NULL ended) started, its output in @log. */
static pid_t kmig_start(const char *log, const char *const *args)
{
	const char *argv[12] = { proc_bin("kmig") };
	int i;

	for (i = 0; i < 10 && args[i]; i++)
		argv[i + 1] = args[i];
	return proc_spawn(NULL, log, argv);
}

/* The same, its exit status, its output in kmig.log. */
static int kmig(const char *const *args)
{
	return proc_wait_exit(kmig_start("kmig.log", args), 60000);
}

/*
 * A running guest writing its memory, saved with --resume into the
 * fixture's file, running on a while; a VMM waiting for a guest.
 */
static void based(struct __test_metadata *_metadata,
		  FIXTURE_DATA(incr) *self)
{
	const char *save[] = { "save", "--vmm", self->a.sock, "--resume",
			       self->file, NULL };
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("incr-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 1500");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("incr-b"), "/dev/null",
		   VMM_ARGS " --incoming");
	usleep(300 * 1000);
	ASSERT_EQ(0, kmig(save)) TH_LOG("%s", file_text("kmig.log"));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	vmm_wait_counter(&self->a, st.counter, &st);
	usleep(300 * 1000);	/* it writes more pages */
}

/* The MiB after @what in kmig.log, or -1. */
static double mib_after(const char *what)
{
	const char *p = strstr(file_text("kmig.log"), what);

	return p ? strtod(p + strlen(what), NULL) : -1;
}

/*
 * The incremental save in kmig.log wrote some pages, fewer than the
 * file's 16 MiB of guest memory, and read them back first.
 */
static void wrote_some(struct __test_metadata *_metadata)
{
	double rd = mib_after("incremental: "), wr = mib_after("back, ");

	TH_LOG("%s", strstr(file_text("kmig.log"), "incremental:"));
	EXPECT_LT(0, rd);
	EXPECT_LT(0, wr);
	EXPECT_GT(16, wr);
}

/*
 * The guest, paused by the incremental save, is in the file byte for
 * byte; the file restores into the waiting VMM byte for byte, and the
 * guest runs there.
 */
static void restores_and_runs(struct __test_metadata *_metadata,
			      FIXTURE_DATA(incr) *self)
{
	const char *restore[] = { "restore", "--vmm", self->b.sock, "--paused",
				  self->file, NULL };

	EXPECT_STREQ("paused", snap_vmm_state(&self->a));
	EXPECT_SAME_MEMORY(&self->a, self->file);
	ASSERT_EQ(0, kmig(restore)) TH_LOG("%s", file_text("kmig.log"));
	EXPECT_SAME_MEMORY(&self->b, self->file);
	vmm_resume_runs(&self->b);
}

TEST_F_TIMEOUT(incr, incremental_save_of_a_dirtying_guest_restores_byte_for_byte, 180)
{
	const char *incr[] = { "save", "--vmm", self->a.sock, "--incremental",
			       "--threads=2", self->file, NULL };

	REQUIRE_BED();
	based(_metadata, self);
	ASSERT_EQ(0, kmig(incr)) TH_LOG("%s", file_text("kmig.log"));
	wrote_some(_metadata);
	restores_and_runs(_metadata, self);
}

TEST_F_TIMEOUT(incr, live_incremental_save_restores_byte_for_byte, 180)
{
	const char *incr[] = { "save", "--vmm", self->a.sock, "--incremental",
			       "--live", "--live-dirty=1", "--live-rounds=3",
			       self->file, NULL };
	unsigned int rounds = 0;
	const char *said;

	REQUIRE_BED();
	based(_metadata, self);
	ASSERT_EQ(0, kmig(incr)) TH_LOG("%s", file_text("kmig.log"));
	said = strstr(file_text("kmig.log"), "live: ");
	ASSERT_NE(NULL, said);
	ASSERT_EQ(1, sscanf(said, "live: %u dirty rounds", &rounds));
	EXPECT_LE(1, rounds);
	wrote_some(_metadata);
	restores_and_runs(_metadata, self);
}

/*
 * With O_DIRECT from 2 threads: the merge reads back and writes through
 * the O_DIRECT descriptor. A skip where the file system refuses
 * O_DIRECT (tmpfs before Linux 6.6) and kmig said so.
 */
TEST_F_TIMEOUT(incr, incremental_save_with_direct_io_restores_byte_for_byte, 180)
{
	const char *incr[] = { "save", "--vmm", self->a.sock, "--incremental",
			       "--direct-io", "--threads=2", self->file, NULL };

	REQUIRE_BED();
	based(_metadata, self);
	if (kmig(incr) && file_has("kmig.log", "refuses O_DIRECT")) {
		EXPECT_TRUE(file_has("kmig.log", "is unchanged"));
		EXPECT_STREQ("running", snap_vmm_state(&self->a));
		SKIP(return, "%s", file_text("kmig.log"));
	}
	ASSERT_TRUE(file_has("kmig.log", "(2 threads, O_DIRECT"))
		TH_LOG("%s", file_text("kmig.log"));
	wrote_some(_metadata);
	restores_and_runs(_metadata, self);
}

/* @path's size, mtime, and its first and last 4 KiB, in @buf (8200). */
static void stamp(const char *path, uint8_t *buf)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	memset(buf, 0, 8200);
	if (fd < 0 || fstat(fd, &st))
		return;
	memcpy(buf, &st.st_size, 8);
	memcpy(buf + 8, &st.st_mtim.tv_nsec, 8);
	if (pread(fd, buf + 16, 4096, 0) != 4096 ||
	    pread(fd, buf + 4112, 4088, st.st_size - 4088) != 4088)
		memset(buf, 0xff, 16);
	close(fd);
}

TEST_F_TIMEOUT(incr, a_merge_and_a_lazy_restore_of_one_file_exclude_each_other, 240)
{
	const char *incr[] = { "save", "--vmm", self->a.sock, "--incremental",
			       "--resume", self->file, NULL };
	const char *lazy[] = { "restore", "--vmm", self->b.sock, "--lazy",
			       self->file, NULL };
	uint8_t before[8200], after[8200];
	int status;

	REQUIRE_BED();
	based(_metadata, self);
	/* A merge stopped with its lock held: a lazy restore is refused. */
	setenv("KMIG_STOP_AT", "merge-pages", 1);
	self->agent = kmig_start("merge.log", incr);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->agent, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("merge.log"));
	EXPECT_EQ(1, kmig(lazy));
	EXPECT_TRUE(file_has("kmig.log", "is busy: an incremental save is merging into it"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("incoming", snap_vmm_state(&self->b));
	kill(self->agent, SIGCONT);
	EXPECT_EQ(0, proc_wait_exit(self->agent, 60000))
		TH_LOG("%s", file_text("merge.log"));
	self->agent = 0;
	EXPECT_STREQ("running", snap_vmm_state(&self->a));
	/* A lazy restore stopped in its setup, the file open: a merge is refused. */
	setenv("KMIG_STOP_AT", "lazy-setup", 1);
	self->agent = kmig_start("lazy.log", lazy);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->agent, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text("lazy.log"));
	stamp(self->file, before);
	EXPECT_EQ(1, kmig(incr));
	EXPECT_TRUE(file_has("kmig.log", "is busy: a restore is reading it"))
		TH_LOG("%s", file_text("kmig.log"));
	stamp(self->file, after);
	EXPECT_EQ(0, memcmp(before, after, sizeof(before)));
	/* Neither was the guest paused for it, nor the restore disturbed. */
	EXPECT_STREQ("running", snap_vmm_state(&self->a));
	kill(self->agent, SIGCONT);
	EXPECT_EQ(0, proc_wait_exit(self->agent, 60000))
		TH_LOG("%s", file_text("lazy.log"));
	self->agent = 0;
	EXPECT_STREQ("running", snap_vmm_state(&self->b));
}

TEST_F_TIMEOUT(incr, another_layout_or_no_snapshot_is_refused_and_left_as_it_was, 180)
{
	const char *incr[] = { "save", "--vmm", self->c.sock, "--incremental",
			       self->file, NULL };
	uint8_t before[8200], after[8200];
	int fd;

	REQUIRE_BED();
	based(_metadata, self);
	/* A guest of 8 MiB, not 16. */
	vmm_startf(&self->c, vmm_sock("incr-c"), "/dev/null",
		   "--mem 8 --slots 2 --vcpus 1");
	stamp(self->file, before);
	EXPECT_EQ(1, kmig(incr));
	EXPECT_TRUE(file_has("kmig.log", "is not a snapshot of this guest's layout"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has("kmig.log", "is unchanged"));
	stamp(self->file, after);
	EXPECT_EQ(0, memcmp(before, after, sizeof(before)));
	EXPECT_STREQ("running", snap_vmm_state(&self->c));
	/* A file that is no snapshot, and no file. */
	unlink(self->file);
	fd = open(self->file, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "keep\n", 5));
	close(fd);
	EXPECT_EQ(1, kmig(incr));
	EXPECT_TRUE(file_has("kmig.log", "is not a snapshot to merge into"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has(self->file, "keep"));
	unlink(self->file);
	EXPECT_EQ(1, kmig(incr));
	EXPECT_TRUE(file_has("kmig.log", "No such file"));
	EXPECT_NE(0, access(self->file, F_OK));
	EXPECT_STREQ("running", snap_vmm_state(&self->c));
}

/* @from copied into @to with its holes: 0 or -1. */
static int sparse_copy(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = -1, ret = -1;
	off_t data, hole, size, off;
	static char buf[1 << 16];
	ssize_t n;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		goto out;
	size = lseek(in, 0, SEEK_END);
	if (size < 0 || ftruncate(out, size))
		goto out;
	for (data = lseek(in, 0, SEEK_DATA); data >= 0 && data < size;
	     data = lseek(in, hole, SEEK_DATA)) {
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			goto out;
		for (off = data; off < hole; off += n) {
			n = pread(in, buf, sizeof(buf) < (size_t)(hole - off) ?
				  sizeof(buf) : (size_t)(hole - off), off);
			if (n <= 0 || pwrite(out, buf, n, off) != n)
				goto out;
		}
	}
	ret = 0;
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	return ret;
}

/* The tmpfs at @mnt sized to what it holds and @spare pages more. */
static int tmpfs_resize(const char *mnt, unsigned long spare)
{
	struct statvfs fs;
	char opt[64];

	if (statvfs(mnt, &fs))
		return -1;
	snprintf(opt, sizeof(opt), "size=%lluk",
		 (unsigned long long)(fs.f_blocks - fs.f_bfree + spare) *
		 fs.f_frsize / 1024);
	return mount(NULL, mnt, NULL, MS_REMOUNT, opt);
}

/*
 * The file copied, sparse, to a tmpfs with 4 pages to spare while the
 * guest wrote many pages new to it: the merge is refused for want of
 * space before it touches the file, which is the base byte for byte
 * after, as sparse as it was; given room, the same merge succeeds.
 */
TEST_F_TIMEOUT(incr, a_merge_without_space_for_its_new_pages_leaves_the_file_as_it_was, 180)
{
	const char *incr[] = { "save", "--vmm", self->a.sock, "--incremental",
			       "--threads=2", NULL, NULL };
	char full[96], *base, *after;
	struct stat before, after_st;
	size_t blen, alen;

	REQUIRE_BED();
	based(_metadata, self);
	usleep(700 * 1000);	/* pages new to the file */
	snprintf(self->mnt, sizeof(self->mnt), "%sincr-full-%d",
		 access("/dev/shm", W_OK) ? "/tmp/" : "/dev/shm/", getpid());
	ASSERT_EQ(0, mkdir(self->mnt, 0700));
	ASSERT_EQ(0, mount("none", self->mnt, "tmpfs", 0, "size=64m"));
	snprintf(full, sizeof(full), "%s/incr.kmig", self->mnt);
	incr[5] = full;
	ASSERT_EQ(0, sparse_copy(self->file, full));
	ASSERT_EQ(0, tmpfs_resize(self->mnt, 4));
	ASSERT_EQ(0, stat(full, &before));
	EXPECT_EQ(1, kmig(incr));
	TH_LOG("%s", file_text("kmig.log"));
	EXPECT_TRUE(file_has("kmig.log", "not enough space on the file system"));
	EXPECT_TRUE(file_has("kmig.log", "is unchanged"))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ("running", snap_vmm_state(&self->a));
	/* As sparse as it was: what was reserved is punched out again. */
	ASSERT_EQ(0, stat(full, &after_st));
	EXPECT_EQ(before.st_blocks, after_st.st_blocks);
	base = file_read(self->file, &blen);
	after = file_read(full, &alen);
	ASSERT_NE(NULL, base);
	ASSERT_NE(NULL, after);
	EXPECT_EQ(blen, alen);
	EXPECT_TRUE(blen == alen && !memcmp(base, after, blen));
	free(base);
	free(after);
	/* Room for it: the same merge goes through. */
	ASSERT_EQ(0, mount(NULL, self->mnt, NULL, MS_REMOUNT, "size=64m"));
	ASSERT_EQ(0, kmig(incr)) TH_LOG("%s", file_text("kmig.log"));
	wrote_some(_metadata);
	EXPECT_STREQ("paused", snap_vmm_state(&self->a));
	EXPECT_SAME_MEMORY(&self->a, full);
	unlink(full);
}

TEST_HARNESS_MAIN
