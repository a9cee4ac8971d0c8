# netns.sh: network-namespace helpers for tests and benchmarks (source it; bash only).
# shellcheck shell=bash
#
#   source tests/integration/netns.sh
#   netns_init            # skips (exit 77) when namespaces cannot be made; installs the trap
#   netns_add lan         # creates "$NETNS_ID-lan"; every name is unique to this run ($$)
#   netns_veth lan lan0 10.77.0.2/24  host lan0 10.77.0.1/24
#   nsx lan ip addr       # run a command in a namespace (short name)
#   netns_spawn host "$NETNS_DIR/x.log" cmd ...   # background, own process group, reaped
#   netns_wait_log "$NETNS_DIR/x.log" ready 10    # until the log has the pattern
#
# Cleanup (EXIT trap): every spawned process group is sent SIGTERM (SIGKILL after 2 s),
# every namespace of this run deleted, NETNS_DIR removed. Namespaces only ever hold what the
# test created: veth pairs are made directly inside them, never in the root namespace.
#
# The tunnel topology (netns_mcast_topology N):
#
#   [lan] lan0 10.77.0.2/24 ==veth== lan0 10.77.0.1/24 [host]     (the LAN and the host's NIC)
#   [guest1] lo only   [guest2] lo only ...                      (vsock-only guests)
#
# Guests have no link at all: the tunnel endpoints reach each other through a Unix socket
# path in NETNS_DIR (path sockets are shared between namespaces; abstract ones are not) or,
# in the lab, AF_VSOCK (which is not namespaced).

NETNS_ID=vmc$$
NETNS_DIR=
NETNS_LAN_IP=10.77.0.2
NETNS_HOST_IP=10.77.0.1
NETNS_PREFIX=24
_netns_made=()
_netns_pgids=()

netns_guest_ip() { echo "10.77.0.$((49 + $1))"; }  # guest N's address: .50, .51, ...

# Exit 77 (skip) with the reason when this machine cannot make namespaces.
netns_init() {
  if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root for ip netns (uid $(id -u))"; exit 77; fi
  command -v ip >/dev/null || { echo "SKIP: ip (iproute2) not installed"; exit 77; }
  local err
  if ! err=$(ip netns add "$NETNS_ID-probe" 2>&1); then
    echo "SKIP: cannot create a network namespace: $err"; exit 77
  fi
  ip netns del "$NETNS_ID-probe"
  NETNS_DIR=$(mktemp -d /tmp/vsock-mcast-netns.XXXXXX)
  trap netns_cleanup EXIT
  trap 'exit 130' INT TERM
}

_netns_alive() {  # _netns_alive PID: running (a zombie, which `kill -0` still finds, is not)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # the state follows the command name, which may hold spaces
  [[ ${stat%% *} != Z ]]
}

netns_cleanup() {
  local p n i alive
  for p in "${_netns_pgids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for ((i = 0; i < 30; i++)); do
    alive=0
    for p in "${_netns_pgids[@]}"; do _netns_alive "$p" && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${_netns_pgids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "${_netns_made[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  [[ -n $NETNS_DIR ]] && rm -rf "$NETNS_DIR"
}

netns_name() { echo "$NETNS_ID-$1"; }

netns_add() {  # netns_add SHORT: a namespace with lo up
  local n=$NETNS_ID-$1
  ip netns add "$n" || { echo "netns: cannot add namespace $n" >&2; return 1; }
  _netns_made+=("$n")
  ip -n "$n" link set lo up
}

netns_del() {  # netns_del SHORT
  ip netns del "$NETNS_ID-$1"
}

nsx() {  # nsx SHORT CMD...: run CMD inside the namespace
  local n=$NETNS_ID-$1; shift
  ip netns exec "$n" "$@"
}

# netns_veth NS_A IF_A CIDR_A NS_B IF_B CIDR_B: a veth pair with one end in each namespace,
# addressed and up. CIDR "-" leaves that end without an address.
netns_veth() {
  local na=$NETNS_ID-$1 ia=$2 ca=$3 nb=$NETNS_ID-$4 ib=$5 cb=$6
  ip link add name "$ia" netns "$na" type veth peer name "$ib" netns "$nb" || return 1
  [[ $ca == - ]] || ip -n "$na" addr add "$ca" dev "$ia"
  [[ $cb == - ]] || ip -n "$nb" addr add "$cb" dev "$ib"
  ip -n "$na" link set "$ia" up
  ip -n "$nb" link set "$ib" up
}

# netns_spawn NS LOG CMD...: start CMD in NS in the background, in its own process group
# (so the cleanup reaches its children too); its pid is left in NETNS_PID.
netns_spawn() {
  local n=$NETNS_ID-$1 log=$2; shift 2
  setsid ip netns exec "$n" "$@" >"$log" 2>&1 </dev/null &
  NETNS_PID=$!
  _netns_pgids+=("$NETNS_PID")
  # Until setsid has run, the group does not exist and a kill of it would miss the process
  # (seen in the lab, where exec is slow): wait until the child leads its own group.
  local i stat
  for ((i = 0; i < 100; i++)); do
    read -r -a stat 2>/dev/null <"/proc/$NETNS_PID/stat" || break
    [[ ${stat[4]} == "$NETNS_PID" ]] && break
    sleep 0.02
  done
}

netns_stop() {  # netns_stop PID: SIGTERM a spawned process group and wait for it
  kill -TERM -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# netns_wait_log LOG PATTERN SECONDS [PID]: until LOG matches the extended regex PATTERN.
# Fails early when PID (if given) has exited.
netns_wait_log() {
  local log=$1 pat=$2 secs=$3 pid=${4:-} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -Eq -- "$pat" "$log" 2>/dev/null && return 0
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      grep -Eq -- "$pat" "$log" 2>/dev/null && return 0
      return 1
    fi
    sleep 0.05
  done
  return 1
}

# netns_wait SECONDS CMD...: until CMD succeeds (polled every 0.1 s).
netns_wait() {
  local secs=$1 i; shift
  for ((i = 0; i < secs * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# netns_mcast_topology GUESTS: the tunnel topology above with GUESTS link-less guests.
netns_mcast_topology() {
  local g
  netns_add lan && netns_add host || return 1
  netns_veth lan lan0 "$NETNS_LAN_IP/$NETNS_PREFIX" host lan0 "$NETNS_HOST_IP/$NETNS_PREFIX" || return 1
  for ((g = 1; g <= $1; g++)); do netns_add "guest$g" || return 1; done
}

# netns_has_maddr NS IF GROUP: GROUP is joined on IF (as `ip maddr` shows it).
netns_has_maddr() {
  nsx "$1" ip -4 maddr show dev "$2" | grep -Eq "inet +${3//./\\.}( |\$)"
}
