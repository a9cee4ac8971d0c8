#!/usr/bin/env bash
# Small packets under backpressure, in the lab guest (real AF_VSOCK over vsock_loopback).
# Since Linux 6.12.92 a vsock stream is reset when the overhead of the packets queued at the
# receiver exceeds its receive window: a sender of many small messages and a reader that
# pauses can kill a connection. The same sender (2 MiB in writes of 1..600 bytes, as fast
# as the socket takes them) runs twice into a reader that pauses 6 s before reading:
#   direct:  sender -> vsock:1:P                        (the kernel's behaviour: reported)
#   relay:   sender -> unix -> vsock-pipe -> vsock:1:P  (ours: must arrive whole)
# The guest's packet sizes are traced for both, so the report shows what each path asked of
# the kernel (the count of packets of 600 bytes or less).
# usage: small_packets_lab.sh PATH/TO/vsock-pipe      (in the lab: VSOCK_LAB=1)
# Exit: 0 the relay path arrived whole, 1 it did not, 77 not in a lab guest.
set -euo pipefail

pipe_bin=$1
tool=$(dirname "$0")/small_packets.py
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "skip: needs the lab guest (vsock_loopback)"; exit 77; }
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/vsock_trace.sh"
make_work_dir
fail_hook() { show_logs --prefix 20 "$work"/*.log; }

vsock_trace_require
cleanup_hook() { vsock_trace_off; }
# packets: "N packets, M of 600 bytes or less" of the data packets traced
# shellcheck disable=SC2119  # no --from/--to: every packet
packets() {
  vsock_trace_lens | awk '{ n++; if ($1 <= 600) s++ } END { printf "%d packets, %d of 600 bytes or less", n, s }'
}

# run NAME PORT TO: one sender into a pausing reader on PORT; leaves NAME.send and NAME.recv
run() {
  local name=$1 port=$2 to=$3
  python3 "$tool" recv --port "$port" --pause 6 >"$work/$name.recv" 2>"$work/$name-recv.log" &
  local rpid=$!
  wait_until 90 grep -q listening "$work/$name-recv.log" || fail "$name: the reader did not start"
  vsock_trace_on
  timeout 120 python3 "$tool" send --to "$to" --bytes 2097152 >"$work/$name.send" 2>"$work/$name-send.log" ||
    fail "$name: the sender failed"
  wait "$rpid" || fail "$name: the reader failed"
  vsock_trace_off
  echo "$name: $(packets) (${SECONDS} s into the test)"
}
field() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }  # field FILE KEY: from "key=value ..."

# The reader (small_packets.py) cannot report a port it picked: two vsock ports the kernel
# reports free.
ports=$(free_port vsock 2) || fail "no free vsock ports"
read -r dport rport <<<"${ports//$'\n'/ }"
echo "kernel $(uname -r)"

run direct "$dport" "vsock:1:$dport"
d_err=$(field "$work/direct.send" error) d_got=$(field "$work/direct.recv" bytes) d_rerr=$(field "$work/direct.recv" error)
if [[ $d_err == none && $d_rerr == none && $(field "$work/direct.send" sha256) == "$(field "$work/direct.recv" sha256)" ]]; then
  echo "direct: 2097152 bytes in $(field "$work/direct.send" writes) writes arrived whole (no reset by this kernel)"
else
  echo "direct: the kernel ended the stream: sender ${d_err}, reader ${d_rerr}, $d_got of 2097152 bytes (kernel behaviour, not ours)"
fi

"$pipe_bin" --once "listen:unix:$work/in.sock" "vsock:1:$rport" 2>"$work/pipe.log" &
wait_until 90 grep -q 'listening on' "$work/pipe.log" || fail "vsock-pipe did not start listening"
run relay "$rport" "unix:$work/in.sock"
r_err=$(field "$work/relay.send" error) r_rerr=$(field "$work/relay.recv" error) r_got=$(field "$work/relay.recv" bytes)
[[ $r_err == none && $r_rerr == none ]] || fail "relay: the stream was ended: sender $r_err, reader $r_rerr, $r_got of 2097152 bytes"
[[ $r_got == 2097152 && $(field "$work/relay.send" sha256) == "$(field "$work/relay.recv" sha256)" ]] ||
  fail "relay: $r_got of 2097152 bytes, or their sha256 differs"
echo "ok: through vsock-pipe, 2097152 bytes in $(field "$work/relay.send" writes) small writes arrived whole past a 6 s pause"
