# shellcheck shell=bash
# General helpers for the project's shell tests and bench scripts (sourced, after
# `set -euo pipefail`; bash). More specific libraries build on it: adb_lab_lib.sh (adb lab
# tests), soak_lib.sh (vsock-soak results), vsock_trace.sh (the lab guest's vsock packets,
# traced), tests/lab/selftest/lib.sh (lab self-tests).
#
#   fail MSG...                 prints "FAIL: MSG" (on stdout, or on the fd in FAIL_FD), runs
#                               the script's fail_hook if it defines one (to show its logs),
#                               and exits 1
#   make_work_dir [TEMPLATE]    sets work to a new temporary directory (mktemp -d TEMPLATE);
#                               on exit, runs the script's cleanup_hook if it defines one,
#                               kills every background job of the shell, waits for them and
#                               removes the directory
#   show_logs [--prefix] LINES FILE...
#                               the last LINES lines of each non-empty FILE, under a
#                               "--- FILE" header, or (--prefix) each line prefixed "NAME: "
#   wait_until [--every S] SECONDS CMD...
#                               runs CMD every S (default 0.1) seconds until it succeeds;
#                               fails after SECONDS (a whole number; wall clock, so
#                               be generous in the lab's TCG guest, where starting a
#                               process can take seconds)
#   now_ms                      the wall clock in milliseconds
#   bound_address FILE          ADDR from the first "listening on ADDR" line of FILE: what
#                               vsock-pipe, adbd-sim and vsock-soak log once they listen, with
#                               a port 0 replaced by the port the kernel picked
#   free_port [tcp|vsock] [N]   N (default 1) distinct ports free right now, one a line
#   syscalls_during PID OUT CMD...
#                               runs CMD (its stdout discarded) with strace -c attached to
#                               PID and its threads, and prints how many system calls PID
#                               made meanwhile; OUT is strace's summary (OUT.err its
#                               messages). Fails with CMD's status, or when strace cannot
#                               attach or leaves no summary
#
# adb: in a lab guest booted with tests/lab/run --newer-adb, "adb" is that newer client
# for every command of the script (functions, exec, timeout, sh -c alike): its directory
# goes first in PATH. Elsewhere it is Debian's.
#
# Ports: prefer a program that listens on port 0 and reports what it bound (bound_address);
# free_port is for programs that cannot (socat, adb's server, vsock listeners: AF_VSOCK has no
# port 0 to ask for).

if [[ -n ${VSOCK_LAB_NEWER_ADB:-} ]]; then PATH="${VSOCK_LAB_NEWER_ADB%/*}:$PATH"; fi

fail() {
  echo "FAIL: $*" >&"${FAIL_FD:-1}"
  if [[ $(type -t fail_hook) == function ]]; then fail_hook || true; fi
  exit 1
}

# shellcheck disable=SC2120  # TEMPLATE is optional: no argument means mktemp's default
make_work_dir() {
  if (($#)); then work=$(mktemp -d "$1"); else work=$(mktemp -d); fi
  trap _common_cleanup EXIT
}
_common_cleanup() {
  if [[ $(type -t cleanup_hook) == function ]]; then cleanup_hook || true; fi
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

show_logs() {
  local prefix=0 lines f
  if [[ $1 == --prefix ]]; then prefix=1; shift; fi
  lines=$1
  shift
  for f in "$@"; do
    [[ -s $f ]] || continue
    if ((prefix)); then
      sed "s|^|$(basename "$f"): |" "$f" | tail -n "$lines"
    else
      echo "--- $f"
      tail -n "$lines" "$f"
    fi
  done
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

wait_until() {
  local every=0.1 deadline
  if [[ $1 == --every ]]; then every=$2; shift 2; fi
  deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep "$every"
  done
}

bound_address() { grep -o -m1 'listening on [^ ,]*' "$1" | cut -d' ' -f3; }

# The kernel picks each port (bind to port 0, or VMADDR_PORT_ANY for vsock) and the sockets
# are closed before the caller's program binds it: another process may take the port in
# between. The race is small (the kernel hands out ephemeral ports in turn, not the
# lowest free one), and a taken port fails that program's start loudly, not the test
# silently. vsock needs AF_VSOCK here (the lab guest); binding connects to nothing.
# shellcheck disable=SC2120  # both arguments are optional (one TCP port)
free_port() {
  local family=${1:-tcp} n=${2:-1}
  [[ $family == tcp || $family == vsock ]] || { echo "free_port: unknown family $family" >&2; return 2; }
  # All N sockets stay open until printed, so the N ports differ.
  python3 -c 'import socket, sys
vsock, n = sys.argv[1] == "vsock", int(sys.argv[2])
held = []
for _ in range(n):
    if vsock:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
    else:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
    held.append(s)
print("\n".join(str(s.getsockname()[1]) for s in held))' "$family" "$n"
}

syscalls_during() {
  local pid=$1 out=$2 sp calls rc=0
  shift 2
  strace -f -c -U calls,name -o "$out" -p "$pid" 2>"$out.err" &
  sp=$!
  if ! wait_until 10 grep -qs attached "$out.err"; then
    kill "$sp" 2>/dev/null || true
    echo "strace could not attach to $pid: $(cat "$out.err")" >&2
    return 1
  fi
  "$@" >/dev/null || rc=$?
  kill -INT "$sp"
  wait "$sp" || true
  ((rc == 0)) || return "$rc"
  calls=$(awk '$2 == "total" { print $1 }' "$out")
  [[ -n $calls ]] || { echo "no strace summary for $pid: $(cat "$out" "$out.err")" >&2; return 1; }
  echo "$calls"
}
