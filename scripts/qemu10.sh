#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# QEMU 10 for the benchmarks, in a private prefix: build/qemu10/. The
# packages come from bookworm-backports on the Debian mirror this machine
# already uses; apt runs with its own source list, package lists and cache
# under build/qemu10/apt, so the system's apt configuration is never
# changed and the system QEMU (the test bed's) is never touched.
#
# usage: qemu10.sh     prints the path of qemu-system-x86_64 when done
#
# The firmware directories to give QEMU with -L are
# build/qemu10/root/usr/share/qemu and .../usr/share/seabios.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pfx=$top/build/qemu10
bin=$pfx/root/usr/bin/qemu-system-x86_64
pkgs="qemu-system-x86 qemu-system-common qemu-system-data seabios"

works() {
	"$bin" --version 2>/dev/null | grep -q '^QEMU emulator version 10\.'
}

if works; then
	echo "$bin"
	exit 0
fi

# apt here uses its own lists and cache, so no lock of the system's; still,
# let a system package install that is under way (/tmp/deps.done not yet
# written) finish first.
while [ ! -e /tmp/deps.done ] && pgrep -x apt-get > /dev/null; do
	sleep 30
done

mirror=$("$top/scripts/mirror.sh")

apt=$pfx/apt
rm -rf "$apt" "$pfx/root"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" \
	"$pfx/root"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt/sources.list" <<EOT
deb [signed-by=$key] $mirror bookworm-backports main
EOT
set -- -o "Dir::Etc::SourceList=$apt/sources.list" \
	-o Dir::Etc::SourceParts=/dev/null \
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" \
	-o APT::Sandbox::User=root
echo "qemu10: fetching $pkgs from $mirror bookworm-backports" >&2
apt-get -qq "$@" update >&2
for p in $pkgs; do
	(cd "$apt/debs" && apt-get -qq "$@" download "$p/bookworm-backports") >&2
done
for d in "$apt/debs"/*.deb; do
	dpkg -x "$d" "$pfx/root"
done
rm -rf "$apt/lists" "$apt/cache"

if ! works; then
	echo "qemu10: $bin does not run:" >&2
	"$bin" --version >&2 || true
	ldd "$bin" | grep 'not found' >&2 || true
	exit 1
fi
echo "$bin"
