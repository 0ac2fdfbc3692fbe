#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test bed, as root, in the host's root filesystem (read-only)
# with the bed's output directory writable. Settings come from $out/env,
# written by run.sh:
#   KMIG_KO       the kmig.ko built for this kernel
#   KMIG_TESTS    selftest programs to run, in order
#   KMIG_TIMEOUT  seconds one selftest may take
#   KMIG_RANDOM_SECONDS, KMIG_RANDOM_SEED  for selftests/kmig/random.c
#
# Modes: "test" runs the selftests and writes each one's TAP to
# $out/tap/NAME.tap and its exit code to $out/tap/NAME.rc; "script" runs
# $out/script; "shell" gives an interactive shell. All modes then save the
# kernel log to $out/dmesg.txt and write $out/status. On a kernel with
# kmemleak, "test" also writes what a scan after the last test found to
# $out/kmemleak.txt (empty: no leak).
set -u

project=$1
out=$2
mode=$3
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run TERM=${TERM:-linux}
# shellcheck disable=SC1091
. "$out/env"
export KMIG_KO KMIG_RANDOM_SECONDS KMIG_RANDOM_SEED
export KMIG_BED=1 KMIG_PROJECT="$project" KMIG_OUT="$out"

mark() {
	echo "kmig-bed: $*" > /dev/kmsg
}

mark "kernel $(uname -r), mode $mode"
ip link set lo up
# /dev/kvm exists once a vendor module is in, built in or loaded.
[ -e /dev/kvm ] || modprobe kvm_amd 2>/dev/null || modprobe kvm_intel ||
	mark "cannot load KVM"
# Kernel TLS for kmig's encrypted channels (the agent falls back to a
# relay without it, and says so).
[ -d /sys/module/tls ] || modprobe tls || mark "cannot load tls"
insmod "$KMIG_KO" || mark "cannot load $KMIG_KO"
mkdir -p "$out/tap" "$out/work"
cd "$out/work" || exit 1

kmemleak=/sys/kernel/debug/kmemleak

# Report the objects nobody references any more after the selftests ran:
# unload the modules (their exit paths must free everything), then scan
# twice, as an object is reported only once it was seen unreferenced by a
# scan and is old enough.
kmemleak_scan() {
	rmmod kmig_sample 2>/dev/null
	[ ! -e /sys/module/kmig ] || rmmod kmig || mark "cannot unload kmig"
	echo scan > $kmemleak
	sleep 6
	echo scan > $kmemleak
	cat $kmemleak
}

case "$mode" in
test)
	# What leaked while booting is not the suite's.
	rm -f "$out/kmemleak.txt"
	[ -w $kmemleak ] && echo clear > $kmemleak
	for t in $KMIG_TESTS; do
		name=$(basename "$t")
		mark "begin $name"
		timeout -k 10 "$KMIG_TIMEOUT" "$t" > "$out/tap/$name.tap" 2>&1
		rc=$?
		echo "$rc" > "$out/tap/$name.rc"
		mark "end $name rc=$rc"
		cat "$out/tap/$name.tap"
	done
	[ -w $kmemleak ] && kmemleak_scan > "$out/kmemleak.txt"
	;;
script)
	mark "begin script"
	sh "$out/script"
	echo "$?" > "$out/script.rc"
	mark "end script"
	;;
shell)
	echo "kmig test bed: $(uname -r); project at $project, output in $out"
	echo "kmig.ko is loaded; exit the shell to power off."
	cd "$project" && setsid -c /bin/bash -i
	;;
esac

dmesg > "$out/dmesg.txt"
echo done > "$out/status"
