#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test bed (scripts/bed.sh script SERIES scripts/bench.sh):
# the kmig benchmark, its table into $KMIG_OUT/bench.txt.
"$KMIG_PROJECT/build/bench/kmig_bench" > "$KMIG_OUT/bench.txt" 2>&1
