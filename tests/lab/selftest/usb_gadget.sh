#!/usr/bin/env bash
# Lab self-test, runs in the guest: a configfs gadget with a FunctionFS
# function binds to dummy_hcd's UDC and the guest's own USB host side
# enumerates it with interface class ff/42/01.
#
# usage: usb_gadget.sh PATH/TO/lab_ffs_probe
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_guest
probe=${1:?usage: usb_gadget.sh PATH/TO/lab_ffs_probe}
[[ -x $probe ]] || fail "$probe is not an executable (build target lab_ffs_probe)"

CFG=/sys/kernel/config/usb_gadget
[[ -d $CFG ]] || fail "configfs usb_gadget not available (libcomposite loaded? configfs mounted?)"
udc=$(find /sys/class/udc -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | head -n1)
[[ -n $udc ]] || fail "no UDC in /sys/class/udc (dummy_hcd loaded?)"

# Linux Foundation's multifunction composite gadget ids: harmless, unique here.
VID=1d6b PID=0104
G=$CFG/lab
mkdir "$G"
echo 0x$VID >"$G/idVendor"
echo 0x$PID >"$G/idProduct"
mkdir "$G/strings/0x409"
echo vsock-lab >"$G/strings/0x409/manufacturer"
echo "lab ffs probe" >"$G/strings/0x409/product"
echo 0001 >"$G/strings/0x409/serialnumber"
mkdir -p "$G/configs/c.1/strings/0x409"
echo probe >"$G/configs/c.1/strings/0x409/configuration"
mkdir "$G/functions/ffs.lab"
ln -s "$G/functions/ffs.lab" "$G/configs/c.1/"

mkdir -p /tmp/ffs
mount -t functionfs lab /tmp/ffs
"$probe" --timeout 30 --hold 60 /tmp/ffs >/tmp/probe.log 2>&1 &
probe_pid=$!
cleanup() {
  echo "" >"$G/UDC" 2>/dev/null || true
  kill "$probe_pid" 2>/dev/null || true
  wait "$probe_pid" 2>/dev/null || true
}
trap cleanup EXIT

# Descriptors must be on ep0 before the UDC binds.
wait_until 20 grep -q '^ready' /tmp/probe.log || fail "probe not ready: $(cat /tmp/probe.log)"
echo "$udc" >"$G/UDC"
wait_until 30 grep -q '^enabled' /tmp/probe.log || fail "no ENABLE event: $(cat /tmp/probe.log)"
echo "probe events: $(grep '^event' /tmp/probe.log | cut -d' ' -f2 | tr '\n' ' ')"

# Host side, through sysfs: the interface of our vid:pid device.
found=
for dev in /sys/bus/usb/devices/*; do
  [[ -r $dev/idVendor && $(cat "$dev/idVendor") == "$VID" && $(cat "$dev/idProduct") == "$PID" ]] || continue
  for intf in "$dev":*; do
    [[ -r $intf/bInterfaceClass ]] || continue
    cls=$(cat "$intf/bInterfaceClass")/$(cat "$intf/bInterfaceSubClass")/$(cat "$intf/bInterfaceProtocol")
    echo "sysfs: ${intf##*/} class $cls, $(cat "$intf/bNumEndpoints") endpoints"
    [[ $cls == ff/42/01 ]] && found=$intf
  done
done
[[ -n $found ]] || fail "no interface ff/42/01 under /sys/bus/usb/devices for $VID:$PID"

# And through lsusb (usbfs under /dev/bus/usb).
lsusb -d "$VID:$PID" || fail "lsusb does not list $VID:$PID"
lsusb -v -d "$VID:$PID" 2>/dev/null >/tmp/lsusb.txt || true
{ grep -E 'bInterfaceClass +255' /tmp/lsusb.txt >/dev/null &&
  grep -E 'bInterfaceSubClass +66' /tmp/lsusb.txt >/dev/null &&
  grep -E 'bInterfaceProtocol +1' /tmp/lsusb.txt >/dev/null; } ||
  fail "lsusb -v does not show interface 255/66/1: $(grep -E 'bInterface|bEndpointAddress' /tmp/lsusb.txt)"
echo "lsusb -v: $(grep -cE 'bEndpointAddress' /tmp/lsusb.txt) endpoints: $(grep -E 'bEndpointAddress' /tmp/lsusb.txt | awk '{print $2, $5}' | tr '\n' ' ')"
pass "usb gadget: FunctionFS function enumerated as ff/42/01 on $udc"
