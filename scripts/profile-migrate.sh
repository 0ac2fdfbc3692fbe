#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Profile one kmig precopy migration in the test bed: the guest of
# selftests/bench/migrate.py (two kmig-vmm --huge, 256 MiB written once,
# then idle), kmig migrate --channels N between them.
#
# usage: BED_PART=NAME scripts/profile-migrate.sh [SERIES]   (default 6.12)
#
# On the host it boots the bed (scripts/bed.sh script) to run itself
# there. Environment: PROF_CHANNELS (default 2), PROF_ARGS (more
# arguments of kmig migrate, e.g. --zerocopy), PROF_NET ("veth", the
# default: the two hosts of selftests/qemu/hosts.sh; "lo": both sides in
# the bed's own network namespace over loopback), PROF_PERF (default
# /usr/bin/perf, the host's, which the bed sees over 9p).
# Output in build/bed/KVER[-PART]/profile/: per-thread CPU of one
# migration, and for another migration each a perf profile (cpu-clock
# samples with call graphs, system-wide) and syscall counts and sizes
# (sys_exit tracepoints); the CRC32C implementations' speeds
# (build/bench-host/wire, if built); summary.txt
# (scripts/profile-summary.py) sums them up.
set -u

if [ -z "${KMIG_OUT:-}" ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	script=$(mktemp)
	trap 'rm -f "$script"' EXIT
	cat > "$script" <<EOT
export PROF_CHANNELS="${PROF_CHANNELS:-2}" PROF_ARGS="${PROF_ARGS:-}" \
	PROF_NET="${PROF_NET:-veth}" PROF_PERF="${PROF_PERF:-/usr/bin/perf}"
sh "$top/scripts/profile-migrate.sh"
EOT
	"$top/scripts/bed.sh" script "${1:-6.12}" "$script"
	exit
fi

top=${KMIG_PROJECT:?}
build=$top/build
out=${KMIG_OUT:?}/profile
perf=${PROF_PERF:-/usr/bin/perf}
net=${PROF_NET:-veth}
mem=256
ws=$(((mem * 1048576 - 1048576) / 4096))
mkdir -p "$out"
cd "$out" || exit 1
# perf maps its data file, which the bed's 9p view of the host cannot do.
tmp=/tmp/profile
mkdir -p $tmp
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid

. "$top/selftests/qemu/hosts.sh"
if [ "$net" = veth ]; then
	hosts_down
	hosts_up || exit 1
	# nsenter, not ip netns exec: that one also enters a mount
	# namespace of its own, which perf 6.1 cannot follow (an assertion
	# in its util/namespaces.c, then no samples).
	A="nsenter --net=/run/netns/kmig-a" B="nsenter --net=/run/netns/kmig-b"
	addr=$HOST_B_ADDR
else
	ip link set lo up
	A="" B="" addr=127.0.0.1
fi

vmm_pids=
start_vmms() {
	rm -f /run/prof-a.sock /run/prof-b.sock
	$A "$build/vmm/kmig-vmm" --ctl /run/prof-a.sock --mem $mem --huge \
		--pattern seq --rate 0 > "$1-vmm-a.log" 2>&1 &
	vmm_a=$!
	$B "$build/vmm/kmig-vmm" --ctl /run/prof-b.sock --mem $mem --huge \
		--incoming > "$1-vmm-b.log" 2>&1 &
	vmm_b=$!
	vmm_pids="$vmm_a $vmm_b"
	while [ ! -S /run/prof-a.sock ] || [ ! -S /run/prof-b.sock ]; do
		sleep 0.2
	done
	while :; do
		w=$("$build/tools/vmmctl" /run/prof-a.sock status |
		    sed -n 's/.*\bwrites=\([0-9]*\).*/\1/p')
		[ "${w:-0}" -ge $ws ] && break
		sleep 0.5
	done
	"$build/tools/vmmctl" /run/prof-a.sock pattern none > /dev/null
	$B "$build/kmig" incoming --vmm /run/prof-b.sock \
		--listen "$addr:4500" --json > "$1-in.json" 2> "$1-in.log" &
	agent_b=$!
	sleep 1
}

stop_vmms() {
	wait "$agent_b"
	for p in $vmm_pids; do
		kill "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
}

# The threads of each process, in $1-threads.txt, 3 s into the migration.
migrate() {
	# shellcheck disable=SC2086 # $PROF_ARGS: one argument a word
	$A "$build/kmig" migrate --vmm /run/prof-a.sock --to "$addr:4500" \
		--channels "${PROF_CHANNELS:-2}" --json ${PROF_ARGS:-} \
		> "$1.json" 2> "$1.log" &
	agent_a=$!
	sleep 3
	# Shell builtins only: no process of its own in the profile.
	for p in agent_a:$agent_a agent_b:$agent_b vmm_a:$vmm_a vmm_b:$vmm_b; do
		l=${p%%:*}
		for t in "/proc/${p#*:}/task/"*; do
			l="$l ${t##*/}"
		done
		echo "$l"
	done > "$1-threads.txt"
	wait $agent_a
}

# The stat lines of the threads of processes $2..., and the CPU lines.
snap() {
	f=$1
	shift
	for p in "$@"; do
		for t in "/proc/$p/task/"*; do
			read -r l < "$t/stat" 2> /dev/null && echo "$p $l"
		done
	done > "$f"
	grep '^cpu' /proc/stat > "$f.cpu"
}

# 1. Per-thread CPU: /proc every 0.5 s, nothing else running.
start_vmms cpu
kthreads=$(pgrep ksoftirqd | tr '\n' ' ')
# shellcheck disable=SC2086
$A "$build/kmig" migrate --vmm /run/prof-a.sock --to "$addr:4500" \
	--channels "${PROF_CHANNELS:-2}" --json ${PROF_ARGS:-} \
	> cpu.json 2> cpu.log &
mig=$!
i=0
while kill -0 $mig 2> /dev/null; do
	# shellcheck disable=SC2086 # $kthreads: one pid a word
	snap cpu-$i $mig $agent_b $vmm_a $vmm_b $kthreads
	echo "$i $(date +%s.%N)" >> cpu-times.txt
	sleep 0.5
	i=$((i + 1))
done
echo "agent_a $mig agent_b $agent_b vmm_a $vmm_a vmm_b $vmm_b" > cpu-pids.txt
wait $mig
stop_vmms

# perf $2... in the background, its log in $1-record.log; returns once
# it samples (it starts after it has read every process's mappings,
# which under TCG takes seconds).
perf_start() {
	log=$1-record.log
	shift
	rm -f $tmp/ctl $tmp/ack
	mkfifo $tmp/ctl $tmp/ack
	"$perf" "$@" -D -1 --control fifo:$tmp/ctl,$tmp/ack > "$log" 2>&1 &
	prec=$!
	timeout 300 sh -c "echo enable > $tmp/ctl && read -r ack < $tmp/ack" ||
		echo "perf did not start" >> "$log"
}

# 2. perf: cpu-clock samples (TCG has no PMU), call graphs, every CPU.
start_vmms perf
perf_start perf record -N -a -g -F 999 -o $tmp/perf.data
migrate perf
kill -INT $prec
wait $prec
stop_vmms
"$perf" report -i $tmp/perf.data --no-children --sort comm,dso --stdio \
	> perf-comm-dso.txt 2> perf-report.log
"$perf" report -i $tmp/perf.data --no-children --sort pid,dso --stdio -g none \
	> perf-tid-dso.txt 2>> perf-report.log
"$perf" report -i $tmp/perf.data --no-children --sort pid,dso,sym --stdio \
	-g none --percent-limit 0.05 > perf-tid-sym.txt 2>> perf-report.log
"$perf" report -i $tmp/perf.data --no-children --sort comm,dso,sym --stdio \
	-g none > perf-sym.txt 2>> perf-report.log
"$perf" report -i $tmp/perf.data --no-children --sort comm,dso,sym --stdio \
	-g caller,0.5,callee --percent-limit 1 > perf-callers.txt \
	2>> perf-report.log

# 3. Syscalls of the agents: count and bytes.
start_vmms sys
perf_start sys record -N -a -e 'raw_syscalls:sys_exit' -o $tmp/sys.data
migrate sys
kill -INT $prec
wait $prec
stop_vmms
"$perf" script -i $tmp/sys.data -F comm,tid,event,trace > sys.txt \
	2> sys-script.log
[ "$net" = veth ] && hosts_down
# 4. CRC32C and memcpy speeds of every implementation on this CPU (the
# agent picks the fastest: kmig_crc32c_impl()), from the host benchmark.
[ -x "$build/bench-host/wire" ] &&
	"$build/bench-host/wire" -s 16 -r 1 -p batched > wire.txt 2>&1
cp $tmp/perf.data .
python3 "$top/scripts/profile-summary.py" . > summary.txt 2>&1
echo ok > finished
