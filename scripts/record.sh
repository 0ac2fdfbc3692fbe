# SPDX-License-Identifier: GPL-2.0
#
# The steps of a check, sourced by check.sh, check-debug.sh and
# check-mainline.sh.

# results DIR: a check's results go to DIR (res), emptied, with its own
# steps in DIR/checks.tap (checks).
results() {
	res=$1
	rm -rf "$res"
	mkdir -p "$res"
	checks=$res/checks.tap
}

# record NAME COMMAND...: run one step of a check, keep its log in $res, and
# note it as a TAP result in $checks.
record() {
	name=$1
	shift
	log=$res/$(echo "$name" | tr -c 'A-Za-z0-9.+-' '_').log
	start=$(date +%s)
	if "$@" > "$log" 2>&1; then
		echo "ok - $name" >> "$checks"
		echo "check: ok      $name ($(($(date +%s) - start)) s)"
		return 0
	fi
	echo "not ok - $name" >> "$checks"
	echo "check: FAILED  $name ($(($(date +%s) - start)) s), log $log:"
	tail -n 30 "$log" | sed 's/^/    /'
	return 1
}

# bed_ran SERIES: with kmig.ko built, the bed booted SERIES and the guest
# ran every selftest; if not, show how its console ($bed) ended.
bed_ran() {
	BED_KBUILT=1 scripts/bed.sh test "$1" && return 0
	echo "--- the end of $bed/console.log:"
	tail -n 60 "$bed/console.log"
	return 1
}

# bed_keep [PART]: the bed's results ($bed: its TAP files, kernel log,
# console and kmemleak report, those there are) into $res/$kver, the
# logs named for PART when the kernel's leg had two beds.
bed_keep() {
	mkdir -p "$res/$kver"
	cp "$bed"/tap/* "$res/$kver/" 2>/dev/null
	for f in dmesg.txt console.log kmemleak.txt; do
		[ -e "$bed/$f" ] || continue
		cp "$bed/$f" "$res/$kver/${1:+$1-}$f"
	done
}

# summary: the closing line over $res, and exit with its status.
summary() {
	echo
	scripts/tap-sum.sh "$res"
	exit
}
