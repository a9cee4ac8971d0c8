#!/usr/bin/env bash
# vsock-mcast across network namespaces: one scenario per invocation (one ctest test each).
#
#   [lan] lan0 10.77.0.2 ==veth== lan0 10.77.0.1 [host: vsock-mcast host --lan lan0]
#                                                      |  tunnel: unix path socket
#                                                      |  (lab: vsock-seqpacket:1:PORT)
#   [guest1: vsock-mcast guest --tun tun0, 10.77.0.50]  [guest2: ..., 10.77.0.51]
#
# Guests have no network link: whatever reaches them crossed the tunnel. Datagrams are sent
# and checked by mcast-probe (source address and port, TTL, TOS, exact counts).
#
# usage: vsock_mcast_netns.sh VSOCK_MCAST MCAST_PROBE SCENARIO [--transport unix|vsock-seqpacket]
#          [--user USER]    (both endpoints drop to USER after set-up, as deployed)
# scenarios: lan-to-guest guest-to-lan membership two-guests allowlist lan-flap lan-replug l3
# Exit: 0 pass, 1 fail (a FAIL line says expected vs got, then the logs), 2 usage, 77 skip
# (no network namespaces here).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
(($# >= 3)) || { usage >&2; exit 2; }
VM=$1 PROBE=$2 SCENARIO=$3
shift 3
TRANSPORT=unix
DROP_USER=
while (($#)); do
  case $1 in
    --transport) TRANSPORT=${2:?}; shift ;;
    --user) DROP_USER=${2:?}; shift ;;
    *) echo "unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -x $VM ]] || { echo "FAIL: no vsock-mcast binary at $VM"; exit 1; }
[[ -x $PROBE ]] || { echo "FAIL: no mcast-probe binary at $PROBE"; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"  # free_port (this script has its own fail)
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
netns_init

G=239.255.0.1      # Fast-DDS / CyberRT discovery group
PORT=7400
LAN_IP=$NETNS_LAN_IP
GUEST1_IP=$(netns_guest_ip 1)
case $TRANSPORT in
  unix) LISTEN=unix:$NETNS_DIR/tunnel.sock CONNECT=$LISTEN ;;
  vsock-seqpacket)
    # Free when the kernel was asked (AF_VSOCK has no port 0 to listen on, and is not
    # namespaced: the port is the whole guest's).
    vport=$(free_port vsock) || { echo "FAIL [$SCENARIO]: no free vsock port"; exit 1; }
    LISTEN=vsock-seqpacket:any:$vport CONNECT=vsock-seqpacket:1:$vport ;;
  *) echo "unknown transport '$TRANSPORT' (unix, vsock-seqpacket)" >&2; exit 2 ;;
esac

# ---- helpers -------------------------------------------------------------------------------

fail() {
  echo "FAIL [$SCENARIO]: $*"
  local f
  for f in "$NETNS_DIR"/*.log; do
    [[ -e $f ]] || continue
    echo "--- $(basename "$f") (last 40 lines)"
    tail -n 40 "$f" | sed "s/^/  /"
  done
  exit 1
}
step() { echo "== $*"; }

# --user USER: both endpoints drop to USER after set-up, as the units deploy them; the test
# checks the kernel's view of each (uid, capabilities). USER must reach the tunnel socket.
DROP_ARGS=()
if [[ -n $DROP_USER ]]; then
  DROP_ARGS=(--user "$DROP_USER")
  chmod 0711 "$NETNS_DIR"
fi
check_dropped() {  # check_dropped NAME PID CAPEFF: the process runs as DROP_USER with CAPEFF
  [[ -n $DROP_USER ]] || return 0
  local uid want_uid caps
  want_uid=$(id -u "$DROP_USER")
  uid=$(awk '/^Uid:/ { print $2, $3, $4 }' "/proc/$2/status")
  caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$2/status")
  [[ $uid == "$want_uid $want_uid $want_uid" ]] || fail "$1 runs with uids '$uid', expected $want_uid ($DROP_USER)"
  [[ $caps == "$3" ]] || fail "$1 has effective capabilities $caps, expected $3"
  echo "   ok: $1 runs as $DROP_USER (uid $want_uid), CapEff $caps"
}

declare -A PIDS
start_host() {  # start_host ARGS...: the host endpoint in the host namespace, LAN side lan0
  netns_spawn host "$NETNS_DIR/host.log" "$VM" host --listen "$LISTEN" --lan lan0 \
    --control "$NETNS_DIR/host.ctl" --log-level debug "${DROP_ARGS[@]}" "$@"
  PIDS[host]=$NETNS_PID
  netns_wait_log "$NETNS_DIR/host.log" ready 15 "$NETNS_PID" || fail "host endpoint never logged 'ready'"
  # cap_net_admin and cap_net_raw (bits 12 and 13)
  check_dropped "host endpoint" "$NETNS_PID" 0000000000003000
  if [[ -n $DROP_USER && $TRANSPORT == unix ]]; then chmod 0666 "$NETNS_DIR/tunnel.sock"; fi
}
start_guest() {  # start_guest N ARGS...: guest N's endpoint, TUN tun0 with guest N's address
  local n=$1; shift
  netns_spawn "guest$n" "$NETNS_DIR/guest$n.log" "$VM" guest --connect "$CONNECT" --tun tun0 \
    --address "$(netns_guest_ip "$n")/$NETNS_PREFIX" --control "$NETNS_DIR/guest$n.ctl" \
    --log-level debug "${DROP_ARGS[@]}" "$@"
  PIDS[guest$n]=$NETNS_PID
  netns_wait_log "$NETNS_DIR/guest$n.log" ready 15 "$NETNS_PID" || fail "guest $n endpoint never logged 'ready'"
  check_dropped "guest $n endpoint" "$NETNS_PID" 0000000000001000  # cap_net_admin
}

status() { "$VM" status "$NETNS_DIR/$1.ctl"; }  # status host|guest1: the JSON document

# status_query ENDPOINT PYTHON_EXPR: evaluates EXPR with `s` bound to the status JSON;
# prints the result. The expressions name the status fields in one place each.
status_query() {
  local js
  js=$(status "$1" 2>&1) || { echo "status $1 failed: $js" >&2; return 1; }
  python3 -c 'import json, sys; s = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$js" "$2"
}
guest_count() { status_query host 'sum(1 for g in s["guests"] if g["ready"])'; }
host_groups() { status_query host '" ".join(g["group"] for g in s["groups"])'; }
host_drops() { status_query host "s['drops'].get('$1', 0)"; }  # host_drops REASON
lan_opens() { status_query host 's["lan"][0]["opens"]'; }  # times lan0's receiver was opened
expect_lan_opens() {  # expect_lan_opens N WHY
  local got
  got=$(lan_opens) || fail "status of host failed"
  [[ $got == "$1" ]] || fail "host status: lan0 receiver opened $got time(s), expected $1 ($2)"
  echo "   ok: lan0 receiver opened $got time(s) ($2)"
}

wait_guests() {  # wait_guests N: the host has N guests registered
  local got
  for ((i = 0; i < 100; i++)); do
    got=$(guest_count 2>/dev/null || true)
    if [[ $got == "$1" ]]; then
      [[ $TRANSPORT != vsock-seqpacket ]] && return 0
      # Proof that the tunnel really is AF_VSOCK SOCK_SEQPACKET: the host says so, and so
      # does the kernel (ss needs vsock_diag).
      local seq
      seq=$(status_query host '" ".join(g["transport"] for g in s["guests"])')
      [[ $seq == seqpacket* && $seq != *stream* ]] || fail "host status: guest transports '$seq', expected seqpacket"
      # (sock_diag lists the sockets of its own namespace: ask in the host's. Older ss
      # print "???" as the Netid of vsock seqpacket sockets, so match the port.)
      seq=$(nsx host ss -H -a --vsock 2>/dev/null | grep -c "ESTAB.*:$vport " || true)
      ((seq >= $1)) || fail "expected $1 established AF_VSOCK sockets on port $vport in the host namespace, ss shows $seq: $(nsx host ss -a --vsock 2>&1 | tr '\n' ';')"
      echo "   ok: host status says seqpacket; ss shows $seq established AF_VSOCK socket(s) on port $vport"
      return 0
    fi
    sleep 0.1
  done
  fail "host status lists ${got:-no} guests, expected $1 ($(status host 2>&1 | head -c 400))"
}

# recv_start NAME NS ARGS...: an mcast-probe receiver; waits until it has joined.
recv_start() {
  local name=$1 ns=$2; shift 2
  netns_spawn "$ns" "$NETNS_DIR/$name.log" "$PROBE" recv "$@"
  PIDS[$name]=$NETNS_PID
  netns_wait_log "$NETNS_DIR/$name.log" 'ready:' 5 "$NETNS_PID" || fail "receiver $name did not start"
}
# recv_check NAME WHAT: the receiver's exit status; on failure its own FAIL line is quoted.
recv_check() {
  local rc=0
  wait "${PIDS[$1]}" || rc=$?
  ((rc == 0)) || fail "$2: $(grep -h 'FAIL' "$NETNS_DIR/$1.log" | head -3 | tr '\n' ' ')(receiver $1, exit $rc)"
  echo "   ok: $2: $(grep -v 'ready:' "$NETNS_DIR/$1.log" | grep -m1 received)"
}
send() {  # send NS ARGS...: mcast-probe send in NS
  local ns=$1; shift
  nsx "$ns" "$PROBE" send "$@" 2>>"$NETNS_DIR/send.log" || fail "mcast-probe send $* failed"
}
has_maddr() { netns_has_maddr host lan0 "$1"; }  # has_maddr GROUP: the host joined GROUP on lan0
not() { ! "$@"; }

# ---- scenarios -----------------------------------------------------------------------------

# (a) LAN -> guest: a TTL-1 datagram reaches the guest with TTL 1 (no decrement), its TOS and
# its LAN source address and port; a second flow shows TTL/TOS are carried, not constants.
scenario_lan_to_guest() {
  start_host --group "$G:$PORT" --group "$G:$((PORT + 1))"
  start_guest 1
  wait_guests 1
  step "LAN $LAN_IP:5001 -> $G:$PORT ttl 1 tos 0x28, 20 datagrams"
  recv_start g1 guest1 --group "$G:$PORT" --interface tun0 --count 20 --timeout 10 \
    --expect-ttl 1 --expect-tos 0x28 --expect-source "$LAN_IP:5001"
  send lan --group "$G:$PORT" --interface lan0 --ttl 1 --tos 0x28 --port-from 5001 --count 20 --rate 200
  recv_check g1 "guest 1 got 20 x (ttl 1, tos 0x28, from $LAN_IP:5001)"
  step "LAN $LAN_IP:5002 -> $G:$((PORT + 1)) ttl 7 tos 0xb8, 20 datagrams"
  recv_start g1b guest1 --group "$G:$((PORT + 1))" --interface tun0 --count 20 --timeout 10 \
    --expect-ttl 7 --expect-tos 0xb8 --expect-source "$LAN_IP:5002"
  send lan --group "$G:$((PORT + 1))" --interface lan0 --ttl 7 --tos 0xb8 --port-from 5002 --count 20 --rate 200
  recv_check g1b "guest 1 got 20 x (ttl 7, tos 0xb8, from $LAN_IP:5002)"
}

# (b) guest -> LAN: the LAN sees the guest's own source address and port, TTL and TOS.
scenario_guest_to_lan() {
  start_host --group "$G:$PORT"
  start_guest 1
  wait_guests 1
  step "guest $GUEST1_IP:5003 -> $G:$PORT ttl 1 tos 0x28, 20 datagrams"
  recv_start lan lan --group "$G:$PORT" --interface lan0 --count 20 --timeout 10 \
    --expect-ttl 1 --expect-tos 0x28 --expect-source "$GUEST1_IP:5003"
  send guest1 --group "$G:$PORT" --interface tun0 --ttl 1 --tos 0x28 --port-from 5003 --count 20 --rate 200
  recv_check lan "LAN got 20 x (ttl 1, tos 0x28, from $GUEST1_IP:5003)"
}

# (c) A guest application joining a group makes the host join it on the LAN (IGMP report in
# the guest's TUN); when it leaves (socket closed), the host leaves.
scenario_membership() {
  local grp=239.1.2.3 got
  start_host
  start_guest 1
  wait_guests 1
  has_maddr "$grp" && fail "host joined $grp on lan0 before any guest asked"
  step "guest application joins $grp on tun0"
  recv_start g1 guest1 --group "$grp:7500" --interface tun0 --count 5 --timeout 20 --linger 0
  netns_wait 10 has_maddr "$grp" ||
    fail "host did not join $grp on lan0 within 10 s of the guest's join; ip maddr: $(nsx host ip -4 maddr show dev lan0 | tr -s ' \n' ' ')"
  echo "   ok: host joined $grp on lan0 (ip maddr)"
  got=$(host_groups) || fail "status of host failed"
  [[ " $got " == *" $grp "* ]] || fail "host status groups: expected $grp listed, got '$got'"
  echo "   ok: host status lists $grp"
  step "LAN -> $grp:7500, 5 datagrams; the guest application then exits (leaves)"
  send lan --group "$grp:7500" --interface lan0 --count 5 --rate 100
  recv_check g1 "guest 1 got 5 datagrams of the group it joined"
  netns_wait 10 not has_maddr "$grp" ||
    fail "host still joined to $grp on lan0 10 s after the guest left"
  echo "   ok: host left $grp on lan0"
  got=$(host_groups) || fail "status of host failed"
  [[ " $got " != *" $grp "* ]] || fail "host status groups: expected $grp gone, got '$got'"
  grep -q "$grp" "$NETNS_DIR/host.log" || fail "host log never mentions $grp (membership changes are logged)"
}

# (d) Two guests: every receiver counts exactly N: nothing is lost, duplicated or looped back
# (a datagram echoed to its origin or re-captured from the LAN would be counted twice).
scenario_two_guests() {
  local n=20
  start_host --group "$G:$PORT" --guest-to-guest
  start_guest 1
  start_guest 2
  wait_guests 2
  step "LAN -> $G:$PORT, $n datagrams: LAN (own loop copy), guest 1, guest 2 each get exactly $n"
  recv_start lan lan --group "$G:$PORT" --interface lan0 --count $n --run-id 101 --linger 1.5 --timeout 15
  recv_start g1 guest1 --group "$G:$PORT" --interface tun0 --count $n --run-id 101 --linger 1.5 --timeout 15 --expect-source "$LAN_IP"
  recv_start g2 guest2 --group "$G:$PORT" --interface tun0 --count $n --run-id 101 --linger 1.5 --timeout 15 --expect-source "$LAN_IP"
  send lan --group "$G:$PORT" --interface lan0 --count $n --rate 200 --run-id 101
  recv_check lan "LAN receiver: exactly $n (no echo back onto the LAN)"
  recv_check g1 "guest 1: exactly $n"
  recv_check g2 "guest 2: exactly $n"
  step "guest 1 -> $G:$PORT, $n datagrams: LAN, guest 1 (own loop copy), guest 2 each get exactly $n"
  recv_start lan2 lan --group "$G:$PORT" --interface lan0 --count $n --run-id 102 --linger 1.5 --timeout 15 --expect-source "$GUEST1_IP"
  recv_start g1b guest1 --group "$G:$PORT" --interface tun0 --count $n --run-id 102 --linger 1.5 --timeout 15 --expect-source "$GUEST1_IP"
  recv_start g2b guest2 --group "$G:$PORT" --interface tun0 --count $n --run-id 102 --linger 1.5 --timeout 15 --expect-source "$GUEST1_IP"
  send guest1 --group "$G:$PORT" --interface tun0 --count $n --rate 200 --run-id 102
  recv_check lan2 "LAN: exactly $n from guest 1"
  recv_check g1b "guest 1: exactly $n (its own loop copy, nothing echoed back)"
  recv_check g2b "guest 2: exactly $n from guest 1 (guest-to-guest)"
  expect_lan_opens 1 "link events on the same interface keep the receiver and its queue"
}

# (e) Allowlists: a port or group outside them does not cross, either way, and the refusals
# are counted in the status; an allowed flow crosses in the same run (so silence means
# refusal, not a broken tunnel).
scenario_allowlist() {
  local bad=239.9.9.9 drops reason
  # The static group has no port, so it covers every port: a datagram to another port is
  # then refused by the port allowlist alone (not for lack of a member, which would depend
  # on the timing of the guest application's IGMP report).
  start_host --group "$G" --allow-group 239.255.0.0/16 --allow-port "$PORT"
  start_guest 1
  wait_guests 1
  step "allowed: LAN -> $G:$PORT reaches the guest"
  recv_start ok guest1 --group "$G:$PORT" --interface tun0 --count 5 --timeout 10
  send lan --group "$G:$PORT" --interface lan0 --count 5 --rate 100
  recv_check ok "guest got 5 datagrams of an allowed group and port"
  step "refused port: LAN -> $G:$((PORT + 1)) must not reach the guest"
  recv_start badport guest1 --group "$G:$((PORT + 1))" --interface tun0 --count 0 --timeout 2
  send lan --group "$G:$((PORT + 1))" --interface lan0 --count 5 --rate 100
  recv_check badport "guest got nothing on port $((PORT + 1)) (not allowed)"
  step "refused group: a guest joining $bad does not make the host join it"
  recv_start badjoin guest1 --group "$bad:$PORT" --interface tun0 --count 0 --timeout 3
  send lan --group "$bad:$PORT" --interface lan0 --count 5 --rate 100
  recv_check badjoin "guest got nothing of $bad (not allowed)"
  has_maddr "$bad" && fail "host joined $bad on lan0 though it is outside --allow-group"
  echo "   ok: host did not join $bad"
  step "refused group: guest -> $bad:$PORT must not reach the LAN"
  recv_start badout lan --group "$bad:$PORT" --interface lan0 --count 0 --timeout 2
  send guest1 --group "$bad:$PORT" --interface tun0 --count 5 --rate 100
  recv_check badout "LAN got nothing of $bad from the guest"
  for reason in port_not_allowed join_refused group_not_allowed; do
    drops=$(host_drops "$reason") || fail "status of host failed"
    ((drops > 0)) || fail "host status: expected drops.$reason > 0, got '$drops' ($(status host | tr -s ' \n' ' ' | head -c 2000))"
    echo "   ok: host status counts $drops $reason"
  done
}

# lan_roundtrip TAG: LAN -> guest and guest -> LAN, 10 datagrams each, exact.
lan_roundtrip() {
  recv_start "g1$1" guest1 --group "$G:$PORT" --interface tun0 --count 10 --timeout 10 --expect-source "$LAN_IP"
  send lan --group "$G:$PORT" --interface lan0 --count 10 --rate 100
  recv_check "g1$1" "$1: LAN -> guest, 10 datagrams"
  recv_start "lan$1" lan --group "$G:$PORT" --interface lan0 --count 10 --timeout 10 --expect-source "$GUEST1_IP"
  send guest1 --group "$G:$PORT" --interface tun0 --count 10 --rate 100
  recv_check "lan$1" "$1: guest -> LAN, 10 datagrams"
}

wait_lan_up() {  # both ends of lan0 operationally up
  netns_wait 10 bash -c "ip -n $(netns_name host) link show lan0 | grep -q 'state UP' &&
                         ip -n $(netns_name lan) link show lan0 | grep -q 'state UP'" ||
    fail "lan0 did not come back up"
}

# (f) The host's LAN interface goes down and up: traffic resumes, groups still joined.
scenario_lan_flap() {
  start_host --group "$G:$PORT"
  start_guest 1
  wait_guests 1
  lan_roundtrip before
  step "lan0 down for 2 s in the host namespace, then up"
  nsx host ip link set lan0 down
  sleep 2
  nsx host ip link set lan0 up
  wait_lan_up
  netns_wait 10 has_maddr "$G" || fail "host not joined to $G on lan0 10 s after the link came back"
  lan_roundtrip after
  expect_lan_opens 1 "down and up on the same interface keep the receiver"
}

# (g') The LAN interface disappears and a new one of the same name appears (a USB NIC
# replugged: new ifindex, memberships of the old one gone): the host re-joins its groups.
scenario_lan_replug() {
  start_host --group "$G:$PORT"
  start_guest 1
  wait_guests 1
  lan_roundtrip before
  step "lan0 deleted, recreated 2 s later (new ifindex)"
  nsx host ip link del lan0
  sleep 2
  netns_veth lan lan0 "$LAN_IP/$NETNS_PREFIX" host lan0 "$NETNS_HOST_IP/$NETNS_PREFIX" || fail "recreating lan0"
  wait_lan_up
  netns_wait 10 has_maddr "$G" ||
    fail "host did not re-join $G on the new lan0 within 10 s; ip maddr: $(nsx host ip -4 maddr show dev lan0 | tr -s ' \n' ' ')"
  echo "   ok: host re-joined $G on the new lan0"
  lan_roundtrip after
  expect_lan_opens 2 "a new interface needs a new receiver"
}

# (g) l3 mode: the guest announces its unicast locator by multicast (discovery style); a LAN
# peer then talks unicast to that address and the guest answers, and the other way round.
scenario_l3() {
  local js locator from
  start_host --mode l3 --guest-address "$GUEST1_IP" --group "$G:$PORT"
  start_guest 1 --mode l3
  wait_guests 1
  step "guest announces locator $GUEST1_IP:7411 on $G:$PORT"
  recv_start disc lan --group "$G:$PORT" --interface lan0 --count 3 --timeout 10 --json --expect-source "$GUEST1_IP"
  send guest1 --group "$G:$PORT" --interface tun0 --count 3 --rate 10 --text "locator=$GUEST1_IP:7411"
  recv_check disc "LAN got the announcement from $GUEST1_IP"
  js=$(grep '^{' "$NETNS_DIR/disc.log")
  locator=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["text"].split("=",1)[1])' "$js")
  [[ $locator == "$GUEST1_IP:7411" ]] || fail "announced locator: expected $GUEST1_IP:7411, got '$locator'"
  step "LAN $LAN_IP -> unicast $locator (guest echo), replies from $GUEST1_IP"
  netns_spawn guest1 "$NETNS_DIR/echo-guest.log" "$PROBE" echo --port 7411 --count 3 --timeout 20
  netns_wait_log "$NETNS_DIR/echo-guest.log" 'ready:' 5 || fail "guest echo did not start"
  nsx lan "$PROBE" ping --to "$locator" --count 3 --wait 2 >"$NETNS_DIR/ping-lan.log" 2>&1 ||
    fail "LAN -> guest unicast: $(tr '\n' ' ' <"$NETNS_DIR/ping-lan.log")"
  echo "   ok: $(head -1 "$NETNS_DIR/ping-lan.log")"
  from=$(grep -m1 -o 'from=[0-9.]*' "$NETNS_DIR/echo-guest.log" || true)
  [[ $from == "from=$LAN_IP" ]] || fail "guest echo saw the LAN peer as '$from', expected from=$LAN_IP"
  echo "   ok: the guest saw the LAN peer's own address $LAN_IP"
  step "guest $GUEST1_IP -> unicast $LAN_IP:7412 (LAN echo)"
  netns_spawn lan "$NETNS_DIR/echo-lan.log" "$PROBE" echo --port 7412 --count 3 --timeout 20
  netns_wait_log "$NETNS_DIR/echo-lan.log" 'ready:' 5 || fail "LAN echo did not start"
  nsx guest1 "$PROBE" ping --to "$LAN_IP:7412" --count 3 --wait 2 >"$NETNS_DIR/ping-guest.log" 2>&1 ||
    fail "guest -> LAN unicast: $(tr '\n' ' ' <"$NETNS_DIR/ping-guest.log")"
  echo "   ok: $(head -1 "$NETNS_DIR/ping-guest.log")"
  from=$(grep -m1 -o 'from=[0-9.]*' "$NETNS_DIR/echo-lan.log" || true)
  [[ $from == "from=$GUEST1_IP" ]] || fail "LAN echo saw the guest as '$from', expected from=$GUEST1_IP"
  echo "   ok: the LAN saw the guest's own address $GUEST1_IP"
}

# ---- main ----------------------------------------------------------------------------------

case $SCENARIO in
  lan-to-guest | guest-to-lan | membership | two-guests | allowlist | lan-flap | lan-replug | l3) ;;
  *) echo "unknown scenario '$SCENARIO'" >&2; usage >&2; exit 2 ;;
esac
guests=1
[[ $SCENARIO == two-guests ]] && guests=2
netns_mcast_topology "$guests" || fail "could not build the namespace topology"
echo "vsock-mcast $SCENARIO over $TRANSPORT${DROP_USER:+, endpoints as $DROP_USER} (namespaces $NETNS_ID-*)"
"scenario_${SCENARIO//-/_}"
echo "PASS [$SCENARIO]"
