#!/usr/bin/env bash
# Makes the Debian packages (CPack, cmake/Packaging.cmake) from BUILD_DIR when it is
# configured for /usr (the presets are), else from a build of its own in WORK_DIR; installs
# them with apt like any package, checks what landed where, runs the installed programs
# (vsock-pipe relaying bytes between two Unix sockets, adbd-relay --check on the shipped
# example configuration as the user the unit runs it as, a consumer built against /usr), and removes the packages again
# (also on failure).
# usage: deb_test.sh SOURCE_DIR BUILD_DIR WORK_DIR    (as root; ctest: packaging.deb)
# Exit 77 (skipped) when not root: apt-get install needs it.
set -euo pipefail
src=$1 build=$2 work=$3
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "skipped: needs root and apt-get"; exit 77
fi
. "$src/tests/package/lib.sh"
run=$(mktemp -d /tmp/vsocklib-deb.$$.XXXX)
installed=0
cleanup() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  if ((installed)); then
    apt-get -o DPkg::Lock::Timeout=600 remove --purge -y -qq vsocklib libvsocklib-dev >/dev/null 2>&1 || true
  fi
  rm -rf "$run"
}
trap cleanup EXIT

# GNUInstallDirs chooses Debian's multiarch libdir only for the prefix /usr.
if ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$build/CMakeCache.txt"; then
  build=$work/deb-build
  echo "building for /usr in $build"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
        -DVSOCKLIB_BUILD_TESTS=OFF -DVSOCKLIB_BUILD_BENCH=ON >"$run/configure.log" 2>&1 ||
    { cat "$run/configure.log"; exit 1; }
  cmake --build "$build" >"$run/build.log" 2>&1 || { tail -50 "$run/build.log"; exit 1; }
fi
mkdir -p "$work"
rm -rf "$work/debs"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/debs" >"$run/cpack.log" 2>&1 ||
  { cat "$run/cpack.log"; exit 1; }
tools=$(ls "$work/debs"/vsocklib_*.deb) dev=$(ls "$work/debs"/libvsocklib-dev_*.deb)
for deb in "$tools" "$dev"; do
  echo "$(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
done
# shlibdeps must have found the shared libraries the programs link.
dpkg-deb -f "$tools" Depends | grep -q 'libspdlog1.10' || { echo "no libspdlog in Depends"; exit 1; }

installed=1
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$tools" "$dev" >"$run/apt.log" 2>&1 ||
  { cat "$run/apt.log"; exit 1; }
dpkg-query -W -f='installed: ${Package} ${Version} ${Status}\n' vsocklib libvsocklib-dev

fail=0
need() { for f in "$@"; do [[ -e $f ]] || { echo "missing: $f"; fail=1; }; done; }
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
need /usr/bin/vsock-pipe /usr/bin/adbd-sim /usr/sbin/adbd-relay \
     /usr/lib/systemd/system/adbd-relay.service /usr/share/man/man8/adbd-relay.8 \
     /usr/share/doc/vsocklib/examples/adbd-relay.conf /usr/share/doc/vsocklib/getting-started.md \
     "/usr/lib/$arch/libvsocklib.a" /usr/include/vsocklib/address.hpp \
     "/usr/lib/$arch/cmake/vsocklib/vsocklibConfig.cmake" "/usr/lib/$arch/pkgconfig/vsocklib.pc"
# Every program the package ships answers --version; every unit passes systemd's checks.
for exe in $(dpkg -L vsocklib | grep -E '^/usr/s?bin/'); do
  "$exe" --version >/dev/null || { echo "$exe --version failed"; fail=1; }
done
for unit in $(dpkg -L vsocklib | grep -E '\.service$'); do
  if ! out=$(systemd-analyze verify "$unit" 2>&1); then echo "$unit: $out"; fail=1; fi
done
((fail == 0))
echo "files in place: $(dpkg -L vsocklib libvsocklib-dev | grep -c .) paths"

# The daemon from its installed path: bytes cross vsock-pipe between two Unix sockets.
socat -t 5 UNIX-LISTEN:"$run/echo.sock",fork EXEC:cat &
/usr/bin/vsock-pipe --log-level warn "listen:unix:$run/front.sock" "unix:$run/echo.sock" &
for _ in $(seq 100); do [[ -S $run/front.sock && -S $run/echo.sock ]] && break; sleep 0.05; done
head -c 1048576 /dev/urandom >"$run/in"
/usr/bin/vsock-pipe --log-level warn "unix:$run/front.sock" - <"$run/in" >"$run/out"
cmp "$run/in" "$run/out"
echo "vsock-pipe (installed): 1 MiB crossed unix -> vsock-pipe -> echo and back"

# The units switch to the daemons' own users, which the package creates.
for user in adbd-relay vsock-mcast; do
  getent passwd "$user" >/dev/null || { echo "the package did not create the user $user"; exit 1; }
done
echo "users: $(getent passwd adbd-relay vsock-mcast | cut -d: -f1,3,7 | tr '\n' ' ')"
/usr/sbin/adbd-relay --check -c /usr/share/doc/vsocklib/examples/adbd-relay.conf --user adbd-relay

# A user's project against the system-wide install: no prefix, no PKG_CONFIG_PATH.
build_consumers "$src" "$run"
exchange /usr/bin/vsock-pipe "$run/cmake/vsocklib-consumer" "$run"
exchange /usr/bin/vsock-pipe "$run/pc/vsocklib-consumer" "$run"

apt-get -o DPkg::Lock::Timeout=600 remove --purge -y -qq vsocklib libvsocklib-dev >/dev/null
installed=0
[[ ! -e /usr/bin/vsock-pipe && ! -e /usr/include/vsocklib ]] || { echo "files left after removal"; exit 1; }
echo "removed cleanly; deb test: ok"
