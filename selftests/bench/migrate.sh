# SPDX-License-Identifier: GPL-2.0
#
# Migration throughput against raw TCP over the same veth pair, with 1, 2
# and 4 page channels, and real downtime against the target for a guest
# dirtying memory at a fixed rate. Runs inside the test bed (scripts/bench.sh).
set -eu

P=$KMIG_PROJECT
B=$P/build
W=$KMIG_OUT/work/bench-migrate
MEM=256
. "$P/selftests/qemu/hosts.sh"

cleanup() {
	on A "$B/tools/vmmctl" /run/bench-a.sock quit > /dev/null 2>&1 || true
	on B "$B/tools/vmmctl" /run/bench-b.sock quit > /dev/null 2>&1 || true
	hosts_down
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W"
hosts_down
hosts_up

json() {	# json FILE FIELD
	sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}

# migrate NAME CHANNELS PATTERN RATE [migrate options...]: one migration
# of a fresh guest, its --json job info in $W/NAME.json. $DST_OPTS go to
# the destination VMM.
migrate() {
	name=$1 channels=$2 pattern=$3 rate=$4
	shift 4
	on A "$B/vmm/kmig-vmm" --ctl /run/bench-a.sock --mem $MEM \
		--pattern seq --rate 0 > "$W/$name-vmm-a.log" 2>&1 &
	vmm_a=$!
	# shellcheck disable=SC2086
	on B "$B/vmm/kmig-vmm" --ctl /run/bench-b.sock --mem $MEM --incoming \
		${DST_OPTS:-} > "$W/$name-vmm-b.log" 2>&1 &
	vmm_b=$!
	# Let the guest write its whole working set once, then settle.
	on A "$B/tools/vmmctl" /run/bench-a.sock status > /dev/null
	sleep 3
	on A "$B/tools/vmmctl" /run/bench-a.sock pattern "$pattern" > /dev/null
	on A "$B/tools/vmmctl" /run/bench-a.sock rate "$rate" > /dev/null
	on B "$B/kmig" incoming --vmm /run/bench-b.sock \
		--listen "$HOST_B_ADDR:4500" > "$W/$name-in.log" 2>&1 &
	incoming=$!
	sleep 0.5
	on A "$B/kmig" migrate --vmm /run/bench-a.sock \
		--to "$HOST_B_ADDR:4500" --channels "$channels" --json "$@" \
		> "$W/$name.json" 2> "$W/$name-out.log"
	wait "$incoming"
	on A "$B/tools/vmmctl" /run/bench-a.sock quit > /dev/null 2>&1 || true
	on B "$B/tools/vmmctl" /run/bench-b.sock quit > /dev/null 2>&1 || true
	wait "$vmm_a" "$vmm_b" || true
}

# tcpraw CONNS BYTES: seconds the raw TCP transfer took.
tcpraw() {
	on B "$B/tools/tcpraw" recv 4501 "$1" > "$W/raw.txt" &
	recv=$!
	sleep 0.3
	on A "$B/tools/tcpraw" send "$HOST_B_ADDR" 4501 "$1" "$2"
	wait "$recv"
	sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$W/raw.txt"
}

printf '\nLive migration over a veth pair: kmig vs raw TCP (%s MiB guest)\n' $MEM
printf '%-44s %14s %14s  %-22s %s\n' measure kmig baseline "baseline is" \
	kmig/baseline
# throughput NAME CHANNELS LABEL: a row, kmig against raw TCP with as
# many connections moving as many bytes.
throughput() {
	migrate "$1" "$2" none 0
	bytes=$(json "$W/$1.json" data_total)
	secs=$(json "$W/$1.json" time_elapsed)	# milliseconds
	raw=$(tcpraw "$2" "$bytes")
	awk -v b="$bytes" -v ms="$secs" -v raw="$raw" -v ch="$2" -v l="$3" 'BEGIN {
		k = b / (ms / 1000) / 1048576; r = b / raw / 1048576
		printf "%-44s %14.1f %14.1f  %-22s %.2fx\n",
		       "throughput, " ch " channel(s)" l " (MiB/s)", k, r,
		       "raw TCP, " ch " conn(s)", k / r }'
}

for ch in 1 2 4; do
	throughput "idle-$ch" "$ch" ""
done
# A destination that allocated its memory before the migration, as with
# QEMU's -mem-prealloc: what the migration costs without that.
DST_OPTS=--prealloc throughput prealloc-1 1 ", prealloc"

migrate dirty 2 random 5000 --max-downtime 300
awk -v d="$(json "$W/dirty.json" downtime)" 'BEGIN {
	printf "%-44s %14.1f %14.1f  %-22s %.2fx\n",
	       "downtime, 5000 pages/s dirtied (ms)", d, 300,
	       "the 300 ms target", d / 300 }'
