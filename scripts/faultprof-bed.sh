#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Inside the bed (scripts/bed.sh script SERIES THIS): profile the fault
# bench's two sides, kmig and userfaultfd, at 1 and 16 faulting threads
# with perf record -a -g, and write each side's reports to
# $KMIG_OUT/prof/. PROF_THREADS, PROF_RUNS and PROF_PERIOD (ns of
# cpu-clock per sample) override the defaults.
set -u
out=$KMIG_OUT/prof
mkdir -p "$out"
bench=$KMIG_PROJECT/build/bench/fault
threads=${PROF_THREADS:-1 16}
runs=${PROF_RUNS:-3}
period=${PROF_PERIOD:-100000}
sysctl -qw kernel.kptr_restrict=0 kernel.perf_event_paranoid=-1
uptime > "$out/uptime.txt"
# Without perf first: the rates to compare the profiled ones with.
for t in $threads; do
	for be in kmig userfaultfd; do
		"$bench" one $be "$t" "$runs"
	done
done > "$out/plain.txt" 2>&1
for t in $threads; do
	for be in kmig userfaultfd; do
		d=/run/$be-$t.data
		perf record -q -a -g -e cpu-clock -c "$period" -o "$d" \
			"$bench" one $be "$t" "$runs" > "$out/$be-$t.run" 2>&1
		perf report -i "$d" --stdio -n --sort comm \
			> "$out/$be-$t.comm" 2>&1
		perf report -i "$d" --stdio -n --no-children -g none \
			--comm faulter,server --sort comm,dso,sym \
			--percent-limit 0.3 > "$out/$be-$t.self" 2>&1
		perf report -i "$d" --stdio -n --children -g none \
			--comm faulter,server --sort comm,sym \
			--percent-limit 1 > "$out/$be-$t.children" 2>&1
		rm -f "$d"
	done
done
uptime >> "$out/uptime.txt"
