#!/usr/bin/env bash
# adbd-sim against Debian's real adb client (29.0.6) over TCP loopback, with a private adb
# server (its own port and HOME, killed at the end; the default server on 5037 is never
# touched):
#   adb connect / devices / shell echo ok; push then pull of 20 MB random data (checksums
#   must match); several shells at once; source:N and sink:N through the adb server's
#   smart-socket protocol; --auth (token, signature, public key); a malformed message resets
#   only its own connection.
# usage: adbd_sim_test.sh PATH/TO/adbd-sim          (exit 77 = skipped: no adb installed)
set -euo pipefail

sim_bin=$1
if ! command -v adb >/dev/null; then
  echo "SKIP: adb is not installed (Debian package adb; tests/setup installs it)"
  exit 77
fi

source "$(dirname "$0")/../lib/common.sh"
make_work_dir
adb_port=
cleanup_hook() {
  if [[ -n $adb_port ]]; then adb -P "$adb_port" kill-server >/dev/null 2>&1 || true; fi
}
fail_hook() { show_logs 30 "$work"/*.log; }

# Starts adbd-sim on tcp:127.0.0.1:0 with extra args; sets sim_port to the port it bound.
# (Not run in $(...): the daemon would hold the substitution's pipe open.)
start_sim() {
  local name=$1
  shift
  "$sim_bin" --listen tcp:127.0.0.1:0 "$@" >/dev/null 2>"$work/$name.log" &
  wait_until 10 grep -q 'listening on tcp:' "$work/$name.log" || return 1
  sim_port=$(bound_address "$work/$name.log")
  sim_port=${sim_port##*:}
}

export HOME=$work/home  # adb keeps its key pair under $HOME/.android
mkdir -p "$HOME" "$work/root"
# The adb server cannot report a port it picked: a port the kernel reports free.
adb_port=$(free_port) || fail "no free port for the adb server"
adb_bin=$(command -v adb)
adb() { timeout 60 "$adb_bin" -P "$adb_port" "$@"; }

start_sim sim --root "$work/root" || fail "adbd-sim did not start"
port=$sim_port
serial=127.0.0.1:$port
adb start-server >/dev/null 2>&1 || fail "adb server did not start on port $adb_port"

adb connect "$serial" | grep -q "connected to $serial" || fail "adb connect $serial"
timeout 20 "$adb_bin" -P "$adb_port" -s "$serial" wait-for-device || fail "wait-for-device"
adb devices | grep -q "^${serial}[[:space:]]*device$" || fail "adb devices does not list $serial: $(adb devices)"

out=$(adb -s "$serial" shell echo ok)
[[ $out == ok ]] || fail "shell echo ok printed \"$out\""
out=$(adb -s "$serial" shell 'echo to-stderr >&2; pwd')
[[ $out == $'to-stderr\n'"$(cd "$work/root" && pwd -P)" ]] || fail "shell stderr/cwd printed \"$out\""

# push, then pull, 20 MB of random data.
head -c 20000000 /dev/urandom >"$work/in.bin"
t0=$(date +%s.%N)
adb -s "$serial" push "$work/in.bin" /data/local/tmp/blob >"$work/push.out" || fail "push: $(cat "$work/push.out")"
t1=$(date +%s.%N)
adb -s "$serial" pull /data/local/tmp/blob "$work/out.bin" >"$work/pull.out" || fail "pull: $(cat "$work/pull.out")"
t2=$(date +%s.%N)
sum_in=$(sha256sum <"$work/in.bin")
[[ $(sha256sum <"$work/root/data/local/tmp/blob") == "$sum_in" ]] || fail "pushed file differs"
[[ $(sha256sum <"$work/out.bin") == "$sum_in" ]] || fail "pulled file differs"
awk -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "push 20 MB: %.3f s, pull 20 MB: %.3f s (wall clock, adb start-up included)\n", b - a, c - b }'
tail -1 "$work/push.out"
tail -1 "$work/pull.out"

# A path that climbs out of --root is refused, and the session goes on.
if adb -s "$serial" pull /../../etc/hostname "$work/x" >/dev/null 2>&1; then fail "pull escaped --root"; fi
adb -s "$serial" push "$work/in.bin" /../escape >"$work/escape.out" 2>&1 && fail "push escaped --root"
grep -q 'outside the root' "$work/escape.out" || fail "escape refusal: $(cat "$work/escape.out")"

# Several streams at once on one connection.
shells=()
expect=$(seq 1 50000 | md5sum)
for i in 1 2 3 4 5 6; do
  adb -s "$serial" shell "seq 1 50000 | md5sum" >"$work/par$i.out" &
  shells+=($!)
done
for p in "${shells[@]}"; do wait "$p" || fail "a concurrent shell failed"; done
for i in 1 2 3 4 5 6; do [[ $(cat "$work/par$i.out") == "$expect" ]] || fail "concurrent shell $i"; done

# source:N and sink:N through the adb server's smart-socket protocol (what a soak client
# does): "host:transport:SERIAL", then the service; each request is 4 hex digits of length
# + text, answered by OKAY.
smart_open() {
  local req
  exec 3<>"/dev/tcp/127.0.0.1/$adb_port"
  for req in "host:transport:$serial" "$1"; do
    printf '%04x%s' "${#req}" "$req" >&3
    [[ $(dd bs=4 count=1 <&3 2>/dev/null) == OKAY ]] || fail "smart socket refused $req"
  done
}
n=10000000
smart_open "source:$n"
timeout 30 cat <&3 >"$work/source.bin" || fail "source:$n did not end"
exec 3<&-
perl -e '$p = join "", map { chr } 0..250; $s = $p x (int($ARGV[0] / 251) + 1);
         print substr($s, 0, $ARGV[0])' "$n" >"$work/pattern.bin"
cmp -s "$work/source.bin" "$work/pattern.bin" || fail "source:$n sent $(stat -c %s "$work/source.bin") bytes, not the pattern"

smart_open "sink:$n"
head -c "$n" /dev/zero >&3
timeout 30 cat <&3 >/dev/null || fail "sink:$n did not close after $n bytes"
exec 3<&-

# A malformed message resets only its own connection.
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'this is not an adb header!' >&4
timeout 10 cat <&4 >/dev/null || true
exec 4<&-
wait_until 10 grep -q 'reset: bad magic 0x' "$work/sim.log" || fail "no log line for the malformed message"
[[ $(adb -s "$serial" shell echo still ok) == "still ok" ]] || fail "the adb session died with the bad one"

# --auth: token, a signature adbd-sim cannot verify, then the public key is accepted.
start_sim auth --auth --root "$work/root" || fail "adbd-sim --auth did not start"
auth_port=$sim_port
adb connect "127.0.0.1:$auth_port" >/dev/null || true  # adb 29 says "failed to authenticate" here
timeout 20 "$adb_bin" -P "$adb_port" -s "127.0.0.1:$auth_port" wait-for-device || fail "auth: wait-for-device"
[[ $(adb -s "127.0.0.1:$auth_port" shell echo authed) == authed ]] || fail "shell after --auth"
grep -q "accepting the host's public key" "$work/auth.log" || fail "auth: public key not seen"

adb disconnect "$serial" >/dev/null
wait_until 10 grep -q 'closed (peer closed)' "$work/sim.log" || fail "adbd-sim did not see the disconnect"
echo "ok: adbd-sim works with $("$adb_bin" version | sed -n 2p)"
