#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test kmig has, summed into one closing line.
#
#   1. install what is missing (scripts/deps.sh)
#   2. build the agent, the selftests and the host tests; checkpatch
#   3. host tests (ASan + UBSan) and a bounded libFuzzer run per parser
#   4. for each kernel series: build kmig.ko warning-free (W=1, sparse; and
#      the module-debug variant), boot the kernel in the test bed, run
#      every selftest, scan dmesg
#   5. "N passed, N failed, N skipped" over all of it
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
record "build agent, selftests and host tests" \
	make -s user selftests hosttests benches tools
record "checkpatch --strict" make -s style
record "netlink spec matches the UAPI header" /usr/bin/python3 \
	scripts/spec-check.py Documentation/netlink/specs/kmig.yaml \
	uapi/linux/kmig.h

record "fuzz smoke: every parser, bounded runs" make -s fuzz-smoke
record "install, uninstall, completion and DKMS (install-check)" \
	make -s install-check

for t in build/tests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	KMIG_AGENT=$top/build/kmig-san "$t" > "$res/host/$name.tap" 2>&1
	echo $? > "$res/host/$name.rc"
	echo "check: ran     host test $name"
done

for s in $series; do
	if ! kver=$(scripts/kernels.sh "$s" 2>&1); then
		record "kernel $s is installed" false
		continue
	fi
	record "$kver: kmig.ko builds warning-free (W=1, sparse)" \
		scripts/kbuild.sh "$kver" C=1 CHECK=sparse || continue
	record "$kver: module-debug builds warning-free" \
		scripts/kbuild.sh "$kver" CONFIG_KMIG_DEBUG=y
	bed=build/bed/$kver
	record "$kver: test bed ran every selftest" scripts/bed.sh test "$s"
	bed_keep
	record "$kver: dmesg has no kernel splat" scripts/splat.sh "$bed/dmesg.txt"
done

echo
scripts/tap-sum.sh "$res"
