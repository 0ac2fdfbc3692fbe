// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for a snapshot's working set, FILE.ws
 * (user/lib/snap_lazy.c, kmig_ws_read()), read against a small valid
 * snapshot written once.
 *
 * Input: the working set file. When it is long enough, its binding to
 * the snapshot (creation time, header CRC) and its final CRC are made
 * right first, so that the fuzzer reaches the entries' checks.
 *
 * The invariants: a refusal says why; an accepted set has as many
 * entries as it says, each a page of a slot of the snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "snap_lazy.h"

static struct kmig_snap snap;
static struct kmig_snap_stamp stamp;
static char path[64];

/* Two slots of 1 MiB, a few pages not zero. */
static void snapshot_once(void)
{
	static uint8_t mem[2][1 << 20];
	struct kmig_snap_src src[2] = {
		{ .id = 0, .gpa = 0, .size = sizeof(mem[0]), .map = mem[0] },
		{ .id = 3, .gpa = 1 << 20, .size = sizeof(mem[1]), .map = mem[1] },
	};
	int fd = memfd_create("fuzz-snap-ws", 0);
	char err[256];

	mem[0][4096 * 7] = 1;
	mem[1][4096 * 200] = 2;
	if (fd < 0 || kmig_snap_write(fd, src, 2, "", 0, "fuzz", false, err,
				      sizeof(err)) ||
	    kmig_snap_open(fd, &snap, err, sizeof(err)) ||
	    kmig_snap_stamp(fd, &snap, &stamp, err, sizeof(err)))
		abort();
	snprintf(path, sizeof(path), "/dev/shm/fuzz-snap-ws-%d", getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmig_ws_entry *e;
	unsigned int n, i, j;
	uint8_t *copy;
	char err[256];
	FILE *f;

	if (!path[0])
		snapshot_once();
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size >= KMIG_SNAP_WS_HEADER_SIZE + 4) {
		put_le64(copy + 16, snap.created_ns);
		put_le32(copy + 24, stamp.header_crc);
		put_le32(copy + size - 4, kmig_crc32c(0, copy, size - 4));
	}
	f = fopen(path, "w");
	if (!f || fwrite(copy, 1, size, f) != size || fclose(f))
		abort();
	err[0] = 0;
	if (kmig_ws_read(path, &snap, &stamp, &e, &n, err, sizeof(err))) {
		if (!err[0])
			abort();	/* a refusal says why */
	} else {
		if (n != get_le32(copy + 12))
			abort();
		for (i = 0; i < n; i++) {
			for (j = 0; j < snap.nslots &&
			     snap.slot[j].id != e[i].slot; j++)
				;
			if (j == snap.nslots || e[i].page >= snap.slot[j].npages)
				abort();
		}
		free(e);
	}
	unlink(path);
	free(copy);
	return 0;
}
