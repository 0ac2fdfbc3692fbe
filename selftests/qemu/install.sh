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
#   3. its kmigd, supervised on two hosts, drives a migration through its
#      sockets while the client is killed and kmigd restarted
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

# --- 3. kmigd from the staging root, under a supervisor --------------------
# Two hosts, a kmigd on each started by a supervisor that starts it again
# whenever it ends (what systemd's Restart= does); VMMs and clients are the
# staged ones too. A migration is driven through the sockets only; its
# client is killed and host A's kmigd is restarted while it runs.
sbin=$stage/usr/local/sbin
run=/run/kmig-install
vmmctl=$KMIG_PROJECT/build/tools/vmmctl
. "$KMIG_PROJECT/selftests/qemu/hosts.sh"

# supervise HOST NAME: kmigd on HOST, started again each time it ends,
# until $run/stop exists; kmigd's own pid in $run/NAME.pid (a background
# "on" is a subshell: its pid is not kmigd's, so kmigd writes it itself).
supervise() {
	while [ ! -e "$run/stop" ]; do
		on "$1" sh -c 'echo $$ > "$0"; exec "$@"' "$run/$2.pid" \
			"$sbin/kmigd" --socket "$run/$2.sock" \
			--state-dir "$run/$2" 2>> "$run/kmigd-$2.log"
		sleep 0.2
	done
}

# up NAME: kmigd NAME answers.
up() {
	i=0
	while [ $i -lt 50 ]; do
		"$sbin/kmig" job --socket "$run/$1.sock" list > /dev/null 2>&1 &&
			return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# moving: job 1 on A reports memory on its way.
moving() {
	"$sbin/kmig" job --socket "$run/a.sock" --json info 1 2>/dev/null |
		grep -q '"data_processed":[1-9]'
}

rm -rf "$run"
mkdir -p "$run/a" "$run/b"
modprobe -d "$stage" kmig && hosts_down && hosts_up
ok $? "two hosts, and the staged module loaded"
supervise A a &
supervise B b &
up a && up b
ok $? "the staged kmigd runs on both hosts, supervised"

on A "$stage/usr/local/bin/kmig-vmm" --ctl "$run/vm-a.sock" --mem 16 \
	--pattern seq --rate 8000 > "$run/vmm-a.log" 2>&1 &
on B "$stage/usr/local/bin/kmig-vmm" --ctl "$run/vm-b.sock" --mem 16 \
	--incoming > "$run/vmm-b.log" 2>&1 &
sleep 2
"$vmmctl" "$run/vm-a.sock" pattern random > /dev/null &&
	"$vmmctl" "$run/vm-a.sock" rate 100 > /dev/null
ok $? "a guest runs on host A, its memory written"

"$sbin/kmig" job --socket "$run/b.sock" start incoming --vmm "$run/vm-b.sock" \
	--listen "$HOST_B_ADDR:4490" --timeout 120 > "$run/in.id" 2>&1
ok $? "kmig job start incoming, on host B"
"$sbin/kmig" --daemon="$run/a.sock" migrate --vmm "$run/vm-a.sock" \
	--to "$HOST_B_ADDR:4490" --timeout 120 --bandwidth 2 \
	> "$run/client.log" 2>&1 &
client=$!
i=0
while [ $i -lt 300 ] && ! moving; do sleep 0.2; i=$((i + 1)); done
moving
ok $? "kmig --daemon migrate: its progress, queried on host A's socket"

kill -KILL "$client"
pid=$(cat "$run/a.pid")
kill -TERM "$pid"
while [ "$(cat "$run/a.pid")" = "$pid" ]; do sleep 0.1; done
up a && grep -q "stopping (Terminated); running jobs go on" "$run/kmigd-a.log" &&
	grep -q "adopted: kmig migrate" "$run/kmigd-a.log"
ok $? "client killed, kmigd on A stopped: the supervisor started it again, and it adopted the job"

"$sbin/kmig" job --socket "$run/a.sock" wait 1 > "$run/wait-a.log" 2>&1
ok $? "the migration completed on host A" || show "$run/wait-a.log"
"$sbin/kmig" job --socket "$run/b.sock" wait "$(cat "$run/in.id")" > "$run/wait-b.log" 2>&1
ok $? "... and on host B" || show "$run/wait-b.log"
"$vmmctl" "$run/vm-b.sock" status | grep -q "state=running"
ok $? "the guest runs on host B"

touch "$run/stop"
kill -TERM "$(cat "$run/a.pid")" "$(cat "$run/b.pid")"
"$vmmctl" "$run/vm-a.sock" quit > /dev/null 2>&1
"$vmmctl" "$run/vm-b.sock" quit > /dev/null 2>&1
wait
show "$run/kmigd-a.log"
hosts_down
modprobe -d "$stage" -r kmig
ok $? "modprobe -d STAGE -r kmig"

echo "1..$n" | tee -a "$tap"
[ "$failed" -eq 0 ]
