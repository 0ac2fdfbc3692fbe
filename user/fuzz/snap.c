// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for snapshot files (user/lib/snap.c): the input is a
 * whole file, put in a memfd and opened with kmig_snap_open(); when it is
 * accepted, every slot of up to 16 MiB is read with kmig_snap_read_slot()
 * and range by range with kmig_snap_read_range() (lazy restore).
 *
 * Input: the file. Its header's CRC, the trailer's CRC and its metadata
 * CRC are made right first whenever the input is long enough for them,
 * so that the fuzzer reaches the checks behind them.
 *
 * The invariants: a refusal says why; an accepted file has its regions
 * inside the file and apart (ASan watches the reads, and the reads of
 * the slots must stay in their buffers).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "snap_lazy.h"

#define MAX_READ	(16u << 20)

/* Header and trailer CRCs right; the metadata CRC as the reader sees it. */
static void reseal(uint8_t *f, size_t n, int fd)
{
	uint8_t *t = f + n - KMIG_SNAP_TRAILER_SIZE;
	struct kmig_snap s;
	char err[256];

	if (n < KMIG_SNAP_HEADER_SIZE + KMIG_SNAP_TRAILER_SIZE)
		return;
	put_le32(f + KMIG_SNAP_HEADER_SIZE - 4,
		 kmig_crc32c(0, f, KMIG_SNAP_HEADER_SIZE - 4));
	put_le32(t + 28, kmig_crc32c(0, t, 28));
	if (pwrite(fd, f, n, 0) != (ssize_t)n)
		abort();
	/* A metadata CRC mismatch names the right one: take it. */
	if (kmig_snap_open(fd, &s, err, sizeof(err)) == 0) {
		kmig_snap_close(&s);
		return;
	}
	if (strncmp(err, "metadata CRC mismatch", 21))
		return;
	put_le32(t + 16, strtoul(strstr(err, "computed 0x") + 11, NULL, 16));
	put_le32(t + 28, kmig_crc32c(0, t, 28));
}

/* Each range of slot @i as a lazy restore reads it. */
static void read_ranges(int fd, const struct kmig_snap *s, unsigned int i)
{
	static uint64_t pages[KMIG_SNAP_RANGE_PAGES];
	static uint8_t buf[KMIG_SNAP_RANGE_BYTES];
	unsigned int n;
	char err[256];
	uint64_t r;

	for (r = 0; r < kmig_snap_nranges(&s->slot[i]); r++) {
		err[0] = 0;
		if (kmig_snap_read_range(fd, s, i, r, buf, pages, &n, err,
					 sizeof(err)) && !err[0])
			abort();	/* a refusal says why */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-snap", 0);
	struct kmig_snap s;
	unsigned int i;
	char err[256];
	uint8_t *copy, *dst;

	copy = malloc(size ? size : 1);
	if (fd < 0 || !copy)
		abort();
	memcpy(copy, data, size);
	reseal(copy, size, fd);
	if (ftruncate(fd, 0) || pwrite(fd, copy, size, 0) != (ssize_t)size)
		abort();
	err[0] = 0;
	if (kmig_snap_open(fd, &s, err, sizeof(err))) {
		if (!err[0])
			abort();	/* a refusal says why */
	} else {
		for (i = 0; i < s.nslots; i++) {
			if (s.slot[i].size > MAX_READ)
				continue;
			dst = calloc(1, s.slot[i].size);
			if (!dst)
				abort();
			kmig_snap_read_slot(fd, &s, i, dst, err, sizeof(err));
			read_ranges(fd, &s, i);
			free(dst);
		}
		kmig_snap_close(&s);
	}
	free(copy);
	close(fd);
	return 0;
}
