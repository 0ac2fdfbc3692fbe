#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test kmig has, summed into one closing line.
#
#   1. install what is missing (scripts/deps.sh)
#   2. build the agent, the selftests and the host tests; checkpatch
#   3. for each kernel series: build kmig.ko warning-free (W=1, sparse; and
#      the module-debug variant), boot the kernel in the test bed, run
#      every selftest, scan dmesg; the beds of the kernels run side by side
#   4. meanwhile, host tests (ASan + UBSan), a bounded libFuzzer run per
#      parser, and make install-check
#   5. make install into a staging root, run in the last series' bed
#      (scripts/install-bed.sh)
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
record "build agent, selftests and host tests" \
	make -s -j"$jobs" user selftests hosttests benches tools
record "checkpatch --strict" make -s style
record "netlink spec matches the UAPI header" /usr/bin/python3 \
	scripts/spec-check.py Documentation/netlink/specs/kmig.yaml \
	uapi/linux/kmig.h

# bed KVER SERIES: one kernel's leg, kmig.ko built for it: its bed and
# the scan of its kernel log.
# Each bed runs on one host thread (selftests/qemu/run.sh: single-threaded
# TCG), so the legs of two kernels run side by side.
bed() {
	kver=$1
	bed=build/bed/$kver
	export BED_TIMEOUT=${BED_TIMEOUT:-1200}
	record "$kver: test bed ran every selftest" bed_ran "$2"
	bed_keep
	record "$kver: dmesg has no kernel splat" scripts/splat.sh "$bed/dmesg.txt"
}

legs=
for s in $series; do
	if ! kver=$(scripts/kernels.sh "$s" 2>&1); then
		record "kernel $s is installed" false
		continue
	fi
	# The debug variant first: the bed runs the module the last build
	# left in build/kernels/KVER.
	record "$kver: module-debug builds warning-free" \
		scripts/kbuild.sh "$kver" CONFIG_KMIG_DEBUG=y
	record "$kver: kmig.ko builds warning-free (W=1, sparse)" \
		scripts/kbuild.sh "$kver" C=1 CHECK=sparse || continue
	bed "$kver" "$s" > "$res/leg-$kver.out" 2>&1 &
	legs="$legs $kver"
done
# The host's own checks run beside the beds, which are the longest part
# of the run: started after them, they would add their time to it.
record "fuzz smoke: every parser, bounded runs" make -s -j"$jobs" fuzz-smoke
record "install, uninstall, completion and DKMS (install-check)" \
	make -s install-check

for t in build/tests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	KMIG_AGENT=$top/build/kmig-san "$t" > "$res/host/$name.tap" 2>&1
	echo $? > "$res/host/$name.rc"
	echo "check: ran     host test $name"
done

wait
for kver in $legs; do
	cat "$res/leg-$kver.out"
	rm "$res/leg-$kver.out"
done

# kmig installed: make install into a staging root, booted in a bed of
# its own, with kmigd supervised on two hosts (scripts/install-bed.sh).
# After the legs: a third bed beside them would slow all three.
last=$(echo "$series" | awk '{ print $NF }')
if kver=$(scripts/kernels.sh "$last" 2>/dev/null); then
	record "$kver: installed kmig, kmigd and kselftests run in the bed" \
		scripts/install-bed.sh "$last"
	cp "build/bed/$kver/install.tap" "$res/install.tap" 2>/dev/null
fi
echo
scripts/tap-sum.sh "$res"
