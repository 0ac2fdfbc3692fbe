// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot page engine (snap_io.h): 1, 2 and 4 threads, small and
 * large chunks, write byte-identical files and read them back byte for
 * byte; the pages through a second fd opened O_DIRECT, and through a
 * bounce buffer, write the same file, and a direct read from tmpfs
 * checks every range; a gap of fewer than 16 zero pages
 * inside a range is written inside its run, any other zero page is a
 * hole; a bad thread count is refused; an error in one thread stops all
 * and names its pages; a save in steps (kmig save --live) ends with the
 * bitmaps and checksums of the memory as it is at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "snap.h"
#include "snap_files.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define NSLOTS		3
#define STATE_LEN	777

static const uint64_t npages[NSLOTS] = { 3000, 1, 4100 };

FIXTURE(snap_io) {
	uint8_t *mem[NSLOTS];
	uint64_t *present;		/* slot 2's: some pages have none */
	struct kmig_snap_src src[NSLOTS];
	uint8_t state[STATE_LEN];
	char dir[64];
	char err[256];
};

FIXTURE_SETUP(snap_io)
{
	unsigned int seed = 11, i;

	for (i = 0; i < NSLOTS; i++) {
		/* Runs of zero pages and of marked ones, of any length. */
		self->mem[i] = snap_test_mem(npages[i], &seed, NULL);
		ASSERT_NE(NULL, self->mem[i]);
		self->src[i] = (struct kmig_snap_src) {
			.id = i, .gpa = (uint64_t)i << 32,
			.size = npages[i] * PAGE, .map = self->mem[i],
		};
	}
	self->present = snap_test_present(npages[2], 700, 500);
	ASSERT_NE(NULL, self->present);
	self->src[2].present = self->present;
	for (i = 0; i < STATE_LEN; i++)
		self->state[i] = i * 7;
	/* A disk-backed directory: tmpfs may refuse O_DIRECT. */
	snprintf(self->dir, sizeof(self->dir), "/tmp/snap_io-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
}

FIXTURE_TEARDOWN(snap_io)
{
	char cmd[96];
	unsigned int i;

	for (i = 0; i < NSLOTS; i++)
		munmap(self->mem[i], npages[i] * PAGE);
	free(self->present);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		abort();
}

/* A new file @name in the fixture's directory, open as @flags. */
static int new_file(FIXTURE_DATA(snap_io) *self, const char *name, int flags)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", self->dir, name);
	return open(path, flags | O_CREAT | O_CLOEXEC, 0600);
}

/* Write the fixture's snapshot to a new file @name as @io says: its fd. */
static int save(struct __test_metadata *_metadata,
		FIXTURE_DATA(snap_io) *self, const char *name,
		struct kmig_snap_io *io)
{
	int fd = new_file(self, name, O_RDWR);

	EXPECT_LE(0, fd);
	EXPECT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
					STATE_LEN, "test", false, io,
					self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	return fd;
}

static void same_file(struct __test_metadata *_metadata, int a, int b)
{
	uint64_t la, lb;
	uint8_t *x = snap_test_contents(a, &la), *y = snap_test_contents(b, &lb);

	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, y);
	ASSERT_EQ(la, lb);
	EXPECT_EQ(0, memcmp(x, y, la));
	free(x);
	free(y);
}

/* The file read back with @io is the fixture's memory, byte for byte. */
static void reads_back(struct __test_metadata *_metadata,
		       FIXTURE_DATA(snap_io) *self, int fd,
		       struct kmig_snap_io *io)
{
	uint8_t *dst[NSLOTS];
	struct kmig_snap s;
	unsigned int i;
	uint64_t p;

	ASSERT_EQ(0, kmig_snap_open(fd, &s, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	for (i = 0; i < NSLOTS; i++) {
		dst[i] = mmap(NULL, npages[i] * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, dst[i]);
	}
	ASSERT_EQ(0, kmig_snap_read_io(fd, &s, dst, io, self->err,
				       sizeof(self->err)))
		TH_LOG("%s", self->err);
	for (i = 0; i < NSLOTS; i++) {
		for (p = 0; p < npages[i]; p++) {
			/* A page without memory was saved as zeroes. */
			if (i == 2 && !(self->present[p / 64] & (1ull << (p % 64))))
				continue;
			ASSERT_EQ(0, memcmp(dst[i] + p * PAGE,
					    self->mem[i] + p * PAGE, PAGE))
				TH_LOG("slot %u page %llu", i,
				       (unsigned long long)p);
		}
		munmap(dst[i], npages[i] * PAGE);
	}
	kmig_snap_close(&s);
}

TEST_F(snap_io, threads_write_the_same_file_and_read_it_back)
{
	static const unsigned int threads[] = { 1, 2, 4 }, chunks[] = { 0, 1, 3 };
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	unsigned int t, c;
	int one, fd;
	char name[32];

	one = save(_metadata, self, "one", &io);
	for (t = 0; t < 3; t++) {
		for (c = 0; c < 3; c++) {
			io.threads = threads[t];
			io.chunk_ranges = chunks[c];
			snprintf(name, sizeof(name), "t%u-c%u", threads[t],
				 chunks[c]);
			fd = save(_metadata, self, name, &io);
			same_file(_metadata, one, fd);
			reads_back(_metadata, self, fd, &io);
			close(fd);
		}
	}
	EXPECT_FALSE(io.bounced);
	close(one);
}

TEST_F(snap_io, direct_io_and_bounce_buffers_write_the_same_file)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	int one, fd, dfd;

	one = save(_metadata, self, "one", &io);
	fd = new_file(self, "direct", O_RDWR);
	ASSERT_LE(0, fd);
	dfd = new_file(self, "direct", O_RDWR | O_DIRECT);
	if (dfd < 0 && errno == EINVAL)
		SKIP(return, "%s's filesystem refuses O_DIRECT", self->dir);
	ASSERT_LE(0, dfd);
	io.threads = 4;
	io.data_fd = dfd;
	ASSERT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
					STATE_LEN, "test", true, &io,
					self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	EXPECT_FALSE(io.bounced);	/* anonymous memory pins */
	same_file(_metadata, one, fd);
	reads_back(_metadata, self, fd, &io);
	close(fd);
	close(dfd);

	fd = new_file(self, "bounce", O_RDWR);
	dfd = new_file(self, "bounce", O_RDWR | O_DIRECT);
	ASSERT_LE(0, dfd);
	io.data_fd = dfd;
	io.bounce = true;
	io.threads = 3;
	ASSERT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
					STATE_LEN, "test", true, &io,
					self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	EXPECT_TRUE(io.bounced);
	same_file(_metadata, one, fd);
	reads_back(_metadata, self, fd, &io);
	close(fd);
	close(dfd);
	close(one);
}

/*
 * The writing rule of file-format.rst: a gap of fewer than 16 zero pages
 * between two pages of one range that are not zero is written inside
 * their run, its bits set; a longer gap, one crossing a range's end, one
 * at a range's start or end, or one holding a page without memory is a
 * hole. Every way of writing gives the same file.
 */
TEST_F(snap_io, short_zero_gaps_inside_a_range_are_written_and_others_are_holes)
{
	static const uint64_t set[] = { 0, 2, 18, 35, 36, 41, 249, 256, 513, 514 };
	const uint64_t n = 3 * KMIG_SNAP_RANGE_PAGES;
	uint64_t present[n / 64], want[n / 64], p;
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap_src src = { .id = 1, .size = n * PAGE };
	struct kmig_snap s;
	uint8_t *mem, *dst;
	int one, fd, dfd;
	unsigned int i;

	mem = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_NE(MAP_FAILED, dst);
	memset(want, 0, sizeof(want));
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		mem[set[i] * PAGE + 4095] = 0x5a;
		want[set[i] / 64] |= 1ull << (set[i] % 64);
	}
	/* 1 and 3..17: one zero page, then 15 (16 from 19 to 34). */
	for (p = 1; p < 18; p++)
		want[p / 64] |= p == 2 ? 0 : 1ull << (p % 64);
	memset(present, 0xff, sizeof(present));
	present[0] &= ~(1ull << 40);	/* in the gap 37..40 */
	src.map = mem;
	src.present = present;

	io.chunk_ranges = 1;
	one = new_file(self, "gaps", O_RDWR);
	ASSERT_LE(0, one);
	ASSERT_EQ(0, kmig_snap_write_io(one, &src, 1, NULL, 0, "test", false,
					&io, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	ASSERT_EQ(0, kmig_snap_open(one, &s, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	for (p = 0; p < n; p++)
		EXPECT_EQ(!!(want[p / 64] & (1ull << (p % 64))),
			  !!(s.slot[0].bitmap[p / 64] & (1ull << (p % 64))))
			TH_LOG("page %llu", (unsigned long long)p);
	/* The gap of 16 is a hole: no data from 19 to 34. */
	EXPECT_EQ((off_t)(s.slot[0].pages_off + 35 * PAGE),
		  lseek(one, s.slot[0].pages_off + 19 * PAGE, SEEK_DATA));
	ASSERT_EQ(0, kmig_snap_read_io(one, &s, &dst, &io, self->err,
				       sizeof(self->err)))
		TH_LOG("%s", self->err);
	EXPECT_EQ(0, memcmp(mem, dst, n * PAGE));
	kmig_snap_close(&s);

	io.chunk_ranges = 0;
	io.threads = 4;
	fd = new_file(self, "gaps-4", O_RDWR);
	ASSERT_EQ(0, kmig_snap_write_io(fd, &src, 1, NULL, 0, "test", false,
					&io, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	same_file(_metadata, one, fd);
	close(fd);

	fd = new_file(self, "gaps-direct", O_RDWR);
	dfd = new_file(self, "gaps-direct", O_RDWR | O_DIRECT);
	if (dfd >= 0) {
		io.data_fd = dfd;
		ASSERT_EQ(0, kmig_snap_write_io(fd, &src, 1, NULL, 0, "test",
						false, &io, self->err,
						sizeof(self->err)))
			TH_LOG("%s", self->err);
		same_file(_metadata, one, fd);
		close(dfd);
	}
	close(fd);
	close(one);
	munmap(mem, n * PAGE);
	munmap(dst, n * PAGE);
}

/*
 * A direct read from tmpfs goes in parts of the buffered size (snap_io.c,
 * io_pages()): the pages come back byte for byte, and a byte changed in
 * the file fails its range's check, with the range named.
 */
TEST_F(snap_io, direct_reads_from_tmpfs_check_every_range)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	static const unsigned int threads[] = { 1, 4 };
	uint8_t *dst[NSLOTS], byte;
	struct kmig_snap s;
	char path[64];
	unsigned int i, t;
	int fd, dfd;

	snprintf(path, sizeof(path), "/dev/shm/snap_io-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	unlink(path);
	if (dfd < 0 && errno == EINVAL) {
		close(fd);
		SKIP(return, "tmpfs refuses O_DIRECT before Linux 6.6");
	}
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
					STATE_LEN, "test", false, &io,
					self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	io.data_fd = dfd;
	for (t = 0; t < 2; t++) {
		io.threads = threads[t];
		reads_back(_metadata, self, fd, &io);
	}

	ASSERT_EQ(0, kmig_snap_open(fd, &s, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	ASSERT_NE(0, s.slot[0].bitmap[300 / 64] & (1ull << (300 % 64)));
	ASSERT_EQ(1, pread(fd, &byte, 1, s.slot[0].pages_off + 300 * PAGE));
	byte ^= 0x40;
	ASSERT_EQ(1, pwrite(fd, &byte, 1, s.slot[0].pages_off + 300 * PAGE));
	for (i = 0; i < NSLOTS; i++) {
		dst[i] = mmap(NULL, npages[i] * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, dst[i]);
	}
	EXPECT_EQ(-EBADMSG, kmig_snap_read_io(fd, &s, dst, &io, self->err,
					      sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "slot 0 pages 256..511: checksum mismatch"))
		TH_LOG("%s", self->err);
	for (i = 0; i < NSLOTS; i++)
		munmap(dst[i], npages[i] * PAGE);
	kmig_snap_close(&s);
	close(dfd);
	close(fd);
}

TEST_F(snap_io, bad_thread_counts_are_refused)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	int fd;

	io.threads = 0;
	fd = new_file(self, "zero", O_RDWR);
	EXPECT_EQ(-EINVAL, kmig_snap_write_io(fd, self->src, NSLOTS, NULL, 0,
					      "test", false, &io, self->err,
					      sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "0 threads (1..64)"))
		TH_LOG("%s", self->err);
	close(fd);
	io.threads = KMIG_SNAP_MAX_THREADS + 1;
	fd = new_file(self, "many", O_RDWR);
	EXPECT_EQ(-EINVAL, kmig_snap_write_io(fd, self->src, NSLOTS, NULL, 0,
					      "test", false, &io, self->err,
					      sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "65 threads"))
		TH_LOG("%s", self->err);
	close(fd);
}

TEST_F(snap_io, a_failing_thread_stops_all_and_names_its_pages)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	uint8_t *dst[NSLOTS];
	struct kmig_snap s;
	unsigned int i;
	uint8_t b;
	int fd, ro;

	/* Pages through a read-only fd: every write fails. */
	fd = new_file(self, "ro", O_RDWR);
	ro = new_file(self, "ro", O_RDONLY);
	ASSERT_LE(0, ro);
	io.threads = 4;
	io.chunk_ranges = 1;
	io.data_fd = ro;
	EXPECT_EQ(-EBADF, kmig_snap_write_io(fd, self->src, NSLOTS, NULL, 0,
					     "test", false, &io, self->err,
					     sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, ": cannot write pages "))
		TH_LOG("%s", self->err);
	EXPECT_NE(NULL, strstr(self->err, "Bad file descriptor"))
		TH_LOG("%s", self->err);
	close(ro);
	close(fd);

	/* A damaged page deep in slot 2: its range is named. */
	io.data_fd = -1;
	fd = save(_metadata, self, "damaged", &io);
	ASSERT_EQ(0, kmig_snap_open(fd, &s, self->err, sizeof(self->err)));
	ASSERT_TRUE(s.slot[2].bitmap[3000 / 64] & (1ull << (3000 % 64)));
	ASSERT_EQ(1, pread(fd, &b, 1, s.slot[2].pages_off + 3000 * PAGE + 9));
	b ^= 4;
	ASSERT_EQ(1, pwrite(fd, &b, 1, s.slot[2].pages_off + 3000 * PAGE + 9));
	for (i = 0; i < NSLOTS; i++)
		dst[i] = calloc(npages[i], PAGE);
	EXPECT_EQ(-EBADMSG, kmig_snap_read_io(fd, &s, dst, &io, self->err,
					      sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "slot 2 pages 2816..3071: checksum mismatch"))
		TH_LOG("%s", self->err);
	for (i = 0; i < NSLOTS; i++)
		free(dst[i]);
	kmig_snap_close(&s);
	close(fd);
}

/*
 * A live save: the memory changes after the first pass (pages written
 * again, pages zeroed, zero pages written), an update with those pages
 * marked, and the file reads back as the memory is now, with the same
 * bitmaps as a stopped save of it.
 */
TEST_F(snap_io, a_writer_updated_with_the_dirty_pages_ends_consistent)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	uint64_t *dirty[NSLOTS], p;
	struct kmig_snap_writer w;
	struct kmig_snap a, b;
	unsigned int i, seed = 3;
	int fd, stopped;

	io.threads = 4;
	io.chunk_ranges = 1;
	fd = new_file(self, "live", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmig_snap_writer_begin(&w, fd, self->src, NSLOTS, "test",
					    &io, self->err,
					    sizeof(self->err)))
		TH_LOG("%s", self->err);
	for (i = 0; i < NSLOTS; i++) {
		dirty[i] = calloc((npages[i] + 63) / 64, 8);
		ASSERT_NE(NULL, dirty[i]);
		for (p = 0; p < npages[i]; p++) {
			if (rand_r(&seed) % 7)
				continue;
			dirty[i][p / 64] |= 1ull << (p % 64);
			if (rand_r(&seed) % 2)
				memset(self->mem[i] + p * PAGE, 0, PAGE);
			else
				self->mem[i][p * PAGE + rand_r(&seed) % PAGE] ^= 0x81;
		}
	}
	snap_test_finish(_metadata, &w, dirty, self->state, STATE_LEN,
			 self->err, sizeof(self->err));
	reads_back(_metadata, self, fd, &io);

	stopped = save(_metadata, self, "stopped", &io);
	ASSERT_EQ(0, kmig_snap_open(fd, &a, self->err, sizeof(self->err)));
	ASSERT_EQ(0, kmig_snap_open(stopped, &b, self->err, sizeof(self->err)));
	for (i = 0; i < NSLOTS; i++) {
		EXPECT_EQ(0, memcmp(a.slot[i].bitmap, b.slot[i].bitmap,
				    (npages[i] + 63) / 64 * 8));
		EXPECT_EQ(0, memcmp(a.slot[i].sums, b.slot[i].sums,
				    (npages[i] + 255) / 256 * 4));
		free(dirty[i]);
	}
	EXPECT_EQ(0, memcmp(a.state, self->state, STATE_LEN));
	kmig_snap_close(&a);
	kmig_snap_close(&b);
	close(stopped);
	close(fd);
}

/* A state too large for the gap before the pages goes after them. */
TEST_F(snap_io, a_large_state_goes_after_the_pages)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	size_t len = 3 << 20;
	uint8_t *state = malloc(len);
	struct kmig_snap s;
	int fd;

	ASSERT_NE(NULL, state);
	memset(state, 0x5a, len);
	fd = new_file(self, "big", O_RDWR);
	ASSERT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, state, len,
					"test", false, &io, self->err,
					sizeof(self->err)))
		TH_LOG("%s", self->err);
	ASSERT_EQ(0, kmig_snap_open(fd, &s, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	EXPECT_EQ(s.state_off + len, s.trailer_off);
	EXPECT_EQ(0, memcmp(s.state, state, len));
	kmig_snap_close(&s);
	reads_back(_metadata, self, fd, &io);
	free(state);
	close(fd);
}

TEST_HARNESS_MAIN
