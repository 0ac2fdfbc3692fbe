#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install what kmig's build, tests and test bed need on a Debian 12 machine,
# and what building the debug kernel of make check-debug takes.
# Installs only what is missing; needs root for that.
set -eu

pkgs="gcc make perl pkg-config xz-utils cpio kmod iproute2 dmsetup
      libmnl-dev libkmod-dev libnl-3-dev libnl-route-3-dev
      sparse clang python3 python3-yaml
      qemu-system-x86 busybox-static
      linux-image-amd64 linux-headers-amd64
      linux-image-6.12-amd64 linux-headers-6.12-amd64
      linux-source
      linux-source-6.12 bc flex bison libelf-dev libssl-dev
      libgnutls28-dev gnutls-bin
      dkms systemd
      libxxhash0"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# The test bed boots the kernels with an initramfs of its own. A machine
# with no boot loader never boots from /boot either, so there the kernel
# packages need not build theirs (mkinitramfs took 125 s for one kernel on
# a busy machine here). With a boot loader, a kernel installed here could
# become the default, and gets its initramfs.
loader=
for c in update-grub grub-install bootctl extlinux lilo; do
	command -v "$c" >/dev/null 2>&1 && loader=$c
done
[ -n "$loader" ] || export INITRD=No
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
