#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test kmig has, summed into one closing line.
#
#   1. install what is missing (scripts/deps.sh)
#   2. build the agent and the selftests
#   3. for each kernel series: build kmig.ko warning-free (W=1, sparse),
#      boot the kernel in the test bed, run every selftest, scan dmesg;
#      the beds of the kernels run side by side
#   4. meanwhile: the host tests and benchmarks build, the module-debug
#      variant builds warning-free; checkpatch, the netlink spec check, a
#      bounded libFuzzer run per parser, make install-check and the host
#      tests (ASan + UBSan)
#   5. make install into a staging root, run in the last series' bed
#      (scripts/install-bed.sh) once that series' leg is done
#   6. "N passed, N failed, N skipped" over all of it
#
# usage: check.sh [SERIES...]   (default: 6.1 6.12)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
series=${*:-6.1 6.12}
. scripts/record.sh
results build/results
mkdir -p "$res/host"

if ! record "install dependencies" scripts/deps.sh; then
	scripts/tap-sum.sh "$res"
	exit 1
fi
jobs=$(nproc)
record "build agent and selftests" \
	make -s -j"$jobs" user selftests tools

# bed KVER SERIES: one kernel's leg, kmig.ko built for it: its bed and
# the scan of its kernel log.
# Each bed runs on one host thread (selftests/qemu/run.sh: single-threaded
# TCG), so the legs of two kernels run side by side.
bed() {
	kver=$1
	bed=build/bed/$kver
	export BED_TIMEOUT=${BED_TIMEOUT:-1500}
	record "$kver: test bed ran every selftest" bed_ran "$2"
	bed_keep
	record "$kver: dmesg has no kernel splat" scripts/splat.sh "$bed/dmesg.txt"
}

legs=
last=$(echo "$series" | awk '{ print $NF }')
lastleg=
for s in $series; do
	if ! kver=$(scripts/kernels.sh "$s" 2>&1); then
		record "kernel $s is installed" false
		continue
	fi
	record "$kver: kmig.ko builds warning-free (W=1, sparse)" \
		scripts/kbuild.sh "$kver" -j"$jobs" C=1 CHECK=sparse || continue
	bed "$kver" "$s" > "$res/leg-$kver.out" 2>&1 &
	[ "$s" = "$last" ] && lastleg=$!
	legs="$legs $kver"
done
# Everything else runs beside the beds, which are the longest part of the
# run: started before them, it would add its time to it. Nothing built
# from here on is a file the beds use; the debug variant builds where
# they do not load kmig.ko from. The builds and checks that measure no
# time run at a lower priority (side): each bed's guest is one host
# thread, so the two beds want both CPUs, and what runs beside them at
# the same priority slows them down; those steps take what the beds
# leave (a guest waiting in a test leaves its CPU idle).
side() {
	nice -n 10 "$@"
}
record "build host tests and benchmarks" \
	side make -s -j"$jobs" hosttests benches
for kver in $legs; do
	record "$kver: module-debug builds warning-free" \
		side env KMIG_KBUILD_DIR="$top/build/kernels-debug/$kver" \
		scripts/kbuild.sh "$kver" CONFIG_KMIG_DEBUG=y
done
record "checkpatch --strict" side make -s style
record "netlink spec matches the UAPI header" side /usr/bin/python3 \
	scripts/spec-check.py Documentation/netlink/specs/kmig.yaml \
	uapi/linux/kmig.h
record "fuzz smoke: every parser, bounded runs" \
	side make -s -j"$jobs" fuzz-smoke
record "install, uninstall, completion and DKMS (install-check)" \
	side make -s install-check

for t in build/tests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	KMIG_AGENT=$top/build/kmig-san "$t" > "$res/host/$name.tap" 2>&1
	echo $? > "$res/host/$name.rc"
	echo "check: ran     host test $name"
done

# kmig installed: make install into a staging root, booted in a bed of
# its own, with kmigd supervised on two hosts (scripts/install-bed.sh).
# After the last series' leg, whose bed directory it uses, and after
# everything above, which builds in the same tree; beside the other leg
# if that one is still running (a third bed beside two would slow all
# three).
if [ -n "$lastleg" ] && kver=$(scripts/kernels.sh "$last" 2>/dev/null); then
	wait "$lastleg"
	record "$kver: installed kmig, kmigd and kselftests run in the bed" \
		scripts/install-bed.sh "$last"
	cp "build/bed/$kver/install.tap" "$res/install.tap" 2>/dev/null
fi

wait
for kver in $legs; do
	cat "$res/leg-$kver.out"
	rm "$res/leg-$kver.out"
done
echo
scripts/tap-sum.sh "$res"
