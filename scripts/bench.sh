#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot one test-bed kernel and run every benchmark (the
# programs in build/bench/, the scripts in selftests/bench/) in that one
# boot. Each prints its table, kmig against a
# baseline measured in the same run (QEMU 10 from scripts/qemu10.sh, raw
# TCP, KVM's dirty log, userfaultfd), as ratios. Not a test: nothing here
# passes or fails on a number. Documentation/benchmarks.rst explains the
# figures.
#
# usage: bench.sh [SERIES]   (default 6.12)
# environment: BENCH_RUNS (runs per migration row, default 3),
#              BENCH_MODES (migration modes, default "idle dirty"),
#              BENCH_ONLY (a file name pattern: only those benchmarks),
#              BENCH_ROWS (a regular expression: only those migration rows),
#              BENCH_FILE_DIRS, BENCH_FILL_TIMEOUT (file.py)
#              BENCH_SNAP_MIB (snap.sh)
#              BENCH_CPU (the vCPU of the programs and snap.sh; all: none)
#              BENCH_PC_MODES, BENCH_PC_CAP, BENCH_PC_PREFETCH,
#              BENCH_PC_BASE (postcopy.py)
#              BENCH_MIG_4K, BENCH_MIG_BASE (migrate.py)
#              BENCH_LAZY_BASE (snapshot_lazy.py)
set -eu

series=${1:-6.12}
top=$(cd "$(dirname "$0")/.." && pwd)
script=$(mktemp)
trap 'rm -f "$script"' EXIT

# QEMU 10 is the baseline of the Python migration benchmarks only.
for b in migrate.py postcopy.py file.py colo.py; do
	case $b in
	${BENCH_ONLY:-*})
		"$top/scripts/qemu10.sh" > /dev/null
		break ;;
	esac
done

cat > "$script" <<EOT
export BENCH_RUNS=${BENCH_RUNS:-3} BENCH_MODES="${BENCH_MODES:-idle dirty}" \\
	BENCH_ROWS="${BENCH_ROWS:-}" BENCH_FILE_DIRS="${BENCH_FILE_DIRS:-}" \\
	BENCH_FILL_TIMEOUT="${BENCH_FILL_TIMEOUT:-}" \\
	BENCH_PC_MODES="${BENCH_PC_MODES:-}" BENCH_PC_CAP="${BENCH_PC_CAP:-}" \\
	BENCH_PC_PREFETCH="${BENCH_PC_PREFETCH:-}" BENCH_PC_BASE="${BENCH_PC_BASE:-}" \\
	BENCH_MIG_4K="${BENCH_MIG_4K:-}" BENCH_MIG_BASE="${BENCH_MIG_BASE:-}" \\
	BENCH_LAZY_BASE="${BENCH_LAZY_BASE:-}" \\
	BENCH_SNAP_MIB="${BENCH_SNAP_MIB:-}" BENCH_CPU="${BENCH_CPU:-0}"
# The programs (and snap.sh, itself) run on one vCPU: the bed's TCG runs
# its vCPUs by turns on one host thread (benchmarks.rst, "On one vCPU").
pin="taskset -c \$BENCH_CPU"
[ "\$BENCH_CPU" != all ] || pin=
for b in $top/build/bench/* $top/selftests/bench/*.sh \\
	 $top/selftests/bench/migrate.py \\
	 $top/selftests/bench/postcopy.py \\
	 $top/selftests/bench/snapshot_lazy.py \\
	 $top/selftests/bench/file.py \\
	 $top/selftests/bench/colo.py; do
	[ -e "\$b" ] || continue
	case "\$(basename "\$b")" in
	${BENCH_ONLY:-*}) ;;
	*) continue ;;
	esac
	echo "== \$(basename "\$b")"
	case "\$b" in
	*.sh) sh "\$b" ;;
	*.py) python3 "\$b" ;;
	*) \$pin "\$b" ;;
	esac || echo "bench: \$(basename "\$b") failed (exit \$?)"
done > "\$KMIG_OUT/bench.txt" 2>&1
EOT
# A disk for the benchmarks that want a disk-backed file (snap.sh): a
# sparse raw image, formatted inside the bed; one per BED_PART, as the
# bed's output directory is.
disk=$top/build/bench-disk${BED_PART:+-$BED_PART}.img
rm -f "$disk"
truncate -s 2G "$disk"
BED_DISK=$disk BED_TIMEOUT=${BED_TIMEOUT:-5400} \
	"$top/scripts/bed.sh" script "$series" "$script" || {
	echo "bench: the test bed did not finish" >&2
	exit 1
}
kver=$("$top/scripts/kernels.sh" "$series")
echo "kmig benchmarks on $kver (QEMU test bed, $(nproc) host cores)"
cat "$top/build/bed/$kver${BED_PART:+-$BED_PART}/bench.txt"
