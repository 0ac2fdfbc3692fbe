#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kmig installed, in the test bed: `make install` into a staging root and
# `make kselftest-install` into the bed's output directory, then
# selftests/qemu/install.sh inside the bed (the collection under
# run_kselftest.sh, modprobe from the staging root). Its TAP lands in build/bed/KVER/install.tap.
#
# usage: install-bed.sh SERIES   (e.g. 6.12)
set -eu

series=$1
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kver=$(scripts/kernels.sh "$series")
out=build/bed/$kver
rm -rf "$out/stage" "$out/ksft" "$out/install.tap" "$out/script.rc"
make -s install DESTDIR="$top/$out/stage" KVER="$kver"
make -s kselftest-install INSTALL_PATH="$top/$out/ksft"
scripts/bed.sh script "$series" selftests/qemu/install.sh
cat "$out/install.tap"
scripts/splat.sh "$out/dmesg.txt"
[ "$(cat "$out/script.rc")" = 0 ]
