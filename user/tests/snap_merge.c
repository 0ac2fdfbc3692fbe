// SPDX-License-Identifier: GPL-2.0
/*
 * Incremental saves merged in place into their base file
 * (kmig_snap_writer_merge(), snap_merge.c), on a memfd: only the pages
 * that changed are written, and the file ends byte for byte as a full
 * save of the same memory would write it (bitmaps, checksums, holes),
 * with 1 or 3 threads; a page that became zero leaves the file by the
 * range's rule and is punched out; a change that leaves its range's
 * checksum as it was is found and written all the same; a merge stopped
 * before its trailer (a crash) leaves a file refused as torn; memory of
 * another layout is refused with the file untouched; a live merge
 * updated with the dirty pages ends as a full save; a direct merge
 * joins changed pages a few same pages apart into one write.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "crc32c.h"
#include "snap.h"
#include "snap_files.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define RANGE		KMIG_SNAP_RANGE_PAGES
#define NSLOTS		2
#define STATE_LEN	555

static const uint64_t npages[NSLOTS] = { 3000, 1100 };

FIXTURE(merge) {
	uint8_t *mem[NSLOTS];
	uint64_t *present;		/* slot 1's: some pages have none */
	struct kmig_snap_src src[NSLOTS];
	uint8_t state[STATE_LEN];
	int base;			/* a memfd: the base snapshot */
	char err[256];
};

static bool bit(const uint64_t *bm, uint64_t p)
{
	return bm[p / 64] & (1ull << (p % 64));
}

/* Pages 0..299, 900..1199, ...: all with data (range 0 among them). */
static bool every_third_300(uint64_t p)
{
	return (p / 300) % 3 == 0;
}

FIXTURE_SETUP(merge)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	unsigned int seed = 5, i;

	for (i = 0; i < NSLOTS; i++) {
		/* Pages with data, and runs of zero pages of any length. */
		self->mem[i] = snap_test_mem(npages[i], &seed, every_third_300);
		ASSERT_NE(NULL, self->mem[i]);
		self->src[i] = (struct kmig_snap_src) {
			.id = i + 1, .gpa = (uint64_t)i << 32,
			.size = npages[i] * PAGE, .map = self->mem[i],
		};
	}
	self->present = snap_test_present(npages[1], 500, 400);
	ASSERT_NE(NULL, self->present);
	self->src[1].present = self->present;
	memset(self->state, 0x3c, STATE_LEN);
	self->base = memfd_create("base", MFD_CLOEXEC);
	ASSERT_LE(0, self->base);
	ASSERT_EQ(0, kmig_snap_write_io(self->base, self->src, NSLOTS,
					self->state, STATE_LEN, "test", false,
					&io, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
}

FIXTURE_TEARDOWN(merge)
{
	unsigned int i;

	for (i = 0; i < NSLOTS; i++)
		munmap(self->mem[i], npages[i] * PAGE);
	free(self->present);
	close(self->base);
}

/* Whether page @p of slot @i has memory. */
static bool has_memory(FIXTURE_DATA(merge) *self, unsigned int i, uint64_t p)
{
	return i != 1 || bit(self->present, p);
}

/* A full save of the memory as it is now: its fd. */
static int full_save(struct __test_metadata *_metadata,
		     FIXTURE_DATA(merge) *self)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	int fd = memfd_create("full", MFD_CLOEXEC);

	EXPECT_LE(0, fd);
	EXPECT_EQ(0, kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
					STATE_LEN, "test", false, &io,
					self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	return fd;
}

/* The base file is byte for byte a full save of the memory now. */
static void as_full_save(struct __test_metadata *_metadata,
			 FIXTURE_DATA(merge) *self)
{
	int full = full_save(_metadata, self);
	uint64_t la, lb, off;
	uint8_t *a = snap_test_contents(self->base, &la);
	uint8_t *b = snap_test_contents(full, &lb);

	ASSERT_EQ(lb, la);
	for (off = 0; off < la && a[off] == b[off]; off++)
		;
	EXPECT_EQ(la, off) TH_LOG("the files differ first at byte %llu",
				  (unsigned long long)off);
	free(a);
	free(b);
	close(full);
}

/* Merge the memory into the base file, @threads threads: 0 or -errno. */
static int merge(FIXTURE_DATA(merge) *self, struct kmig_snap_io *io)
{
	struct kmig_snap_writer w;
	struct kmig_snap s;
	int ret;

	ret = kmig_snap_open(self->base, &s, self->err, sizeof(self->err));
	if (ret)
		return ret;
	ret = kmig_snap_writer_merge(&w, self->base, &s, self->src, NSLOTS,
				     "test", io, self->err, sizeof(self->err));
	if (!ret)
		ret = kmig_snap_writer_finish(&w, self->state, STATE_LEN,
					      false, self->err,
					      sizeof(self->err));
	kmig_snap_writer_free(&w);
	kmig_snap_close(&s);
	return ret;
}

/* Pages of the file's pages regions, in the file's bytes @f. */
static const uint8_t *page_in(const uint8_t *f, const struct kmig_snap *s,
			      unsigned int i, uint64_t p)
{
	return f + s->slot[i].pages_off + p * PAGE;
}

TEST_F(merge, only_the_changed_pages_are_written)
{
	static const unsigned int threads[] = { 1, 3 };
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	uint64_t p, len, len2, changed, held;
	uint8_t *before, *after;
	unsigned int i, t, seed = 9;
	bool *mark[NSLOTS];
	struct kmig_snap s;

	for (t = 0; t < 2; t++) {
		before = snap_test_contents(self->base, &len);
		ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
					    sizeof(self->err)));
		/* About 5% of the pages the file holds, changed. */
		changed = held = 0;
		for (i = 0; i < NSLOTS; i++) {
			mark[i] = calloc(npages[i], 1);
			for (p = 0; p < npages[i]; p++) {
				if (!bit(s.slot[i].bitmap, p) ||
				    !has_memory(self, i, p))
					continue;
				held++;
				if (rand_r(&seed) % 20 ||
				    !memcmp(self->mem[i] + p * PAGE,
					    (uint8_t[PAGE]){ 0 }, PAGE))
					continue;
				self->mem[i][p * PAGE + rand_r(&seed) % PAGE] += 1;
				if (!memcmp(self->mem[i] + p * PAGE,
					    (uint8_t[PAGE]){ 0 }, PAGE))
					self->mem[i][p * PAGE] = 7;
				mark[i][p] = true;
				changed++;
			}
		}
		io.threads = threads[t];
		io.chunk_ranges = 1;
		io.read_bytes = io.written_bytes = io.punched_bytes = 0;
		ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
		TH_LOG("%u threads: %llu pages changed of %llu; %llu bytes read, %llu written",
		       threads[t], (unsigned long long)changed,
		       (unsigned long long)held,
		       (unsigned long long)io.read_bytes,
		       (unsigned long long)io.written_bytes);
		EXPECT_LT(0, changed);
		EXPECT_EQ(changed * PAGE, io.written_bytes);
		EXPECT_EQ(held * PAGE, io.read_bytes);
		EXPECT_EQ(0, io.punched_bytes);
		/* The pages that differ in the file are those changed. */
		after = snap_test_contents(self->base, &len2);
		ASSERT_EQ(len, len2);
		for (i = 0; i < NSLOTS; i++) {
			for (p = 0; p < npages[i]; p++)
				EXPECT_EQ(mark[i][p],
					  !!memcmp(page_in(before, &s, i, p),
						   page_in(after, &s, i, p),
						   PAGE))
					TH_LOG("slot %u page %llu", i,
					       (unsigned long long)p);
			free(mark[i]);
		}
		kmig_snap_close(&s);
		free(before);
		free(after);
		as_full_save(_metadata, self);
	}
}

/*
 * Through an O_DIRECT descriptor (a disk-backed file: tmpfs may refuse
 * it), 2 threads, chunks of 3 ranges: read back a chunk at a time, the
 * same file as a full save.
 */
/*
 * The base file, again, in /tmp, with an O_DIRECT descriptor in
 * io->data_fd, 2 threads, chunks of 3 ranges: 0, or -errno where /tmp
 * refuses O_DIRECT.
 */
static int direct_base(FIXTURE_DATA(merge) *self, struct kmig_snap_io *io)
{
	char path[64];
	int fd, ret;

	io->threads = 2;
	io->chunk_ranges = 3;
	snprintf(path, sizeof(path), "/tmp/snap_merge-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	io->data_fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ret = io->data_fd < 0 ? -errno : 0;
	unlink(path);
	if (ret) {
		close(fd);
		return ret;
	}
	close(self->base);
	self->base = fd;
	return kmig_snap_write_io(fd, self->src, NSLOTS, self->state,
				  STATE_LEN, "test", false, io, self->err,
				  sizeof(self->err));
}

TEST_F(merge, direct_io_merges_the_same_file)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	uint64_t p;
	int ret;

	ret = direct_base(self, &io);
	if (io.data_fd < 0)
		SKIP(return, "O_DIRECT refused in /tmp: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s", self->err);
	for (p = 0; p < npages[0]; p += 37)
		self->mem[0][p * PAGE + 9] ^= 0x24;
	memset(self->mem[1] + 600 * PAGE, 0, 50 * PAGE);
	io.written_bytes = 0;
	ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
	EXPECT_GT(npages[0] / 37 * PAGE + 50 * PAGE, io.written_bytes);
	EXPECT_LT(0, io.punched_bytes);
	as_full_save(_metadata, self);
	close(io.data_fd);
}

/*
 * A direct merge writes each changed page with those of its chunk fewer
 * than 4 (SAME_GAP) same pages away, in one span: the same pages
 * between are written again, the others not. Slot 0's pages 0..299 all
 * have data and are in the file; chunks of 3 ranges, then of 1.
 */
TEST_F(merge, a_direct_merge_joins_changes_a_few_same_pages_apart)
{
	/* Spans 10..15, 40, 100..104, 200, 205, 254..257 (across ranges). */
	static const uint64_t change[] = { 10, 12, 15, 40, 100, 104, 200, 205,
					   254, 257 };
	/* With a range a chunk, 254 and 257 are two chunks' and apart. */
	static const uint64_t pages[] = { 6 + 1 + 5 + 2 + 4,
					  6 + 1 + 5 + 2 + 2 };
	static const unsigned int chunk[] = { 3, 1 };
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	unsigned int c, k;
	int ret;

	ret = direct_base(self, &io);
	if (io.data_fd < 0)
		SKIP(return, "O_DIRECT refused in /tmp: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s", self->err);
	for (c = 0; c < 2; c++) {
		for (k = 0; k < sizeof(change) / sizeof(change[0]); k++)
			self->mem[0][change[k] * PAGE + 77] ^= 0x81;
		io.chunk_ranges = chunk[c];
		io.written_bytes = io.punched_bytes = 0;
		ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
		EXPECT_EQ(pages[c] * PAGE, io.written_bytes)
			TH_LOG("chunks of %u ranges", chunk[c]);
		EXPECT_EQ(0, io.punched_bytes);
		as_full_save(_metadata, self);
	}
	close(io.data_fd);
}

TEST_F(merge, a_page_become_zero_leaves_the_file_by_the_ranges_rule)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap s;
	uint64_t p;

	/* 40 pages zeroed: a gap of 16 or more leaves the file... */
	memset(self->mem[0] + 100 * PAGE, 0, 40 * PAGE);
	/* ... a single one between two pages with data stays in it... */
	memset(self->mem[0] + 1000 * PAGE, 0x11, 3 * PAGE);
	memset(self->mem[0] + 1001 * PAGE, 0, PAGE);
	/* ... and one at a range's start does not. */
	memset(self->mem[0] + 2 * RANGE * PAGE, 0, PAGE);
	memset(self->mem[0] + (2 * RANGE + 1) * PAGE, 0x22, PAGE);
	/* A hole gets data; slot 1 gets memory where it had none. */
	memset(self->mem[0] + 2990 * PAGE, 0x33, 10 * PAGE);
	for (p = 400; p < 500; p++)
		self->present[p / 64] |= 1ull << (p % 64);
	ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
	EXPECT_LE(40 * PAGE, io.punched_bytes);
	as_full_save(_metadata, self);
	ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err)));
	EXPECT_FALSE(bit(s.slot[0].bitmap, 120));
	EXPECT_TRUE(bit(s.slot[0].bitmap, 1001));
	EXPECT_FALSE(bit(s.slot[0].bitmap, 2 * RANGE));
	EXPECT_TRUE(bit(s.slot[0].bitmap, 2995));
	kmig_snap_close(&s);
}

/*
 * Byte @changed of @range (@len bytes) changed, and 4 bytes at @patch
 * changed too so that the CRC32C of @range is what it was. For a given
 * length CRC32C(x ^ d) = CRC32C(x) ^ L(d), L linear over GF(2), so the
 * patch's 32 bits are solved for L(patch) = L(change).
 */
static void collide(uint8_t *range, size_t len, size_t changed, size_t patch)
{
	uint8_t *d = calloc(1, len);
	uint32_t zero, want, col[32], x = 0;
	unsigned int b, r, k, pivot[32];
	uint64_t m[32], t;	/* bits 0..31: coefficients; 32: right side */

	if (!d)
		abort();
	zero = kmig_crc32c(0, d, len);
	d[changed] = 0x5a;
	want = kmig_crc32c(0, d, len) ^ zero;
	d[changed] = 0;
	for (b = 0; b < 32; b++) {
		d[patch + b / 8] = 1 << (b % 8);
		col[b] = kmig_crc32c(0, d, len) ^ zero;
		d[patch + b / 8] = 0;
	}
	for (r = 0; r < 32; r++) {
		m[r] = (uint64_t)((want >> r) & 1) << 32;
		for (b = 0; b < 32; b++)
			m[r] |= (uint64_t)((col[b] >> r) & 1) << b;
	}
	for (b = 0, r = 0; b < 32; b++) {
		for (k = r; k < 32 && !(m[k] & (1ull << b)); k++)
			;
		if (k == 32)
			continue;
		t = m[k];
		m[k] = m[r];
		m[r] = t;
		for (k = 0; k < 32; k++)
			if (k != r && (m[k] & (1ull << b)))
				m[k] ^= m[r];
		pivot[r++] = b;
	}
	for (k = 0; k < r; k++)
		if (m[k] & (1ull << 32))
			x |= 1u << pivot[k];
	range[changed] ^= 0x5a;
	for (b = 0; b < 32; b++)
		if (x & (1u << b))
			range[patch + b / 8] ^= 1 << (b % 8);
	free(d);
}

TEST_F(merge, a_change_its_ranges_checksum_misses_is_written)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap s;
	uint32_t sum;

	ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err)));
	sum = s.slot[0].sums[0];
	kmig_snap_close(&s);
	/* Pages 5 and 9 of range 0, both with data, both in the file. */
	collide(self->mem[0], RANGE * PAGE, 5 * PAGE + 100, 9 * PAGE + 2000);
	ASSERT_EQ(sum, kmig_crc32c(0, self->mem[0], RANGE * PAGE));
	ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
	EXPECT_EQ(2 * PAGE, io.written_bytes);
	as_full_save(_metadata, self);
}

/*
 * A merge whose process dies at @point (KMIG_STOP_AT, then SIGKILL):
 * the file is refused, as torn.
 */
static void crash_at(struct __test_metadata *_metadata,
		     FIXTURE_DATA(merge) *self, const char *point,
		     const char *torn)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap s;
	int status;
	pid_t pid;

	memset(self->mem[0], 0x44, 50 * PAGE);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		setenv("KMIG_STOP_AT", point, 1);
		_exit(merge(self, &io) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(status)) TH_LOG("%s: not stopped", point);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_NE(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err)));
	/* The merge marker, or the trailer's place past the file's end. */
	EXPECT_NE(NULL, strstr(self->err, torn)) TH_LOG("%s", self->err);
	/* A merge into it is refused too: it is not a snapshot now. */
	EXPECT_NE(0, merge(self, &io));
}

TEST_F(merge, a_crash_before_the_pages_leaves_a_torn_file)
{
	crash_at(_metadata, self, "merge-pages",
		 "torn: an incremental save into it did not finish");
}

TEST_F(merge, a_crash_right_before_the_trailer_leaves_a_torn_file)
{
	crash_at(_metadata, self, "snap-trailer", "torn or cut");
}

TEST_F(merge, memory_of_another_layout_is_refused_and_the_file_untouched)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap_writer w;
	uint64_t len, len2;
	uint8_t *before, *after;
	struct kmig_snap s;
	unsigned int k;

	before = snap_test_contents(self->base, &len);
	for (k = 0; k < 4; k++) {
		struct kmig_snap_src src[NSLOTS] = { self->src[0], self->src[1] };
		unsigned int n = NSLOTS;

		if (k == 0)
			src[1].size -= PAGE;
		else if (k == 1)
			src[0].gpa += 1 << 20;
		else if (k == 2)
			src[1].id = 9;
		else
			n = 1;
		memset(self->mem[0], 0x55, 10 * PAGE);
		ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
					    sizeof(self->err)));
		EXPECT_EQ(-EINVAL, kmig_snap_writer_merge(&w, self->base, &s,
							  src, n, "test", &io,
							  self->err,
							  sizeof(self->err)));
		EXPECT_NE(NULL, strstr(self->err, "not the same VM layout"))
			TH_LOG("%s", self->err);
		EXPECT_FALSE(w.unsealed);
		kmig_snap_writer_free(&w);
		kmig_snap_close(&s);
	}
	after = snap_test_contents(self->base, &len2);
	ASSERT_EQ(len, len2);
	EXPECT_EQ(0, memcmp(before, after, len));
	EXPECT_EQ(0, io.written_bytes);
	free(before);
	free(after);
}

/*
 * A live merge (kmig save --live --incremental): the memory changes after
 * the merge's pass, an update with those pages marked, and the file is
 * a full save of the memory as it is at the end.
 */
TEST_F(merge, a_live_merge_updated_with_the_dirty_pages_ends_as_a_full_save)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	uint64_t *dirty[NSLOTS], p;
	struct kmig_snap_writer w;
	struct kmig_snap s;
	unsigned int i;

	io.threads = 2;
	memset(self->mem[1] + 10 * PAGE, 0x66, 20 * PAGE);
	ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err)));
	ASSERT_EQ(0, kmig_snap_writer_merge(&w, self->base, &s, self->src,
					    NSLOTS, "test", &io, self->err,
					    sizeof(self->err)))
		TH_LOG("%s", self->err);
	/* Every 9th page written after the pass: zeroed or changed. */
	for (i = 0; i < NSLOTS; i++) {
		dirty[i] = calloc((npages[i] + 63) / 64, 8);
		ASSERT_NE(NULL, dirty[i]);
		for (p = i; p < npages[i]; p += 9) {
			dirty[i][p / 64] |= 1ull << (p % 64);
			memset(self->mem[i] + p * PAGE, p % 2 ? 0 : 0x9d,
			       p % 2 ? PAGE : 17);
		}
	}
	snap_test_finish(_metadata, &w, dirty, self->state, STATE_LEN,
			 self->err, sizeof(self->err));
	kmig_snap_close(&s);
	for (i = 0; i < NSLOTS; i++)
		free(dirty[i]);
	as_full_save(_metadata, self);
}

/* A state that no longer fits before the pages moves after them, and back. */
TEST_F(merge, a_state_that_grows_moves_after_the_pages_and_back)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	size_t big = 3 << 20;
	uint8_t *state = malloc(big);
	struct kmig_snap_writer w;
	struct kmig_snap s;
	struct stat st;

	ASSERT_NE(NULL, state);
	memset(state, 0x77, big);
	ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err)));
	ASSERT_EQ(0, kmig_snap_writer_merge(&w, self->base, &s, self->src,
					    NSLOTS, "test", &io, self->err,
					    sizeof(self->err)));
	ASSERT_EQ(0, kmig_snap_writer_finish(&w, state, big, false, self->err,
					     sizeof(self->err)));
	kmig_snap_writer_free(&w);
	kmig_snap_close(&s);
	ASSERT_EQ(0, kmig_snap_open(self->base, &s, self->err,
				    sizeof(self->err))) TH_LOG("%s", self->err);
	EXPECT_EQ(s.state_off + big, s.trailer_off);
	EXPECT_EQ(0, memcmp(s.state, state, big));
	kmig_snap_close(&s);
	/* Back to a small one: the file is cut to a full save's length. */
	ASSERT_EQ(0, merge(self, &io)) TH_LOG("%s", self->err);
	ASSERT_EQ(0, fstat(self->base, &st));
	as_full_save(_metadata, self);
	free(state);
}

TEST_HARNESS_MAIN
