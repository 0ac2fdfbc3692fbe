#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the URI of the first Debian source this machine's apt uses (deb822
# or one-line format), for the private apts of scripts/qemu10.sh and
# scripts/mainline-kernel.sh.
#
# usage: mirror.sh
set -eu

mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' \
	/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n \
	's/^deb \(\[[^]]*\] \)*\([^ ]*debian\)\/* [a-z]* .*/\2/p' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	head -n 1)
[ -n "$mirror" ] || {
	echo "mirror: no Debian mirror in /etc/apt/sources.list(.d)" >&2
	exit 1
}
echo "$mirror"
