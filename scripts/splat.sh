#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Fail if a kernel log holds a splat; name the test that was running (the
# test bed marks each test's start in /dev/kmsg as "kmig-bed: begin NAME").
# Besides stock kernels' oopses and warnings, the patterns cover the debug
# kernel's checkers (scripts/debug-kernel.config): KASAN, UBSAN, lockdep,
# sleeping in atomic context, debugobjects (ODEBUG), list corruption and
# kmemleak.
#
# usage: splat.sh DMESG
set -eu

dmesg=$1
[ -s "$dmesg" ] || { echo "splat: no kernel log at $dmesg" >&2; exit 1; }
awk '
/kmig-bed: begin / { test = $NF }
# The debug kernel says at boot that its checkers are on.
/RCU lockdep checking is enabled/ { next }
/BUG:|WARNING:|Oops|general protection|refcount_t:|KASAN|UBSAN|kernel BUG|lockdep|possible circular locking|possible recursive locking|INFO: rcu|rcu_.* self-detected stall|blocked for more than|Kernel panic|Call Trace:/ ||
/ODEBUG:|DEBUG_LOCKS_WARN_ON|register non-static key|list_(add|del) corruption|unreferenced object|suspected memory leak/ {
	printf "splat during %s: %s\n", test ? test : "boot", $0
	found = 1
}
END { exit found }
' "$dmesg"
