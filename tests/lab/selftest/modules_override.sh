#!/usr/bin/env bash
# Lab self-test, runs on the host: --modules DIR loads DIR's module instead of
# the package's.  The package's own vsock_loopback.ko is copied with its
# signature stripped; the kernel then taints itself with "E" (unsigned module)
# for it, which only our copy can cause, and /run/vsock-lab/modules.loaded
# names the copy's path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/.." && pwd)/run}

modules=$("$RUN" "$@" --kernel-info | sed -n 's/^modules=//p')
[[ -d $modules ]] || fail "run --kernel-info gave no modules directory"
src=$(find "$modules" -name 'vsock_loopback.ko*' | head -n1)
[[ -n $src ]] || fail "no vsock_loopback module in $modules"

dir=$(mktemp -d "${TMPDIR:-/tmp}/lab-modules.XXXXXX")
trap 'rm -rf "$dir"' EXIT
case $src in
  *.xz) xz -dc "$src" >"$dir/vsock_loopback.ko" ;;
  *.zst) zstd -qdc "$src" >"$dir/vsock_loopback.ko" ;;
  *) cp "$src" "$dir/vsock_loopback.ko" ;;
esac
# An appended signature ends with struct module_signature (12 bytes, the last
# 4 the big-endian signature length) and the 28-byte magic string.
ko=$dir/vsock_loopback.ko
if [[ $(tail -c 28 "$ko") == "~Module signature appended~" ]]; then
  siglen=$((16#$(tail -c 32 "$ko" | head -c 4 | od -An -tx1 | tr -d ' \n')))
  size=$(stat -c %s "$ko")
  head -c $((size - 40 - siglen)) "$ko" >"$ko.unsigned" && mv "$ko.unsigned" "$ko"
fi

# shellcheck disable=SC2016  # the command substitution runs in the guest
out=$("$RUN" "$@" --modules "$dir" -- sh -c '
  grep "^vsock_loopback " /run/vsock-lab/modules.loaded
  echo "taint=$(cat /sys/module/vsock_loopback/taint)"
  ls /sys/bus/vsock 2>/dev/null; cat /proc/net/protocols | grep -c AF_VSOCK') || fail "guest command failed: $out"
echo "$out"
grep -q "^vsock_loopback $ko\$" <<<"$out" || fail "modules.loaded does not name $ko"
grep -q '^taint=.*E' <<<"$out" || fail "vsock_loopback is not the unsigned copy (no E taint)"
pass "--modules: vsock_loopback loaded from $dir (unsigned copy, taint E)"
