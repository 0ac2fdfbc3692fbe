#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# COLO's checkpoint pause with and without --stream (Documentation/colo.rst,
# "Streaming"), inside the bed:
#   scripts/bed.sh script 6.12 scripts/colo-stream-measure.sh
# Two kmig-vmm on the loopback (the selftests' 8 MiB guest dirtying random
# pages at each of RATES pages/s), a period of PERIOD ms, CKPTS checkpoints,
# no --verify, for each --stream of STREAMS (0: off), REPS times in turn.
# The primary's logs land in
# build/bed/KVER/colo-stream-pPERIOD/rRATE-sSTREAM-REP.log:
# each "checkpoint N: P pages, paused T ms, S streamed before in M
# messages" line is one pause.
set -u
b=$KMIG_PROJECT/build
PERIOD=${PERIOD:-100}
out=$KMIG_OUT/colo-stream-p$PERIOD
RATES=${RATES:-2000 10000}
STREAMS=${STREAMS:-0 20 10}
REPS=${REPS:-2}
CKPTS=${CKPTS:-20}
mkdir -p "$out"
rm -f "$out"/*.log
port=24736

vmm() {	# sock rate [--incoming]
	"$b/vmm/kmig-vmm" --ctl "$1" --mem 8 --slots 2 --vcpus 1 \
		--pattern random --rate "$2" ${3:+"$3"} > /dev/null 2>&1 &
}

run() {	# rate stream rep
	tag=r$1-s$2-$3
	vmm /run/cs-a.sock "$1"
	va=$!
	vmm /run/cs-b.sock "$1" --incoming
	vb=$!
	i=0
	until "$b/tools/vmmctl" /run/cs-a.sock status 2>/dev/null |
	      grep -q running; do
		i=$((i + 1))
		[ $i -lt 100 ] || break
		sleep 0.1
	done
	sleep 1
	"$b/kmig" colo secondary --vmm /run/cs-b.sock \
		--listen "127.0.0.1:$port" --timeout 30 \
		--heartbeat-timeout 30000 > "$out/$tag.sec.log" 2>&1 &
	sp=$!
	"$b/kmig" colo primary --vmm /run/cs-a.sock --to "127.0.0.1:$port" \
		--timeout 30 --heartbeat-timeout 30000 --checkpoint-ms "$PERIOD" \
		--checkpoints "$CKPTS" --stream "$2" > "$out/$tag.log" 2>&1
	echo "$tag primary exit $?"
	wait $sp
	echo "$tag secondary exit $?"
	kill $va $vb
	wait $va $vb 2> /dev/null
	port=$((port + 1))
	[ $port -le 24739 ] || port=24736
}

rep=1
while [ $rep -le "$REPS" ]; do
	for rate in $RATES; do
		for s in $STREAMS; do
			run "$rate" "$s" $rep
		done
	done
	rep=$((rep + 1))
done
