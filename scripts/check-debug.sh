#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check-debug: every selftest on the debug kernel, failing on any
# report of its checkers.
#
#   1. install what is missing; build the agent, the selftests, the tools
#   2. build the debug kernel (scripts/debug-kernel.sh; cached) and kmig.ko
#      against it
#   3. boot it in the test bed and run every selftest
#   4. the kernel log holds no report (KASAN, lockdep, UBSAN, sleeping in
#      atomic context, debugobjects, any WARN or BUG: scripts/splat.sh), a
#      kmemleak scan after the suite finds nothing, and kmig unloads
#   5. "N passed, N failed, N skipped" over all of it
#
# Results land in build/results/debug, below make check's build/results, so
# that scripts/tap-sum.sh build/results sums both.
#
# usage: check-debug.sh
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/record.sh
results build/results/debug

# no_leaks FILE: kmemleak's report after the suite exists and is empty.
no_leaks() {
	[ -e "$1" ] || { echo "no kmemleak report at $1" >&2; return 1; }
	[ -s "$1" ] || return 0
	grep -c '^unreferenced object' "$1" | sed 's/$/ unreferenced objects:/'
	cat "$1"
	return 1
}

record "install dependencies" scripts/deps.sh || summary
record "build agent, selftests and tools" make -s user selftests tools
record "debug kernel is built (cache: scripts/debug-kernel.sh)" \
	scripts/debug-kernel.sh || summary
tree=$(scripts/debug-kernel.sh)
kver=$(cat "$tree/.kernelrelease")
bed=build/bed/$kver
# A warning fails this step, but the suite still runs on the module built.
record "$kver: kmig.ko builds warning-free (W=1)" \
	env KDIR="$tree" scripts/kbuild.sh "$kver" ||
	[ -e "build/kernels/$kver/kmig.ko" ] || summary
rm -f "$bed/kmemleak.txt"
record "$kver: test bed ran every selftest" bed_ran debug
bed_keep
record "$kver: dmesg has no report (KASAN, lockdep, UBSAN, ...)" \
	scripts/splat.sh "$bed/dmesg.txt"
record "$kver: kmemleak finds no leak after the suite" \
	no_leaks "$bed/kmemleak.txt"
record "$kver: kmig loads, and unloads after the suite" \
	sh -c '! grep "kmig-bed: cannot" "$1"' sh "$bed/dmesg.txt"
summary
