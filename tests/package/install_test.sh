#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then checks the layout and builds and runs a
# consumer project against it twice: with find_package(vsocklib) and with pkg-config.
# usage: install_test.sh BUILD_DIR SOURCE_DIR        (ctest: packaging.install)
set -euo pipefail
build=$1 src=$2
. "$src/tests/package/lib.sh"
work=$(mktemp -d /tmp/vsocklib-install.$$.XXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
cd "$prefix"
fail=0
need() { for f in "$@"; do [[ -e $f ]] || { echo "missing: $f"; fail=1; }; done; }

# The core pieces, by name; the rest is discovered below.
libdir=$(dirname "$(find . -name libvsocklib.a | head -1)"); libdir=${libdir#./}
need "$libdir/libvsocklib.a" include/vsocklib/address.hpp include/vsocklib/asio.hpp \
     "$libdir/cmake/vsocklib/vsocklibConfig.cmake" "$libdir/cmake/vsocklib/vsocklibConfigVersion.cmake" \
     "$libdir/cmake/vsocklib/vsocklibTargets.cmake" "$libdir/pkgconfig/vsocklib.pc" \
     bin/vsock-pipe share/doc/vsocklib/getting-started.md
if [[ -e $build/relay/adbd-relay ]]; then  # not in a VSOCKLIB_GUEST_ONLY build
  need sbin/adbd-relay lib/systemd/system/adbd-relay.service share/man/man8/adbd-relay.8 \
       share/doc/vsocklib/examples/adbd-relay.conf
fi

# Consumers must not need the build tree or its precompiled header.
if grep -rlE "cmake_pch|$build|$src" "$libdir/cmake/vsocklib" "$libdir/pkgconfig"; then
  echo "installed package files refer to the build or source tree (above)"; fail=1
fi

# Every unit starts an installed program; every man page is for one; every program runs.
for unit in lib/systemd/system/*.service; do
  [[ -e $unit ]] || continue
  exe=$(sed -n 's/^ExecStart=[-@+!]*\([^ ]*\).*/\1/p' "$unit" | head -1)
  [[ -x .${exe#/usr} ]] || { echo "$unit starts $exe, which is not installed"; fail=1; }
done
for page in share/man/man*/*.[0-9]; do
  [[ -e $page ]] || continue
  name=$(basename "${page%.*}")
  [[ -x bin/$name || -x sbin/$name ]] || { echo "$page: no program $name installed"; fail=1; }
done
for exe in bin/* sbin/*; do
  [[ -x $exe ]] || continue
  "$exe" --version >/dev/null 2>&1 || { echo "$exe --version failed"; fail=1; }
done
programs=()
for exe in bin/* sbin/*; do
  if [[ -e $exe ]]; then programs+=("${exe##*/}"); fi
done
echo "installed: $(find . -type f | wc -l) files; programs: ${programs[*]}"
((fail == 0))

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
build_consumers "$src" "$work" "$prefix"
exchange "$prefix/bin/vsock-pipe" "$work/cmake/vsocklib-consumer" "$work"
exchange "$prefix/bin/vsock-pipe" "$work/pc/vsocklib-consumer" "$work"
echo "install test: ok"
