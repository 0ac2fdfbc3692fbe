#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test bed (scripts/install-bed.sh): what an installed kmig
# does on a host, as TAP in $KMIG_OUT/install.tap.
#
#   1. the kselftest collection that `make kselftest-install
#      INSTALL_PATH=$KMIG_OUT/ksft` installed on the host (unpacking the
#      runner from linux-source takes minutes under emulation) runs under
#      run_kselftest.sh
#   2. the staging root that `make install DESTDIR=$KMIG_OUT/stage` filled
#      on the host: depmod -b and modprobe -d load its kmig.ko, and its
#      agent talks to that module
set -u

out=$KMIG_OUT
kver=$(uname -r)
stage=$out/stage
ksft=$out/ksft
tap=$out/install.tap
n=0
failed=0
: > "$tap"

# ok STATUS DESCRIPTION: one TAP line, on the console and in $tap.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		line="ok $n - $2"
	else
		line="not ok $n - $2"
		failed=$((failed + 1))
	fi
	echo "$line" | tee -a "$tap"
	return "$1"
}

# show FILE: a log into the TAP, as comments.
show() {
	sed 's/^/# /' "$1" | tee -a "$tap"
}

# --- 1. the collection -----------------------------------------------------
[ -x "$ksft/run_kselftest.sh" ] && grep -q '^kmig:module$' "$ksft/kselftest-list.txt"
ok $? "the collection is installed in $ksft"
# The runner sends the tests' own output to /dev/stdout by name: the bed's
# devtmpfs has no such link (udev makes it on a host), nor do the others.
for fd in 0:stdin 1:stdout 2:stderr; do
	[ -e "/dev/${fd#*:}" ] || ln -s "/proc/self/fd/${fd%%:*}" "/dev/${fd#*:}"
done
# Appended to, on tmpfs: it reopens that file, at its end.
: > /tmp/ksft.tap
"$ksft/run_kselftest.sh" -t kmig:module -t kmig:genl >> /tmp/ksft.tap 2>&1
ok $? "run_kselftest.sh -t kmig:module -t kmig:genl"
cp /tmp/ksft.tap "$out/work/ksft.tap"
show "$out/work/ksft.tap"
grep -q "^ok 1 selftests: kmig: module$" "$out/work/ksft.tap"
ok $? "kmig:module passed under the runner"
grep -q "^ok 2 selftests: kmig: genl$" "$out/work/ksft.tap"
ok $? "kmig:genl passed under the runner"
[ "$(grep -c '^# # Totals: pass:[1-9][0-9]* fail:0 .*skip:0 error:0$' "$out/work/ksft.tap")" = 2 ]
ok $? "... each with its own tests all passed, none skipped"

# --- 2. the staging root ---------------------------------------------------
ko=$stage/lib/modules/$kver/extra/kmig.ko
[ -f "$ko" ]
ok $? "the staging root holds kmig.ko for $kver"
rmmod kmig_sample 2>/dev/null
[ ! -e /sys/module/kmig ] || rmmod kmig
[ ! -e /sys/module/kmig ]
ok $? "the bed's kmig.ko unloaded"
depmod -b "$stage" "$kver" > "$out/work/depmod.log" 2>&1
ok $? "depmod -b STAGE $kver" || show "$out/work/depmod.log"
modprobe -d "$stage" kmig > "$out/work/modprobe.log" 2>&1
ok $? "modprobe -d STAGE kmig" || show "$out/work/modprobe.log"
[ "$(cat /sys/module/kmig/srcversion 2>&1)" = "$(modinfo -F srcversion "$ko")" ]
ok $? "the module loaded is the staged one"
[ -c /dev/kmig ]
ok $? "/dev/kmig is there"
"$stage/usr/local/sbin/kmig" version > "$out/work/version.log" 2>&1 &&
	grep -q "^kmig module $(modinfo -F version "$ko") " "$out/work/version.log"
ok $? "the installed agent talks to the installed module" ||
	show "$out/work/version.log"
modprobe -d "$stage" -r kmig
ok $? "modprobe -d STAGE -r kmig"

echo "1..$n" | tee -a "$tap"
[ "$failed" -eq 0 ]
