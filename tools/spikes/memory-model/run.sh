#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# SPIKE: runs the memory-model spikes (Documentation/memory-model.rst,
# section 5) inside the test bed, after tools/spikes/memory-model/build.sh:
#
#   tools/spikes/memory-model/build.sh 6.12
#   scripts/bed.sh script 6.12 tools/spikes/memory-model/run.sh
#
# Results: build/bed/KVER/spikes.txt. Give the bed time: BED_TIMEOUT=1800.
# SPIKE_GUP_MIB, SPIKE_KVM_MIB, SPIKE_BIG_MIB and SPIKE_ROUNDS scale the
# runs (the bed has 2 GiB: the GUP spike maps three regions of
# SPIKE_GUP_MIB at once, the KVM spikes four VMs of SPIKE_KVM_MIB; the
# harvest runs again on SPIKE_BIG_MIB with 5 rounds); SPIKE_STEPS names the
# steps to run (default all), SPIKE_NUMA_BALANCING=0 turns NUMA balancing
# off. The bed passes no environment to its script:
# set them in a script of your own that then sources this one.
# Not part of make check.
set -u

bin=$KMIG_PROJECT/build/spikes/memory-model
kver=$(uname -r)
res=$KMIG_OUT/spikes.txt
gup_mib=${SPIKE_GUP_MIB:-256}
kvm_mib=${SPIKE_KVM_MIB:-64}
big_mib=${SPIKE_BIG_MIB:-256}
rounds=${SPIKE_ROUNDS:-15}
fail=0

exec > "$res" 2>&1

grep -q ' /sys/kernel/tracing ' /proc/mounts ||
	mount -t tracefs nodev /sys/kernel/tracing
grep -q ' /sys/kernel/debug ' /proc/mounts ||
	mount -t debugfs nodev /sys/kernel/debug
insmod "$bin/$kver/spike_mm.ko" || { echo "cannot load spike_mm.ko"; exit 1; }

# GUP's slow path: every get_user_pages_fast() that GUP-fast could not
# finish ends in __get_user_pages() (6.12: gup_fast_fallback() ->
# __gup_longterm_locked() -> __get_user_pages_locked()).
# The first of these the compiler kept out of line (a .constprop or
# .isra copy counts) takes the probe.
sym=
for f in __get_user_pages __get_user_pages_locked __gup_longterm_locked; do
	sym=$(awk -v f="$f" '$3 == f || index($3, f ".") == 1 { print $3; exit }' \
		/proc/kallsyms)
	[ -z "$sym" ] || break
done
if [ -n "$sym" ]; then
	echo "slow-GUP probe on $sym"
	echo "p:gup_slow $sym" >> /sys/kernel/tracing/kprobe_events ||
		echo "cannot set a kprobe on $sym"
else
	echo "no slow-GUP symbol in kallsyms: counts unavailable"
fi

echo "kernel $kver; $(grep -c ^processor /proc/cpuinfo) CPUs;" \
	"$(awk '/MemTotal|MemFree/ { printf "%s %d MiB ", $1, $2 / 1024 }' /proc/meminfo)"
echo "THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
# The bed's two nodes run NUMA balancing, whose hinting faults zap KVM's
# mappings at random: SPIKE_NUMA_BALANCING=0 turns it off for the run.
[ -z "${SPIKE_NUMA_BALANCING:-}" ] ||
	sysctl -q kernel.numa_balancing="$SPIKE_NUMA_BALANCING"
echo "numa_balancing: $(cat /proc/sys/kernel/numa_balancing)"
for p in tdp_mmu eager_page_split; do
	echo "kvm.$p: $(cat /sys/module/kvm/parameters/$p 2>/dev/null)"
done
echo "kvm_amd.npt: $(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
echo "kvm_intel.ept: $(cat /sys/module/kvm_intel/parameters/ept 2>/dev/null)"

# step NAME COMMAND...: run one spike, note its status.
step() {
	name=$1
	shift
	case " ${SPIKE_STEPS:-$name} " in
	*" $name "*) ;;
	*) return 0 ;;
	esac
	echo
	echo "== $name: $*"
	t0=$(date +%s)
	timeout -k 10 600 "$@"
	rc=$?
	echo "== $name: rc=$rc, $(($(date +%s) - t0)) s"
	[ "$rc" = 0 ] || fail=1
}

step spike1 "$bin/gupfast" "$gup_mib" 5
step spike2 "$bin/kvmlog" redirty "$kvm_mib" "$rounds"
step spike3 "$bin/kvmlog" harvest "$kvm_mib" "$rounds"
# The bed is TCG with one thread for both vCPUs: a wake-up across vCPUs
# costs far more than on hardware. Pinned to one CPU, the provider's round
# trip is a plain context switch.
step spike3-pinned taskset -c 0 "$bin/kvmlog" harvest "$kvm_mib" "$rounds"
step spike3-big "$bin/kvmlog" harvest "$big_mib" 5
step spike5 "$bin/kvmlog" huge "$kvm_mib" "$rounds"

echo
rmmod spike_mm || fail=1
exit $fail
