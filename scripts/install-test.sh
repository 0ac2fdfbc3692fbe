#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install-check: what make install, make dkms-install and the bash
# completion promise (Documentation/install.rst), checked on this host in
# temporary directories, as TAP. Nothing outside them is written, and no
# module is loaded.
#
#   1. make install into a DESTDIR: exactly the files of the list below,
#      with their modes; the system entries parse (systemd-sysusers and
#      systemd-tmpfiles into a scratch root); make uninstall removes them all
#   2. the bash completion offers kmig's subcommands (those of main.c's
#      table) and, for each, options the agent accepts
#   3. make kselftest-install lays out the collection run_kselftest.sh runs
#   4. dkms.conf's version is the module's; dkms builds kmig.ko for a
#      test-bed kernel from what make dkms-install copied
#   5. kmigd.service passes systemd-analyze verify, with its hardening, and
#      leaves running jobs alone when kmigd stops
#
# usage: install-test.sh [SERIES]   (the kernel series, default 6.12)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
kver=$(scripts/kernels.sh "${1:-6.12}") || exit 1
tmp=$(mktemp -d /tmp/kmig-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

# ok CONDITION-STATUS DESCRIPTION: one TAP line.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# same WHAT EXPECTED ACTUAL: ok when the two lists are equal, else show
# the difference.
same() {
	if [ "$2" = "$3" ]; then
		ok 0 "$1"
		return
	fi
	diff <(echo "$2") <(echo "$3") | sed 's/^/# /'
	ok 1 "$1"
}

# --- 1. make install, uninstall --------------------------------------------
root=$tmp/root
if ! make -s install DESTDIR="$root" KVER="$kver" > "$tmp/install.log" 2>&1; then
	sed 's/^/# /' "$tmp/install.log"
	ok 1 "make install DESTDIR KVER=$kver"
	echo "1..$n"
	exit 1
fi
ok 0 "make install DESTDIR KVER=$kver"

expected="644 /lib/modules/$kver/extra/kmig.ko
644 /usr/local/lib/modules-load.d/kmig.conf
644 /usr/local/lib/sysusers.d/kmig.conf
644 /usr/local/lib/tmpfiles.d/kmig.conf
644 /usr/local/share/bash-completion/completions/kmig
644 /usr/local/lib/systemd/system/kmigd.service
644 /usr/local/share/man/man8/kmig.8.gz
644 /usr/local/share/man/man8/kmigd.8.gz
755 /usr/local/bin/kmig-vmm
755 /usr/local/sbin/kmig
755 /usr/local/sbin/kmigd"
actual=$(cd "$root" && find . ! -type d -printf '%m /%P\n' | sort)
same "the installed files and their modes" "$(sort <<<"$expected")" "$actual"
grep -q "depmod skipped" "$tmp/install.log"
ok $? "depmod is left to the target when DESTDIR is set"

modinfo -F vermagic "$root/lib/modules/$kver/extra/kmig.ko" | grep -q "^$kver "
ok $? "the installed kmig.ko is built for $kver"
gzip -t "$root/usr/local/share/man/man8/kmig.8.gz" &&
	zcat "$root/usr/local/share/man/man8/kmig.8.gz" | cmp -s - Documentation/kmig.8
ok $? "kmig.8.gz is Documentation/kmig.8, compressed"
"$root/usr/local/sbin/kmig" --version | grep -q '^kmig agent '
ok $? "the installed kmig runs"
"$root/usr/local/sbin/kmigd" --version | grep -q '^kmigd '
ok $? "the installed kmigd runs"
grep -q "^ExecStart=/usr/local/sbin/kmigd$" \
	"$root/usr/local/lib/systemd/system/kmigd.service"
ok $? "the installed kmigd.service runs the installed kmigd"

name=$(modinfo -F name "$root/lib/modules/$kver/extra/kmig.ko")
same "modules-load.d names the module" "$name" \
	"$(grep -v '^#' "$root/usr/local/lib/modules-load.d/kmig.conf")"

scratch=$tmp/scratch
mkdir -p "$scratch/etc"
systemd-sysusers --root="$scratch" "$root/usr/local/lib/sysusers.d/kmig.conf" \
	> "$tmp/sysusers.log" 2>&1
ok $? "systemd-sysusers takes sysusers.d/kmig.conf"
gid=$(awk -F: '$1 == "kmig" { print $3 }' "$scratch/etc/group")
[ -n "$gid" ]
ok $? "... and makes the group kmig"
systemd-tmpfiles --root="$scratch" --create \
	"$root/usr/local/lib/tmpfiles.d/kmig.conf" > "$tmp/tmpfiles.log" 2>&1
ok $? "systemd-tmpfiles takes tmpfiles.d/kmig.conf"
same "/run/kmig is root:kmig, 0750" "0:$gid 750" \
	"$(stat -c '%u:%g %a' "$scratch/run/kmig" 2>&1)"

make -s install-user DESTDIR="$tmp/usr" PREFIX=/usr > /dev/null 2>&1 &&
	[ -x "$tmp/usr/usr/sbin/kmig" ] &&
	[ -f "$tmp/usr/usr/lib/sysusers.d/kmig.conf" ] &&
	[ -f "$tmp/usr/usr/share/bash-completion/completions/kmig" ]
ok $? "PREFIX=/usr puts the agent in /usr/sbin, entries in /usr/lib"

make -s uninstall DESTDIR="$root" KVER="$kver" > "$tmp/uninstall.log" 2>&1
ok $? "make uninstall"
same "make uninstall leaves no file" "" \
	"$(cd "$root" && find . ! -type d -printf '/%P\n')"

# --- 2. bash completion ----------------------------------------------------
kmig=$top/build/kmig
# complete WORD...: what the completion offers for the last word.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_kmig; printf "%s\n" "${COMPREPLY[@]}"' \
		sh dist/bash-completion/kmig "$kmig" "$@"
}

# The table in main.c: { "name", name_main, "what it does" },
commands=$(sed -n 's/^\t{ "\([a-z-]*\)", [a-z_]*_main,.*/\1/p' user/kmig/main.c)
[ -n "$commands" ]
ok $? "main.c's subcommand table is readable"
same "kmig <TAB> offers main.c's subcommands" \
	"$(printf '%s\n' $commands --help --version | sort)" \
	"$(complete_words "" | sort)"

for c in $commands; do
	bad=
	for o in $(complete_words "$c" --); do
		# An option the agent does not know is refused by name.
		(cd "$tmp" && "$kmig" "$c" "$o" x < /dev/null 2>&1) |
			grep -q "unknown option" &&
			bad="$bad $o"
	done
	[ -z "$bad" ]
	ok $? "kmig $c --<TAB>: every option offered is accepted${bad:+ (not:$bad)}"
done
same "kmig migrate --tls<TAB>" "--tls-creds
--tls-psk" "$(complete_words migrate --tls)"
same "kmig migrate --vmm Make<TAB>: files" "Makefile" \
	"$(complete_words migrate --vmm Make)"
same "kmig migrate --tls-creds Docu<TAB>: directories" "Documentation" \
	"$(complete_words migrate --tls-creds Docu)"
same "kmig migrate --to <TAB>: nothing to offer" "" \
	"$(complete_words migrate --to "")"
same "kmig save --vmm S Make<TAB>: the file operand" "Makefile" \
	"$(complete_words save --vmm S Make)"
same "kmig stats --<TAB>" "--json" "$(complete_words stats --)"

# --- 3. the kselftest collection -----------------------------------------
ksft=$tmp/ksft
names=$(for f in selftests/kmig/*.c; do basename "$f" .c; done)
mkdir -p "$ksft" && printf 'other:one\nkmig:stale\n' > "$ksft/kselftest-list.txt"
make -s -C selftests install INSTALL_PATH="$ksft" > "$tmp/ksft.log" 2>&1
ok $? "make -C selftests install INSTALL_PATH (make kselftest-install)"
same "kselftest-list.txt: other collections kept, kmig:NAME per selftest" \
	"$(echo other:one; printf 'kmig:%s\n' $names | sort)" \
	"$(cat "$ksft/kselftest-list.txt")"
same "run_kselftest.sh lists the same" "$(cat "$ksft/kselftest-list.txt")" \
	"$("$ksft/run_kselftest.sh" -l)"
same "kmig/settings" "timeout=300" "$(cat "$ksft/kmig/settings")"
# The harness lists a program's tests with -l: the entry runs its program.
"$ksft/kmig/module" -l 2>&1 | grep -q unload_load_leaves_nothing_behind
ok $? "kmig/module runs the installed selftest"
[ -x "$ksft/kmig/root/build/kmig" ] && [ -x "$ksft/kmig/root/build/vmm/kmig-vmm" ] &&
	[ -f "$ksft/kmig/root/selftests/qemu/hosts.sh" ] &&
	[ -x "$ksft/kmig/root/scripts/tls-certs.sh" ]
ok $? "the collection carries the agent, the VMM and the scripts the tests use"
! git ls-files | grep -q -e 'run_kselftest\.sh$' -e '/runner\.sh$'
ok $? "the runner is not in the repository"

# --- 4. DKMS ---------------------------------------------------------------
version=$(sed -n 's/^#define KMIG_VERSION "\(.*\)"$/\1/p' kernel/kmig.h)
same "dkms.conf's PACKAGE_VERSION is KMIG_VERSION" "PACKAGE_VERSION=\"$version\"" \
	"$(grep '^PACKAGE_VERSION=' dkms.conf)"
make -s dkms-install DESTDIR="$tmp/dkms" > "$tmp/dkms-install.log" 2>&1
ok $? "make dkms-install DESTDIR"
if ! command -v dkms > /dev/null; then
	echo "ok $((n + 1)) - dkms build # SKIP no dkms here (scripts/deps.sh installs it)"
	n=$((n + 1))
else
	# Its own trees, and a signing key of its own rather than the host's.
	mkdir -p "$tmp/dkms/tree"
	export mok_signing_key=$tmp/dkms/mok.key mok_certificate=$tmp/dkms/mok.pub
	trees="--dkmstree $tmp/dkms/tree --sourcetree $tmp/dkms/usr/src"
	# shellcheck disable=SC2086
	dkms add "kmig/$version" $trees > "$tmp/dkms.log" 2>&1 &&
		dkms build "kmig/$version" -k "$kver" $trees >> "$tmp/dkms.log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' "$tmp/dkms.log"
	ok $rc "dkms add and build kmig/$version for $kver"
	ko=$(ls "$tmp/dkms/tree/kmig/$version/$kver"/*/module/kmig.ko* 2>/dev/null)
	[ -n "$ko" ] && modinfo -F vermagic "$ko" | grep -q "^$kver "
	ok $? "dkms built kmig.ko for $kver"
fi

# --- 5. kmigd.service ------------------------------------------------------
# For an SBINDIR holding kmigd, and the man pages it names installed:
# systemd-analyze verify, which reports a setting it cannot parse without
# failing, so any word from it fails.
unit=$tmp/unit
mkdir -p "$unit/sbin" "$unit/man/man8"
cp build/kmigd "$unit/sbin/kmigd"
gzip -9n < Documentation/kmig.8 > "$unit/man/man8/kmig.8.gz"
gzip -9n < Documentation/kmigd.8 > "$unit/man/man8/kmigd.8.gz"
make -s kmigd-unit SBINDIR="$unit/sbin" > "$tmp/unit.log" 2>&1 &&
	cp build/kmigd.service "$unit/kmigd.service"
ok $? "make kmigd-unit"
grep -q "^ExecStart=$unit/sbin/kmigd$" "$unit/kmigd.service"
ok $? "kmigd.service runs SBINDIR/kmigd"
MANPATH=$unit/man systemd-analyze verify "$unit/kmigd.service" > "$tmp/verify.log" 2>&1
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/verify.log" ]
rc=$?
sed 's/^/# /' "$tmp/verify.log"
ok $rc "systemd-analyze verify kmigd.service: no complaint"
same "kmigd.service: the capabilities it keeps" \
	"CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN" \
	"$(grep '^CapabilityBoundingSet=' "$unit/kmigd.service")"
for setting in ProtectSystem=strict PrivateTmp=yes DevicePolicy=closed \
	"DeviceAllow=/dev/kmig rw" RuntimeDirectory=kmig NoNewPrivileges=yes \
	KillMode=process RuntimeDirectoryPreserve=yes; do
	grep -qx "$setting" "$unit/kmigd.service"
	ok $? "kmigd.service: $setting"
done

echo "1..$n"
[ "$failed" -eq 0 ]
