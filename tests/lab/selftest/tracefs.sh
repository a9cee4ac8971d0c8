#!/usr/bin/env bash
# Lab self-test, runs in the guest: tracefs is mounted and the vsock trace
# events work.  Enables vsock:virtio_transport_alloc_pkt, moves 1 MiB with
# 64 KiB writes over VSOCK CID 1, and expects events with len= in the trace.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_guest

T=/sys/kernel/tracing
[[ -e $T/trace ]] || fail "tracefs is not mounted at $T"
ev=$T/events/vsock/virtio_transport_alloc_pkt
[[ -d $ev ]] || fail "no vsock:virtio_transport_alloc_pkt event (have: $(find $T/events/vsock -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '))"
echo 0 >$T/tracing_on
: >$T/trace
echo 1 >"$ev/enable"
echo 1 >$T/tracing_on

head -c $((1 << 20)) /dev/urandom >/tmp/payload
port=$(free_port vsock)
socat -u -b 65536 "VSOCK-LISTEN:$port" OPEN:/tmp/received,creat,trunc &
listener=$!
wait_until 20 socat -u -b 65536 OPEN:/tmp/payload "VSOCK-CONNECT:1:$port" 2>/dev/null ||
  fail "could not connect to VSOCK 1:$port"
wait "$listener" || fail "listener failed"

echo 0 >$T/tracing_on
echo 0 >"$ev/enable"
grep virtio_transport_alloc_pkt $T/trace >/tmp/events || fail "no virtio_transport_alloc_pkt events in $T/trace"
n=$(wc -l </tmp/events)
max=$(grep -o 'len=[0-9]*' /tmp/events | cut -d= -f2 | sort -n | tail -n1)
[[ -n $max ]] || fail "events carry no len= field: $(head -n1 /tmp/events)"
((max > 0)) || fail "no event with len > 0"
echo "sample: $(grep -m1 'len=[1-9]' /tmp/events | sed 's/^ *//')"
pass "tracefs: $n vsock:virtio_transport_alloc_pkt events, largest len=$max"
