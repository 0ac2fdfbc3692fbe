#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# SPIKE: build the memory-model spikes (Documentation/memory-model.rst,
# section 5): spike_mm.ko for one installed kernel, out of tree, in
# build/spikes/memory-model/KVER (as scripts/kbuild.sh builds kmig.ko, W=1,
# any warning fails), and the user programs in build/spikes/memory-model.
# Not part of `make` or `make check`.
#
# usage: tools/spikes/memory-model/build.sh [SERIES]   (default 6.12)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
kver=$("$top/scripts/kernels.sh" "${1:-6.12}")
out=$top/build/spikes/memory-model
dir=$out/$kver

rm -rf "$dir"
mkdir -p "$dir"
for f in Kbuild spike_mm.c spike_mm.h; do
	ln -s "$here/$f" "$dir/$f"
done
log=$dir/build.log
if ! make -C "/usr/src/linux-headers-$kver" M="$dir" W=1 modules > "$log" 2>&1; then
	cat "$log" >&2
	echo "spikes: $kver: module build failed" >&2
	exit 1
fi
if grep -E 'warning:|error:' "$log" >&2; then
	echo "spikes: $kver: the module build has warnings" >&2
	exit 1
fi

cflags="-O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I$here -I$top/uapi -I$top/selftests/kmig/lib"
for p in gupfast kvmlog; do
	# shellcheck disable=SC2086
	gcc $cflags -o "$out/$p" "$here/$p.c" "$here/spike.c" \
		"$top/selftests/kmig/lib/kvm.c" -lpthread
done
echo "spikes: built $dir/spike_mm.ko, $out/gupfast, $out/kvmlog"
