#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Extract the few files kmig borrows at build time from Debian's linux-source
# package: the kselftest harness headers and checkpatch. Nothing of the
# kernel's is kept in the repository.
#
# usage: linux-source.sh OUTDIR
set -eu

out=$1
stamp="$out/.extracted"
[ -e "$stamp" ] && exit 0

# The distribution's own series (the oldest installed): a newer one installed
# for the debug kernel (scripts/debug-kernel.sh) must not change the harness.
tarball=$(ls /usr/src/linux-source-*.tar.* 2>/dev/null | sort -V | head -n 1)
if [ -z "$tarball" ]; then
	echo "linux-source: no /usr/src/linux-source-*.tar.*; run scripts/deps.sh" >&2
	exit 1
fi
top=$(basename "$tarball" | sed 's/\.tar\..*//')

rm -rf "$out"
mkdir -p "$out"
tar -xf "$tarball" -C "$out" --strip-components=1 \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest.h" \
	"$top/scripts/checkpatch.pl" \
	"$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch"
touch "$stamp"
