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

files=$(git ls-files 'kernel/*.[ch]' 'samples/*.[ch]' 'uapi/*.h' 2>/dev/null ||
	ls kernel/*.[ch] uapi/linux/*.h)
# shellcheck disable=SC2086
perl "$checkpatch" --no-tree --strict --quiet --show-types \
	-f $files
echo "style: checkpatch --strict: $(echo "$files" | wc -w) files clean"
