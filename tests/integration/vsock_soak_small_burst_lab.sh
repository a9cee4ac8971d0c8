#!/usr/bin/env bash
# vsock-soak's small-packets fault (--small-burst-every) on real AF_VSOCK in the lab guest:
#
#   vsock-soak run -> unix -> vsock-pipe -> vsock:1:PORT -> vsock-soak serve
#
# Every 6 s one stream stops reading its echoes for 3 s while it keeps up to 2048 messages
# of 1..600 bytes in flight. serve echoes each message in one write, so one small vsock
# packet each; once the unix side is full they queue at vsock-pipe's vsock socket behind a
# reader that paused. Since Linux 6.12.92 a receiver resets a stream whose queued packets
# cost more than its window: a reset would break a connection.
# Checks: nothing lost or corrupted, no connection broken, at least 4 bursts, and the kernel
# built small packets from serve's port (traced: else nothing was tested).
# usage (in the lab): vsock_soak_small_burst_lab.sh VSOCK_SOAK VSOCK_PIPE [SECONDS]
set -euo pipefail
soak=$1
pipe_bin=$2
duration=${3:-60}
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "skip: needs the lab guest (vsock_loopback)"; exit 77; }
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/soak_lib.sh"
source "$(dirname "$0")/../lib/vsock_trace.sh"
make_work_dir
fail_hook() { show_logs --prefix 40 "$work"/*.log; }
vsock_trace_require
cleanup_hook() { vsock_trace_off; }

port=$(free_port vsock) || fail "no free vsock port"
echo "kernel $(uname -r)"
"$soak" serve --listen "vsock:any:$port" >"$work/serve.log" 2>&1 &
wait_until 60 grep -q 'listening on' "$work/serve.log" || fail "serve did not start listening"
"$pipe_bin" "listen:unix:$work/in.sock" "vsock:1:$port" 2>"$work/pipe.log" &
wait_until 60 grep -q 'listening on' "$work/pipe.log" || fail "vsock-pipe did not start listening"

vsock_trace_on
set +e
"$soak" run --target "unix:$work/in.sock" --streams 2 --sizes 1..65536 --duration "${duration}s" \
  --small-burst-every 6s --small-burst-for 3s --small-burst-window 2048 --recovery-bound 10s \
  --stall-timeout 30s --drain-timeout 60s --progress lines --json "$work/r.json" \
  >"$work/run.out" 2>"$work/run.log"
rc=$?
set -e
vsock_trace_off
cat "$work/run.out"
small=$(vsock_trace_lens --from "1:$port" | awk '$1 <= 600' | wc -l)
((rc == 0)) || fail "vsock-soak run exited $rc"
why=$(soak_clean "$work/r.json") || fail "$why"
breaks=$(soak_json "$work/r.json" breaks)
((breaks == 0)) || fail "$breaks connections broke (a reset by the kernel?): $(grep -i 'break\|reset' "$work/run.log" | head -5)"
bursts=$(jq '[.faults[] | select(.kind == "small-burst")] | length' "$work/r.json")
((bursts >= 4)) || fail "expected at least 4 small bursts, got $bursts"
((small > 100)) || fail "only $small packets of 600 bytes or less came from serve's port: nothing was tested"
echo "ok: $bursts small bursts behind paused readers, $small packets of 1..600 bytes from serve, $(soak_json "$work/r.json" messages) messages verified, nothing lost, no connection broken"
