# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the test bed (scripts/demo.sh boots it): a guest runs on
# host A dirtying memory; the agent migrates it live to host B over a veth
# link with two page channels; then the demo proves that the guest kept
# running on B and that B's memory was exactly A's at the pause.
set -eu

P=$KMIG_PROJECT
B=$P/build
W=$KMIG_OUT/work/demo
IMG=/run/kmig-demo	# tmpfs: memory images stay off the 9p share
LOG=$KMIG_OUT/demo.txt
PORT=4444
. "$P/selftests/qemu/hosts.sh"

exec >> "$LOG" 2>&1
say() { printf '\n== %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*"; exit 1; }

cleanup() {
	on A "$B/tools/vmmctl" @vm quit > /dev/null 2>&1 || true
	on B "$B/tools/vmmctl" @vm quit > /dev/null 2>&1 || true
	hosts_down
}
trap cleanup EXIT

rm -rf "$W" "$IMG"
mkdir -p "$W" "$IMG/a" "$IMG/b"
hosts_up || fail "cannot create hosts A and B"
say "host A ($HOST_A_ADDR) and host B ($HOST_B_ADDR), joined by a veth pair"

say "host A: a KVM guest, 256 MiB, dirtying 5000 random pages/s"
on A "$B/vmm/kmig-vmm" --ctl @vm --mem 256 --pattern random --rate 5000 \
	> "$W/vmm-a.log" 2>&1 &
on B "$B/vmm/kmig-vmm" --ctl @vm --mem 256 --incoming \
	> "$W/vmm-b.log" 2>&1 &
on A "$B/tools/vmmctl" @vm status || fail "no VMM on host A"
on B "$B/tools/vmmctl" @vm status || fail "no VMM on host B"
sleep 1
on A "$B/tools/vmmctl" @vm status

say "host B: kmig incoming --listen $HOST_B_ADDR:$PORT"
on B "$B/kmig" incoming --vmm @vm --listen "$HOST_B_ADDR:$PORT" \
	--save-at-switchover "$IMG/b" > "$W/incoming.log" 2>&1 &
incoming=$!
sleep 1

say "host A: kmig migrate --to $HOST_B_ADDR:$PORT --channels 2"
echo "(both agents write the guest's memory to files at the switchover, for"
echo "the comparison below: the downtime they report includes that)"
# A terminal, so that the agent shows its progress line.
on A script -qfec "$B/kmig migrate --vmm @vm --to $HOST_B_ADDR:$PORT \
	--channels 2 --save-at-switchover $IMG/a" /dev/null ||
	fail "kmig migrate"
wait "$incoming" || { cat "$W/incoming.log"; fail "kmig incoming"; }
cat "$W/incoming.log"

say "the guest runs on host B: its counter advances"
c1=$(on B "$B/tools/vmmctl" @vm status | sed -n 's/.* counter=\([0-9]*\).*/\1/p')
sleep 1
c2=$(on B "$B/tools/vmmctl" @vm status | sed -n 's/.* counter=\([0-9]*\).*/\1/p')
echo "counter on B: $c1, one second later $c2"
[ -n "$c1" ] && [ -n "$c2" ] && [ "$c2" -gt "$c1" ] ||
	fail "the guest does not run on host B"
on A "$B/tools/vmmctl" @vm status

say "B's memory before resume equals A's at the pause"
n=0
for a in "$IMG"/a/slot-*.bin; do
	b=$IMG/b/$(basename "$a")
	cmp "$a" "$b" || fail "$(basename "$a") differs"
	echo "$(basename "$a"): $(stat -c %s "$a") bytes, identical" \
		"(sha256 $(sha256sum < "$a" | cut -c1-16))"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no memory images were saved"

say "done: live migration from A to B succeeded"
