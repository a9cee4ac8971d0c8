#!/usr/bin/env bash
# Lab self-test, runs on the host: the lab's failure paths give their own
# message and exit status.   usage: failures.sh no-kernel|boot-deadline|timeout|panic|boot-panic
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/.." && pwd)/run}

# expect WANT_RC PATTERN RUN-ARGS...: runs the lab, checks status and stderr.
expect() {
  local want=$1 pattern=$2 rc=0 start=$EPOCHSECONDS; shift 2
  "$RUN" --console-log "$log" "$@" >"$out" 2>"$err" || rc=$?
  cat "$out"; sed 's/^/  stderr: /' "$err" | head -n 8
  [[ $rc == "$want" ]] || fail "exit status $rc, want $want"
  grep -q "$pattern" "$err" || fail "stderr lacks '$pattern'"
  pass "$mode: exit $rc, '$pattern' after $((EPOCHSECONDS - start)) s"
}

out=$(mktemp); err=$(mktemp); log=$(mktemp)  # log: the guest console, not kept
trap 'rm -f "$out" "$err" "$log"' EXIT
mode=${1:?usage: failures.sh no-kernel|boot-deadline|timeout|panic|boot-panic}
case $mode in
  no-kernel) expect 120 "no kernel package reachable" --kernel 9.99 -- true ;;
  # 1 s cannot fit a TCG boot, so this exercises the boot deadline cheaply.
  boot-deadline) expect 121 "did not boot within 1 s" --boot-timeout 1 -- true ;;
  timeout)
    expect 124 "timed out after 3 s" --timeout 3 -- sh -c 'echo before-hang; sleep 600'
    grep -qx before-hang "$out" || fail "output written before the hang was lost" ;;
  panic) expect 122 "panicked" -- sh -c 'echo c >/proc/sysrq-trigger; sleep 30' ;;
  # No init in the initramfs: the kernel panics before COMMAND starts, which is booted
  # again once (a rare early panic must not cost the test), then reported.
  boot-panic)
    VSOCK_LAB_APPEND=rdinit=/no-such-init expect 122 "panicked" --boot-attempts 2 -- true
    grep -q "boot 1 of 2 panicked before COMMAND started" "$err" || fail "the early panic was not booted again" ;;
  *) fail "unknown mode $mode" ;;
esac
