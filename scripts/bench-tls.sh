#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Kernel TLS against plaintext on the data path, in the test bed (whose
# kernels have the tls module; this host's may not): build/bench-host/wire
# with its batched and TLS paths, on the bed's two vCPUs.
#
#   scripts/bench-tls.sh [SERIES] [WIRE ARGS]   (default 6.12, -s 64 -r 3)
#
# The table lands in build/bed/KVER/bench-tls.txt. Under TCG the absolute
# figures say little; the ratio "kmig TLS ktls" to "kmig batched" is the
# result.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
series=${1:-6.12}
[ $# -gt 0 ] && shift
args=${*:--s 64 -r 3 -z 0}
make -C "$top" -s build/bench-host/wire
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<END
[ -d /sys/module/tls ] || modprobe tls
"$top/build/bench-host/wire" $args -p batched,tls > "\$KMIG_OUT/bench-tls.txt" 2>&1
END
"$top/scripts/bed.sh" script "$series" "$script"
kver=$("$top/scripts/kernels.sh" "$series" | awk '{ print $NF }')
cat "$top/build/bed/$kver/bench-tls.txt"
