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
# after a 25 s warm-up vs peak of the last 20 s: each window holds one restart cycle), and
# the p99 of the relay's own share of each restart under SHARE_BOUND (default 500ms): from
# adbd-sim listening again to the USB host (dummy_hcd's side, a uevent watcher) having the
# relay's device configured, split into listen -> relay connected (the relay's backoff),
# connected -> UDC bound (the relay), bound -> configured (kernel enumeration).
# Results: vsock-soak-relay.json / .html and vsock-soak-relay-share.json in the current
# directory (or $VSOCK_SOAK_OUT).
# usage (in the lab):
#   vsock_soak_relay_lab.sh ADBD_RELAY ADBD_SIM VSOCK_SOAK [SECONDS [BOUND [SHARE_BOUND]]]
# (SHARE_BOUND: 500ms, 0.5s, 2s)
set -euo pipefail
relay=$1
sim=$2
soak=$3
duration=${4:-75}
bound=${5:-2s}
share_bound=${6:-500ms}
case $share_bound in
  *ms) share_bound_ms=${share_bound%ms} ;;
  *s) share_bound_ms=$(awk -v s="${share_bound%s}" 'BEGIN { print s * 1000 }') ;;
  *) share_bound_ms= ;;
esac
[[ $share_bound_ms =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "SHARE_BOUND: $share_bound is not a duration (500ms, 0.5s)"; exit 2; }
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
  for f in relay sim serve uevents; do echo "--- $f log (tail)"; tail -30 "$work/$f.log" | sed "s/^/$f: /"; done
}

# The relay's share of each restart, from the logs: adbd-sim's "listening on" (the first
# after the restart's kill), the relay's "connected to" the guest, its "answers; USB
# function on" (logged once the UDC is bound), its "ep0 event ENABLE" (debug level), and
# the USB host's uevents for the relay's serial: the device added (addressed, descriptors
# read) and its ADB interface (255/66/1) added (the device configured). Prints a line per
# restart and the median / p90 / p99 / worst of each step and of the end-to-end recoveries,
# writes $out/vsock-soak-relay-share.json, and fails when a restart lacks a step or the
# share's p99 exceeds SHARE_BOUND_MS.
# usage: relay_share SHARE_BOUND_MS
relay_share() {
  python3 - "$work" "$serial" "$vport" "$1" "$out/vsock-soak-relay.json" \
    "$out/vsock-soak-relay-share.json" <<'PY'
import datetime, json, math, re, sys

work, serial, vport, bound_ms, soak_json, out = sys.argv[1:]
bound_ms = float(bound_ms)
guest = f"vsock:1:{vport}"
stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")

def log_times(path, needle):
    times = []
    with open(path, errors="replace") as f:
        for line in f:
            m = stamp.match(line)
            if m and needle in line:
                times.append(datetime.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S.%f").timestamp())
    return times

def backoff_waits(path):
    # The relay's "next attempt to GUEST in N ms" (debug): when it began which wait.
    waits = []
    with open(path, errors="replace") as f:
        for line in f:
            m = stamp.match(line)
            w = re.search(rf"next attempt to {re.escape(guest)} in (\d+) ms", line)
            if m and w:
                t = datetime.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S.%f").timestamp()
                waits.append((t, int(w[1])))
    return waits

def first_after(times, t):
    return next((x for x in times if x >= t), None)

kills = [float(l.split()[0]) for l in open(f"{work}/restarts.log")]
listens = log_times(f"{work}/sim.log", "listening on")
connects = log_times(f"{work}/relay.log", f"connected to {guest}")
binds = log_times(f"{work}/relay.log", f"guest adbd at {guest} answers; USB function on")
enables = log_times(f"{work}/relay.log", "ep0 event ENABLE")
waits = backoff_waits(f"{work}/relay.log")
events = []
for l in open(f"{work}/uevents.log"):
    wall, mono, action, devtype, devpath, iface, ser = l.split()
    events.append((float(wall), float(mono), action, devtype, iface, ser))
# udevadm stamps CLOCK_MONOTONIC at receipt; the watcher read each event a little later.
offset = min(w - m for w, m, *_ in events) if events else 0.0
added = sorted(m + offset for w, m, a, d, i, s in events
               if a == "add" and d == "usb_device" and s == serial)
configured = sorted(m + offset for w, m, a, d, i, s in events
                    if a == "add" and d == "usb_interface" and i == "255/66/1" and s == serial)

steps = ["listen_to_connected", "connected_to_bound", "bound_to_configured", "share",
         "bound_to_enable", "bound_to_device_added"]
rows, missing = [], []
for n, k in enumerate(kills, 1):
    t = {"listen": first_after(listens, k), "connected": first_after(connects, k)}
    if t["listen"] is None or t["connected"] is None:
        missing.append(n); continue
    # The relay can connect between adbd-sim's listen() and its log line: start at the earlier.
    start = min(t["listen"], t["connected"])
    t["bound"] = first_after(binds, t["connected"])
    if t["bound"] is None:
        missing.append(n); continue
    t["enable"] = first_after(enables, t["bound"])
    t["added"] = first_after(added, t["bound"] - 0.002)  # the relay logs the bind after it
    t["configured"] = first_after(configured, t["bound"] - 0.002)
    if None in t.values():
        missing.append(n); continue
    ms = lambda a, b: round((b - a) * 1000, 1)
    # The backoff wait that ended in the connect: how long the relay had decided to wait.
    last_wait = [d for w, d in waits if k <= w <= t["connected"]][-1:] or [0]
    rows.append({"restart": n, "kill_to_listen": ms(k, t["listen"]),
                 "last_backoff_ms": last_wait[0], "listen_to_connected": ms(start, t["connected"]),
                 "connected_to_bound": ms(t["connected"], t["bound"]),
                 "bound_to_configured": ms(t["bound"], t["configured"]),
                 "share": ms(start, t["configured"]),
                 "bound_to_enable": ms(t["bound"], t["enable"]),
                 "bound_to_device_added": ms(t["bound"], t["added"])})

def stats(values):
    v = sorted(values)
    rank = lambda p: v[max(0, math.ceil(p * len(v)) - 1)]
    return {"n": len(v), "median": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": v[-1]}

summary = {s: stats([r[s] for r in rows]) for s in steps} if rows else {}
try:
    e2e = [r["duration_ms"] for r in json.load(open(soak_json))["recoveries"]
           if r.get("cause") == "restart" and r.get("recovered")]
    if e2e: summary["end_to_end_recovery"] = stats(e2e)
except (OSError, ValueError, KeyError):
    pass
with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
json.dump({"share_bound_ms": bound_ms, "guest_load_average": load, "restarts": rows,
           "missing": missing, "summary": summary}, open(out, "w"), indent=1)

print("share: restart  (kill->listen  backoff)  listen->connected  connected->bound  "
      "bound->configured  (bound->ENABLE  bound->device added)  share   [ms]")
for r in rows:
    print(f"share: {r['restart']:7}  ({r['kill_to_listen']:12}  {r['last_backoff_ms']:7})"
          f"  {r['listen_to_connected']:17}  {r['connected_to_bound']:16}"
          f"  {r['bound_to_configured']:17}  ({r['bound_to_enable']:14}  "
          f"{r['bound_to_device_added']:20})  {r['share']:5}")
for s, v in summary.items():
    print(f"share: {s}: median {v['median']} p90 {v['p90']} p99 {v['p99']} "
          f"worst {v['max']} ms over {v['n']}")
print(f"share: guest load average {load}; results: {out}")
problems = []
if missing:
    problems.append(f"restarts {missing} lack a step in the logs (listen, connect, bind or enumeration)")
if not rows:
    problems.append("no restart could be measured")
elif summary["share"]["p99"] > bound_ms:
    problems.append(f"the relay's share (adbd-sim listening -> host configured) has p99 "
                    f"{summary['share']['p99']} ms, over the {bound_ms:g} ms bound")
for p in problems:
    print("share:", p)
sys.exit(1 if problems else 0)
PY
}

# Restarting "the guest's adbd": kill it, start a new one, return once it listens.
cat >"$work/restart-sim.sh" <<SH
#!/usr/bin/env bash
if [[ -f $work/sim.pid ]]; then
  echo "\$EPOCHREALTIME kill" >>$work/restarts.log
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

# The USB host's view (dummy_hcd's host side, the PC here): every kernel uevent of the usb
# subsystem as it arrives, stamped with the wall clock when read (udevadm's own stamp is
# CLOCK_MONOTONIC at receipt; the analysis maps it to the wall clock by the smallest
# read - receipt difference). Per event one line: WALL MONO ACTION DEVTYPE DEVPATH
# INTERFACE SERIAL (the serial of the USB device, read from sysfs when the event came).
watch_uevents() {
  local line wall="" mono="" action="" devtype="" devpath="" iface="" serial
  while IFS= read -r line; do
    case $line in
      "monitor will print"*) : >"$work/uevents.ready" ;;
      KERNEL\[*)
        wall=$EPOCHREALTIME mono=${line#KERNEL[} mono=${mono%%]*}
        action="" devtype="" devpath="" iface=""
        ;;
      ACTION=*) action=${line#*=} ;;
      DEVTYPE=*) devtype=${line#*=} ;;
      DEVPATH=*) devpath=${line#*=} ;;
      INTERFACE=*) iface=${line#*=} ;;
      "")
        [[ -n $wall ]] || continue
        serial=-
        if [[ $devtype == usb_device ]]; then
          { read -r serial <"/sys$devpath/serial"; } 2>/dev/null || serial=-
        elif [[ $devtype == usb_interface ]]; then
          { read -r serial <"/sys${devpath%/*}/serial"; } 2>/dev/null || serial=-
        fi
        echo "$wall $mono ${action:--} ${devtype:--} ${devpath:--} ${iface:--} ${serial:--}"
        wall=""
        ;;
    esac
  done
}
# (The lab runs commands chrooted into the host's root: udevadm refuses that unless told.)
SYSTEMD_IGNORE_CHROOT=1 stdbuf -oL udevadm monitor --kernel --subsystem-match=usb --property 2>"$work/udevadm.err" |
  watch_uevents >"$work/uevents.log" &
wait_until 30 test -e "$work/uevents.ready" || fail "udevadm monitor did not start: $(cat "$work/udevadm.err")"

"$soak" serve --listen "tcp:127.0.0.1:$serve" >"$work/serve.log" 2>&1 &
serve_pid=$!
# The relay as deployed: unprivileged after set-up (docs/security.md).
"$relay" --guest "vsock:1:$vport" --serial "$serial" --control "$work/control" --user nobody \
  --log-level debug >"$work/relay.log" 2>&1 &

adb start-server >/dev/null 2>&1
timeout 60 adb -s "$serial" wait-for-device || fail "adb never saw $serial: $(adb devices)"
adb -s "$serial" forward "tcp:$fwd" "tcp:$serve" >/dev/null || fail "adb forward"
echo "adb sees $serial; forward tcp:$fwd -> device tcp:$serve -> vsock-soak serve"
echo "guest kernel $(uname -r); $(adb version | sed -n 's/^Version /adb /p')"

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
share_rc=0
relay_share "$share_bound_ms" || share_rc=$?
(( rc == 0 )) || fail "vsock-soak run exited $rc"
(( share_rc == 0 )) || fail "the relay's share of the restarts: see the share: lines above"
restarts=$(soak_restarts "$out/vsock-soak-relay.json")
# One every 20 s after the last recovery, so fewer than duration / 20: a 10-minute run
# (2026-12-05) timed 26. At least a third of that count, so that a soak whose restarts
# stopped happening still fails.
(( restarts >= duration / 30 )) || fail "only $restarts restarts were timed in ${duration} s (at least $((duration / 30)) expected)"
echo "ok: ${duration} s through adbd-relay, $restarts adbd-sim restarts, nothing lost or corrupted, the relay's share p99 within $share_bound"
