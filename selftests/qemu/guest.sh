#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test bed, as root, in the host's root filesystem (read-only)
# with the bed's output directory writable. Settings come from $out/env,
# written by run.sh:
#   KMIG_KO       the kmig.ko built for this kernel
#   KMIG_TESTS    selftest programs to run, in order
#   KMIG_TIMEOUT  seconds one selftest may take
#
# Modes: "test" runs the selftests and writes each one's TAP to
# $out/tap/NAME.tap and its exit code to $out/tap/NAME.rc; "script" runs
# $out/script; "shell" gives an interactive shell. All modes then save the
# kernel log to $out/dmesg.txt and write $out/status.
set -u

project=$1
out=$2
mode=$3
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run TERM=${TERM:-linux}
# shellcheck disable=SC1091
. "$out/env"
export KMIG_KO KMIG_BED=1 KMIG_PROJECT="$project" KMIG_OUT="$out"

mark() {
	echo "kmig-bed: $*" > /dev/kmsg
}

mark "kernel $(uname -r), mode $mode"
ip link set lo up
modprobe kvm_amd 2>/dev/null || modprobe kvm_intel || mark "cannot load KVM"
insmod "$KMIG_KO" || mark "cannot load $KMIG_KO"
mkdir -p "$out/tap" "$out/work"
cd "$out/work" || exit 1

case "$mode" in
test)
	for t in $KMIG_TESTS; do
		name=$(basename "$t")
		mark "begin $name"
		timeout -k 10 "$KMIG_TIMEOUT" "$t" > "$out/tap/$name.tap" 2>&1
		rc=$?
		echo "$rc" > "$out/tap/$name.rc"
		mark "end $name rc=$rc"
		cat "$out/tap/$name.tap"
	done
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
