#!/usr/bin/env bash
# adbd-sim against Debian's real adb client (29.0.6) over TCP loopback, with a private adb
# server (its own port and HOME, killed at the end; the default server on 5037 is never
# touched):
#   adb connect / devices / shell echo ok; push then pull of 20 MB random data (checksums
#   must match); several shells at once; the modern features, each seen in adbd-sim's debug
#   log (shell_v2: exit status, stderr apart, stdin; stat_v2/ls_v2: adb ls, pull of a
#   directory, an absent path; abb: adb abb, adb install; with adb 34 also sendrecv_v2 and,
#   its server started with ADB_DELAYED_ACK=1, delayed_ack for the whole run); source:N and
#   sink:N through the adb server's smart-socket protocol; --auth (token, signature, public
#   key); a malformed message resets only its own connection.
# usage: adbd_sim_test.sh PATH/TO/adbd-sim          (exit 77 = skipped: no adb installed)
#   With VSOCK_LAB_NEWER_ADB=PATH/TO/adb-34 (tests/lab/run --newer-adb fetches it into the
#   lab's cache; it runs on this host too) the test runs with that client instead.
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
major=$("$adb_bin" version | sed -n 's/^Version \([0-9]*\)\..*/\1/p')
[[ -n $major ]] || fail "cannot read adb's version"
# adb 34 offers delayed_ack when its server runs with ADB_DELAYED_ACK=1 (adb 29 has none).
if ((major >= 34)); then export ADB_DELAYED_ACK=1; fi

start_sim sim --root "$work/root" --log-level debug || fail "adbd-sim did not start"
port=$sim_port
serial=127.0.0.1:$port
adb start-server >/dev/null 2>&1 || fail "adb server did not start on port $adb_port"

adb connect "$serial" | grep -q "connected to $serial" || fail "adb connect $serial"
timeout 20 "$adb_bin" -P "$adb_port" -s "$serial" wait-for-device || fail "wait-for-device"
adb devices | grep -q "^${serial}[[:space:]]*device$" || fail "adb devices does not list $serial: $(adb devices)"

out=$(adb -s "$serial" shell echo ok)
[[ $out == ok ]] || fail "shell echo ok printed \"$out\""
if ((major >= 34)); then
  grep -q 'online, version .*, delayed_ack' "$work/sim.log" || fail "adb $major: delayed_ack not negotiated"
fi
# shell_v2: stderr apart from stdout, the exit status, stdin.
out=$(adb -s "$serial" shell 'echo to-stderr >&2; pwd' 2>"$work/stderr.out")
[[ $out == "$(cd "$work/root" && pwd -P)" && $(cat "$work/stderr.out") == to-stderr ]] ||
  fail "shell stdout '$out', stderr '$(cat "$work/stderr.out")'"
rc=0
adb -s "$serial" shell false || rc=$?
((rc == 1)) || fail "adb shell false exited $rc, not 1"
rc=0
adb -s "$serial" shell 'kill -TERM $$' || rc=$?
((rc == 128 + 15)) || fail "a shell killed by SIGTERM exited $rc, not 143"
[[ $(echo hi | adb -s "$serial" shell cat) == hi ]] || fail "echo hi | adb shell cat"
[[ $(adb -s "$serial" shell -tt echo no-pty </dev/null) == no-pty ]] || fail "adb shell -tt"
grep -q 'stream [0-9]* (remote [^)]*): shell,v2,' "$work/sim.log" || fail "adb shell did not use shell,v2"
grep -q 'stream [0-9]* (remote [^)]*): shell,v2,\(TERM=[^,]*,\)\?pty:' "$work/sim.log" || fail "adb shell -tt did not ask for a pty"

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

# stat_v2, ls_v2 (and sendrecv_v2 with adb 34): adb ls, pull of a directory, an absent path.
mkdir -p "$work/tree/sub"
head -c 300000 /dev/urandom >"$work/tree/a.bin"
echo hello >"$work/tree/sub/b.txt"
cp -r "$work/tree" "$work/root/tree"
adb -s "$serial" ls /tree >"$work/ls.out" || fail "adb ls"
if ! { grep -q ' a.bin$' "$work/ls.out" && grep -q ' sub$' "$work/ls.out"; }; then fail "adb ls: $(cat "$work/ls.out")"; fi
adb -s "$serial" pull /tree "$work/pulled" >/dev/null || fail "adb pull of a directory"
diff -r "$work/tree" "$work/pulled" >/dev/null || fail "the pulled directory differs"
rc=0
adb -s "$serial" pull /absent "$work/absent" >"$work/absent.err" 2>&1 || rc=$?
if ! { ((rc != 0)) && grep -q "No such file or directory" "$work/absent.err"; }; then fail "absent path: $(cat "$work/absent.err")"; fi
grep -q 'sync: LIS2 /tree' "$work/sim.log" || fail "adb ls did not use LIS2 (ls_v2)"
grep -q 'sync: \(STA2\|LST2\) /absent' "$work/sim.log" || fail "no STA2/LST2 (stat_v2) for the absent path"
if ((major >= 34)); then
  if ! { grep -q 'sync: SND2 ' "$work/sim.log" && grep -q 'sync: RCV2 ' "$work/sim.log"; }; then fail "adb $major did not use SND2/RCV2"; fi
fi
ids=$(grep -o 'sync: [A-Z0-9]\{4\} ' "$work/sim.log" | cut -c7-10 | sort | uniq -c | tr -s ' \n' ' ')
echo "sync requests seen:$ids"

# abb and abb_exec (simulated): adb abb, adb install.
out=$(adb -s "$serial" abb package list packages) || fail "adb abb package list packages"
grep -qx 'package:com.android.shell' <<<"$out" || fail "adb abb printed '$out'"
head -c 4096 /dev/urandom >"$work/app.apk"
out=$(adb -s "$serial" install "$work/app.apk" 2>&1) || fail "adb install: $out"
grep -q Success <<<"$out" || fail "adb install printed '$out'"
grep -q 'abb_exec:package install ' "$work/sim.log" || fail "adb install did not use abb_exec"

# A path that climbs out of --root is refused, and the session goes on.
if adb -s "$serial" pull /../../etc/hostname "$work/x" >/dev/null 2>&1; then fail "pull escaped --root"; fi
adb -s "$serial" push "$work/in.bin" /../escape >"$work/escape.out" 2>&1 && fail "push escaped --root"
# (adb 29 with stat_v2 learns it from STA2: EACCES, "Permission denied".)
grep -q 'outside the root\|Permission denied' "$work/escape.out" || fail "escape refusal: $(cat "$work/escape.out")"
[[ ! -e $work/escape ]] || fail "push escaped --root: $work/escape exists"

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
if ((major >= 34)); then
  most=$(grep -o 'at most [0-9]* bytes unacknowledged to the host' "$work/sim.log" | grep -o '[0-9]*' | sort -n | tail -1)
  echo "delayed_ack: at most $most bytes unacknowledged towards adb on one stream"
  ((most > 1048576)) || fail "delayed_ack never had more than one WRTE in flight ($most bytes)"
fi
echo "ok: adbd-sim works with $("$adb_bin" version | sed -n 2p)"
