#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Snapshot files inside the test bed (scripts/bench.sh runs it there):
# user/bench/snap.c, a memfd standing in for guest memory, saved and
# restored with 1, 2 and 4 threads, buffered and O_DIRECT, against dd of
# the same bytes in the same directory, on the bed's kernel: in /dev/shm
# (tmpfs; it takes O_DIRECT from Linux 6.6 on) and, when the bed was
# booted with BED_DISK (a raw image: /dev/vda), on ext4 on that disk. The
# bed's root is read-only 9p.
set -eu

bench=$KMIG_PROJECT/build/bench-host/snap
if [ ! -x "$bench" ]; then
	echo "snap: $bench is not built (make bench builds it)"
	exit 1
fi
dirs=/dev/shm
if [ -b /dev/vda ] || modprobe virtio_blk 2>/dev/null && sleep 1 &&
   [ -b /dev/vda ]; then
	modprobe ext4
	mkfs.ext4 -q -F /dev/vda
	mkdir -p /dev/shm/disk
	mount /dev/vda /dev/shm/disk
	dirs="/dev/shm/disk /dev/shm"
fi
# On one vCPU (BENCH_CPU, "all" for none), kmig and dd alike: the bed's
# TCG runs its vCPUs by turns on one host thread (benchmarks.rst, "On one
# vCPU"). Unpinned, the tmpfs saves came out at 0.5 to 1.3 times dd from
# run to run of the same boot.
pin=
if [ "${BENCH_CPU:-0}" != all ]; then
	pin="taskset -c ${BENCH_CPU:-0}"
	echo "snap: on vCPU ${BENCH_CPU:-0}"
fi
for zero in 0 25; do
	$pin "$bench" -s "${BENCH_SNAP_MIB:-64}" -r "${BENCH_RUNS:-3}" \
		-z "$zero" $dirs
done
