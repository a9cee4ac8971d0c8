# shellcheck shell=bash
# Helpers shared by the lab self-tests (sourced; bash).

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((EPOCHSECONDS + $1)); shift
  until "$@"; do
    ((EPOCHSECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# A vsock port unlikely to clash with anything else in the guest.
random_port() { echo $((20000 + RANDOM % 20000)); }

# In the guest: refuse to run on the host, where CID 1 means nothing local
# and real peers may be reachable.
require_guest() {
  [[ ${VSOCK_LAB:-} == 1 ]] || fail "this script runs inside the lab guest (tests/lab/run -- $0)"
}
