#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the debug kernel of make check-debug from Debian's
# linux-source-6.12: x86_64 defconfig + kvm_guest.config +
# scripts/debug-kernel.config (KASAN, lockdep, kmemleak, UBSAN, ...),
# everything the test bed needs built in. Prints the build tree's path; its
# arch/x86/boot/bzImage boots in the bed with the modules of its
# mods/lib/modules/KVER, and kmig.ko builds against it.
#
# The tree is cached by a hash of the source package's version, the
# compiler, the config fragment and this recipe, in $KMIG_DEBUG_CACHE
# (default /var/cache/kmig-debug-kernel, outside any checkout, so a fresh
# clone on the same machine reuses it; build/debug-kernel when that is not
# writable), and linked from build/debug-kernel/HASH. The build runs at
# nice 19 with DEBUG_KERNEL_JOBS (default 2) jobs.
#
# usage: debug-kernel.sh
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pkg=linux-source-6.12
tarball=/usr/src/$pkg.tar.xz
frag=$top/scripts/debug-kernel.config
recipe=2	# bump when the build steps below change

[ -r "$tarball" ] || { echo "debug-kernel: no $tarball; run scripts/deps.sh" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' "$pkg")
hash=$( { echo "$pkg $version recipe $recipe"; gcc --version | head -n 1;
	  cat "$frag"; } | sha256sum | cut -c1-16)

cache=${KMIG_DEBUG_CACHE:-/var/cache/kmig-debug-kernel}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache=$top/build/debug-kernel
	mkdir -p "$cache"
fi
dir=$cache/$hash
link=$top/build/debug-kernel/$hash
mkdir -p "$top/build/debug-kernel"
[ "$dir" = "$link" ] || ln -sfn "$dir" "$link"

# One builder per tree; a second caller waits and then reuses it.
exec 9> "$cache/$hash.lock"
flock 9
if [ -e "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

echo "debug-kernel: building $pkg $version in $dir (log: $dir.log)" >&2
start=$(date +%s)
log=$dir.log
run() {
	"$@" >> "$log" 2>&1 || {
		tail -n 40 "$log" >&2
		echo "debug-kernel: failed: $*" >&2
		exit 1
	}
}
# configure: extract the source and make the .config; a tree that got this
# far and no further (an interrupted build) is built on, not started over.
configure() {
	rm -rf "$dir"
	mkdir -p "$dir"
	: > "$log"
	run nice -n 19 tar -xf "$tarball" -C "$dir" --strip-components=1
	cd "$dir"
	run make defconfig kvm_guest.config
	run scripts/kconfig/merge_config.sh -m .config "$frag"
	run make olddefconfig

	# Every option the fragment turns on must have survived.
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | grep -v '=n$' |
		while read -r want; do
			grep -qxF "$want" .config || echo "$want"
		done)
	if [ -n "$missing" ]; then
		echo "debug-kernel: options lost in olddefconfig:" $missing >&2
		exit 1
	fi
	touch .configured
}

if [ -e "$dir/.configured" ]; then
	echo "debug-kernel: resuming an interrupted build" >&2
	cd "$dir"
else
	configure
fi
run nice -n 19 make -j"${DEBUG_KERNEL_JOBS:-2}" bzImage modules
make -s kernelrelease > .kernelrelease
# The bed's /lib/modules/KVER (BED_MODDIR): modprobe finds the modules
# there, and knows which are built in.
rm -rf mods
run make INSTALL_MOD_PATH="$dir/mods" INSTALL_MOD_STRIP=1 modules_install
touch .done
echo "debug-kernel: built $(cat .kernelrelease) in $(( $(date +%s) - start )) s" >&2
echo "$dir"
