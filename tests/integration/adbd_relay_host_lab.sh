#!/usr/bin/env bash
# adbd-relay host mode end to end, in the lab guest. The relay's own gadget mode provides
# the "attached ADB device" on the host side of dummy_hcd, so host mode's libusb works
# against a real usbfs (/dev/bus/usb):
#
#   adb server --tcp--> adbd-relay (host mode, libusb) --USB (dummy_hcd)--> adbd-relay
#   (gadget mode, FunctionFS) --vsock:1:5555--> adbd-sim
#
# Shows: adb connect + shell echo + a 4 MiB push/pull with equal checksums through host
# mode; the device unplugged (gadget relay stopped) -> the host-mode session ends and the
# stream closes; the device plugged in again -> host mode serves it again; a second
# connection while one is served is refused; `adb connect vsock:1:PORT` (what a guest does
# with CID 2); with udevd started, a second host-mode relay uses libusb's hotplug events
# and sees the device leave and come back.
# usage (in the lab): adbd_relay_host_lab.sh ADBD_RELAY ADBD_SIM
set -euo pipefail
relay=$1
sim=$2
vport=5555
hport=15555                 # host mode's tcp listener
vhport=15556                # and its vsock listener (CID 1 is this guest's vsock loopback)
serial="relay-host-lab"
target=127.0.0.1:$hport     # how adb names a connected TCP device
udevd_started=
lab_cleanup_hook() { [[ -z $udevd_started ]] || udevadm control --exit 2>/dev/null || true; }
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
logs+=("$work/host.log" "$work/hotplug.log" "$work/gadget.log" "$work/sim.log")

# The adb server scans USB itself and would claim the very device host mode serves. Every
# adb command (any of which may start the server) runs in its own mount namespace with an
# empty tmpfs over /dev/bus/usb, so the server never sees a USB device; it reaches the
# device only through host mode's TCP listener. (unshare makes the mount private to it.)
LAB_ADB=adbx
adbx() {
  unshare -m sh -c 'mount -t tmpfs none /dev/bus/usb && exec adb "$@"' adb "$@"
}

log_has() { (( $(grep -c -- "$2" "$1" 2>/dev/null || true) >= $3 )); }  # log_has FILE PATTERN COUNT
wait_log() {  # wait_log FILE PATTERN COUNT SECONDS: until PATTERN occurs COUNT times
  wait_until --every 0.05 "$4" log_has "$1" "$2" "$3"
}

start_gadget() {
  "$relay" --guest "vsock:1:$vport" --serial "$serial" --control "$work/gadget.control" \
    >>"$work/gadget.log" 2>&1 &
  gadget_pid=$!
}

mkdir -p "$work/root"
"$sim" --listen "vsock:any:$vport" --root "$work/root" >"$work/sim.log" 2>&1 &
start_gadget
"$relay" --host-listen "tcp:127.0.0.1:$hport" --host-serial "$serial" \
  --host-listen "vsock:any:$vhport" --host-serial "$serial" --host-allow-cid 1 \
  --control "$work/host.control" --log-level debug >"$work/host.log" 2>&1 &

wait_log "$work/host.log" "rescanning /sys/bus/usb/devices" 1 10 ||
  fail "host mode did not say how it discovers devices"
wait_log "$work/host.log" "ADB device attached: .*serial $serial" 1 30 ||
  fail "host mode never saw the gadget's ADB device"
grep -m1 'discovered' "$work/host.log" | sed 's/.*info: //'
grep -m1 'ADB device attached' "$work/host.log" | sed 's/.*info: /host mode: /'

out=$(adbx connect "$target" 2>&1) || true
wait_state "$target" device 20 || fail "adb connect $target: '$out'; devices: $(adbx devices)"
echo "adb connect $target: $out"

out=$(adbx -s "$target" shell echo ok)
[[ $out == ok ]] || fail "shell echo ok printed '$out'"
echo "adb -s $target shell echo ok: $out"

head -c $((4 * 1024 * 1024)) /dev/urandom >"$work/in.bin"
t0=$(now_ms)
adbx -s "$target" push "$work/in.bin" /push.bin >/dev/null || fail "adb push"
t1=$(now_ms)
adbx -s "$target" pull /push.bin "$work/out.bin" >/dev/null || fail "adb pull"
t2=$(now_ms)
sum_in=$(sha256sum <"$work/in.bin" | cut -d' ' -f1)
sum_out=$(sha256sum <"$work/out.bin" | cut -d' ' -f1)
[[ $sum_in == "$sum_out" ]] || fail "pulled file differs from pushed file"
echo "push+pull 4 MiB through host mode: equal sha256 ${sum_in:0:16}...; push $((t1 - t0)) ms, pull $((t2 - t1)) ms (TCG guest)"
grep -q "\[host0\] bridging tcp:" "$work/host.log" || fail "no session in the host log"

# Unplug: the gadget relay stops and removes its gadget; the session must end and the
# adb server's connection close.
kill "$gadget_pid"; wait "$gadget_pid" 2>/dev/null || true
gadget_pid=
wait_log "$work/host.log" "session with .* ended (USB device failed" 1 10 ||
  fail "host-mode session did not end when the device left"
wait_log "$work/host.log" "ADB device left: .*serial $serial" 1 10 ||
  fail "host mode did not notice the device leaving"
echo "unplugged: $(grep -m1 'session with .* ended' "$work/host.log" | sed 's/.*info: //')"
wait_state "$target" offline 10 || [[ -z $(adb_state "$target") ]] ||
  fail "adb still lists $target as usable: $(adbx devices)"
adbx disconnect "$target" >/dev/null 2>&1 || true

# Plug in again: served again on the next connection.
start_gadget
wait_log "$work/host.log" "ADB device attached: .*serial $serial" 2 30 ||
  fail "host mode did not see the device come back"
out=$(adbx connect "$target" 2>&1) || true
wait_state "$target" device 20 || fail "adb connect after replug: '$out'; devices: $(adbx devices)"
out=$(adbx -s "$target" shell echo again)
[[ $out == again ]] || fail "shell after replug printed '$out'"
echo "replugged: served again, shell echo: $out"

# A second connection while adb's session is active is closed at once; adb's goes on.
exec 3<>"/dev/tcp/127.0.0.1/$hport"
timeout 10 cat <&3 >/dev/null || fail "the relay did not close a second connection"
exec 3<&-
wait_log "$work/host.log" "a connection arrived while .* is being served: closing it" 1 10 ||
  fail "the refused connection was not logged"
out=$(adbx -s "$target" shell echo still)
[[ $out == still ]] || fail "shell after a refused second connection printed '$out'"
echo "second connection: refused while adb's session went on (shell echo: $out)"

# The guest's way in: adb connect vsock:CID:PORT. The tcp target is disconnected first,
# and its sessions have ended, so the device is free for the vsock listener.
adbx disconnect "$target" >/dev/null 2>&1 || true
sessions_ended() { (( $(grep -c '\] bridging' "$work/host.log") == $(grep -c '\] session with .* ended' "$work/host.log") )); }
wait_until 10 sessions_ended || fail "tcp sessions did not end after adb disconnect"
target=vsock:1:$vhport
out=$(adbx connect "$target" 2>&1) || true
wait_state "$target" device 20 || fail "adb connect $target: '$out'; devices: $(adbx devices)"
out=$(adbx -s "$target" shell echo vsock)
[[ $out == vsock ]] || fail "shell over $target printed '$out'"
echo "adb connect $target: shell echo: $out"

# libusb's hotplug path: with udevd running (the lab guest has none until we start it), a
# second host-mode relay is told of devices by libusb's hotplug events instead of rescans.
adbx disconnect "$target" >/dev/null 2>&1 || true
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 || fail "cannot start udevd (package udev)"
udevd_started=1
wait_until --every 0.05 10 test -S /run/udev/control || fail "udevd did not create /run/udev/control"
"$relay" --host-listen "tcp:127.0.0.1:$((hport + 2))" --host-serial "$serial" \
  --control "$work/hotplug.control" >"$work/hotplug.log" 2>&1 &
wait_log "$work/hotplug.log" "discovered through libusb hotplug events" 1 10 ||
  fail "with udevd running, host mode did not use libusb's hotplug events"
wait_log "$work/hotplug.log" "ADB device attached: .*serial $serial" 1 10 ||
  fail "hotplug relay did not see the device"
kill "$gadget_pid"; wait "$gadget_pid" 2>/dev/null || true
gadget_pid=
t0=$(now_ms)
wait_log "$work/hotplug.log" "ADB device left: .*serial $serial" 1 10 ||
  fail "hotplug relay did not see the device leave"
t_left=$(( $(now_ms) - t0 ))
start_gadget
wait_log "$work/hotplug.log" "ADB device attached: .*serial $serial" 2 30 ||
  fail "hotplug relay did not see the device come back"
target=127.0.0.1:$((hport + 2))
out=$(adbx connect "$target" 2>&1) || true
wait_state "$target" device 20 || fail "adb connect $target: '$out'; devices: $(adbx devices)"
out=$(adbx -s "$target" shell echo hotplug)
[[ $out == hotplug ]] || fail "shell through the hotplug relay printed '$out'"
echo "udevd running: $(grep -m1 'discovered' "$work/hotplug.log" | sed 's/.*info: //'); unplug logged after $t_left ms, replug served (shell echo: $out)"

"$relay" --status "$work/host.control" >"$work/status.json" || fail "--status"
# host0 served sessions and refused at least one busy connection; no_device is counted.
jq -e '.hosts[] | select(.name == "host0") | .sessions >= 1 and .busy >= 1 and (.no_device | type == "number")' \
  "$work/status.json" >/dev/null || fail "status: $(cat "$work/status.json")"
echo "status: $(jq -c '.hosts[] | select(.name == "host0")' "$work/status.json")"
sessions=$(grep -c "\] bridging" "$work/host.log")
echo "ok: adb through adbd-relay host mode over real usbfs ($sessions sessions)"
