#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot one Debian kernel under QEMU as kmig's test bed (see
# Documentation/testing.rst).
#
# usage: run.sh KVER OUTDIR MODE
#   MODE   test | script | shell (see guest.sh)
# environment:
#   KMIG_KO        kmig.ko built for KVER (required)
#   KMIG_TESTS     selftest programs, for MODE=test
#   KMIG_TIMEOUT   seconds one selftest may take (default 300)
#   KMIG_RANDOM_SECONDS, KMIG_RANDOM_SEED  for selftests/kmig/random.c
#   BED_TIMEOUT    seconds the whole boot may take (default 1000)
#   BED_ACCEL      kvm or tcg (default: kvm when the host has working KVM)
#   BED_KERNEL     the kernel image (default /boot/vmlinuz-KVER)
#   BED_APPEND     more kernel command line
#   BED_MODDIR     the kernel's modules (default /lib/modules/KVER); the
#                  guest sees them at /lib/modules/KVER
#
# OUTDIR is shared read-write with the guest at the same path; afterwards it
# holds console.log, dmesg.txt, tap/ and status ("done" once the guest has
# finished). Exit status: 0 when the guest finished, 1 when it did not.
set -eu

kver=$1
out=$(mkdir -p "$2" && cd "$2" && pwd)
mode=$3
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)

rm -rf "$out/tap" "$out/work" "$out/status" "$out/dmesg.txt" "$out/console.log"
cat > "$out/env" <<EOT
KMIG_KO='$KMIG_KO'
KMIG_TESTS='${KMIG_TESTS:-}'
KMIG_TIMEOUT='${KMIG_TIMEOUT:-300}'
KMIG_RANDOM_SECONDS='${KMIG_RANDOM_SECONDS:-}'
KMIG_RANDOM_SEED='${KMIG_RANDOM_SEED:-}'
EOT
"$here/initramfs.sh" "$kver" "$out/initramfs.gz"

accel=${BED_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -e /sys/module/kvm_amd ] || [ -e /sys/module/kvm_intel ]; then
		[ -w /dev/kvm ] && accel=kvm
	fi
fi
cpu=max
[ "$accel" = kvm ] && cpu=host
# Multi-threaded TCG races with the guest kernel's cross-modifying code:
# text_poke()'s int3 patching of static keys (KVM flips some whenever a VM
# is created or destroyed) can leave another vCPU executing a stale int3,
# and the guest dies with "Oops: int3" in whatever it ran. One TCG thread
# for both vCPUs keeps -smp 2 and removes the race.
[ "$accel" = tcg ] && accel=tcg,thread=single

# Two NUMA nodes, one CPU (a socket of its own, or the kernel warns that
# cache siblings span nodes) and half the memory each: the dirty-log tests
# run NUMA balancing against kmig's mappings.
set -- -machine q35 -accel "$accel" -cpu "$cpu" -smp 2,sockets=2 -m 2G \
	-object memory-backend-ram,id=node0,size=1G \
	-object memory-backend-ram,id=node1,size=1G \
	-numa node,nodeid=0,cpus=0,memdev=node0 \
	-numa node,nodeid=1,cpus=1,memdev=node1 \
	-nographic -no-reboot -nic none \
	-kernel "${BED_KERNEL:-/boot/vmlinuz-$kver}" -initrd "$out/initramfs.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 kmigbed_project=$project kmigbed_out=$out kmigbed_mode=$mode ${BED_MODDIR:+kmigbed_moddir=$BED_MODDIR} ${BED_APPEND:-}" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$out,mount_tag=kmigout,security_model=none"
# BED_DISK: a raw image as a virtio disk (/dev/vda), for benchmarks that
# want a disk-backed file; the root is read-only 9p and has none.
[ -n "${BED_DISK:-}" ] &&
	set -- "$@" -drive "file=$BED_DISK,if=virtio,format=raw,cache=none"

if [ "$mode" = shell ]; then
	exec qemu-system-x86_64 "$@"
fi

timeout -k 10 "${BED_TIMEOUT:-1000}" qemu-system-x86_64 "$@" \
	-monitor none -serial "file:$out/console.log" < /dev/null || true
[ "$(cat "$out/status" 2>/dev/null)" = done ]
