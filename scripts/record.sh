# SPDX-License-Identifier: GPL-2.0
#
# record NAME COMMAND...: run one step of a check, keep its log in $res, and
# note it as a TAP result in $checks. Sourced by check.sh and
# check-debug.sh, which set res and checks.
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
