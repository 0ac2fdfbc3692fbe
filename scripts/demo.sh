#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a live migration of a running KVM guest between two hosts,
# inside the QEMU test bed. Boots the bed (the last of KERNELS, default
# 6.12), runs selftests/qemu/demo.sh there and shows its output as it comes.
#
# usage: demo.sh [SERIES]
set -eu

series=${1:-6.12}
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$("$top/scripts/kernels.sh" "$series")
out=$top/build/bed/$kver

rm -f "$out/demo.txt"
mkdir -p "$out"
: > "$out/demo.txt"
tail -f "$out/demo.txt" &
tailer=$!
trap 'kill $tailer 2>/dev/null' EXIT

"$top/scripts/bed.sh" script "$series" "$top/selftests/qemu/demo.sh" ||
	{ echo "demo: the test bed did not finish (see $out/console.log)" >&2; exit 1; }
sleep 1
rc=$(cat "$out/script.rc")
[ "$rc" = 0 ] || echo "demo: FAILED (exit $rc); logs in $out/work" >&2
exit "$rc"
