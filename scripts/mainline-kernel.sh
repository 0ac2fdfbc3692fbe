#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The mainline leg's kernel and compiler (make check-mainline): Debian
# unstable's current amd64 kernel, and a minimal unstable chroot with the
# compiler that kernel was built with and its headers installed, for
# building kmig.ko. Nothing is installed on the host: apt runs with its own
# source list, lists and cache (as scripts/qemu10.sh), and debootstrap
# makes the chroot.
#
# Prints the path of a directory holding
#   kver              the kernel's release, e.g. 7.2.13+deb14-amd64
#   kernel/vmlinuz    its image
#   kernel/lib/modules/KVER   its modules, depmod run
#   root/             the chroot; /usr/src/linux-headers-KVER inside
#
# The directory is cached in $KMIG_MAINLINE_CACHE (default
# /var/cache/kmig-mainline, build/mainline when that is not writable),
# keyed by the versions of the kernel, its headers and the compiler
# package, and this recipe; a later run on the same machine reuses it.
#
# usage: mainline-kernel.sh
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
recipe=1	# bump when the steps below change
suite=unstable
key=/usr/share/keyrings/debian-archive-keyring.gpg

cache=${KMIG_MAINLINE_CACHE:-/var/cache/kmig-mainline}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$top/build/mainline
	mkdir -p "$cache"
fi
# One caller at a time: the package lists and the trees are shared.
exec 9> "$cache/lock"
flock 9

mirror=$("$top/scripts/mirror.sh")

apt=$cache/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb [signed-by=$key] $mirror $suite main" > "$apt/sources.list"
set -- -o Acquire::Check-Valid-Until=false \
	-o "Dir::Etc::SourceList=$apt/sources.list" \
	-o Dir::Etc::SourceParts=/dev/null \
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" \
	-o APT::Sandbox::User=root
# Lists younger than a day are current enough.
[ -n "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mmin -1440)" ] ||
	apt-get -qq "$@" update >&2

# show PACKAGE FIELD APT-OPTIONS...: one field of PACKAGE in unstable.
show() {
	pkg=$1
	f=$2
	shift 2
	apt-cache "$@" show "$pkg" | sed -n "s/^$f: //p" | head -n 1
}

# linux-image-amd64 depends on the current linux-image-KVER.
image=$(show linux-image-amd64 Depends "$@" | tr ',' '\n' |
	sed -n 's/^ *\(linux-image-[0-9][^ ]*-amd64\).*/\1/p' | head -n 1)
[ -n "$image" ] || {
	echo "mainline: linux-image-amd64 in $suite names no kernel" >&2
	exit 1
}
kver=${image#linux-image-}
headers=linux-headers-$kver
# The headers ask for the compiler the kernel was built with.
cc=$(show "$headers" Depends "$@" | tr ',' '\n' |
	sed -n 's/^ *\(gcc-[0-9]*\)-for-host.*/\1/p' | head -n 1)
[ -n "$cc" ] || {
	echo "mainline: $headers names no gcc-N-for-host" >&2
	exit 1
}
versions="$kver $(show "$image" Version "$@") $cc $(show "$cc" Version "$@")"
hash=$(echo "$versions recipe $recipe" | sha256sum | cut -c1-16)
dir=$cache/$hash
if [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

echo "mainline: $suite's $kver with $cc, into $dir" >&2
rm -rf "$dir"
mkdir -p "$dir/debs" "$dir/kernel"
log=$dir.log
: > "$log"
run() {
	"$@" >> "$log" 2>&1 || {
		tail -n 40 "$log" >&2
		echo "mainline: failed: $*" >&2
		exit 1
	}
}

# The kernel: the image package is a meta package over the base files, the
# binary and the modules; unpack them, without maintainer scripts, into
# kernel/.
start=$(date +%s)
pkgs=$(show "$image" Depends "$@" | tr ',' '\n' |
	sed -n 's/^ *\(linux-\(base\|binary\|modules\)-[^ ]*\).*/\1/p')
[ -n "$pkgs" ] || pkgs=$image
for p in $pkgs; do
	(cd "$dir/debs" && run apt-get -qq "$@" download "$p")
done
for d in "$dir"/debs/*.deb; do
	run dpkg -x "$d" "$dir/kernel"
done
rm -rf "$dir/debs"
k=$dir/kernel
# Modules may live in usr/lib/modules; depmod and the bed look in lib/.
if [ -d "$k/usr/lib/modules/$kver" ] && [ ! -e "$k/lib" ]; then
	ln -s usr/lib "$k/lib"
fi
# The image is boot/vmlinuz-KVER, or lib/modules/KVER/vmlinuz in the
# newer layout; kernel/vmlinuz names it.
for v in "lib/modules/$kver/vmlinuz" "boot/vmlinuz-$kver"; do
	[ -e "$k/$v" ] && ln -sfn "$v" "$k/vmlinuz"
done
[ -e "$k/vmlinuz" ] || {
	echo "mainline: no vmlinuz in $pkgs" >&2
	exit 1
}
run depmod -b "$k" "$kver"
echo "mainline: kernel unpacked in $(( $(date +%s) - start )) s" >&2

# The chroot: debootstrap's minimal base, then the headers, whose
# dependencies bring the compiler and kbuild's tools.
start=$(date +%s)
run debootstrap --variant=minbase --keyring="$key" "$suite" "$dir/root" \
	"$mirror"
echo "mainline: chroot made in $(( $(date +%s) - start )) s" >&2
start=$(date +%s)
cp /etc/resolv.conf "$dir/root/etc/resolv.conf"
# The mirror may be a snapshot older than its Release files' Valid-Until.
echo 'Acquire::Check-Valid-Until "false";' \
	> "$dir/root/etc/apt/apt.conf.d/99kmig-snapshot"
run chroot "$dir/root" apt-get -q update
run env DEBIAN_FRONTEND=noninteractive chroot "$dir/root" \
	apt-get -q -y --no-install-recommends install make sparse "$headers"
run chroot "$dir/root" apt-get clean
[ -d "$dir/root/usr/src/$headers" ] || {
	echo "mainline: the chroot has no /usr/src/$headers" >&2
	exit 1
}
# kbuild asks scripts/checker-valid.sh whether sparse works (C=1); the
# headers package does not ship it. Ours: sparse runs.
cv=$(ls -d "$dir"/root/usr/src/linux-headers-*-common/scripts | head -n 1)
[ -e "$cv/checker-valid.sh" ] ||
	printf '#!/bin/sh\n"$@" -E - < /dev/null > /dev/null 2>&1 && echo 1\n' \
		> "$cv/checker-valid.sh"
chmod +x "$cv/checker-valid.sh"
echo "mainline: $headers and $cc installed in $(( $(date +%s) - start )) s" >&2

echo "$kver" > "$dir/kver"
echo "$versions" > "$dir/versions"
touch "$dir/.done"
echo "$dir"
