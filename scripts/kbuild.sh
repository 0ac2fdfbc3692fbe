#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build kmig.ko for one installed kernel, out of tree, in
# build/kernels/KVER (a tree of links to the sources, so that builds for
# several kernels never share objects). W=1; any compiler warning fails.
#
# usage: kbuild.sh KVER [extra kbuild arguments]
# KDIR names the kernel build tree when it is not Debian's headers of KVER
# (the debug kernel of scripts/debug-kernel.sh).
set -eu

kver=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/kernels/$kver
kdir=${KDIR:-/usr/src/linux-headers-$kver}

rm -rf "$dir"
mkdir -p "$dir"
# Sources only: objects of an in-place `make module` must not leak in.
(cd "$top" && find Kbuild kernel uapi samples -name Kbuild -o -name '*.[ch]' \
	2>/dev/null) | while read -r f; do
	mkdir -p "$dir/$(dirname "$f")"
	ln -s "$top/$f" "$dir/$f"
done

log=$dir/build.log
if ! make -C "$kdir" M="$dir" CONFIG_KMIG=m CONFIG_KMIG_SAMPLE=m W=1 "$@" modules > "$log" 2>&1; then
	cat "$log" >&2
	echo "kbuild: $kver: build failed" >&2
	exit 1
fi
if grep -E 'warning:|error:' "$log" >&2; then
	echo "kbuild: $kver: the build has warnings" >&2
	exit 1
fi
