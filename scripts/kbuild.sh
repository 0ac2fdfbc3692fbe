#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build kmig.ko for one installed kernel, out of tree, in
# build/kernels/KVER (a tree of links to the sources, so that builds for
# several kernels never share objects). W=1; any compiler warning fails.
#
# usage: kbuild.sh KVER [extra kbuild arguments]
# KMIG_KBUILD_DIR names the build directory when it is not build/kernels/KVER,
# the one the test bed loads kmig.ko from (make check builds the debug
# variant elsewhere while the bed runs). KDIR names the kernel build tree when it is not Debian's headers of KVER
# (the debug kernel of scripts/debug-kernel.sh). KBUILD_CHROOT names a
# root directory to build in (the mainline leg's unstable chroot, whose
# compiler the kernel needs): make runs there, with this checkout mounted
# at the same path in a mount namespace of its own, and KDIR is a path
# inside it.
set -eu

kver=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${KMIG_KBUILD_DIR:-$top/build/kernels/$kver}
kdir=${KDIR:-/usr/src/linux-headers-$kver}

rm -rf "$dir"
mkdir -p "$dir"
# Sources only: objects of an in-place `make module` must not leak in.
(cd "$top" && find Kbuild kernel uapi samples -name Kbuild -o -name '*.[ch]' \
	2>/dev/null) | while read -r f; do
	mkdir -p "$dir/$(dirname "$f")"
	ln -s "$top/$f" "$dir/$f"
done

# in_root COMMAND...: run COMMAND here, or in KBUILD_CHROOT.
in_root() {
	[ -n "${KBUILD_CHROOT:-}" ] || { "$@"; return; }
	unshare --mount --propagation private sh -euc '
		root=$1 top=$2
		shift 2
		mkdir -p "$root$top"
		mount --bind "$top" "$root$top"
		mount -t proc proc "$root/proc"
		exec chroot "$root" "$@"' sh "$KBUILD_CHROOT" "$top" "$@"
}

log=$dir/build.log
if ! in_root make -C "$kdir" M="$dir" CONFIG_KMIG=m CONFIG_KMIG_SAMPLE=m W=1 "$@" modules > "$log" 2>&1; then
	cat "$log" >&2
	echo "kbuild: $kver: build failed" >&2
	exit 1
fi
if grep -E 'warning:|error:' "$log" >&2; then
	echo "kbuild: $kver: the build has warnings" >&2
	exit 1
fi
