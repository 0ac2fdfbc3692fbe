# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the test bed (scripts/demo.sh boots it): a guest runs on
# host A dirtying memory; the agent migrates it live to host B over a veth
# link with two page channels; then the demo proves that the guest kept
# running on B and that B's memory was exactly A's at the pause. Nothing
# for that proof happens inside the downtime: A's guest stays paused after
# the switchover, so its memory is saved afterwards; B restarts its dirty
# log at the resume, and every page B's guest has not written since is
# compared with A's (selftests/tools/guestmem.c).
set -eu

P=$KMIG_PROJECT
B=$P/build
W=$KMIG_OUT/work/demo
IMG=/run/kmig-demo	# tmpfs: the memory image stays off the 9p share
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
mkdir -p "$W" "$IMG/a"
hosts_up || fail "cannot create hosts A and B"
say "host A ($HOST_A_ADDR) and host B ($HOST_B_ADDR), joined by a veth pair"

say "host A: a KVM guest, 256 MiB, dirtying 5000 random pages/s"
on A "$B/vmm/kmig-vmm" --ctl @vm --mem 256 --pattern random --rate 5000 \
	> "$W/vmm-a.log" 2>&1 &
on B "$B/vmm/kmig-vmm" --ctl @vm --mem 256 --rate 5000 --incoming \
	> "$W/vmm-b.log" 2>&1 &
on A "$B/tools/vmmctl" @vm status || fail "no VMM on host A"
on B "$B/tools/vmmctl" @vm status || fail "no VMM on host B"
sleep 1
on A "$B/tools/vmmctl" @vm status

say "host B: kmig incoming --listen $HOST_B_ADDR:$PORT"
# For the comparison below: B's VMM restarts its dirty log at the resume.
on B "$B/tools/vmmctl" @vm dirtylog at-resume > /dev/null ||
	fail "host B: dirtylog at-resume"
on B "$B/kmig" incoming --vmm @vm --listen "$HOST_B_ADDR:$PORT" \
	> "$W/incoming.log" 2>&1 &
incoming=$!
sleep 1

say "host A: kmig migrate --to $HOST_B_ADDR:$PORT --channels 2"
# A terminal, so that the agent shows its progress line; the typescript
# keeps its summary.
on A script -qfec "$B/kmig migrate --vmm @vm --to $HOST_B_ADDR:$PORT \
	--channels 2" "$W/migrate.txt" || fail "kmig migrate"
wait "$incoming" || { cat "$W/incoming.log"; fail "kmig incoming"; }
cat "$W/incoming.log"
downtime=$(sed -n 's/.* in [0-9]* ms, downtime \([0-9]*\) ms.*/\1/p' \
	"$W/migrate.txt" | head -n 1)
[ -n "$downtime" ] || fail "no downtime in the agent's summary"

say "B's memory at its resume equals A's at the pause"
echo "A's guest stays paused (migrated): its memory is saved only now."
on A "$B/tools/guestmem" @vm save "$IMG/a" || fail "host A: save memory"
echo "B's guest runs: every page it has not written since its resume is"
echo "compared (B's dirty log restarted at the resume)."
on B "$B/tools/guestmem" @vm compare "$IMG/a" > "$W/compare.txt" 2>&1 ||
	{ cat "$W/compare.txt"; fail "B's memory differs from A's"; }
cat "$W/compare.txt"
compared=$(sed -n 's/^\([0-9]*\) of [0-9]* pages compared: all identical;.*/\1/p' \
	"$W/compare.txt")
[ "${compared:-0}" -gt 0 ] || fail "no page was compared"
relog=$(sed -n 's/^kmig-vmm: dirty log .* in \([0-9.]*\) ms$/\1/p' "$W/vmm-b.log")
[ -n "$relog" ] || fail "B's VMM did not restart its dirty log at the resume"

# The comparison can fail: one byte changed in A's image, in the guest's
# code page (0x1000), which the guest never writes.
printf '\377' | dd of="$IMG/a/slot-0.bin" bs=1 seek=$((0x1000)) \
	conv=notrunc status=none
if on B "$B/tools/guestmem" @vm compare "$IMG/a" > "$W/compare-bad.txt" 2>&1 ||
   ! grep -q "page 1 (guest physical 0x1000) differs" "$W/compare-bad.txt"; then
	cat "$W/compare-bad.txt"
	fail "a changed page went unnoticed"
fi
echo "(check: with one byte of A's image changed, the comparison fails at page 1)"

say "the guest runs on host B: its counter advances"
c1=$(on B "$B/tools/vmmctl" @vm status | sed -n 's/.* counter=\([0-9]*\).*/\1/p')
sleep 1
c2=$(on B "$B/tools/vmmctl" @vm status | sed -n 's/.* counter=\([0-9]*\).*/\1/p')
echo "counter on B: $c1, one second later $c2"
[ -n "$c1" ] && [ -n "$c2" ] && [ "$c2" -gt "$c1" ] ||
	fail "the guest does not run on host B"
on A "$B/tools/vmmctl" @vm status

say "done: live migration from A to B succeeded"
echo "downtime: $downtime ms, as the agent measured it (A paused until B's guest"
echo "runs); of it, $relog ms B's VMM spent restarting its dirty log for the comparison"
