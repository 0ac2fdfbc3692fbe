#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the test bed's initramfs for one kernel: static busybox, the modules
# needed to mount the host's root over virtio-9p (decompressed, in dependency
# order, as modules.dep of that kernel says), and selftests/qemu/init. A
# kernel without /lib/modules/KVER has them built in.
#
# usage: initramfs.sh KVER OUTFILE
# BED_MODDIR names the kernel's module directory when it is not
# /lib/modules/KVER (a kernel unpacked elsewhere: the mainline leg's).
set -eu

kver=$1
outfile=$2
here=$(cd "$(dirname "$0")" && pwd)
moddir=${BED_MODDIR:-/lib/modules/$kver}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/modules" "$work/proc" "$work/sys" \
	 "$work/dev" "$work/newroot"
cp /bin/busybox "$work/bin/busybox"
cp "$here/init" "$work/init"
chmod 755 "$work/init"

# Print the modules.dep paths of a module and its dependencies, dependencies
# first. Built-in modules print nothing.
deps() {
	local line d
	line=$(grep -E "/$1\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" || true)
	[ -n "$line" ] || return 0
	for d in ${line#*:}; do
		deps "$(basename "$d" | sed 's/\.ko.*//')"
	done
	echo "${line%%:*}"
}

mods="virtio_pci 9pnet_virtio 9p"
[ -e "$moddir/modules.dep" ] || mods=
: > "$work/modules/order"
for m in $mods; do
	for path in $(deps "$m"); do
		name=$(basename "$path" | sed 's/\.ko.*//')
		grep -qx "$name" "$work/modules/order" && continue
		case "$path" in
		*.xz)  xz -dc "$moddir/$path" ;;
		*.zst) zstd -dc "$moddir/$path" ;;
		*.gz)  gzip -dc "$moddir/$path" ;;
		*)     cat "$moddir/$path" ;;
		esac > "$work/modules/$name.ko"
		echo "$name" >> "$work/modules/order"
	done
done

(cd "$work" && find . | cpio -o -H newc --quiet) | gzip -1 > "$outfile"
