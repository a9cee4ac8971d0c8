#!/usr/bin/env bash
# vsock-pipe across a real virtio-vsock device: the lab guest gets rust-vmm's
# vhost-device-vsock (tests/lab/run --vsock-device), and this host is the device's hybrid
# vsock side, as a Firecracker / Cloud Hypervisor host is:
#
#   host: vsock-pipe hvsock:DIR/hybrid.sock:5001  ->  device  ->  guest: listen:vsock:any:5001 -> echo
#   guest: vsock-pipe vsock:2:5002                ->  device  ->  host: listen:hvsock (DIR/hybrid.sock_5002) -> echo
#
# Asserted: 4 MiB and 64 MiB echoed byte-identical host->guest (the device turns our
# half-close into a full close: vsock-pipe must hold it, never lose the reply silently)
# and guest->host; 32 concurrent 1 MiB sessions host->guest, all identical.
# Measured and printed, not asserted (the device's behaviour, not ours): what comes back
# with --half-close pass.
# Runs on the host (a HOST lab test); the guest half is this script with --guest.
# usage: vsock_device_lab.sh VSOCK_PIPE
#        vsock_device_lab.sh --guest DIR VSOCK_PIPE     (inside the lab guest)
set -euo pipefail

if [[ ${1:-} == --guest ]]; then
  dir=$2 pipe=$3
  [[ ${VSOCK_LAB_DEVICE:-} == 1 ]] || { echo "guest: no lab virtio-vsock device" >&2; exit 1; }
  socat UNIX-LISTEN:/tmp/echo.sock,fork EXEC:cat 2>/dev/null &
  "$pipe" --log-level warn listen:vsock:any:5001 unix:/tmp/echo.sock &
  for _ in $(seq 100); do [[ -S /tmp/echo.sock ]] && break; sleep 0.05; done
  touch "$dir/guest-ready"
  # Guest -> host, once the host listens.
  for _ in $(seq 600); do [[ -e $dir/host-ready ]] && break; sleep 0.1; done
  # --half-close linger: a guest's half-close never reaches the host through this device
  # (measured, docs/vsocklib.md), so the host's echo would wait for an EOF that never comes
  # and the guest for the host's. Holding it and closing once the reply is quiet ends both.
  rc=0
  timeout 300 "$pipe" --half-close linger vsock:2:5002 - <"$dir/big.bin" >"$dir/guest-back.bin" 2>"$dir/guest-pipe.log" || rc=$?
  # Written whole, then renamed: the host reads it as soon as the name exists.
  echo "$rc" >"$dir/guest-rc.tmp" && mv "$dir/guest-rc.tmp" "$dir/guest-rc"
  # Serve the host until it is done.
  for _ in $(seq 3000); do [[ -e $dir/host-done ]] && break; sleep 0.1; done
  exit 0
fi

pipe=$1
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/../lab" && pwd)/run}
source "$(dirname "$0")/../lib/common.sh"
lab_pid=
# Socket paths are short-lived and must stay under the Unix path limit: not the build tree.
make_work_dir /tmp/vsock-device.XXXXXX
dir=$work
cleanup_hook() {
  touch "$dir/host-done"
  [[ -z $lab_pid ]] || wait "$lab_pid" 2>/dev/null || true
}
fail_hook() { show_logs 20 "$dir"/*.log "$dir/lab.out"; }
# wait_file PATH SECONDS: until the guest creates PATH; fails at once when the lab run ends.
file_or_lab_gone() { [[ -e $1 ]] || ! kill -0 "$lab_pid" 2>/dev/null; }
wait_file() { wait_until "$2" file_or_lab_gone "$1" && [[ -e $1 ]]; }

head -c $((4 << 20)) /dev/urandom >"$dir/small.bin"
head -c $((64 << 20)) /dev/urandom >"$dir/big.bin"
head -c $((1 << 20)) /dev/urandom >"$dir/mib.bin"
socat UNIX-LISTEN:"$dir/echo.sock",fork EXEC:cat 2>/dev/null &
"$pipe" --log-level warn listen:hvsock:"$dir/hybrid.sock":5002 unix:"$dir/echo.sock" 2>"$dir/host-listener.log" &

"$RUN" --vsock-device "$dir" --rw "$dir" --timeout "${VSOCK_LAB_TIMEOUT:-600}" -- \
  "$(realpath "$0")" --guest "$dir" "$(realpath "$pipe")" >"$dir/lab.out" 2>&1 &
lab_pid=$!
wait_file "$dir/guest-ready" 120 || fail "the guest did not come up with its listener"
touch "$dir/host-ready"

# Host -> guest: end of input must not cut the echo short.
echo_through() {  # echo_through FILE OUT [vsock-pipe options]: host -> guest port 5001 and back
  local in=$1 out=$2
  shift 2
  "$pipe" "$@" hvsock:"$dir/hybrid.sock":5001 - <"$in" >"$out" 2>>"$dir/host-pipe.log"
}
for f in small big; do
  t0=$(now_ms)
  echo_through "$dir/$f.bin" "$dir/$f-back.bin" || fail "host->guest $f: vsock-pipe failed"
  cmp -s "$dir/$f.bin" "$dir/$f-back.bin" ||
    fail "host->guest $f: $(stat -c %s "$dir/$f-back.bin") of $(stat -c %s "$dir/$f.bin") bytes came back, or differ"
  echo "host->guest echo $(($(stat -c %s "$dir/$f.bin") >> 20)) MiB: identical ($(($(now_ms) - t0)) ms)"
done
grep -q 'end of input held' "$dir/host-pipe.log" || fail "vsock-pipe did not say it held the end of input"

rc=0
echo_through "$dir/small.bin" "$dir/pass-back.bin" --half-close pass || rc=$?
echo "measured: with --half-close pass, $(stat -c %s "$dir/pass-back.bin") of $(stat -c %s "$dir/small.bin") bytes came back (vsock-pipe exit $rc): the device closes both directions"

# 32 sessions at once.
pids=()
for i in $(seq 32); do
  echo_through "$dir/mib.bin" "$dir/mib-$i.bin" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "one of 32 concurrent sessions failed"; done
for i in $(seq 32); do
  cmp -s "$dir/mib.bin" "$dir/mib-$i.bin" || fail "concurrent session $i: echo differs"
done
echo "host->guest: 32 concurrent 1 MiB echoes identical"

# Guest -> host, started by the guest once we listened.
wait_file "$dir/guest-rc" 300 || fail "the guest->host transfer did not finish"
[[ $(cat "$dir/guest-rc") == 0 ]] ||
  fail "guest->host: vsock-pipe in the guest exited '$(cat "$dir/guest-rc")': $(cat "$dir/guest-pipe.log")"
cmp -s "$dir/big.bin" "$dir/guest-back.bin" ||
  fail "guest->host: $(stat -c %s "$dir/guest-back.bin") of 64 MiB came back, or differ"
echo "guest->host echo 64 MiB through vsock:2:5002: identical"

touch "$dir/host-done"
wait "$lab_pid" || fail "the lab run failed: $(tail -n 5 "$dir/lab.out")"
lab_pid=
echo "ok: vsock-pipe across a real virtio-vsock device (vhost-device-vsock), both directions"
