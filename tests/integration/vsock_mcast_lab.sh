#!/usr/bin/env bash
# vsock-mcast over real AF_VSOCK, in the lab guest: the namespace scenarios of
# vsock_mcast_netns.sh with the tunnel on vsock-seqpacket:1:PORT (vsock_loopback; AF_VSOCK
# is not namespaced, so the host endpoint's namespace and the guests' reach each other only
# through it). Two scenarios, to stay short under TCG:
#   lan-to-guest  TTL 1 / TOS 0x28 / LAN source address and port intact in the guest
#   guest-to-lan  the guest's source address and port, TTL, TOS intact on the LAN
# usage (in the lab): vsock_mcast_lab.sh VSOCK_MCAST MCAST_PROBE
set -euo pipefail
[[ ${VSOCK_LAB:-} == 1 ]] || { echo "run me in the lab: tests/lab/run -- $0 ..."; exit 2; }
(($# == 2)) || { echo "usage: $0 VSOCK_MCAST MCAST_PROBE" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
failed=()
for s in lan-to-guest guest-to-lan; do
  rc=0
  "$here/vsock_mcast_netns.sh" "$1" "$2" "$s" --transport vsock-seqpacket || rc=$?
  # The lab has namespaces, veth and tun: a skip (77) here is a failure too.
  ((rc == 0)) || failed+=("$s (exit $rc)")
done
((${#failed[@]} == 0)) || { echo "FAIL: ${failed[*]}"; exit 1; }
echo "PASS: vsock-mcast over vsock-seqpacket in the lab"
