# shellcheck shell=bash
# Helpers shared by the lab self-tests (sourced; bash), on top of the project's general ones
# (tests/lib/common.sh: fail, wait_until, free_port, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/common.sh"

FAIL_FD=2  # a self-test's FAIL line goes to stderr
pass() { echo "PASS: $*"; }

# In the guest: refuse to run on the host, where CID 1 means nothing local
# and real peers may be reachable.
require_guest() {
  [[ ${VSOCK_LAB:-} == 1 ]] || fail "this script runs inside the lab guest (tests/lab/run -- $0)"
}
