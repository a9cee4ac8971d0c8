#!/usr/bin/env bash
# Lab self-test, runs on the host: a guest boots, runs a command and hands
# back exactly its stdout, stderr and exit status (non-zero and zero), with no
# kernel noise; cwd, VSOCK_LAB=1, a writable /tmp, a read-only host root and a
# writable --rw export are in place.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUN=${VSOCK_LAB_RUN:-$(cd "$(dirname "$0")/.." && pwd)/run}

scratch=$(mktemp -d "${VSOCK_LAB_SCRATCH:-${TMPDIR:-/tmp}}/lab-boot.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

rc=0
# shellcheck disable=SC2016  # the script's $VSOCK_LAB and $PWD are the guest's
"$RUN" --rw "$scratch" -- bash -c '
  echo "out-line"
  echo "err-line" >&2
  [[ $VSOCK_LAB == 1 ]] || echo "VSOCK_LAB is not 1" >&2
  [[ $PWD == "'"$scratch"'" ]] || echo "cwd is $PWD" >&2
  echo tmp >/tmp/t || echo "/tmp not writable" >&2
  touch /usr/lab-should-not-exist 2>/dev/null && echo "host root is writable" >&2
  echo from-guest >result.txt
  exit 3' >"$scratch/stdout" 2>"$scratch/stderr" || rc=$?
[[ $rc == 3 ]] || fail "exit status $rc, want 3; stderr: $(cat "$scratch/stderr")"
[[ $(cat "$scratch/stdout") == out-line ]] || fail "stdout is '$(cat "$scratch/stdout")', want 'out-line'"
[[ $(cat "$scratch/stderr") == err-line ]] || fail "stderr is '$(cat "$scratch/stderr")', want 'err-line'"
[[ $(cat "$scratch/result.txt" 2>/dev/null) == from-guest ]] || fail "guest did not write result.txt into the --rw export"
pass "exit 3 propagated; stdout/stderr exact; cwd, VSOCK_LAB, /tmp, read-only root, --rw export ok"

rc=0
start=$EPOCHREALTIME
"$RUN" -- true >"$scratch/stdout" 2>"$scratch/stderr" || rc=$?
us=$(( ${EPOCHREALTIME/./} - ${start/./} ))
[[ $rc == 0 ]] || fail "exit status $rc, want 0; stderr: $(cat "$scratch/stderr")"
[[ ! -s $scratch/stdout && ! -s $scratch/stderr ]] || fail "'true' printed something: $(cat "$scratch/stdout" "$scratch/stderr")"
pass "exit 0 propagated, no output; boot + 'true' took $((us / 1000000)).$((us / 100000 % 10)) s"
