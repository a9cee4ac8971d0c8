#!/usr/bin/env bash
# The soak through adbd-relay, in the lab guest: vsock-soak's verified traffic goes through
# Debian's real adb, the relay's USB gadget (dummy_hcd) and real AF_VSOCK, while adbd-sim
# (the guest's adbd) is killed and restarted every 20 s.
#
#   vsock-soak run -> tcp:FWD (adb forward) -> adb server -> USB gadget -> adbd-relay
#     -> vsock:1:5555 -> adbd-sim -> tcp:127.0.0.1:SERVE -> vsock-soak serve
#
# Pass: zero lost or corrupted bytes, every recovery (restart command returned -> every
# stream has a verified echo of a message sent after it) under BOUND (default 2 s),
# adbd-relay's RSS grew at most 1024 KiB and its open fds at most 4 (peak of the first 20 s
# after a 25 s warm-up vs peak of the last 20 s: each window holds one restart cycle).
# Results: vsock-soak-relay.json / .html in the current directory (or $VSOCK_SOAK_OUT).
# usage (in the lab): vsock_soak_relay_lab.sh ADBD_RELAY ADBD_SIM VSOCK_SOAK [SECONDS [BOUND]]
set -euo pipefail
relay=$1
sim=$2
soak=$3
duration=${4:-75}
bound=${5:-2s}
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "run me in the lab: tests/lab/run -- $0 ..."; exit 2; }

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/soak_lib.sh"
make_work_dir
out=${VSOCK_SOAK_OUT:-$PWD}
vport=5555
fwd=15555    # adb forward's local port, where the soak connects
serve=17777  # vsock-soak serve, reached by adbd-sim's tcp: service
serial="soak-lab"
export ADB_SERVER_SOCKET=tcp:localhost:15037  # a private adb server, never the user's 5037
export HOME=$work                               # adb keeps its keys in ~/.android
cleanup_hook() {
  adb kill-server >/dev/null 2>&1 || true
  [[ -f $work/sim.pid ]] && kill "$(cat "$work/sim.pid")" 2>/dev/null
}
fail_hook() {
  local f
  for f in relay sim serve; do echo "--- $f log (tail)"; tail -30 "$work/$f.log" | sed "s/^/$f: /"; done
}

# Restarting "the guest's adbd": kill it, start a new one, return once it listens.
cat >"$work/restart-sim.sh" <<SH
#!/usr/bin/env bash
if [[ -f $work/sim.pid ]]; then
  kill \$(cat $work/sim.pid) 2>/dev/null
  while kill -0 \$(cat $work/sim.pid) 2>/dev/null; do sleep 0.01; done
fi
n=\$(grep -c "listening on" $work/sim.log 2>/dev/null)
setsid "$sim" --listen vsock:any:$vport --root $work/root >>$work/sim.log 2>&1 </dev/null &
echo \$! >$work/sim.pid
for i in \$(seq 1000); do (( \$(grep -c "listening on" $work/sim.log) > n )) && exit 0; sleep 0.01; done
exit 1
SH
mkdir -p "$work/root"
touch "$work/sim.log"
bash "$work/restart-sim.sh" || fail "adbd-sim did not start"

"$soak" serve --listen "tcp:127.0.0.1:$serve" >"$work/serve.log" 2>&1 &
serve_pid=$!
# The relay as deployed: unprivileged after set-up (docs/security.md).
"$relay" --guest "vsock:1:$vport" --serial "$serial" --control "$work/control" --user nobody \
  >"$work/relay.log" 2>&1 &

adb start-server >/dev/null 2>&1
timeout 60 adb -s "$serial" wait-for-device || fail "adb never saw $serial: $(adb devices)"
adb -s "$serial" forward "tcp:$fwd" "tcp:$serve" >/dev/null || fail "adb forward"
echo "adb sees $serial; forward tcp:$fwd -> device tcp:$serve -> vsock-soak serve"

# After adbd-sim restarts, the device re-enumerates and the adb server drops the forward:
# the hook puts it back once the device is there again.
hook="timeout 10 adb -s $serial wait-for-device forward tcp:$fwd tcp:$serve"
set +e
"$soak" run --target "tcp:127.0.0.1:$fwd" --streams 4 --sizes 1..65536 --window 2 \
  --duration "${duration}s" --seed 7 \
  --restart-cmd "bash $work/restart-sim.sh" --restart-every 20s --reconnect-hook "$hook" \
  --recovery-bound "$bound" --connect-timeout 3s --stall-timeout 15s --drain-timeout 20s \
  --watch-name adbd-relay --watch-pid "$serve_pid" --warmup 25s --drift-window 20s \
  --max-rss-growth-kib 1024 --max-fd-growth 4 \
  --progress lines --json "$out/vsock-soak-relay.json" --html "$out/vsock-soak-relay.html" \
  2>"$work/soak.log"
rc=$?
set -e
grep -E "fault at|recovered|warning|error" "$work/soak.log" | sed 's/^/soak: /' | tail -60
echo "results: $out/vsock-soak-relay.json, $out/vsock-soak-relay.html"
(( rc == 0 )) || fail "vsock-soak run exited $rc"
restarts=$(soak_restarts "$out/vsock-soak-relay.json")
# One every 20 s after the last recovery, so fewer than duration / 20: a 10-minute run
# (2026-12-05) timed 26. At least a third of that count, so that a soak whose restarts
# stopped happening still fails.
(( restarts >= duration / 30 )) || fail "only $restarts restarts were timed in ${duration} s (at least $((duration / 30)) expected)"
echo "ok: ${duration} s through adbd-relay, $restarts adbd-sim restarts, nothing lost or corrupted"
