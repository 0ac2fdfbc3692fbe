#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Snapshot files inside the test bed (scripts/bench.sh runs it there):
# user/bench/snap.c, a memfd standing in for guest memory, saved and
# restored with 1, 2 and 4 threads, buffered and O_DIRECT, against dd of
# the same bytes in the same directory, on the bed's kernel. The bed's
# root is read-only 9p and it has no disk: /dev/shm (tmpfs) is the one
# writable place, and tmpfs takes O_DIRECT from Linux 6.6 on.
set -eu

bench=$KMIG_PROJECT/build/bench-host/snap
if [ ! -x "$bench" ]; then
	echo "snap: $bench is not built (make bench builds it)"
	exit 1
fi
for zero in 0 25; do
	"$bench" -s "${BENCH_SNAP_MIB:-64}" -r "${BENCH_RUNS:-3}" -z "$zero" /dev/shm
done
