#!/usr/bin/env bash
# adbd-relay across a real virtio-vsock device: the relay and Debian's real adb run in the
# lab guest, and the relay's guest address is vsock:2:5555, which the lab's
# vhost-device-vsock (tests/lab/run --vsock-device) carries to an adbd-sim on this host,
# listening on the device's hybrid socket:
#
#   guest: adb -> dummy_hcd -> USB gadget -> adbd-relay -> vsock:2:5555 -> device
#   host:  device -> DIR/hybrid.sock_5555 -> adbd-sim (listen:hvsock)
#
# Shows: adb devices, shell, a 20 MiB push + pull with equal checksums, and adbd-sim (on
# the far side of the device) restarted: the device leaves and comes back, and works.
# Runs on the host (a HOST lab test); the guest half is this script with --guest.
# usage: adbd_relay_device_lab.sh ADBD_RELAY ADBD_SIM
#        adbd_relay_device_lab.sh --guest DIR ADBD_RELAY          (inside the lab guest)
set -euo pipefail

if [[ ${1:-} == --guest ]]; then
  dir=$2 relay=$3
  [[ ${VSOCK_LAB_DEVICE:-} == 1 ]] || { echo "guest: no lab virtio-vsock device" >&2; exit 1; }
  . "$(dirname "$(realpath "$0")")/adb_lab_lib.sh"
  adb start-server >/dev/null 2>&1
  serial="relay-device"
  logs+=("$work/relay.log")
  "$relay" --guest vsock:2:5555 --serial "$serial" --control "$work/control" --user nobody \
    --log-level debug >"$work/relay.log" 2>&1 &
  wait_state "$serial" device 60 || fail "adb devices never listed $serial: $(adb devices)"
  [[ $(timeout 30 adb -s "$serial" shell echo ok) == ok ]] || fail "adb shell across the device"
  echo "adb shell echo ok across the virtio-vsock device"

  head -c $((20 << 20)) /dev/urandom >"$work/in.bin"
  t0=$(now_ms)
  timeout 300 adb -s "$serial" push "$work/in.bin" /in.bin >/dev/null || fail "adb push"
  t1=$(now_ms)
  timeout 300 adb -s "$serial" pull /in.bin "$work/out.bin" >/dev/null || fail "adb pull"
  t2=$(now_ms)
  cmp -s "$work/in.bin" "$work/out.bin" || fail "pulled file differs from pushed file"
  echo "push+pull 20 MiB across the device: equal; push $((t1 - t0)) ms, pull $((t2 - t1)) ms (TCG guest)"

  # adbd-sim restarts on the host: the USB device must leave and come back. The requests
  # are created, not touched: the host removes them as soon as it sees them, and touch's
  # second step (setting the times) then fails with ENOENT.
  : >"$dir/stop-sim"
  wait_state "$serial" gone 20 || fail "device still listed after adbd-sim stopped on the host"
  echo "adbd-sim stopped on the host: the device left"
  : >"$dir/start-sim"
  wait_state "$serial" device 30 || fail "device did not come back after adbd-sim restarted"
  [[ $(timeout 30 adb -s "$serial" shell echo again) == again ]] || fail "shell after the restart"
  echo "adbd-sim restarted on the host: the device came back and works"
  exit 0
fi

relay=$1 sim=$2
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/../lab" && pwd)/run}
source "$(dirname "$0")/../lib/common.sh"
make_work_dir /tmp/vsock-device.XXXXXX  # short: it holds Unix sockets
dir=$work
mkdir "$dir/root"
sim_pid=
start_sim() {
  "$sim" --listen "hvsock:$dir/hybrid.sock:5555" --root "$dir/root" >>"$dir/sim.log" 2>&1 &
  sim_pid=$!
}
start_sim
"$RUN" --vsock-device "$dir" --rw "$dir" --timeout "${VSOCK_LAB_TIMEOUT:-600}" -- \
  "$(realpath "$0")" --guest "$dir" "$(realpath "$relay")" &
lab_pid=$!
# The guest asks for adbd-sim's restart through files in the shared DIR.
while kill -0 "$lab_pid" 2>/dev/null; do
  if [[ -e $dir/stop-sim ]]; then
    rm -f "$dir/stop-sim"
    kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
  fi
  if [[ -e $dir/start-sim ]]; then
    rm -f "$dir/start-sim"
    start_sim
  fi
  sleep 0.1
done
rc=0
wait "$lab_pid" || rc=$?
if ((rc != 0)); then
  echo "--- adbd-sim (host side)"
  tail -n 20 "$dir/sim.log"
  echo "--- device"
  tail -n 20 "$dir/device.log"
fi
exit "$rc"
