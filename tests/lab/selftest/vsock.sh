#!/usr/bin/env bash
# Lab self-test, runs in the guest: AF_VSOCK is real on CID 1 (vsock_loopback).
# A 4 MiB random payload goes through a stream connection (socat VSOCK-LISTEN /
# VSOCK-CONNECT:1) and must arrive intact; then a SOCK_SEQPACKET socket pair
# connects and carries one message (needs a 5.14+ kernel).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_guest

head -c $((4 << 20)) /dev/urandom >/tmp/payload
port=$(free_port vsock)
socat -u "VSOCK-LISTEN:$port" OPEN:/tmp/received,creat,trunc &
listener=$!
# The listener needs a moment to bind; connect until it is there.
wait_until 20 socat -u OPEN:/tmp/payload "VSOCK-CONNECT:1:$port" 2>/dev/null ||
  fail "could not connect to VSOCK 1:$port"
wait "$listener" || fail "listener failed"
sent=$(sha256sum </tmp/payload); got=$(sha256sum </tmp/received)
[[ $sent == "$got" ]] || fail "payload checksum differs: sent ${sent%% *} got ${got%% *}"
pass "stream: 4 MiB over VSOCK CID 1 port $port, sha256 ${sent%% *}"

# vsock SOCK_SEQPACKET arrived in Linux 5.14.
IFS=.- read -r major minor _ <<<"$(uname -r)"
if ((major < 5 || (major == 5 && minor < 14))); then
  echo "SKIP: seqpacket: kernel $(uname -r) predates vsock SOCK_SEQPACKET (5.14)"
  exit 0
fi

# SOCK_SEQPACKET (type 5) through socat's generic socket addresses: AF_VSOCK is
# 40, the address is struct sockaddr_vm after its family field:
# reserved(2) port(4, LE) cid(4, LE) zero(4).
port=$(free_port vsock)
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
addr="x0000$(le32 "$port")$(le32 1)00000000"
socat -u "SOCKET-LISTEN:40:0:$addr,so-type=5" OPEN:/tmp/seq,creat,trunc &
listener=$!
wait_until 20 sh -c "echo seqpacket-message | socat -u - SOCKET-CONNECT:40:0:$addr,so-type=5 2>/dev/null" ||
  fail "could not connect a SOCK_SEQPACKET vsock socket to 1:$port"
wait "$listener" || fail "seqpacket listener failed"
[[ $(cat /tmp/seq) == seqpacket-message ]] || fail "seqpacket message differs: '$(cat /tmp/seq)'"
pass "seqpacket: message over VSOCK CID 1 port $port"
