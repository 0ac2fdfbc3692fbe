// SPDX-License-Identifier: GPL-2.0
/*
 * SPIKE 1 of Documentation/memory-model.rst: does GUP-fast work on the
 * page-cache guest view?
 *
 * process_vm_readv() pins the remote pages with pin_user_pages_remote(),
 * which never tries GUP-fast (mm/process_vm_access.c), so it cannot tell.
 * vmsplice() of user memory into a pipe takes get_user_pages_fast()
 * (lib/iov_iter.c: iov_iter_get_pages2()), one call per 4 KiB iovec, and
 * falls back to __get_user_pages() when GUP-fast refuses a page. The run
 * script puts a kprobe ("gup_slow") there; this program counts its hits
 * over one pass and then times passes with the probe off, over anonymous
 * memory, the spike's guest view and today's kmig slot, interleaved.
 * process_vm_readv is timed alongside for reference.
 *
 * usage: gupfast SIZE_MIB REPS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "spike.h"

#define PIPE_PAGES 16	/* a default pipe's buffers */

static const enum mem_kind kinds[] = { MEM_ANON, MEM_VIEW, MEM_KMIG };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct pipe_sink {
	int rd, wr, null;
};

static void drain(struct pipe_sink *s, size_t bytes)
{
	while (bytes) {
		ssize_t n = splice(s->rd, NULL, s->null, NULL, bytes, 0);

		SPIKE_CHECK(n > 0, "splice pipe to /dev/null");
		bytes -= n;
	}
}

/* vmsplice every page of @m into the pipe; returns ns per page. */
static double vmsplice_pass(const struct mem *m, struct pipe_sink *s)
{
	size_t i, npages = m->size / SPIKE_PAGE;
	uint64_t t0 = spike_now_ns();

	for (i = 0; i < npages; i++) {
		struct iovec iov = {
			.iov_base = m->p + i * SPIKE_PAGE,
			.iov_len = SPIKE_PAGE,
		};

		SPIKE_CHECK(vmsplice(s->wr, &iov, 1, 0) == SPIKE_PAGE,
			    "vmsplice one page");
		if ((i + 1) % PIPE_PAGES == 0)
			drain(s, PIPE_PAGES * SPIKE_PAGE);
	}
	drain(s, (npages % PIPE_PAGES) * SPIKE_PAGE);
	return (double)(spike_now_ns() - t0) / npages;
}

/* process_vm_readv of every page of @m from ourselves; ns per page. */
static double readv_pass(const struct mem *m)
{
	size_t i, npages = m->size / SPIKE_PAGE;
	static char buf[SPIKE_PAGE];
	struct iovec local = { .iov_base = buf, .iov_len = SPIKE_PAGE };
	pid_t pid = getpid();
	uint64_t t0 = spike_now_ns();

	for (i = 0; i < npages; i++) {
		struct iovec remote = {
			.iov_base = m->p + i * SPIKE_PAGE,
			.iov_len = SPIKE_PAGE,
		};

		SPIKE_CHECK(process_vm_readv(pid, &local, 1, &remote, 1, 0) ==
			    SPIKE_PAGE, "process_vm_readv one page");
	}
	return (double)(spike_now_ns() - t0) / npages;
}

/*
 * Slow-path hits per page over one vmsplice (@splice_pass) or
 * process_vm_readv pass; -1 without the probe.
 */
static double count_pass(const struct mem *m, struct pipe_sink *s,
			 bool splice_pass)
{
	long before, after;

	if (gup_probe_enable(true))
		return -1;
	before = gup_slow_hits();
	if (splice_pass)
		vmsplice_pass(m, s);
	else
		readv_pass(m);
	after = gup_slow_hits();
	gup_probe_enable(false);
	return (double)(after - before) / (m->size / SPIKE_PAGE);
}

int main(int argc, char **argv)
{
	struct samples splice_ns[NKINDS] = {}, readv_ns[NKINDS] = {};
	double splice_slow[NKINDS], readv_slow[NKINDS];
	struct mem mem[NKINDS];
	struct pipe_sink sink;
	unsigned int k, r, reps;
	size_t size;
	char b1[96], b2[96];
	int fds[2];

	if (argc != 3) {
		fprintf(stderr, "usage: gupfast SIZE_MIB REPS\n");
		return 2;
	}
	size = strtoul(argv[1], NULL, 0) << 20;
	reps = strtoul(argv[2], NULL, 0);
	SPIKE_CHECK(size && reps && reps <= SPIKE_MAX_SAMPLES, "arguments");
	SPIKE_CHECK(!pipe2(fds, O_CLOEXEC), "pipe2");
	sink.rd = fds[0];
	sink.wr = fds[1];
	sink.null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	SPIKE_CHECK(sink.null >= 0, "open /dev/null");

	for (k = 0; k < NKINDS; k++)
		mem_create(&mem[k], kinds[k], size);
	for (k = 0; k < NKINDS; k++) {
		splice_slow[k] = count_pass(&mem[k], &sink, true);
		readv_slow[k] = count_pass(&mem[k], &sink, false);
	}
	for (r = 0; r < reps; r++)
		for (k = 0; k < NKINDS; k++) {
			samples_add(&splice_ns[k],
				    vmsplice_pass(&mem[k], &sink));
			samples_add(&readv_ns[k], readv_pass(&mem[k]));
		}

	printf("spike 1: GUP-fast, %zu MiB in 4 KiB steps, %u passes\n",
	       size >> 20, reps);
	printf("%-11s %-8s %-42s %s\n", "memory", "path", "ns/page median [range]",
	       "slow-GUP calls/page");
	for (k = 0; k < NKINDS; k++) {
		printf("%-11s %-8s %-42s %.3f\n", mem_name(kinds[k]),
		       "vmsplice", samples_fmt(&splice_ns[k], b1, sizeof(b1)),
		       splice_slow[k]);
		printf("%-11s %-8s %-42s %.3f\n", mem_name(kinds[k]),
		       "readv", samples_fmt(&readv_ns[k], b2, sizeof(b2)),
		       readv_slow[k]);
	}
	for (k = 0; k < NKINDS; k++)
		mem_destroy(&mem[k]);
	return 0;
}
