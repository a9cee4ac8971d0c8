#!/usr/bin/env bash
# Small packets under backpressure through adbd-relay, in the lab guest (real AF_VSOCK over
# vsock_loopback). Since Linux 6.12.92 a vsock stream is reset when the overhead of the
# packets queued at a receiver exceeds its receive window; many small packets and a reader
# that stops can cause it. For adbd-relay the receiver is the guest's adbd, and it stops
# reading when the guest does not schedule it; the PC's adb keeps sending as long as its
# window allows:
#
#   small writer | adb shell 'cat >small.bin' -> USB gadget -> adbd-relay -> vsock:1 -> adbd-sim
#
# The writer puts 1 MiB into adb's stdin in writes of 1..600 bytes, paced so that adb sends
# most of them as WRTEs of their own. Once the shell stream carries data, adbd-sim is stopped
# (SIGSTOP) for STOP seconds while the writer runs, then continued. The relay writes each ADB
# message as one vsock write (header and payload together), so the guest's socket queues one
# packet per message until its credit is used up; then the relay's USB transfers fill and
# the PC's USB writes wait. With adb 34 and delayed_ack (ADB_DELAYED_ACK=1) many WRTEs are in
# flight; adb 29 has one in flight per stream and is shown for contrast.
#
# STOP (default 4) below 5: adb's USB write timeout (its Linux backend gives up a bulk write
# that waits 5 s and drops the device) is never reached. Checks: the file arrives whole,
# `adb shell` exits 0, and the relay used one guest connection for the whole run (a reset
# would end the session and count a second one).
# STOP of 6 or more: the PC's adb gives up, and that is the client's doing, not the relay's:
# checks that adb's log says its USB write timed out, that the relay counted no protocol error
# and started a new session on the PC's next CNXN (no guest reset), and that the device then
# answers `adb shell` again. Reported: how much of the file arrived and what `adb shell`
# exited with (adb 34 exits 0 when the device goes away mid-shell).
# Reported in both: the packets the guest kernel built towards adbd-sim's port from the
# writer's start to the end of the stop (traced), and how many were of 600 bytes or less.
# usage (in the lab): adbd_relay_small_packets_lab.sh ADBD_RELAY ADBD_SIM [STOP]
set -euo pipefail
relay=$1
sim=$2
stop=${3:-4}
[[ $stop =~ ^[0-9]+$ && $stop -ne 5 ]] || { echo "STOP: whole seconds, not 5 (adb's own limit)" >&2; exit 2; }
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
writer=$(dirname "${BASH_SOURCE[0]}")/small_packets.py
major=$(adb version | sed -n 's/^Version \([0-9]*\)\..*/\1/p')
[[ -n $major ]] || fail "cannot read adb's version: $(adb version)"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/vsock_trace.sh"
vsock_trace_require
lab_cleanup_hook() {
  [[ -z ${sim_pid:-} ]] || kill -CONT "$sim_pid" 2>/dev/null || true
  vsock_trace_off
}

port=$(free_port vsock) || fail "no free vsock port"
serial="relay-small"
bytes=$((1024 * 1024))
logs+=("$work/relay.log" "$work/sim.log" "$work/shell.err" "$work/writer.err")
mkdir -p "$work/root"
echo "kernel $(uname -r)"
"$sim" --listen "vsock:any:$port" --root "$work/root" --log-level debug >"$work/sim.log" 2>&1 &
sim_pid=$!
"$relay" --guest "vsock:1:$port" --serial "$serial" --control "$work/control" \
  --log-level debug >"$work/relay.log" 2>&1 &
if ((major >= 34)); then
  ADB_DELAYED_ACK=1 adb start-server >/dev/null 2>&1
else
  adb start-server >/dev/null 2>&1
fi
wait_state "$serial" device 30 || fail "adb devices never listed $serial: $(adb devices)"
if ((major >= 34)); then
  grep -q 'online, version .*, delayed_ack' "$work/sim.log" || fail "delayed_ack was not negotiated"
  mode="adb $major, delayed_ack"
else
  mode="adb $major, one WRTE in flight per stream"
fi

# The writer waits for $work/go: the shell stream must be open before adbd-sim stops.
python3 "$writer" send --to stdout --bytes "$bytes" --pace 0.0003 --start-when "$work/go" \
  --timeout 120 2>"$work/writer.err" |
  timeout 300 adb -s "$serial" shell 'cat >small.bin' 2>"$work/shell.err" &
pipeline=$!
wait_until 60 grep -q 'stream [0-9]* (remote [^)]*): shell.*cat >small.bin' "$work/sim.log" ||
  fail "the shell stream never opened"

# Trace the packets built towards adbd-sim's port from the writer's start to the end of the stop.
vsock_trace_on
touch "$work/go"
# Stop adbd-sim once the stream carries data: the writer and adb take a while to start.
wait_until 60 test -s "$work/root/small.bin" || fail "no data reached small.bin"
kill -STOP "$sim_pid"
sleep "$stop"
vsock_trace_off
kill -CONT "$sim_pid"
continued=$(now_ms)
vsock_trace_lens --to "1:$port" >"$work/lens"
read -r n small big < <(awk '{ n++; if ($1 <= 600) s++; if ($1 > b) b = $1 } END { printf "%d %d %d\n", n, s, b }' "$work/lens")
echo "$mode: from the writer's start to the end of a $stop s stop of adbd-sim the guest kernel built $n data packets towards it, $small of 600 bytes or less (largest $big)"
((n > 0)) || fail "no packet towards adbd-sim was traced while it was stopped: nothing was tested"

# A stream that stalls instead of failing: say where the bytes stopped.
# (Slow by nature: a TCG guest moves a few hundred small messages a second.)
if ! wait_until 240 bash -c "! kill -0 $pipeline 2>/dev/null"; then
  {
    echo "240 s after adbd-sim continued: small.bin holds $(stat -c %s "$work/root/small.bin" 2>/dev/null) bytes"
    "$relay" --status "$work/control"
    for t in /proc/"$sim_pid"/task/*; do echo "adbd-sim thread ${t##*/}: $(cat "$t/wchan")"; done
    ss -n -e -m --vsock
  } >"$work/stall.txt" 2>&1 || true
  logs+=("$work/stall.txt")
  fail "the stream stalled: adb shell 'cat >small.bin' still runs 240 s after adbd-sim continued"
fi
rc=0
wait "$pipeline" || rc=$?
cat "$work/writer.err"
field() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }
got=$(stat -c %s "$work/root/small.bin" 2>/dev/null || echo 0)
# adb 34: "remote usb: 1 - write terminated: Connection timed out"
client_gave_up() { grep -E 'write (terminated|failed).*timed out' "$adb_server_log" | head -1; }

if ((stop > 5)); then
  gave_up=$(client_gave_up)
  [[ -n $gave_up ]] ||
    fail "adb's log does not say its USB write timed out (adb shell exited $rc, $got of $bytes bytes arrived)"
  errors=$(relay_field guest0 protocol_errors)
  ((errors == 0)) || fail "the relay counted $errors protocol errors: $(relay_field guest0 last_error)"
  wait_state "$serial" device 30 || fail "the device did not come back after adb dropped it: $(adb devices)"
  new=$(relay_field guest0 pc_new_sessions)
  ((new >= 1)) || fail "adb dropped the device, yet the relay saw no new CNXN from the PC"
  alive=$(timeout 60 adb -s "$serial" shell echo alive 2>&1) || true
  [[ $alive == alive ]] || fail "after adb came back, adb shell echo alive gave: $alive"
  echo "adb's log: ${gave_up#*adb     : }"
  echo "ok (the client's limit): adb dropped the device when its USB write waited 5 s during the $stop s stop; adb shell exited $rc with $got of $bytes bytes in the file. The relay counted no protocol error, started a new guest session on the PC's next CNXN ($new), and the device answers again"
  exit 0
fi

[[ $(field "$work/writer.err" error) == none ]] || fail "the writer failed: $(cat "$work/writer.err")"
if [[ $got != "$bytes" ]]; then
  # Where the bytes stopped: the relay's counters, adb's own account, then adbd-sim's view
  # once it has logged the stream's end.
  "$relay" --status "$work/control" >"$work/status.json" 2>&1 || true
  logs+=("$work/status.json")
  gave_up=$(client_gave_up)
  [[ -z $gave_up ]] ||
    fail "adb shell exited $rc with $got of $bytes bytes: adb dropped the device when a USB write waited 5 s (the stop was $stop s; the guest's resume took the rest): ${gave_up#*adb     : }"
  wait_until 10 grep -q 'stream [0-9]* done' "$work/sim.log" || true
fi
((rc == 0)) || fail "adb shell 'cat >small.bin' exited $rc: $(cat "$work/shell.err")"
sum=$(sha256sum "$work/root/small.bin" | cut -d' ' -f1)
[[ $got == "$bytes" && $sum == "$(field "$work/writer.err" sha256)" ]] ||
  fail "$got of $bytes bytes arrived, or their sha256 differs"
conns=$(relay_field guest0 guest_connections)
sessions=$(relay_field guest0 sessions)
((conns == 1 && sessions == 1)) ||
  fail "the relay used $conns guest connections in $sessions sessions (a reset?): $(relay_field guest0 last_error)"
echo "ok: $bytes bytes in $(field "$work/writer.err" writes) small writes arrived whole past a $stop s stop of adbd-sim, on one guest connection (no reset); the rest took $((($(now_ms) - continued) / 1000)) s after it continued"
