#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check-mainline: every selftest on Debian unstable's current kernel.
#
#   1. build the agent, the selftests, the tools (the host's compiler)
#   2. fetch that kernel and make an unstable chroot with the compiler it
#      was built with and its headers (scripts/mainline-kernel.sh; cached)
#   3. build kmig.ko in that chroot, W=1 and sparse, warning-free
#   4. boot the kernel in the test bed with its own modules and run every
#      selftest
#   5. the kernel log holds no splat, and kmig loaded
#   6. "N passed, N failed, N skipped" over all of it
#
# Results land in build/results/mainline, below make check's build/results,
# so that scripts/tap-sum.sh build/results sums both.
#
# usage: check-mainline.sh
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/record.sh
results build/results/mainline

record "build agent, selftests and tools" make -s user selftests tools
record "unstable's kernel and chroot (cache: scripts/mainline-kernel.sh)" \
	scripts/mainline-kernel.sh || summary
ml=$(scripts/mainline-kernel.sh)
kver=$(cat "$ml/kver")
bed=build/bed/$kver
cc=$(sed -n 's/.* \(gcc-[0-9]*\) .*/\1/p' "$ml/versions")
# A warning fails this step, but the suite still runs on the module built.
record "$kver: kmig.ko builds warning-free with $cc (W=1, sparse)" \
	env KBUILD_CHROOT="$ml/root" KDIR="/usr/src/linux-headers-$kver" \
	scripts/kbuild.sh "$kver" C=1 CHECK=sparse ||
	[ -e "build/kernels/$kver/kmig.ko" ] || summary
record "$kver: test bed ran every selftest" bed_ran mainline
bed_keep
record "$kver: dmesg has no kernel splat" scripts/splat.sh "$bed/dmesg.txt"
record "$kver: kmig loads" \
	sh -c '! grep "kmig-bed: cannot" "$1"' sh "$bed/dmesg.txt"
summary
