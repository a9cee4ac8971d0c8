#!/usr/bin/env bash
# adbd-relay end to end, in the lab guest: Debian's real adb client (the "PC") finds the
# relay's USB gadget through dummy_hcd and talks through it, over real AF_VSOCK
# (vsock_loopback), to adbd-sim (the "guest's adbd").
#
#   adb (host side of dummy_hcd) -> USB gadget (FunctionFS) -> adbd-relay -> vsock:1:5555 -> adbd-sim
#
# Shows: adb devices lists the relay's serial; shell echo; a 20 MB push + pull round trip
# with equal checksums; the adb server killed during a pull -> a new one works (timed);
# adbd-sim killed -> the device leaves; adbd-sim restarted -> the
# device is back within 2 s and works. The relay runs as deployed: it drops to user nobody
# with no capability after set-up, so every re-enumeration here is done unprivileged; at
# exit it leaves its gadget, which `adbd-relay --remove-gadgets` (root) then takes down.
# Prints timings for docs/benchmarks.md. (Two guests and a malformed guest:
# adbd_relay_guests_lab.sh.)
# usage (in the lab): adbd_relay_lab.sh ADBD_RELAY ADBD_SIM
set -euo pipefail
relay=$1
sim=$2
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
adb start-server >/dev/null 2>&1
port=5555
serial="relay-lab"
logs+=("$work/relay.log" "$work/sim.log")

start_sim() {
  "$sim" --listen "vsock:any:$port" --root "$work/root" >>"$work/sim.log" 2>&1 &
  sim_pid=$!
}
mkdir -p "$work/root"
start_sim
relay_args=(--guest "vsock:1:$port" --serial "$serial")
"$relay" "${relay_args[@]}" --control "$work/control" --user nobody \
  --log-level debug >"$work/relay.log" 2>&1 &
relay_pid=$!

wait_state "$serial" device 30 || fail "adb devices never listed $serial: $(adb devices)"
echo "adb devices: $(adb devices | grep "$serial")"
uids=$(awk '/^Uid:/ { print $2, $3, $4 }' "/proc/$relay_pid/status")
caps=$(awk '/^Cap(Eff|Prm):/ { printf "%s ", $2 }' "/proc/$relay_pid/status")
nobody=$(id -u nobody)
[[ $uids == "$nobody $nobody $nobody" ]] || fail "relay runs with uids '$uids', expected nobody ($nobody)"
[[ $caps == "0000000000000000 0000000000000000 " ]] || fail "relay kept capabilities: CapEff/CapPrm $caps"
echo "relay runs as nobody (uid $nobody) with no capabilities"

out=$(adb -s "$serial" shell echo ok)
[[ $out == ok ]] || fail "shell echo ok printed '$out'"
echo "adb shell echo ok: $out"

head -c $((20 * 1024 * 1024)) /dev/urandom >"$work/in.bin"
t0=$(now_ms)
adb -s "$serial" push "$work/in.bin" /push.bin >/dev/null || fail "adb push"
t1=$(now_ms)
adb -s "$serial" pull /push.bin "$work/out.bin" >/dev/null || fail "adb pull"
t2=$(now_ms)
sum_in=$(sha256sum <"$work/in.bin" | cut -d' ' -f1)
sum_out=$(sha256sum <"$work/out.bin" | cut -d' ' -f1)
[[ $sum_in == "$sum_out" ]] || fail "pulled file differs from pushed file"
echo "push+pull 20 MiB: equal sha256 ${sum_in:0:16}...; push $((t1 - t0)) ms, pull $((t2 - t1)) ms (TCG guest)"

# The PC's adb server dies during a pull (SIGKILL, as a crash would) and is started again.
# The relay sees no USB event for that. Two ways out, both proven here over many runs
# (docs/adbd-relay.md): the new server's CNXN reaches the relay, which ends the session,
# so nothing of the old one (the rest of the pull, queued in USB transfers and the
# guest's socket) reaches the PC; or every attempt of the new server first reads bytes
# still queued, gives up before its CNXN gets through, and the relay ends the session
# when its queued bytes have waited pc_read_timeout_ms (5 s) with none taken, and
# re-enumerates. Printed: which, and the split between adb and the relay. Asserted: the
# device listed and working within 20 s of start-server, a sanity bound for a loaded TCG
# guest (the old stale-bytes livelock took 18 s and more).
# guest->PC bytes so far, from the relay's status (live during a session)
to_pc() { relay_field guest0 vsock_to_usb_bytes; }
before=$(to_pc)
# 64 MiB (straight into adbd-sim's root): a pull long enough (about 5 s) that the status
# polls below cannot miss it, however fast the machine. Random, not sparse: adb 34 pulls
# compressed by default (zstd), and 64 MiB of zeros would cross the relay as 2 KiB.
head -c $((64 << 20)) /dev/urandom >"$work/root/big.bin"
adb -s "$serial" pull /big.bin "$work/partial.bin" >/dev/null 2>&1 &
pull_pid=$!
for _ in $(seq 400); do
  (($(to_pc) - before > 2 * 1024 * 1024)) && break
  sleep 0.02
done
pkill -KILL -f 'adb .*fork-server' || fail "no adb server to kill"
wait "$pull_pid" 2>/dev/null && fail "the pull finished before its adb server was killed"
echo "adb server killed during a 64 MiB pull, $((($(to_pc) - before) / 1024)) KiB into it"
head -c $((64 * 1024)) /dev/urandom >"$work/small.bin"
t0=$(now_ms)
adb start-server >/dev/null 2>&1
wait_state "$serial" device 20 || fail "the new adb server never listed $serial: $(adb devices)"
t1=$(now_ms)
adb -s "$serial" push "$work/small.bin" /small.bin >/dev/null || fail "push through the new adb server failed"
adb -s "$serial" pull /small.bin "$work/small.back" >/dev/null || fail "pull through the new adb server failed"
cmp -s "$work/small.bin" "$work/small.back" || fail "the new session's pull differs from its push"
t2=$(now_ms)
echo "new adb server: device listed $((t1 - t0)) ms after start-server, push+pull 64 KiB done after $((t2 - t0)) ms"
# The split between adb and the relay, by the relay's log (its clock is this guest's).
ended=$(grep "session ended: the PC's adb started a new session\|session ended: the PC stopped reading" "$work/relay.log" | tail -1)
[[ -n $ended ]] || fail "the relay logged neither the PC's new session nor its stopped reading"
ended_ms=$(date -d "${ended:0:23}" +%s%3N)
if [[ $ended == *"new session"* ]]; then
  dropped=$(grep -o '[0-9]* bytes of an abandoned CNXN' "$work/relay.log" | tail -1 | cut -d' ' -f1 || true)
  echo "  the relay had the new CNXN $((ended_ms - t0)) ms after start-server${dropped:+ (adb abandoned a first attempt: $dropped bytes dropped)}, $((t1 - ended_ms)) ms before adb listed the device"
  "$relay" --status "$work/control" | jq -e '.guests[] | select(.name == "guest0") | .pc_new_sessions >= 1' >/dev/null ||
    fail "status does not count the PC's new session"
else
  echo "  adb's attempts all read stale bytes; the relay ended the session on its read timeout $((ended_ms - t0)) ms after start-server, $((t1 - ended_ms)) ms before adb listed the device"
  "$relay" --status "$work/control" | jq -e '.guests[] | select(.name == "guest0") | .pc_read_stalls >= 1' >/dev/null ||
    fail "status does not count the PC's read stall"
fi
((t2 - t0 <= 20000)) || fail "the new adb server needed $((t2 - t0)) ms to list and use the device, more than 20 s"

# The guest's adbd goes away: the device must leave; when it is back, so is the device.
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
wait_state "$serial" gone 10 || fail "device still listed after adbd-sim was killed: $(adb devices)"
echo "adbd-sim killed: device left"
listening=$(grep -c 'listening on' "$work/sim.log")
start_sim
# Recovery is timed from the moment the guest's adbd listens again: to the USB device being
# back on the bus (the relay's part), and to adb listing it (adds adb's own device polling).
deadline=$(( $(now_ms) + 10000 ))
until (( $(grep -c 'listening on' "$work/sim.log") > listening )); do
  (( $(now_ms) < deadline )) || fail "adbd-sim did not start listening again"
  sleep 0.02
done
t0=$(now_ms)
until lsusb -d 18d1:4ee7 >/dev/null 2>&1; do
  (( $(now_ms) < deadline )) || fail "USB device did not come back after adbd-sim restarted"
  sleep 0.02
done
t_usb=$(now_ms)
wait_state "$serial" device 10 || fail "adb did not list the device again after adbd-sim restarted"
t_adb=$(now_ms)
out=$(adb -s "$serial" shell echo again)
[[ $out == again ]] || fail "shell after restart printed '$out'"
echo "adbd-sim restarted: USB device back $((t_usb - t0)) ms after adbd listened, listed by adb after $((t_adb - t0)) ms, and working"
(( t_usb - t0 <= 2000 )) || fail "the relay took $((t_usb - t0)) ms to show the device again, more than 2 s"

"$relay" --status "$work/control" >"$work/status.json" || fail "--status"
jq -e '.guests[] | select(.name == "guest0") | .sessions >= 1' "$work/status.json" >/dev/null ||
  fail "status: $(cat "$work/status.json")"
echo "status: $(jq -c '.guests[] | select(.name == "guest0")' "$work/status.json")"

# Stopping: the unprivileged relay unbinds its gadget but cannot remove it; root can.
gadget_dir=/sys/kernel/config/usb_gadget/adbd-relay-guest0
kill "$relay_pid"; wait "$relay_pid" || fail "relay exited $? on SIGTERM"
[[ -d $gadget_dir ]] || fail "the unprivileged relay removed $gadget_dir (it should not be able to)"
[[ -z $(cat "$gadget_dir/UDC") ]] || fail "the gadget is still bound after the relay stopped"
"$relay" "${relay_args[@]}" --remove-gadgets >"$work/remove.log" 2>&1 || fail "--remove-gadgets: $(cat "$work/remove.log")"
[[ ! -e $gadget_dir ]] || fail "--remove-gadgets left $gadget_dir"
! grep -q " /run/adbd-relay/adbd-relay-guest0 functionfs" /proc/mounts || fail "--remove-gadgets left FunctionFS mounted"
echo "relay stopped: gadget left unbound; --remove-gadgets took it down"
echo "ok: adb through adbd-relay over real USB gadget + vsock"
