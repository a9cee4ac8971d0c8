#!/usr/bin/env bash
# adbd-relay serving two guests on two UDCs (the lab loads dummy_hcd with num=2), with
# Debian's real adb on the host side of both:
#
#   adb -> dummy_udc.0 -> adbd-relay -> vsock:1:5555 -> adbd-sim              ("good")
#   adb -> dummy_udc.1 -> adbd-relay -> vsock:1:5556 -> a guest that breaks ADB ("bad")
#
# Shows: both guests are served independently; the bad guest's malformed messages (a bad
# magic, then an oversized data_length) reset only its own session, each with a log line
# that names what was wrong, while the good guest's single session carries traffic
# throughout; and adbd-relay's memory after many sessions equals that after the first.
# usage (in the lab, with --module-option 'dummy_hcd num=2'): adbd_relay_guests_lab.sh ADBD_RELAY ADBD_SIM
set -euo pipefail
relay=$1
sim=$2
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
adb start-server >/dev/null 2>&1
logs+=("$work/relay.log" "$work/sim.log" "$work/bad.log")

[[ -e /sys/class/udc/dummy_udc.1 ]] || fail "no second UDC (run the lab with --module-option 'dummy_hcd num=2')"

# ADB headers as bytes: command, arg0, arg1, data_length, checksum, magic (little endian).
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
header() {
  local out="" v
  for v in "$@"; do out+=$(le32 "$v"); done
  printf '%b' "$out"
}
CNXN=0x4e584e43 WRTE=0x45545257
header $CNXN 0x01000001 4096 0 0 0 >"$work/bad-magic.bin"                             # magic must be ~command
header $WRTE 1 1 $((32 << 20)) 0 $((WRTE ^ 0xffffffff)) >"$work/oversized.bin"       # 32 MiB > any maximum

# The bad guest: reads the PC's first header, then answers with FILE. One per connection.
cat >"$work/bad-guest.sh" <<'SH'
#!/bin/sh
head -c 24 >/dev/null
cat "$1"
sleep 10
SH
chmod +x "$work/bad-guest.sh"
start_bad() {
  socat VSOCK-LISTEN:5556,reuseaddr,fork EXEC:"$work/bad-guest.sh $1" >>"$work/bad.log" 2>&1 &
  bad_pid=$!
}

mkdir -p "$work/root"
"$sim" --listen vsock:any:5555 --root "$work/root" >"$work/sim.log" 2>&1 &
sim_pid=$!
start_bad "$work/bad-magic.bin"
cat >"$work/relay.conf" <<CONF
[relay]
control_socket = $work/control
log_level = debug
[guest good]
address = vsock:1:5555
udc = dummy_udc.0
serial = guest-good
[guest bad]
address = vsock:1:5556
udc = dummy_udc.1
serial = guest-bad
CONF
"$relay" -c "$work/relay.conf" >"$work/relay.log" 2>&1 &
relay_pid=$!

status() { "$relay" --status "$work/control"; }
wait_log() { wait_until --every 0.2 "$2" grep -q "$1" "$work/relay.log"; }  # wait_log PATTERN SECONDS

wait_state guest-good device 30 || fail "adb devices never listed guest-good: $(adb devices)"
echo "adb devices: $(adb devices | grep guest- | tr '\n' ' ')"
[[ $(adb -s guest-good shell echo ok) == ok ]] || fail "shell on guest-good"

# The bad guest's first session ends on the bad magic; the relay names it.
wait_log 'bad magic' 30 || fail "no log line about the bad magic"
echo "bad guest, bad magic: $(grep -m1 'bad magic' "$work/relay.log" | cut -c1-160)"

# Traffic on the good guest while the bad one keeps failing.
head -c $((4 << 20)) /dev/urandom >"$work/in.bin"
adb -s guest-good push "$work/in.bin" /in.bin >/dev/null || fail "push to guest-good"
kill "$bad_pid"; wait "$bad_pid" 2>/dev/null || true
start_bad "$work/oversized.bin"
wait_log 'exceeds the maximum payload' 30 || fail "no log line about the oversized message"
echo "bad guest, oversized: $(grep -m1 'exceeds the maximum payload' "$work/relay.log" | cut -c1-160)"
adb -s guest-good pull /in.bin "$work/out.bin" >/dev/null || fail "pull from guest-good"
cmp -s "$work/in.bin" "$work/out.bin" || fail "guest-good: pulled file differs from pushed file"

good_sessions=$(relay_field good sessions)
bad_errors=$(relay_field bad protocol_errors)
[[ $good_sessions == 1 ]] || fail "guest-good was reset: $good_sessions sessions; $(status)"
((bad_errors >= 2)) || fail "guest-bad: $bad_errors protocol errors counted, expected >= 2; $(status)"
echo "status: good: 1 session, 4 MiB push+pull equal; bad: $bad_errors protocol errors"
kill "$bad_pid"; wait "$bad_pid" 2>/dev/null || true

# Memory: many sessions cost no more than one. Each cycle the guest's adbd restarts, the
# device leaves and comes back, and a new session moves 1 MiB.
head -c $((1 << 20)) /dev/urandom >"$work/mib.bin"
cycle() {
  kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
  wait_state guest-good gone 10 || fail "guest-good still listed after adbd-sim stopped"
  "$sim" --listen vsock:any:5555 --root "$work/root" >>"$work/sim.log" 2>&1 &
  sim_pid=$!
  wait_state guest-good device 15 || fail "guest-good did not come back"
  adb -s guest-good push "$work/mib.bin" /mib.bin >/dev/null || fail "push in cycle"
}
cycle
rss_one=$(rss_kib "$relay_pid")
cycles=${CYCLES:-8}
for ((i = 0; i < cycles; i++)); do cycle; done
rss_many=$(rss_kib "$relay_pid")
sessions=$(relay_field good sessions)
echo "adbd-relay RSS: ${rss_one} KiB after 2 sessions, ${rss_many} KiB after $sessions (of guest-good; guest-bad had $bad_errors)"
# Allocator noise only: a leak of one session's buffers (2 x 8 x 4 KiB queued transfers)
# per cycle would add far more than this over the cycles.
((rss_many - rss_one <= 128)) || fail "RSS grew by $((rss_many - rss_one)) KiB over $cycles sessions"
echo "ok: two guests independent, malformed guest messages reset only their session, memory flat"
