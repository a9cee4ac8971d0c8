#!/usr/bin/env bash
# adbd-relay when the PC side of one guest's USB port goes away and comes back, in the lab
# with two UDCs (dummy_hcd num=2), the relay as deployed (--user nobody) and Debian's real
# adb on the host side of both:
#
#   adb -> dummy_udc.0 -> adbd-relay -> vsock:1:5555 -> adbd-sim   (guest "a": unplugged)
#   adb -> dummy_udc.1 -> adbd-relay -> vsock:1:5556 -> adbd-sim   (guest "b": untouched)
#
# Guest a's device is taken away on the PC side in the three ways a cable pull or a host
# reset looks to the gadget (its hub port powered off, the device deauthorised, the usb
# driver unbound), each once idle and once during a push, held, and given back.
# Asserted for every case, as measured, not printed:
#  - the relay's thread never sleeps in FunctionFS (no ffs_* in /proc/PID/task/*/wchan,
#    sampled every ~20 ms through the hold);
#  - its status socket answers every query within 1 s (lab_answer_probe, every 50 ms): a
#    relay blocked on the unplugged port would not answer for the whole hold (4 s); a TCG
#    guest on a busy host answered in up to 160 ms (2026-12-04), so 100 ms would flake;
#  - guest b keeps working: a 4 MiB push + pull during the hold, equal, in its one session;
#  - guest a's vsock connection closes within 0.5 s of the relay's ep0 DISABLE (timestamps
#    of the relay's log and adbd-sim's), and the relay does not reconnect during the hold;
#  - after the PC gives the device back, it is configured once (one ep0 ENABLE) and adb
#    works on it.
# usage (in the lab, with --module-option 'dummy_hcd num=2'):
#   adbd_relay_unplug_lab.sh ADBD_RELAY ADBD_SIM LAB_ANSWER_PROBE
set -euo pipefail
relay=$1
sim=$2
probe=$3
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
adb start-server >/dev/null 2>&1
logs+=("$work/relay.log" "$work/sim-a.log" "$work/sim-b.log")
hold_ms=${HOLD_MS:-4000}

[[ -e /sys/class/udc/dummy_udc.1 ]] || fail "no second UDC (run the lab with --module-option 'dummy_hcd num=2')"

mkdir -p "$work/root-a" "$work/root-b"
mkfifo "$work/tick"
"$sim" --listen vsock:any:5555 --root "$work/root-a" >"$work/sim-a.log" 2>&1 &
"$sim" --listen vsock:any:5556 --root "$work/root-b" >"$work/sim-b.log" 2>&1 &
cat >"$work/relay.conf" <<CONF
[relay]
control_socket = $work/control
log_level = debug
user = nobody
[guest a]
address = vsock:1:5555
udc = dummy_udc.0
serial = guest-a
[guest b]
address = vsock:1:5556
udc = dummy_udc.1
serial = guest-b
CONF
"$relay" -c "$work/relay.conf" >"$work/relay.log" 2>&1 &
relay_pid=$!

adbt() { timeout 30 adb "$@"; }  # every adb call bounded: a frozen relay fails the test, not hangs it
count() { grep -c -- "$1" "$2" || true; }   # count PATTERN FILE
# The time (ms since the epoch) of the Nth line matching PATTERN in FILE; the logs start
# with "YYYY-MM-DD HH:MM:SS.mmm".
line_ms() {
  local line
  line=$(grep -- "$1" "$2" | sed -n "${3}p")
  [[ -n $line ]] || return 1
  date -d "${line:0:23}" +%s%3N
}
usb_dev() {  # the sysfs name of the USB device with serial $1
  local d
  for d in /sys/bus/usb/devices/*; do
    [[ -f $d/serial && $(cat "$d/serial") == "$1" ]] && { basename "$d"; return 0; }
  done
  return 1
}

wait_state guest-a device 30 || fail "adb devices never listed guest-a: $(adb devices)"
wait_state guest-b device 30 || fail "adb devices never listed guest-b: $(adb devices)"
[[ $(adbt -s guest-a shell echo ok) == ok ]] || fail "shell on guest-a"
[[ $(adbt -s guest-b shell echo ok) == ok ]] || fail "shell on guest-b"
head -c $((4 << 20)) /dev/urandom >"$work/b.bin"
# Random, not zeros: adb 34 compresses a push by default (zstd, as adbd-sim advertises it), and
# 64 MiB of zeros would cross the relay as 2 KiB, too little for a_pushed to see it start.
head -c $((64 << 20)) /dev/urandom >"$work/a-big.bin"
echo "both guests listed; relay pid $relay_pid runs as $(awk '/^Uid:/ { print $2 }' "/proc/$relay_pid/status")"

# away/back METHOD: what the PC does to guest a's device ($dev, its hub port $port).
away() {
  case $1 in
    port) echo 1 >"$port/disable" ;;
    authorized) echo 0 >"/sys/bus/usb/devices/$dev/authorized" ;;
    unbind) echo "$dev" >/sys/bus/usb/drivers/usb/unbind ;;
  esac
}
back() {
  case $1 in
    port) echo 0 >"$port/disable" ;;
    authorized) echo 1 >"/sys/bus/usb/devices/$dev/authorized" ;;
    unbind) echo "$dev" >/sys/bus/usb/drivers/usb/bind ;;
  esac
}
a_pushed() { (($(relay_field a usb_to_vsock_bytes) > pushed_before + (1 << 20))); }
a_closed() { (($(count ': closed (' "$work/sim-a.log") > closed_before)); }

scenario() {  # scenario METHOD idle|transfer
  local method=$1 load=$2
  dev=$(usb_dev guest-a) || fail "$method/$load: guest-a's USB device not found in sysfs"
  port=$(readlink -f "/sys/bus/usb/devices/$dev/port")
  local disable_before enable_before connected_before b_sessions push_pid=
  disable_before=$(count '\[a\] ep0 event DISABLE' "$work/relay.log")
  enable_before=$(count '\[a\] ep0 event ENABLE' "$work/relay.log")
  closed_before=$(count ': closed (' "$work/sim-a.log")
  connected_before=$(count ': connected' "$work/sim-a.log")
  b_sessions=$(relay_field b sessions)

  if [[ $load == transfer ]]; then
    pushed_before=$(relay_field a usb_to_vsock_bytes)
    adb -s guest-a push "$work/a-big.bin" /big.bin >"$work/push-a.log" 2>&1 &
    push_pid=$!
    wait_until 30 a_pushed || fail "$method/$load: the push to guest-a did not start"
  fi

  # The hold: take a's device away, then probe the relay while guest b works.
  : >"$work/wchan.txt"
  (
    # Bash builtins only (read, and read -t on a silent FIFO as the 20 ms tick): a fork per
    # sample would take longer than the tick in a TCG guest.
    exec {tick}<>"$work/tick"
    while :; do
      for t in /proc/"$relay_pid"/task/*/wchan; do w=; read -r w <"$t" || true; echo "${w:-?}"; done  # no newline in wchan: read fails, w is set
      read -r -t 0.02 -u "$tick" || true
    done >>"$work/wchan.txt" 2>/dev/null
  ) &
  local sampler=$!
  local t_away
  t_away=$(now_ms)
  away "$method"
  "$probe" "$work/control" 50 "$hold_ms" >"$work/probe.txt" &
  local probe_pid=$!
  adbt -s guest-b push "$work/b.bin" /b.bin >/dev/null 2>&1 || fail "$method/$load: push to guest-b during the hold"
  adbt -s guest-b pull /b.bin "$work/b-back.bin" >/dev/null 2>&1 || fail "$method/$load: pull from guest-b during the hold"
  cmp -s "$work/b.bin" "$work/b-back.bin" || fail "$method/$load: guest-b's pulled file differs"
  wait "$probe_pid"
  wait_until 10 a_closed || fail "$method/$load: guest-a's vsock connection still open $(($(now_ms) - t_away)) ms after the PC left"
  local a_state_hold
  a_state_hold=$(relay_field a state)
  local enable_hold connected_hold
  enable_hold=$(count '\[a\] ep0 event ENABLE' "$work/relay.log")
  connected_hold=$(count ': connected' "$work/sim-a.log")
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  local hold=$(($(now_ms) - t_away))
  back "$method"

  # Measured during the hold.
  local slowest failed queries samples ffs
  read -r queries failed slowest < <(sed -E 's/queries=([0-9]+) failed=([0-9]+) slowest_ms=([0-9.]+)/\1 \2 \3/' "$work/probe.txt")
  samples=$(grep -c . "$work/wchan.txt" || true)
  ((samples > hold_ms / 100)) || fail "$method/$load: only $samples wchan samples in $hold ms"
  ffs=$(grep -c '^ffs_' "$work/wchan.txt" || true)
  ((ffs == 0)) || fail "$method/$load: the relay slept in FunctionFS: $(grep '^ffs_' "$work/wchan.txt" | sort | uniq -c | tr '\n' ' ')"
  ((failed == 0)) || fail "$method/$load: $failed of $queries status queries failed during the hold"
  [[ ${slowest%.*} -lt 1000 ]] || fail "$method/$load: the status socket took $slowest ms to answer during the hold"
  [[ $(relay_field b sessions) == "$b_sessions" ]] || fail "$method/$load: guest-b's session was reset"
  local t_disable t_closed
  t_disable=$(line_ms '\[a\] ep0 event DISABLE' "$work/relay.log" $((disable_before + 1))) ||
    fail "$method/$load: the relay logged no DISABLE for guest a"
  t_closed=$(line_ms ': closed (' "$work/sim-a.log" $((closed_before + 1)))
  local close_ms=$((t_closed - t_disable))
  ((close_ms <= 500)) || fail "$method/$load: guest-a's vsock connection closed $close_ms ms after DISABLE"
  ((enable_hold == enable_before)) || fail "$method/$load: the device was configured again during the hold"
  ((connected_hold == connected_before)) || fail "$method/$load: the relay reconnected to guest a while the PC was away"
  [[ $a_state_hold == '"waiting for the PC to come back"' ]] ||
    fail "$method/$load: guest a's state during the hold was $a_state_hold"

  # Given back: configured once, and adb works on it.
  wait_state guest-a device 20 || fail "$method/$load: guest-a did not come back: $(adb devices)"
  [[ $(adbt -s guest-a shell echo back) == back ]] || fail "$method/$load: shell on guest-a after it came back"
  local enables=$(($(count '\[a\] ep0 event ENABLE' "$work/relay.log") - enable_before))
  ((enables == 1)) || fail "$method/$load: guest-a was configured $enables times after it came back"
  if [[ -n $push_pid ]]; then
    # The push was cut off with the device; it must have ended, not hung.
    wait_until 10 eval '! kill -0 '"$push_pid"' 2>/dev/null' || fail "$method/$load: the interrupted push still runs"
    wait "$push_pid" 2>/dev/null || true
  fi
  printf '%-10s %-8s hold %5d ms: status slowest %5.1f ms of %3d queries; %3d wchan samples, none in FunctionFS; guest-b 4 MiB push+pull equal; guest-a vsock closed %4d ms after DISABLE; back with 1 enumeration\n' \
    "$method" "$load" "$hold" "$slowest" "$queries" "$samples" "$close_ms"
}

for method in port authorized unbind; do
  for load in idle transfer; do
    scenario "$method" "$load"
  done
done
echo "ok: a PC-side unplug of one guest never blocks the relay; the other guest works throughout"
