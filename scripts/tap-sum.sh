#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Sum every TAP file below a results directory into one closing line,
# "N passed, N failed, N skipped", listing each failure first with the
# last lines its test printed (what a CI's tail shows of it). A TAP file
# whose plan promised more results than it printed, or whose program exited
# non-zero without reporting a failure (NAME.rc beside NAME.tap), counts as
# failed too. Exit status 1 when anything failed.
#
# usage: tap-sum.sh RESULTS_DIR
set -eu

find "$1" -name '*.tap' | sort | while read -r tap; do
	rc=$(cat "${tap%.tap}.rc" 2>/dev/null || echo 0)
	awk -v file="$tap" -v rc="$rc" '
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
	/^#  RUN / { n = 0; next }
	/^# .*(Expected|:)/ && !/Test failed at step/ { said[n++ % 8] = $0 }
	/^ok / {
		if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skip++; else pass++
		next
	}
	/^not ok / {
		fail++
		printf "FAIL %s: %s\n", file, $0
		for (i = (n > 8 ? n - 8 : 0); i < n; i++)
			printf "  | %s\n", substr(said[i % 8], 1, 200)
		n = 0
		next
	}
	END {
		seen = pass + fail + skip
		if (plan > seen) {
			printf "FAIL %s: %d of %d planned results missing\n", file, plan - seen, plan
			fail += plan - seen
		}
		if (rc != 0 && fail == 0) {
			printf "FAIL %s: exited with status %s\n", file, rc
			fail++
		}
		printf "COUNT %d %d %d\n", pass, fail, skip
	}' "$tap"
done | awk '
/^COUNT / { p += $2; f += $3; s += $4; next }
{ print }
END {
	printf "%d passed, %d failed, %d skipped\n", p, f, s
	exit f > 0
}'
