#!/usr/bin/env bash
# vsock-soak across a real virtio-vsock device: `vsock-soak run` on this host, through the
# lab's vhost-device-vsock (hybrid vsock, tests/lab/run --vsock-device), to `vsock-soak
# serve` in the lab guest, while the far peer is restarted and connections are dropped:
#
#   host: vsock-soak run --target hvsock:DIR/hybrid.sock:7000  ->  device  ->  guest: serve (vsock:any:7000)
#
# Asserted: every byte verified (nothing lost or corrupted), every break reported and
# recovered within RECOVERY_BOUND, the restarts all timed. Prints the soak's summary.
# Runs on the host (a HOST lab test); the guest half is this script with --guest.
# usage: vsock_soak_device_lab.sh VSOCK_SOAK SECONDS RECOVERY_BOUND
#        vsock_soak_device_lab.sh --guest DIR VSOCK_SOAK          (inside the lab guest)
set -euo pipefail

if [[ ${1:-} == --guest ]]; then
  # A supervisor for serve: restarts it when the host asks (DIR/restart-req), and says it is
  # listening again by removing the request.
  dir=$2 soak=$3
  [[ ${VSOCK_LAB_DEVICE:-} == 1 ]] || { echo "guest: no lab virtio-vsock device" >&2; exit 1; }
  pid=
  start_serve() {
    "$soak" serve --listen vsock:any:7000 --log-level warn >>"$dir/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
      ss -A vsock -l -n 2>/dev/null | grep -q ':7000 ' && return 0
      sleep 0.05
    done
    echo "serve did not listen" >&2
    return 1
  }
  start_serve
  touch "$dir/guest-ready"
  while [[ ! -e $dir/host-done ]]; do
    if [[ -e $dir/restart-req ]]; then
      kill "$pid"; wait "$pid" 2>/dev/null || true
      start_serve
      rm -f "$dir/restart-req"
    fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  exit 0
fi

soak=$1 seconds=$2 bound=$3
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/../lab" && pwd)/run}
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/soak_lib.sh"
lab_pid=
make_work_dir /tmp/vsock-device.XXXXXX  # short: it holds Unix sockets
dir=$work
cleanup_hook() {
  touch "$dir/host-done"
  [[ -z $lab_pid ]] || wait "$lab_pid" 2>/dev/null || true
}
fail_hook() { show_logs 20 "$dir/run.log" "$dir/serve.log" "$dir/device.log" "$dir/lab.out"; }
file_or_lab_gone() { [[ -e $1 ]] || ! kill -0 "$lab_pid" 2>/dev/null; }

"$RUN" --vsock-device "$dir" --rw "$dir" --timeout $((seconds + 300)) -- \
  "$(realpath "$0")" --guest "$dir" "$(realpath "$soak")" >"$dir/lab.out" 2>&1 &
lab_pid=$!
wait_until 120 file_or_lab_gone "$dir/guest-ready" || fail "serve did not come up in the guest"
[[ -e $dir/guest-ready ]] || fail "the lab guest ended before serve listened"

# The restart command returns once the guest's new serve listens, as a supervisor's
# "started" would: recovery is timed from there.
cat >"$dir/restart.sh" <<SH
#!/usr/bin/env bash
: >"$dir/restart-req"  # created, not touched: the guest removes it at once (see adbd_relay_device_lab.sh)
for _ in \$(seq 600); do [[ -e "$dir/restart-req" ]] || exit 0; sleep 0.05; done
exit 1
SH
set +e
"$soak" run --target "hvsock:$dir/hybrid.sock:7000" --streams 4 --sizes 1..65536 \
  --duration "${seconds}s" --seed 7 --restart-cmd "bash $dir/restart.sh" --restart-every 15s \
  --drop-every 9s --pause-every 13s --pause-for 1s --recovery-bound "$bound" \
  --progress lines --json "$dir/r.json" >"$dir/run.out" 2>"$dir/run.log"
rc=$?
set -e
cat "$dir/run.out"
((rc == 0)) || fail "vsock-soak run exited $rc"
why=$(soak_clean "$dir/r.json") || fail "$why"
restarts=$(soak_restarts "$dir/r.json")
# One every 15 s plus the restart's own time (the guest's serve stopped and started again):
# about 0.6 s in the TCG guest on a quiet host, 2.6 s and once 21 s on a host compiling
# beside the lab, which left room for 2 and 1 of 3 in a 60 s run. At least one a minute, so
# that a soak whose restarts stopped happening still fails.
min=$((seconds / 60 > 0 ? seconds / 60 : 1))
((restarts >= min)) || fail "expected about $((seconds / 16)) timed restarts (at least $min), got $restarts"
echo "ok: ${seconds} s across the virtio-vsock device: $(soak_json "$dir/r.json" messages) messages verified, $restarts far-peer restarts and $(soak_json "$dir/r.json" breaks) breaks recovered, nothing lost"
