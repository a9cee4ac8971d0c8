#!/usr/bin/env bash
# End-to-end check of the vsock-pipe binary: a client pipes 4 MB of random data through
#   vsock-pipe - (stdio)  ->  FRONT  ->  vsock-pipe listen:FRONT  ->  unix echo (socat)
# and must get back exactly what it sent. FRONT is tcp, unix or vsock (vsock only in the lab).
# usage: vsock_pipe_test.sh PATH/TO/vsock-pipe tcp|unix|vsock
set -euo pipefail

pipe_bin=$1
transport=$2
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

socat -t 30 UNIX-LISTEN:"$work/echo.sock",fork EXEC:cat &
pids+=($!)

case $transport in
  tcp) listen=tcp:127.0.0.1:0 ;;
  unix) listen=unix:$work/front.sock ;;
  vsock) port=$((20000 + $$ % 20000)); listen=vsock:any:$port ;;
  *) echo "unknown transport $transport" >&2; exit 2 ;;
esac

"$pipe_bin" --once "listen:$listen" "unix:$work/echo.sock" 2>"$work/server.log" &
pids+=($!)

# Wait (bounded) for both listeners; the server logs the address it really bound.
front=
for _ in $(seq 100); do
  if [[ -S $work/echo.sock ]] && grep -q 'listening on' "$work/server.log"; then
    bound=$(grep -o 'listening on [^,]*' "$work/server.log" | head -1 | cut -d' ' -f3)
    case $transport in
      vsock) front=vsock:1:$port ;;
      *) front=$bound ;;
    esac
    break
  fi
  sleep 0.05
done
[[ -n $front ]] || { echo "vsock-pipe did not start listening:"; cat "$work/server.log"; exit 1; }

head -c 4194304 /dev/urandom >"$work/in"
timeout 60 "$pipe_bin" "$front" - <"$work/in" >"$work/out" 2>"$work/client.log"
wait "${pids[1]}"  # --once: the server exits after its one connection

if ! cmp -s "$work/in" "$work/out"; then
  echo "FAIL: $(stat -c %s "$work/out") bytes came back, content differs or is short"
  cat "$work/server.log" "$work/client.log"
  exit 1
fi
grep -q 'done, 4194304 bytes ->, 4194304 bytes <-' "$work/server.log" || {
  echo "FAIL: server did not report a clean pump:"; cat "$work/server.log"; exit 1; }
echo "ok: 4 MiB round trip through vsock-pipe over $transport"
