#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build kmig.ko for one test-bed kernel and boot it (selftests/qemu/run.sh).
#
# usage: bed.sh MODE SERIES [SCRIPT]
#   MODE    test: run every selftest in build/selftests (or those named
#           in KMIG_TESTS)
#           script: run SCRIPT (a shell script) inside the bed
#           shell: interactive shell
#   SERIES  kernel series, e.g. 6.1 or 6.12; or "debug", the debug kernel
#           of scripts/debug-kernel.sh (built first if not cached); or
#           "mainline", Debian unstable's kernel of
#           scripts/mainline-kernel.sh (fetched first if not cached),
#           kmig.ko built in its chroot with the compiler it needs
# Output lands in build/bed/KVER, or build/bed/KVER-PART with BED_PART set
# (two beds of one kernel at once, each with its own directory).
set -eu

mode=$1
series=$2
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$series" = debug ]; then
	tree=$("$top/scripts/debug-kernel.sh")
	kver=$(cat "$tree/.kernelrelease")
	# Every KASAN report, not only the first; the checkers slow the
	# guest down several times over. The random sequence runner
	# (selftests/kmig/random.c) runs longer here than its default.
	# 4-level paging: under -cpu max (LA57), linux-source 6.12.118 with
	# KASAN reports wild accesses in the 5-level direct map while it
	# boots (6.12.117 did not); the stock kernels keep 5 levels.
	export KDIR="$tree" BED_KERNEL="$tree/arch/x86/boot/bzImage"
	export BED_MODDIR="$tree/mods/lib/modules/$kver"
	export BED_APPEND="kasan_multi_shot no5lvl ${BED_APPEND:-}"
	export BED_TIMEOUT="${BED_TIMEOUT:-3600}" KMIG_TIMEOUT="${KMIG_TIMEOUT:-900}"
	export KMIG_RANDOM_SECONDS="${KMIG_RANDOM_SECONDS:-120}"
elif [ "$series" = mainline ]; then
	ml=$("$top/scripts/mainline-kernel.sh")
	kver=$(cat "$ml/kver")
	export KBUILD_CHROOT="$ml/root" KDIR="/usr/src/linux-headers-$kver"
	export BED_KERNEL="$ml/kernel/vmlinuz"
	export BED_MODDIR="$ml/kernel/lib/modules/$kver"
else
	kver=$("$top/scripts/kernels.sh" "$series")
fi
out=$top/build/bed/$kver${BED_PART:+-$BED_PART}

# BED_KBUILT=1: kmig.ko is already built for KVER (check-debug.sh did).
[ -n "${BED_KBUILT:-}" ] || "$top/scripts/kbuild.sh" "$kver"
mkdir -p "$out"
if [ "$mode" = script ]; then
	cp "$3" "$out/script"
fi
# The guest runs the tests from its own working directory: name each by
# its absolute path, and refuse one that is not there.
tests=
for t in ${KMIG_TESTS:-$(ls "$top"/build/selftests/* 2>/dev/null)}; do
	case $t in /*) ;; *) t=$PWD/$t ;; esac
	[ -x "$t" ] || { echo "bed.sh: no selftest program $t" >&2; exit 1; }
	tests="$tests $t"
done
KMIG_KO=$top/build/kernels/$kver/kmig.ko KMIG_TESTS=${tests# } \
	exec "$top/selftests/qemu/run.sh" "$kver" "$out" "$mode"
