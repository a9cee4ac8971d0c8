#!/usr/bin/env bash
# adbd-relay through adb's libusb backend (ADB_LIBUSB=1), which finds devices by libusb's
# hotplug events, in the lab with udevd running (Debian's libusb takes its hotplug events
# from udevd, not from the kernel):
#
#   adb (libusb hotplug) -> dummy_hcd -> dummy_udc.0 -> adbd-relay -> vsock:1:5555 -> adbd-sim
#
# adbd-sim is killed and restarted RESTARTS times (default 4). Each restart makes the relay
# hide its USB function and show it again once the new adbd-sim answers: the PC side sees
# the device leave and come back. Per restart the uevents (kernel and udevd, netlink groups
# 1 and 2), `adb devices` and a shell are timed, and the recovery is split into
#   relay  adbd-sim listens      -> the kernel's "add" of the new USB device (what we own)
#   udevd  kernel "add"          -> udevd's "add" of it (libusb's hotplug source)
#   adb    udevd's "add"         -> `adb devices` lists it as "device" (adb's own delay)
#   total  adbd-sim listens      -> `adb -s SERIAL shell echo ok` answers
# Asserted (each can fail):
#  - the adb server runs its libusb backend (`adb host-features` lists libusb);
#  - per restart, the old USB device is removed and a new one added within RELAY_BOUND s
#    (default 10) of adbd-sim listening, with the configured serial;
#  - udevd passes both on (its "remove" and "add"), so libusb's hotplug has its events;
#  - adb lists the device again and a shell on it works within TOTAL_BOUND s (default 60);
#  - the relay counted no protocol error;
#  - with usbmon loaded (tests/lab/run --load usbmon), no USB transfer of the device ended
#    in a stall (-32), and each of adb's CLEAR_FEATURE(ENDPOINT_HALT) requests succeeded.
# Reported, not asserted (the client's): adb servers that died during the run (each is
# started again by the next adb command), with the last lines of the first one's log.
# KEEP_LOGS=DIR keeps the logs (the adb server's full trace too) in DIR.
# LIBUSB=0 runs the same with adb's default backend (its scan of /dev/bus/usb), to compare.
# usage (in the lab): adbd_relay_libusb_lab.sh ADBD_RELAY ADBD_SIM
#   exit 0 pass, 1 fail, 77 skip (not in the lab, or no udevd)
set -euo pipefail
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "skip: run me in the lab: tests/lab/run -- $0 ..."; exit 77; }
relay=$1
sim=$2
restarts=${RESTARTS:-4}
relay_bound=${RELAY_BOUND:-10}
total_bound=${TOTAL_BOUND:-60}
libusb=${LIBUSB:-1}
udevd=/lib/systemd/systemd-udevd
[[ -x $udevd ]] || { echo "skip: no $udevd"; exit 77; }
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
serial="libusb-lab"
logs+=("$work/relay.log" "$work/sim.log" "$work/uevents.txt" "$work/adb-usb.log")
usbmon=/sys/kernel/debug/usb/usbmon/0u

lab_cleanup_hook() {
  if [[ -n ${KEEP_LOGS:-} ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$work"/*.log "$work"/*.txt "$KEEP_LOGS/" 2>/dev/null || true
  fi
  [[ -f $work/sim.pid ]] && kill "$(cat "$work/sim.pid")" 2>/dev/null
  [[ -n ${udevd_pid:-} ]] && kill "$udevd_pid" 2>/dev/null
  return 0
}

# udevd, and a monitor of its events and the kernel's (SUBSYSTEM usb), one a line:
#   EPOCH_MS KERNEL|UDEV ACTION DEVPATH DEVTYPE SERIAL(or -)
"$udevd" >"$work/udevd.log" 2>&1 &
udevd_pid=$!
wait_until 30 test -S /run/udev/control || fail "udevd did not start: $(cat "$work/udevd.log")"
cat >"$work/uevents.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((0, 3))  # group 1: the kernel's events, group 2: udevd's
print("ready")
while True:
    d = s.recv(1 << 16)
    t = int(time.time() * 1000)
    if d.startswith(b"libudev\0"):  # udevd's header: properties at offset/length 16..24
        off, n = int.from_bytes(d[16:20], "little"), int.from_bytes(d[20:24], "little")
        src, fields = "UDEV", d[off:off + n].split(b"\0")
    else:
        src, fields = "KERNEL", d.split(b"\0")[1:]
    p = dict(f.decode(errors="replace").split("=", 1) for f in fields if b"=" in f)
    if p.get("SUBSYSTEM") != "usb":
        continue
    print(t, src, p.get("ACTION"), p.get("DEVPATH"), p.get("DEVTYPE", "-"),
          p.get("ID_SERIAL_SHORT", "-"))
PY
python3 -u "$work/uevents.py" >"$work/uevents.txt" 2>&1 &
wait_until 60 grep -q ready "$work/uevents.txt" || fail "the uevent monitor did not start"
if [[ -r $usbmon ]]; then
  cat "$usbmon" >"$work/usbmon.txt" &
else
  echo "note: no usbmon (tests/lab/run --load usbmon): no USB capture"
fi

# The adb server inherits ADB_LIBUSB; its trace (usb, transport) goes to $TMPDIR/adb.UID.log.
if ((libusb)); then export ADB_LIBUSB=1; else unset ADB_LIBUSB; fi
TMPDIR=$work ADB_TRACE="usb transport" adb start-server >/dev/null 2>&1
# On failure, the lines of its log that say what happened to a device, then the other logs.
fail_hook() {
  grep -E 'usb_libusb|usb_linux|transport\.cpp' "$work/adb.$UID.log" 2>/dev/null |
    grep -E 'registered|disconnected|connected|failed|destroying|found potential|opened|kick' >"$work/adb-usb.log" || true
  local l
  for l in "${logs[@]}"; do
    [[ -f $l ]] && sed "s|^|${l##*/}: |" "$l"
  done
  return 0
}
server_pid() { pgrep -f 'adb .*fork-server server' | head -1; }
first_server=$(server_pid)
[[ -n $first_server ]] || fail "no adb server process"
features=$(adb host-features)
if ((libusb)); then
  [[ ,$features, == *,libusb,* ]] || fail "ADB_LIBUSB=1 but the adb server does not run its libusb backend (host-features: $features)"
  echo "adb server: libusb backend, udevd running"
else
  [[ ,$features, != *,libusb,* ]] || fail "LIBUSB=0 but the adb server lists libusb"
  echo "adb server: default backend (for comparison), udevd running"
fi

restart_sim() {  # kill adbd-sim if it runs, start a new one, return once it listens
  if [[ -f $work/sim.pid ]]; then
    local old
    old=$(cat "$work/sim.pid")
    kill "$old" 2>/dev/null || true
    wait_until 10 eval "! kill -0 $old 2>/dev/null" || fail "adbd-sim $old did not stop"
  fi
  local n
  n=$(grep -c 'listening on' "$work/sim.log" 2>/dev/null || true)
  setsid "$sim" --listen vsock:any:5555 --root "$work/root" >>"$work/sim.log" 2>&1 </dev/null &
  echo $! >"$work/sim.pid"
  # shellcheck disable=SC2016  # expanded by eval, each time
  wait_until 30 eval '(( $(grep -c "listening on" "$work/sim.log") > n ))' || fail "adbd-sim did not listen"
}
# The time (ms since the epoch) of the last line of FILE matching PATTERN, from its
# "YYYY-MM-DD HH:MM:SS.mmm" head.
last_ms() {
  local line
  line=$(grep -- "$1" "$2" | tail -1)
  [[ -n $line ]] || return 1
  date -d "${line:0:23}" +%s%3N
}
# The time of the first uevent after AFTER_MS: uevent_ms AFTER_MS SRC ACTION (usb_device).
uevent_ms() {
  awk -v after="$1" -v src="$2" -v action="$3" \
    '$1 >= after && $2 == src && $3 == action && $5 == "usb_device" { print $1; exit }' "$work/uevents.txt"
}
listed() { [[ $(adb_state "$serial") == device ]]; }
added_since() { [[ -n $(uevent_ms "$1" KERNEL add) ]]; }
udev_seen() { [[ -n $(uevent_ms "$1" UDEV "$2") ]]; }
removed_since() { [[ -n $(uevent_ms "$1" KERNEL remove) ]]; }
shell_ok() { [[ $(timeout 10 adb -s "$serial" shell echo ok 2>/dev/null) == ok ]]; }
usb_dev_by_serial() {  # the sysfs name of the USB device with our serial
  local d
  for d in /sys/bus/usb/devices/*; do
    [[ -f $d/serial && $(cat "$d/serial") == "$serial" ]] && { basename "$d"; return 0; }
  done
  return 1
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
worst() { printf '%s\n' "$@" | sort -n | tail -1; }

mkdir -p "$work/root"
touch "$work/sim.log"
restart_sim
"$relay" --guest vsock:1:5555 --serial "$serial" --control "$work/control" --log-level debug \
  >"$work/relay.log" 2>&1 &
wait_until "$total_bound" listed || fail "adb never listed $serial at start: $(adb devices)"
wait_until 30 shell_ok || fail "no shell on $serial at start"
echo "adb sees $serial; $restarts restarts of adbd-sim follow"

declare -a r_relay r_udev r_adb r_shell r_total
for ((i = 1; i <= restarts; i++)); do
  t_kill=$(now_ms)
  restart_sim
  t_listen=$(last_ms 'listening on' "$work/sim.log")
  ((t_listen >= t_kill - 1000)) || fail "restart $i: adbd-sim's log has no new listening line"
  wait_until 30 removed_since "$t_kill" ||
    fail "restart $i: the kernel never removed the old USB device (the relay did not hide it)"
  # When adb lists it again: a waiting client (started now, while the relay and the PC's
  # kernel are at work, so its own start-up in the TCG guest is not counted) returns once
  # the server has the device online.
  for attempt in 1 2 3; do
    timeout "$total_bound" adb -s "$serial" wait-for-usb-device >/dev/null 2>&1 ||
      fail "restart $i: adb did not list $serial again within $total_bound s: $(adb devices | tr '\n' ' ')"
    t_listed=$(now_ms)
    wait_until "$total_bound" added_since "$t_kill" || fail "restart $i: no new USB device on the PC side within $total_bound s"
    # Listed before the new device came: still the old one, on its way out. Wait again.
    (($(uevent_ms "$t_kill" KERNEL add) <= t_listed)) && break
    ((attempt < 3)) || fail "restart $i: adb still listed the old device"
    sleep 0.5
  done
  wait_until 30 shell_ok || fail "restart $i: adb listed $serial but no shell on it worked for 30 s"
  t_ok=$(now_ms)
  t_add=$(uevent_ms "$t_kill" KERNEL add)
  [[ -n $t_add ]] || fail "restart $i: adb lists $serial but the kernel reported no new USB device"
  ((t_add - t_listen <= relay_bound * 1000)) ||
    fail "restart $i: the new USB device came $((t_add - t_listen)) ms after adbd-sim listened (bound ${relay_bound} s)"
  # udevd's own pace (LIBUSB=0 does not wait for it); 30 s covers what a loaded TCG guest took.
  wait_until 30 udev_seen "$t_kill" remove || fail "restart $i: udevd never passed on the removal of the old USB device"
  wait_until 30 udev_seen "$t_add" add || fail "restart $i: udevd never passed on the kernel's add of the USB device"
  t_uadd=$(uevent_ms "$t_add" UDEV add)
  dev=$(usb_dev_by_serial) || fail "restart $i: no USB device with serial $serial in sysfs"
  r_relay+=($((t_add - t_listen)))
  r_udev+=($((t_uadd - t_add)))
  r_adb+=($((t_listed - t_uadd)))
  r_shell+=($((t_ok - t_listed)))
  r_total+=($((t_ok - t_listen)))
  printf 'restart %d: recovery %6d ms = relay %5d (adbd-sim listens -> kernel adds %s) + udevd %5d (-> its add) + adb %5d (-> listed) + %5d (-> shell ok)\n' \
    "$i" "${r_total[-1]}" "${r_relay[-1]}" "$dev" "${r_udev[-1]}" "${r_adb[-1]}" "${r_shell[-1]}"
  sleep 1  # the next kill then ends a settled session
done

[[ $(relay_field guest0 protocol_errors) == 0 ]] || fail "the relay counted protocol errors: $("$relay" --status "$work/control")"
if [[ -f $work/usbmon.txt ]]; then
  # usbmon text: URB TIME S|C TYPE:BUS:DEV:EP STATUS ...; a completion's status -32 is a stall.
  stalls=$(awk '$3 == "C" && $5 == "-32"' "$work/usbmon.txt" | wc -l)
  ((stalls == 0)) || fail "$stalls USB transfers stalled: $(awk '$3 == "C" && $5 == "-32"' "$work/usbmon.txt" | head -5)"
  # adb's CLEAR_FEATURE(ENDPOINT_HALT) (bmRequestType 02, bRequest 01) on each endpoint:
  # the submission and its completion share the URB tag.
  read -r clears cleared < <(awk '
    $3 == "S" && $4 ~ /^Co:/ && $6 == "02" && $7 == "01" { pending[$1] = 1; n++ }
    $3 == "C" && ($1 in pending) { if ($5 == "0") ok++; delete pending[$1] }
    END { print n + 0, ok + 0 }' "$work/usbmon.txt")
  ((clears == cleared)) || fail "$((clears - cleared)) of adb's $clears CLEAR_FEATURE(ENDPOINT_HALT) requests failed"
  echo "usbmon: $(wc -l <"$work/usbmon.txt") lines, no stall, $clears CLEAR_FEATURE(ENDPOINT_HALT) requests, all succeeded"
fi
if [[ $(server_pid) != "$first_server" ]]; then
  echo "client defect: the adb server (pid $first_server) died during the run; its last log lines:"
  grep -vE 'fdevent|adb_io|sockets\.cpp|adb\.cpp|transfer callback|callback successfully|transfer complete' \
    "$work/adb.$UID.log" | tail -15 | sed 's/^/  adb server: /'
fi
printf 'median / worst of %d restarts (ms): total %d / %d; relay %d / %d; udevd %d / %d; adb to list %d / %d; to a shell %d / %d\n' \
  "$restarts" "$(median "${r_total[@]}")" "$(worst "${r_total[@]}")" \
  "$(median "${r_relay[@]}")" "$(worst "${r_relay[@]}")" "$(median "${r_udev[@]}")" "$(worst "${r_udev[@]}")" \
  "$(median "${r_adb[@]}")" "$(worst "${r_adb[@]}")" "$(median "${r_shell[@]}")" "$(worst "${r_shell[@]}")"
echo "ok: $restarts adbd-sim restarts; each time the device re-enumerated within ${relay_bound} s and adb ($( ((libusb)) && echo libusb || echo default) backend) worked with it again"
