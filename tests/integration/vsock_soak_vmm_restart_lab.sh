#!/usr/bin/env bash
# vsock-soak across a real virtio-vsock device whose device process is killed: what a VMM
# crash or restart does to the daemons on both sides.
#
#   host: vsock-soak run  --target hvsock:DIR/hybrid.sock:7000 -> device -> guest: serve (vsock:any:7000)
#   guest: vsock-soak run --target vsock:2:7001                -> device -> host: serve (DIR/hybrid.sock_7001)
#
# Each restart kills vhost-device-vsock with SIGKILL. Debian 12's QEMU (7.2) cannot attach
# a new device process to a running guest (its vhost-user-vsock has no reconnect; measured:
# docs/vsocklib.md), so, as with a VMM restart, the guest is booted again with a new device.
# Asserted:
# - host side (the run's own verdict): nothing lost or corrupted, every break reported and
#   recovered within RECOVERY_BOUND of the new guest's serve listening;
# - guest side, before each reboot: a dead device gives the guest no event at all, so the
#   guest's run must find every stream stalled by itself (--stall-timeout) within DETECT s.
# Runs on the host (a HOST lab test); the guest half is this script with --guest.
# usage: vsock_soak_vmm_restart_lab.sh VSOCK_SOAK SECONDS RECOVERY_BOUND
#        vsock_soak_vmm_restart_lab.sh --guest BOOT_DIR VSOCK_SOAK     (inside the lab guest)
#        vsock_soak_vmm_restart_lab.sh --restart DIR VSOCK_SOAK        (the run's restart command)
set -euo pipefail

readonly STREAMS=4 STALL=5 DETECT=30

if [[ ${1:-} == --guest ]]; then
  boot=$2 soak=$3
  [[ ${VSOCK_LAB_DEVICE:-} == 1 ]] || { echo "guest: no lab virtio-vsock device" >&2; exit 1; }
  "$soak" serve --listen vsock:any:7000 --log-level warn >>"$boot/serve.log" 2>&1 &
  for _ in $(seq 200); do
    ss -A vsock -l -n 2>/dev/null | grep -q ':7000 ' && break
    sleep 0.05
  done
  # Runs until the host reboots the guest; it is judged by what it logs, not by its verdict.
  "$soak" run --target vsock:2:7001 --streams "$STREAMS" --sizes 1..16384 --duration 1h \
    --stall-timeout "${STALL}s" --recovery-bound 1h --progress quiet --log-level warn \
    >"$boot/guest-run.out" 2>"$boot/guest-run.log" &
  touch "$boot/guest-ready"
  while [[ ! -e $boot/host-done ]]; do sleep 0.1; done
  exit 0
fi

now() { date +%s.%N | cut -c1-14; }
device_pid() { pgrep -f -- "vhost-device-vsock .*--uds-path $1/hybrid.sock" | head -1; }

# Boots guest N with a new device (tests/lab/run --vsock-device starts one) and returns
# once its serve listens. The lab runs in the background; its pid is kept in DIR/lab.pid.
boot() {
  local dir=$1 soak=$2 n=$3 run
  run=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/../lab" && pwd)/run}
  mkdir -p "$dir/b$n"
  echo "$n" >"$dir/boot"
  setsid "$run" --vsock-device "$dir" --rw "$dir" --timeout 900 -- \
    "$(realpath "$0")" --guest "$dir/b$n" "$(realpath "$soak")" >"$dir/b$n/lab.out" 2>&1 </dev/null &
  echo $! >"$dir/lab.pid"
  local i
  for ((i = 0; i < 1800; i++)); do
    [[ -e $dir/b$n/guest-ready ]] && return 0
    kill -0 "$(cat "$dir/lab.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "boot $n: the guest's serve did not come up; lab output:" >&2
  tail -n 20 "$dir/b$n/lab.out" >&2
  return 1
}

# Ends the current lab run (the guest half exits, the guest powers off), bounded.
end_lab() {
  local dir=$1 n pid i
  n=$(cat "$dir/boot")
  touch "$dir/b$n/host-done"
  pid=$(cat "$dir/lab.pid" 2>/dev/null) || return 0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
}

if [[ ${1:-} == --restart ]]; then
  dir=$2 soak=$3
  n=$(cat "$dir/boot")
  pid=$(device_pid "$dir")
  [[ -n $pid ]] || { echo "restart: no vhost-device-vsock process for $dir" >&2; exit 1; }
  t0=$(now)
  kill -KILL "$pid"
  # The guest learns nothing from the device's death: its run must see each stream stall.
  detected=
  for ((i = 0; i < DETECT * 10; i++)); do
    if (($(grep -o 'stream [0-9]*: stalled' "$dir/b$n/guest-run.log" 2>/dev/null | sort -u | wc -l) >= STREAMS)); then
      detected=$(now)
      break
    fi
    sleep 0.1
  done
  echo "$t0 ${detected:-none}" >"$dir/b$n/detect"
  end_lab "$dir"
  boot "$dir" "$soak" $((n + 1))
  exit
fi

soak=$1 seconds=$2 bound=$3
dir=$(mktemp -d /tmp/vsock-vmm.XXXXXX)  # short: it holds Unix sockets
serve_pid=
cleanup() {
  [[ -e $dir/boot ]] && end_lab "$dir"
  [[ -z $serve_pid ]] || kill "$serve_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  # Each recovery's cause, start and duration: which kill a slow one followed.
  [[ -s $dir/r.json ]] && { echo "--- recoveries"; jq -c '.recoveries[-20:][]' "$dir/r.json" || true; }
  local f
  for f in "$dir/run.log" "$dir/serve.log" "$dir/device.log" "$dir"/b*/lab.out "$dir"/b*/guest-run.log; do
    [[ -s $f ]] && { echo "--- $f"; tail -n 15 "$f"; }
  done
  exit 1
}
source "$(dirname "$0")/soak_lib.sh"

# The host's end of the guest's run: a listener on the device's side, which outlives every
# device process.
"$soak" serve --listen "hvsock:$dir/hybrid.sock:7001" --log-level warn >"$dir/serve.log" 2>&1 &
serve_pid=$!
boot "$dir" "$soak" 1 || fail "the first guest did not come up"

set +e
"$soak" run --target "hvsock:$dir/hybrid.sock:7000" --streams "$STREAMS" --sizes 1..65536 \
  --duration "${seconds}s" --seed 11 --restart-cmd "bash $(realpath "$0") --restart $dir $(realpath "$soak")" \
  --restart-every 20s --command-timeout 300s --recovery-bound "$bound" \
  --progress lines --json "$dir/r.json" >"$dir/run.out" 2>"$dir/run.log"
rc=$?
set -e
cat "$dir/run.out"
((rc == 0)) || fail "vsock-soak run exited $rc"
why=$(soak_clean "$dir/r.json" --last-may-be-open) || fail "$why"
restarts=$(soak_restarts "$dir/r.json")
# One kill every 20 s of traffic, plus the reboot's own time (12 s in the TCG guest here).
((restarts >= 1)) || fail "no device was killed and replaced in ${seconds} s"
kills=$(find "$dir" -mindepth 2 -maxdepth 2 -path "$dir/b*/detect" | wc -l)
((kills == restarts)) || fail "$restarts restarts timed by the run but $kills devices killed"

# The guest side of each killed device.
for d in "$dir"/b*/detect; do
  read -r t0 t1 <"$d"
  [[ $t1 != none ]] || fail "$(basename "$(dirname "$d")"): the guest's run did not report all $STREAMS streams stalled within $DETECT s of the device's death"
  printf '%s: device killed; the guest run reported all %d streams stalled %.1f s later\n' \
    "$(basename "$(dirname "$d")")" "$STREAMS" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
done
echo "ok: ${seconds} s, $restarts device kills (each a new device and guest): $(soak_json "$dir/r.json" messages) messages verified from the host, nothing lost; every guest saw its dead device as stalls"
