#!/usr/bin/env bash
# vsock-mcast across a real virtio-vsock device: the host endpoint on this host (a LAN in
# network namespaces, as in vsock_mcast_netns.sh), the guest endpoint in the lab guest,
# the tunnel through the lab's vhost-device-vsock (tests/lab/run --vsock-device):
#
#   [lan ns] sender --(239.255.0.1, TTL 1)--> lan0 [host ns] vsock-mcast host
#        --listen hvsock:DIR/hybrid.sock:7400 ==device==> guest: vsock-mcast guest
#        --connect vsock:2:7400 --> tun0 --> receiver
#
# The device has no SOCK_SEQPACKET (docs/vsocklib.md), so records travel on the stream
# transport. Asserted: LAN -> guest datagrams arrive with TTL 1, TOS 0x28 and the LAN
# sender's address and port; guest -> LAN the same with the guest's. Then a burst of
# 1400-byte datagrams from the guest, which the guest endpoint sends as batches of records:
# every vsock packet its writes build (traced in the guest) must be at most 4 KiB.
# Runs on the host (a HOST lab test); the guest half is this script with --guest.
# usage: vsock_mcast_device_lab.sh VSOCK_MCAST MCAST_PROBE
#        vsock_mcast_device_lab.sh --guest DIR VSOCK_MCAST MCAST_PROBE   (inside the lab guest)
set -euo pipefail
G=239.255.0.1
PORT=7400
LAN_IP=10.77.0.2     # netns.sh's
GUEST_IP=10.77.0.50  # netns.sh's guest 1

if [[ ${1:-} == --guest ]]; then
  dir=$2 vm=$3 probe=$4
  [[ ${VSOCK_LAB_DEVICE:-} == 1 ]] || { echo "guest: no lab virtio-vsock device" >&2; exit 1; }
  wait_for() {  # wait_for FILE PATTERN SECONDS
    for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
  }
  "$vm" guest --connect "vsock:2:$PORT" --tun tun0 --address "$GUEST_IP/24" \
    --control /tmp/guest.ctl --log-level debug >"$dir/guest.log" 2>&1 &
  wait_for "$dir/guest.log" ready 30 || { echo "guest endpoint not ready" >&2; exit 1; }
  # LAN -> guest: at least 10 of the host's 40 (the first may come before the join).
  rc=0
  "$probe" recv --group "$G:$PORT" --interface tun0 --count 10 --timeout 40 \
    --expect-ttl 1 --expect-tos 0x28 --expect-source "$LAN_IP:5001" >"$dir/recv-guest.log" 2>&1 &
  recv=$!
  wait_for "$dir/recv-guest.log" 'ready:' 10 || { echo "guest receiver not ready" >&2; exit 1; }
  touch "$dir/guest-ready"
  wait "$recv" || rc=$?
  # Written whole, then renamed: the host reads it as soon as the name exists.
  echo "$rc" >"$dir/recv-guest.rc.tmp" && mv "$dir/recv-guest.rc.tmp" "$dir/recv-guest.rc"
  # Guest -> LAN, once the LAN's receiver listens.
  for _ in $(seq 600); do [[ -e $dir/lan-ready ]] && break; sleep 0.1; done
  "$probe" send --group "$G:$PORT" --interface tun0 --ttl 1 --tos 0x28 --port-from 5003 \
    --count 40 --rate 20 2>>"$dir/send-guest.log" || true
  # The burst, traced: "PACKETS LARGEST" of the data packets towards the host's port.
  source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
  source "$(dirname "${BASH_SOURCE[0]}")/../lib/vsock_trace.sh"
  vsock_trace_require
  vsock_trace_on
  "$probe" send --group "$G:$PORT" --interface tun0 --ttl 1 --port-from 5004 --count 300 \
    --size 1400 2>>"$dir/send-guest.log" || true
  sleep 2  # the endpoint's queue drains
  vsock_trace_off
  vsock_trace_lens --to "2:$PORT" | awk '{ n++; if ($1 > m) m = $1 } END { print n + 0, m + 0 }' \
    >"$dir/trace-guest.tmp" && mv "$dir/trace-guest.tmp" "$dir/trace-guest.txt"
  touch "$dir/guest-sent"
  for _ in $(seq 600); do [[ -e $dir/host-done ]] && break; sleep 0.1; done
  exit 0
fi

vm=$1 probe=$2
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/../lab" && pwd)/run}
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
netns_init  # skips (77) without root or namespaces
dir=$NETNS_DIR
lab_pid=
fail() {
  echo "FAIL: $*"
  local f
  for f in "$dir"/*.log "$dir/lab.out"; do
    [[ -s $f ]] && { echo "--- $(basename "$f")"; tail -n 25 "$f"; }
  done
  exit 1
}
wait_file() {  # wait_file PATH SECONDS
  for _ in $(seq $(($2 * 10))); do
    [[ -e $1 ]] && return 0
    kill -0 "$lab_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
netns_mcast_topology 0 || fail "cannot build the LAN namespaces"
netns_spawn host "$dir/host.log" "$vm" host --listen "hvsock:$dir/hybrid.sock:$PORT" --lan lan0 \
  --group "$G:$PORT" --control "$dir/host.ctl" --log-level debug
netns_wait_log "$dir/host.log" ready 15 "$NETNS_PID" || fail "host endpoint never logged 'ready'"

"$RUN" --vsock-device "$dir" --rw "$dir" --timeout "${VSOCK_LAB_TIMEOUT:-400}" -- \
  "$(realpath "$0")" --guest "$dir" "$(realpath "$vm")" "$(realpath "$probe")" >"$dir/lab.out" 2>&1 &
lab_pid=$!
wait_file "$dir/guest-ready" 120 || fail "the guest endpoint and receiver did not come up"

nsx lan "$probe" send --group "$G:$PORT" --interface lan0 --ttl 1 --tos 0x28 --port-from 5001 \
  --count 40 --rate 20 2>>"$dir/send-lan.log" || fail "mcast-probe send on the LAN failed"
wait_file "$dir/recv-guest.rc" 60 || fail "the guest's receiver did not finish"
[[ $(cat "$dir/recv-guest.rc") == 0 ]] || fail "LAN -> guest: $(grep -h FAIL "$dir/recv-guest.log" | head -2)"
echo "LAN -> guest across the device: $(grep -m1 received "$dir/recv-guest.log")"

netns_spawn lan "$dir/recv-lan.log" "$probe" recv --group "$G:$PORT" --interface lan0 --count 10 \
  --timeout 40 --expect-ttl 1 --expect-tos 0x28 --expect-source "$GUEST_IP:5003"
recv_lan=$NETNS_PID
netns_wait_log "$dir/recv-lan.log" 'ready:' 5 "$recv_lan" || fail "LAN receiver did not start"
touch "$dir/lan-ready"
rc=0
wait "$recv_lan" || rc=$?
((rc == 0)) || fail "guest -> LAN: $(grep -h FAIL "$dir/recv-lan.log" | head -2)"
echo "guest -> LAN across the device: $(grep -m1 received "$dir/recv-lan.log")"
wait_file "$dir/trace-guest.txt" 120 || fail "the guest's traced burst did not finish"
read -r packets largest <"$dir/trace-guest.txt"
((largest <= 4096)) || fail "guest burst: the guest endpoint's writes built a $largest-byte" \
  "vsock packet (limit 4096; $packets packets)"
# 300 x 1432-byte records fill 105 packets of 4 KiB; the endpoint may drop some when its
# queue is full, but most must have been traced.
((packets >= 50)) || fail "guest burst: only $packets vsock packets traced towards the host"
echo "guest burst of 300 x 1400 B: $packets vsock packets, largest $largest bytes"
touch "$dir/host-done"
wait "$lab_pid" || fail "the lab run failed"
lab_pid=
echo "ok: vsock-mcast across a real virtio-vsock device, TTL 1 kept both ways"
