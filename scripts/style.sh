#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch, as the kernel runs it: --strict on the module and the UAPI.
#
# usage: style.sh CHECKPATCH
set -eu

checkpatch=$1
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Not the *.mod.c that an in-tree build (make module, make sparse) leaves.
files=$(ls kernel/*.[ch] samples/*.[ch] uapi/linux/*.h |
	grep -v -e kernel/compat.h -e '\.mod\.c$')
# shellcheck disable=SC2086
perl "$checkpatch" --no-tree --strict --quiet --show-types -f $files
# compat.h is the one place that tests kernel versions, by design.
perl "$checkpatch" --no-tree --strict --quiet --show-types \
	--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kernel/compat.h
echo "style: checkpatch --strict: $(echo "$files" | wc -w) files and compat.h clean"
