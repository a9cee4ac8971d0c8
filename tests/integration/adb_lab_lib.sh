# shellcheck shell=bash
# Shared by the adb lab tests (sourced, after `set -euo pipefail`), on top of the general
# helpers (tests/lib/common.sh: fail, now_ms, wait_until, ...): a work directory, a private
# adb server, the logs shown on failure, and waiting for devices.
#   work      temporary directory, removed on exit with every background job killed
#   logs      files printed (prefixed with their names) by fail
#   fail MSG  prints MSG and the logs, exits 1 (also for any command set -e would stop on)
#   now_ms, rss_kib PID, adb_state SERIAL, wait_state SERIAL STATE|gone SECONDS
#   relay_field GUEST KEY  a value (a number, or a "string" with its quotes) of the guest
#                          named GUEST in `$relay --status $work/control`; fails when the
#                          status has no such guest or the guest no such key
# A test may define lab_cleanup_hook (run first on exit), and set LAB_ADB to the command
# that runs adb (default adb). The adb server is the test's to start (adb start-server), so
# a test can start it where it must not see USB.
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "run me in the lab: tests/lab/run -- $0 ..."; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

make_work_dir
# Which client this run proves the relay with (tests/lab/run --newer-adb or Debian's).
echo "adb client: $(adb version | sed -n 's/^Version //p')"
export ADB_SERVER_SOCKET=tcp:localhost:15037  # a private adb server, never the user's 5037
export HOME=$work                               # adb keeps its keys in ~/.android
# The adb server's own log (adb writes it to $TMPDIR/adb.UID.log): shown on failure, as
# only the server knows why it closed a stream or dropped a device.
adb_server_log=${TMPDIR:-/tmp}/adb.$(id -u).log
rm -f "$adb_server_log"
logs=("$adb_server_log")
cleanup_hook() {
  [[ $(type -t lab_cleanup_hook) != function ]] || lab_cleanup_hook
  adb kill-server >/dev/null 2>&1 || true
}
fail_hook() {
  local l
  for l in "${logs[@]}"; do
    [[ -f $l ]] || continue
    echo "--- $l"
    sed "s|^|${l##*/}: |" "$l"
  done
}
# A command that fails where set -e would end the test without a word: say which one.
# (-E: also inside functions and command substitutions.)
set -E
trap 'fail "unexpected failure (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
adb_state() { "${LAB_ADB:-adb}" devices | awk -v s="$1" '$1 == s { print $2 }'; }
wait_state() {  # wait_state SERIAL STATE|gone SECONDS
  local serial=$1 want=$2 deadline=$(($(now_ms) + $3 * 1000)) state
  while (($(now_ms) < deadline)); do
    state=$(adb_state "$serial")
    [[ $want == gone && -z $state ]] && return 0
    [[ $state == "$want" ]] && return 0
    sleep 0.1
  done
  return 1
}
# shellcheck disable=SC2154  # relay: the sourcing test's adbd-relay binary
relay_field() {
  "$relay" --status "$work/control" | jq -c --arg guest "$1" --arg key "$2" '
    [.guests[] | select(.name == $guest)]
    | if length == 1 then .[0] else error("status: \(length) guests named \($guest)") end
    | if has($key) then .[$key] else error("status: guest \($guest) has no \($key)") end'
}
