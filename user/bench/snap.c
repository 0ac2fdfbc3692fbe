// SPDX-License-Identifier: GPL-2.0
/*
 * Host-native benchmark of snapshot files, no module and no KVM needed:
 * a memfd stands in for guest memory (zero% of its pages zero, the others
 * written in full), kmig_snap_write_io() saves it to a file in each
 * directory given, and kmig_snap_read_io() restores it into a second
 * memfd, with 1, 2 and 4 threads, buffered and with O_DIRECT.
 *
 * The baseline is dd(1) moving the same number of bytes (the pages the
 * file holds) between the same memory and a file in the same directory,
 * with bs=1M, oflag/iflag=direct for the O_DIRECT rows, run in the same
 * repetition just before the kmig run it is compared with. Before every
 * read the file is written back and dropped from the page cache
 * (fdatasync, posix_fadvise DONTNEED), so buffered reads are cold. The
 * times cover the writes and reads only, not the fdatasync: a buffered
 * save is measured into the page cache, as dd's is. Every restore is
 * compared with the source.
 *
 * Threads are not pinned: their number is what varies.
 *
 * The incremental rows (-o incremental, not run by default) time, in
 * each repetition, a full save into a new file and, once 5% of the pages
 * that are not zero have changed (spread over the whole memory), an
 * incremental save of the memory into it (kmig_snap_writer_merge()),
 * both with durable (fdatasync before and after the trailer), and say
 * how much the merge wrote and read back (cold: the file is dropped
 * from the page cache before it); the file is then read back and
 * compared with the memory, untimed.
 *
 * Usage: snap [-s MiB] [-r reps] [-z zero%] [-t threads,...]
 *             [-o save|restore|incremental] [-m buffered|direct] DIR...
 * (-o and -m: only those rows).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "snap.h"
#include "util.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define MAX_REPS	32
#define MAX_THREADS	8
#define MAX_DIRS	4

enum { SAVE, RESTORE, INCR };

static struct {
	uint64_t size;
	int mem_fd, dst_fd;		/* memfds: the source, the restore */
	uint8_t *mem, *dst;
	uint64_t file_bytes;		/* pages in the file, bytes */
	uint64_t read_bytes;		/* what the last restore read */
} g;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "snap bench: %s: %s\n", what, why);
	exit(1);
}

static double now(void)
{
	return kmig_now_ns() / 1e9;
}

static uint8_t *memfd(const char *name, int *fd)
{
	uint8_t *p;

	*fd = memfd_create(name, 0);
	if (*fd < 0 || ftruncate(*fd, g.size))
		die(name, strerror(errno));
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		die(name, strerror(errno));
	return p;
}

/* The source: @zero % of the pages zero, the others random bytes. */
static void fill(unsigned int zero)
{
	unsigned int seed = 1;
	uint64_t p, i, *w;

	for (p = 0; p < g.size / PAGE; p++) {
		w = (uint64_t *)(g.mem + p * PAGE);
		if ((unsigned int)rand_r(&seed) % 100 < zero) {
			memset(w, 0, PAGE);
			continue;
		}
		for (i = 0; i < PAGE / 8; i++)
			w[i] = ((uint64_t)rand_r(&seed) << 32) ^ rand_r(&seed) ^ i;
	}
	memset(g.dst, 0, g.size);	/* its pages exist before the runs */
}

/* Written back and out of the page cache: the next read is cold. */
static void drop(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die(path, strerror(errno));
	if (fdatasync(fd))
		die(path, strerror(errno));
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

/* dd of g.file_bytes between memory and @path: its wall time. */
static double dd(const char *path, int op, bool direct)
{
	char cmd[512];
	double t;

	if (op == SAVE)
		unlink(path);
	/* /proc/self/fd/N: dd inherits the memfds. */
	if (op == SAVE)
		snprintf(cmd, sizeof(cmd),
			 "dd if=/proc/self/fd/%d of=%s bs=1M count=%llu status=none%s",
			 g.mem_fd, path, (unsigned long long)(g.file_bytes >> 20),
			 direct ? " oflag=direct" : "");
	else
		snprintf(cmd, sizeof(cmd),
			 "dd if=%s of=/proc/self/fd/%d bs=1M count=%llu status=none conv=notrunc%s",
			 path, g.dst_fd, (unsigned long long)(g.file_bytes >> 20),
			 direct ? " iflag=direct" : "");
	t = now();
	if (system(cmd))
		die("dd", cmd);
	return now() - t;
}

static uint64_t set_pages(const struct kmig_snap_slot *sl)
{
	uint64_t w, n = 0;

	for (w = 0; w < (sl->npages + 63) / 64; w++)
		n += __builtin_popcountll(sl->bitmap[w]);
	return n;
}

/* kmig's save (@op SAVE) or restore with @threads: its wall time. */
static double kmig(const char *path, int op, bool direct,
		   unsigned int threads)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	struct kmig_snap_src src = {
		.id = 0, .gpa = 0, .size = g.size, .map = g.mem,
	};
	uint8_t *dst[1] = { g.dst };
	struct kmig_snap s;
	char err[256];
	double t;
	int fd, ret;

	if (op == SAVE)
		unlink(path);
	fd = open(path, op == SAVE ? O_RDWR | O_CREAT | O_EXCL : O_RDONLY,
		  0600);
	if (fd < 0)
		die(path, strerror(errno));
	if (direct) {
		io.data_fd = open(path, (op == SAVE ? O_WRONLY : O_RDONLY) |
				  O_DIRECT);
		if (io.data_fd < 0)
			die(path, errno == EINVAL ? "O_DIRECT refused" :
			    strerror(errno));
	}
	io.threads = threads;
	if (op == RESTORE && kmig_snap_open(fd, &s, err, sizeof(err)))
		die(path, err);
	if (op == RESTORE)
		g.read_bytes = set_pages(&s.slot[0]) * PAGE;
	t = now();
	ret = op == SAVE ?
	      kmig_snap_write_io(fd, &src, 1, "", 0, "bench", false, &io, err,
				 sizeof(err)) :
	      kmig_snap_read_io(fd, &s, dst, &io, err, sizeof(err));
	t = now() - t;
	if (ret)
		die(path, err);
	if (op == RESTORE) {
		kmig_snap_close(&s);
		if (memcmp(g.mem, g.dst, g.size))
			die(path, "the restored memory differs");
	}
	if (io.data_fd >= 0)
		close(io.data_fd);
	close(fd);
	return t;
}

/* 5% of the pages that are not zero changed, one byte each. */
static void change(unsigned int *seed)
{
	uint64_t p;

	for (p = 0; p < g.size / PAGE; p++)
		if ((unsigned int)rand_r(seed) % 100 < 5 &&
		    !kmig_page_is_zero(g.mem + p * PAGE))
			g.mem[p * PAGE + rand_r(seed) % PAGE] ^= 0x5a | 1;
}

/*
 * A full save into @path (new), timed in *@full, then 5% of the pages
 * changed and merged into it, timed in *@incr; its bytes in @io.
 */
static void incremental(const char *path, bool direct, unsigned int threads,
			unsigned int *seed, double *full, double *incr,
			struct kmig_snap_io *io, uint64_t *wr, uint64_t *rd)
{
	struct kmig_snap_src src = {
		.id = 0, .gpa = 0, .size = g.size, .map = g.mem,
	};
	uint8_t *dst[1] = { g.dst };
	struct kmig_snap_writer w;
	struct kmig_snap s;
	char err[256];
	int fd, ret;
	double t;

	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die(path, strerror(errno));
	if (direct) {
		io->data_fd = open(path, O_RDWR | O_DIRECT);
		if (io->data_fd < 0)
			die(path, errno == EINVAL ? "O_DIRECT refused" :
			    strerror(errno));
	}
	io->threads = threads;
	t = now();
	if (kmig_snap_write_io(fd, &src, 1, "", 0, "bench", true, io, err,
			       sizeof(err)))
		die(path, err);
	*full = now() - t;
	change(seed);
	/* The base was saved long ago: the merge reads it back cold. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	io->read_bytes = io->written_bytes = io->punched_bytes = 0;
	t = now();
	ret = kmig_snap_open(fd, &s, err, sizeof(err));
	if (!ret)
		ret = kmig_snap_writer_merge(&w, fd, &s, &src, 1, "bench", io,
					     err, sizeof(err));
	if (!ret)
		ret = kmig_snap_writer_finish(&w, "", 0, true, err,
					      sizeof(err));
	*incr = now() - t;
	if (ret)
		die(path, err);
	*wr += io->written_bytes;
	*rd += io->read_bytes;
	kmig_snap_writer_free(&w);
	kmig_snap_close(&s);
	memset(g.dst, 0, g.size);
	if (kmig_snap_open(fd, &s, err, sizeof(err)) ||
	    kmig_snap_read_io(fd, &s, dst, io, err, sizeof(err)))
		die(path, err);
	kmig_snap_close(&s);
	if (memcmp(g.mem, g.dst, g.size))
		die(path, "the merged file differs from the memory");
	if (io->data_fd >= 0)
		close(io->data_fd);
	io->data_fd = -1;
	close(fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_stat(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("%5.2f (%5.2f..%5.2f) ", n % 2 ? v[n / 2] :
	       (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]);
}

/* One row of incremental saves against full ones, @reps times. */
static void incr_row(const char *dir, bool direct, unsigned int threads,
		     int reps)
{
	double full[MAX_REPS], incr[MAX_REPS], x[MAX_REPS];
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;
	unsigned int seed = 7;
	uint64_t wr = 0, rd = 0;
	char file[256];
	int r;

	snprintf(file, sizeof(file), "%s/bench-%d.kmig", dir, getpid());
	for (r = 0; r < reps; r++) {
		incremental(file, direct, threads, &seed, &full[r], &incr[r],
			    &io, &wr, &rd);
		x[r] = full[r] / incr[r];
	}
	printf("%-16s %-8s %-7u ", dir, direct ? "O_DIRECT" : "buffered",
	       threads);
	print_stat(full, reps);
	print_stat(incr, reps);
	print_stat(x, reps);
	printf("%7.1f %7.1f\n", wr / reps / 1048576.0, rd / reps / 1048576.0);
	fflush(stdout);
}

/* One row: kmig and dd, @op in @dir, @reps times. */
static void row(const char *dir, int op, bool direct, unsigned int threads,
		int reps)
{
	double k[MAX_REPS], d[MAX_REPS], x[MAX_REPS], gb = g.file_bytes / 1e9;
	char file[256], ddfile[256];
	int r;

	snprintf(file, sizeof(file), "%s/bench-%d.kmig", dir, getpid());
	snprintf(ddfile, sizeof(ddfile), "%s/bench-%d.dd", dir, getpid());
	/* Restore rows alone (-o restore): the files saved first, untimed. */
	if (op == RESTORE && access(file, F_OK)) {
		dd(ddfile, SAVE, direct);
		kmig(file, SAVE, direct, threads);
	}
	for (r = 0; r < reps; r++) {
		if (op == RESTORE) {
			drop(ddfile);
			d[r] = gb / dd(ddfile, op, direct);
			drop(file);
			k[r] = gb / kmig(file, op, direct, threads);
		} else {
			d[r] = gb / dd(ddfile, op, direct);
			k[r] = gb / kmig(file, op, direct, threads);
		}
		x[r] = k[r] / d[r];
	}
	printf("%-16s %-8s %-8s %-7u ", dir, op == SAVE ? "save" : "restore",
	       direct ? "O_DIRECT" : "buffered", threads);
	print_stat(k, reps);
	print_stat(d, reps);
	print_stat(x, reps);
	if (op == RESTORE)
		printf("%.2f", (double)g.read_bytes / g.file_bytes);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	unsigned int threads[MAX_THREADS] = { 1, 2, 4 }, nt = 3, zero = 25;
	int reps = 5, c, i, op, t, direct, only_op = -1, only_direct = -1;
	uint64_t p, mib = 512;
	char *tok, *save, f[256];

	while ((c = getopt(argc, argv, "s:r:z:t:o:m:")) != -1) {
		if (c == 's')
			mib = strtoull(optarg, NULL, 10);
		else if (c == 'r')
			reps = atoi(optarg);
		else if (c == 'z')
			zero = atoi(optarg);
		else if (c == 't')
			for (nt = 0, tok = strtok_r(optarg, ",", &save);
			     tok && nt < MAX_THREADS;
			     tok = strtok_r(NULL, ",", &save))
				threads[nt++] = atoi(tok);
		else if (c == 'o' && (!strcmp(optarg, "save") ||
				      !strcmp(optarg, "restore") ||
				      !strcmp(optarg, "incremental")))
			only_op = !strcmp(optarg, "save") ? SAVE :
				  !strcmp(optarg, "restore") ? RESTORE : INCR;
		else if (c == 'm' && (!strcmp(optarg, "buffered") ||
				      !strcmp(optarg, "direct")))
			only_direct = !strcmp(optarg, "direct");
		else
			goto usage;
	}
	if (!mib || mib > 65536 || reps < 1 || reps > MAX_REPS ||
	    zero > 99 || optind == argc || argc - optind > MAX_DIRS)
		goto usage;
	for (t = 0; t < (int)nt; t++)
		if (!threads[t] || threads[t] > KMIG_SNAP_MAX_THREADS)
			goto usage;
	g.size = mib << 20;
	g.mem = memfd("snap-bench-src", &g.mem_fd);
	g.dst = memfd("snap-bench-dst", &g.dst_fd);
	fill(zero);
	for (p = 0; p < g.size / PAGE; p++)
		g.file_bytes += kmig_page_is_zero(g.mem + p * PAGE) ? 0 : PAGE;
	g.file_bytes &= ~((1ull << 20) - 1);	/* dd moves whole MiB */
	printf("snapshot files: %llu MiB memfd, %u%% zero pages (%.2f GB in the file), %d reps\n",
	       (unsigned long long)mib, zero, g.file_bytes / 1e9, reps);
	if (only_op == INCR) {
		printf("seconds, median (range): a full save, and an incremental one after 5%% of the pages changed; x: full / incremental in the same rep; MiB of pages the incremental save wrote and read back (mean)\n");
		printf("%-16s %-8s %-7s %-20s %-20s %-20s %7s %7s\n", "dir",
		       "mode", "threads", "full s", "incremental s", "x",
		       "wr MiB", "rd MiB");
		for (i = optind; i < argc; i++)
			for (direct = 0; direct < 2; direct++)
				for (t = 0; t < (int)nt; t++)
					if (only_direct < 0 ||
					    direct == only_direct)
						incr_row(argv[i], direct,
							 threads[t], reps);
		goto out;
	}
	printf("GB/s of pages in the file: median (range); x dd: kmig / dd in the same rep\n");
	printf("read x dd: the bytes a restore reads (its set pages) / dd's\n");
	printf("%-16s %-8s %-8s %-7s %-20s %-20s %-20s %s\n", "dir", "op",
	       "mode", "threads", "kmig GB/s", "dd GB/s", "x dd", "read x dd");
	for (i = optind; i < argc; i++)
		for (op = SAVE; op <= RESTORE; op++)
			for (direct = 0; direct < 2; direct++)
				for (t = 0; t < (int)nt; t++)
					if ((only_op < 0 || op == only_op) &&
					    (only_direct < 0 ||
					     direct == only_direct))
						row(argv[i], op, direct,
						    threads[t], reps);
out:
	for (i = optind; i < argc; i++) {
		snprintf(f, sizeof(f), "%s/bench-%d.kmig", argv[i], getpid());
		unlink(f);
		snprintf(f, sizeof(f), "%s/bench-%d.dd", argv[i], getpid());
		unlink(f);
	}
	return 0;
usage:
	fprintf(stderr, "usage: snap [-s MiB (1..65536)] [-r reps (1..%d)] [-z zero%% (0..99)] [-t threads,... (1..64)] [-o save|restore|incremental] [-m buffered|direct] DIR... (up to %d)\n",
		MAX_REPS, MAX_DIRS);
	return 2;
}
