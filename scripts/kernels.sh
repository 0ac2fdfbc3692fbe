#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the release names of the test-bed kernels, one per line: for each
# series given (default "6.1 6.12"), the newest installed Debian kernel of
# that series with its headers.
set -eu

series=${1:-6.1 6.12}
for s in $series; do
	k=$(ls -d /lib/modules/"$s".*-amd64 2>/dev/null |
		sed 's|.*/||' | sort -V | tail -n 1)
	if [ -z "$k" ] || [ ! -e "/boot/vmlinuz-$k" ] ||
	   [ ! -d "/usr/src/linux-headers-$k" ]; then
		echo "kernels: no installed $s kernel with headers" >&2
		exit 1
	fi
	echo "$k"
done
