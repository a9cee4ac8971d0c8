#!/usr/bin/env bash
# End-to-end check of the vsock-pipe binary: a client pipes 4 MB of random data through
#   vsock-pipe - (stdio)  ->  FRONT  ->  vsock-pipe listen:FRONT  ->  unix echo (socat)
# and must get back exactly what it sent. FRONT is tcp, unix or vsock (vsock only in the lab).
# Over vsock in the lab it also traces the guest kernel's packets (tracefs): every packet
# vsock-pipe's writes build must be at most one chunk (4 KiB), while the unix side is read
# and written up to 64 KiB at a time; a control run with socat -b 65536 must show larger
# packets, so the check can see a violation.
# usage: vsock_pipe_test.sh PATH/TO/vsock-pipe tcp|unix|vsock
set -euo pipefail

pipe_bin=$1
transport=$2
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/vsock_trace.sh"
make_work_dir
pids=()

socat -t 30 UNIX-LISTEN:"$work/echo.sock",fork EXEC:cat &
pids+=($!)

# TCP and Unix: vsock-pipe binds port 0 / a fresh path and logs what it bound. AF_VSOCK has
# no port 0 to listen on: a port the kernel reports free (tests/lib/common.sh).
case $transport in
  tcp) listen=tcp:127.0.0.1:0 ;;
  unix) listen=unix:$work/front.sock ;;
  vsock) port=$(free_port vsock); listen=vsock:any:$port ;;
  *) echo "unknown transport $transport" >&2; exit 2 ;;
esac

"$pipe_bin" --once "listen:$listen" "unix:$work/echo.sock" 2>"$work/server.log" &
pids+=($!)

# Wait (bounded) for both listeners; the server logs the address it really bound.
listening() { [[ -S $work/echo.sock ]] && grep -q 'listening on' "$work/server.log"; }
wait_until 30 listening || { echo "vsock-pipe did not start listening:"; cat "$work/server.log"; exit 1; }
case $transport in
  vsock) front=vsock:1:$port ;;
  *) front=$(bound_address "$work/server.log") ;;
esac

# The guest kernel's vsock packets are traced in lab guests only.
trace=0
if [[ $transport == vsock && ${VSOCK_LAB:-} == 1 ]]; then
  vsock_trace_require
  trace=1
fi
# shellcheck disable=SC2119  # no --from/--to: every packet
largest_packet() { vsock_trace_lens | sort -n | tail -n1; }

head -c 4194304 /dev/urandom >"$work/in"
((trace)) && vsock_trace_on
timeout 60 "$pipe_bin" "$front" - <"$work/in" >"$work/out" 2>"$work/client.log"
wait "${pids[1]}"  # --once: the server exits after its one connection
if ((trace)); then
  vsock_trace_off
  largest=$(largest_packet)
  [[ -n $largest ]] || { echo "FAIL: no vsock packets traced"; exit 1; }
  if ((largest > 4096)); then
    echo "FAIL: vsock-pipe's writes built a $largest-byte vsock packet (limit: one 4 KiB chunk)"
    exit 1
  fi
  # Control: a relay that writes 64 KiB at a time builds larger packets, and the trace sees them.
  cport=$(free_port vsock)
  socat -u -b 65536 "VSOCK-LISTEN:$cport" OPEN:/dev/null &
  pids+=($!)
  vsock_trace_on
  # until the listener is up (bounded)
  wait_until 30 socat -u -b 65536 OPEN:"$work/in" "VSOCK-CONNECT:1:$cport" 2>/dev/null || true
  vsock_trace_off
  control=$(largest_packet)
  ((${control:-0} > 4096)) || { echo "FAIL: the control (socat -b 65536) traced no packet above 4 KiB (largest ${control:-none})"; exit 1; }
  echo "ok: largest vsock packet $largest bytes through vsock-pipe (socat -b 65536: $control)"
fi

if ! cmp -s "$work/in" "$work/out"; then
  echo "FAIL: $(stat -c %s "$work/out") bytes came back, content differs or is short"
  cat "$work/server.log" "$work/client.log"
  exit 1
fi
grep -q 'done, 4194304 bytes ->, 4194304 bytes <-' "$work/server.log" || {
  echo "FAIL: server did not report a clean pump:"; cat "$work/server.log"; exit 1; }
echo "ok: 4 MiB round trip through vsock-pipe over $transport"
