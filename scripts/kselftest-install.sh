#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make kselftest-install: the built selftests as the kselftest collection
# "kmig" in INSTALL_PATH, laid out as the kernel's selftests install is,
# and runnable there with run_kselftest.sh -c kmig (Documentation/install.rst):
#
#   INSTALL_PATH/run_kselftest.sh, kselftest/   the runner, from linux-source
#   INSTALL_PATH/kselftest-list.txt             kmig:NAME lines (others kept)
#   INSTALL_PATH/kmig/settings                  the runner's timeout
#   INSTALL_PATH/kmig/NAME                      runs root/build/selftests/NAME
#   INSTALL_PATH/kmig/root/                     what the tests use of the
#                                               project, at the same paths
#
# usage: kselftest-install.sh INSTALL_PATH [NAME...]
#   NAME   the selftests to install (default: every program in
#          build/selftests)
# Reads the project only: it runs in the test bed too, whose project is
# read-only.
set -eu

[ $# -ge 1 ] || { echo "usage: kselftest-install.sh INSTALL_PATH [NAME...]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
dest=$(cd "$1" && pwd)
shift
cd "$top"

# The runner's per-program timeout: the test bed's (KMIG_TIMEOUT), within
# which every program ends under software emulation.
timeout=300

tests=${*:-$(ls build/selftests/ 2>/dev/null)}
[ -n "$tests" ] || { echo "kselftest-install: no selftests in build/selftests; run make selftests" >&2; exit 1; }
# The programs the tests start (proc_bin()) and the scripts they source.
helpers="build/kmig build/kmigd build/vmm/kmig-vmm build/vmm/kmig-vmm-san
	 $(ls -d build/tools/* 2>/dev/null)
	 selftests/qemu/hosts.sh scripts/tls-certs.sh"
for f in $helpers $(printf 'build/selftests/%s ' $tests); do
	[ -e "$f" ] || { echo "kselftest-install: no $f; run make user selftests tools" >&2; exit 1; }
done

# The runner comes from the newest linux-source, at install time only.
tarball=$(ls /usr/src/linux-source-*.tar.* 2>/dev/null | sort -V | tail -n 1)
[ -n "$tarball" ] || { echo "kselftest-install: no /usr/src/linux-source-*.tar.*; run scripts/deps.sh" >&2; exit 1; }
src=$(basename "$tarball" | sed 's/\.tar\..*//')/tools/testing/selftests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xf "$tarball" -C "$tmp" "$src/run_kselftest.sh" "$src/kselftest"
rm -rf "$dest/kselftest" "$dest/kmig"
cp -R "$tmp/$src/kselftest" "$tmp/$src/run_kselftest.sh" "$dest/"

root=$dest/kmig/root
for f in $helpers; do
	install -D "$f" "$root/$f"
done
echo "timeout=$timeout" > "$dest/kmig/settings"

list=$dest/kselftest-list.txt
touch "$list"
sed '/^kmig:/d' "$list" > "$tmp/list"
for t in $tests; do
	install -D build/selftests/"$t" "$root/build/selftests/$t"
	cat > "$dest/kmig/$t" <<EOF
#!/bin/sh
# The kmig selftest $t, on the project's files in root/.
here=\$(cd "\$(dirname "\$0")" && pwd)
export KMIG_PROJECT="\$here/root"
exec "\$here/root/build/selftests/$t" "\$@"
EOF
	chmod 0755 "$dest/kmig/$t"
	echo "kmig:$t" >> "$tmp/list"
done
cp "$tmp/list" "$list"
echo "kselftest-install: $(echo "$tests" | wc -w) kmig tests in $dest (run_kselftest.sh -c kmig)"
