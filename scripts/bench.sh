#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot one test-bed kernel and run every benchmark (the
# programs in build/bench/, the scripts in selftests/bench/) in that one
# boot. Each prints its table, kmig against a
# baseline measured in the same run, as ratios. Not a test: nothing here
# passes or fails on a number.
#
# usage: bench.sh [SERIES]   (default 6.12)
set -eu

series=${1:-6.12}
top=$(cd "$(dirname "$0")/.." && pwd)
script=$(mktemp)
trap 'rm -f "$script"' EXIT

cat > "$script" <<EOT
for b in $top/build/bench/* $top/selftests/bench/*.sh; do
	echo "== \$(basename "\$b")"
	case "\$b" in
	*.sh) sh "\$b" ;;
	*) "\$b" ;;
	esac || echo "bench: \$(basename "\$b") failed (exit \$?)"
done > "\$KMIG_OUT/bench.txt" 2>&1
EOT
"$top/scripts/bed.sh" script "$series" "$script" || {
	echo "bench: the test bed did not finish" >&2
	exit 1
}
kver=$("$top/scripts/kernels.sh" "$series")
echo "kmig benchmarks on $kver (QEMU test bed, $(nproc) host cores)"
cat "$top/build/bed/$kver/bench.txt"
