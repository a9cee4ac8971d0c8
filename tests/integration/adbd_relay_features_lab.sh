#!/usr/bin/env bash
# The modern ADB features through adbd-relay, in the lab guest, with the real client the
# lab put first in PATH (Debian 12's adb 29, or adb 34 with tests/lab/run --newer-adb):
#
#   adb -> USB gadget (dummy_hcd, FunctionFS) -> adbd-relay -> vsock:1 -> adbd-sim
#
# adbd-sim advertises shell_v2, stat_v2, ls_v2, sendrecv_v2, abb, abb_exec and delayed_ack;
# what the client chose is read from adbd-sim's debug log (OPEN destinations, sync request
# ids, delayed_ack windows), so each check proves the feature crossed the relay:
#   shell_v2     exit status (adb shell false -> 1), stderr apart from stdout, stdin
#                (echo hi | adb shell cat; 1 MiB through cat with equal sha256)
#   stat_v2      adb pull of an absent path fails with adb's usual message (STA2/LST2)
#   ls_v2        adb ls and adb pull of a directory (LIS2)
#   sendrecv_v2  adb 34 pushes and pulls with SND2/RCV2 (adb 29 does not know them: SEND/RECV)
#   sendrecv_v2_brotli, _lz4, _zstd, _dry_run_send
#                adb 34 pushes and pulls a 3.2 MB file (text and random bytes) with -z brotli,
#                -z lz4, -z zstd: equal sha256 both ways, and adbd-sim's log shows the flag
#                and fewer bytes on the wire than in the file; adb push -n (dry run)
#   abb          adb abb package list packages (abb:), adb install (abb_exec:)
#   delayed_ack  adb 34 with ADB_DELAYED_ACK=1: windows on OPEN, OKAYs with a payload across
#                the relay, more than one WRTE's worth unacknowledged; 20 MiB push + pull
# usage (in the lab): adbd_relay_features_lab.sh ADBD_RELAY ADBD_SIM
set -euo pipefail
relay=$1
sim=$2
. "$(dirname "${BASH_SOURCE[0]}")/adb_lab_lib.sh"
major=$(adb version | sed -n 's/^Version \([0-9]*\)\..*/\1/p')
[[ -n $major ]] || fail "cannot read adb's version: $(adb version)"
port=5555
serial="relay-features"
logs+=("$work/relay.log" "$work/sim.log")
mkdir -p "$work/root"
"$sim" --listen "vsock:any:$port" --root "$work/root" --log-level debug >"$work/sim.log" 2>&1 &
"$relay" --guest "vsock:1:$port" --serial "$serial" --control "$work/control" \
  --log-level debug >"$work/relay.log" 2>&1 &
adb start-server >/dev/null 2>&1
wait_state "$serial" device 30 || fail "adb devices never listed $serial: $(adb devices)"
a() { timeout 120 adb -s "$serial" "$@"; }

# What adbd-sim logged since mark: each check looks only at its own lines.
mark=0
set_mark() { mark=$(wc -l <"$work/sim.log"); }
since_mark() { tail -n "+$((mark + 1))" "$work/sim.log"; }
saw() { since_mark | grep -q -- "$1"; }

# ---- shell_v2
set_mark
rc=0
a shell false || rc=$?
((rc == 1)) || fail "adb shell false exited $rc, not 1"
saw 'stream [0-9]* (remote [0-9]*.*): shell,v2,' || fail "adb shell did not open shell,v2: $(since_mark | grep stream)"
rc=0
a shell 'echo to-out; echo to-err >&2; exit 3' >"$work/o" 2>"$work/e" || rc=$?
[[ $(cat "$work/o") == to-out && $(cat "$work/e") == to-err && $rc == 3 ]] ||
  fail "stdout '$(cat "$work/o")', stderr '$(cat "$work/e")', status $rc; expected to-out, to-err, 3"
[[ $(echo hi | a shell cat) == hi ]] || fail "echo hi | adb shell cat"
head -c $((1024 * 1024)) /dev/urandom >"$work/stdin.bin"
a shell 'cat >stdin.bin' <"$work/stdin.bin" || fail "adb shell 'cat >stdin.bin'"
cmp -s "$work/stdin.bin" "$work/root/stdin.bin" || fail "1 MiB through the shell's stdin differs"
echo "shell_v2: exit status 1 and 3, stderr apart, stdin (hi, 1 MiB equal) through the relay"
since_mark | grep -o 'stream [0-9]* (remote [^)]*): shell,v2,[^:]*:' | sort | uniq -c | sed 's/^/  /'

# ---- stat_v2, ls_v2 and push/pull (sendrecv_v2 with adb 34)
set_mark
mkdir -p "$work/tree/sub"
head -c 300000 /dev/urandom >"$work/tree/a.bin"
echo hello >"$work/tree/sub/b.txt"
a push "$work/tree/a.bin" /data/local/tmp/tree/a.bin >/dev/null || fail "adb push a.bin"
a push "$work/tree/sub/b.txt" /data/local/tmp/tree/sub/b.txt >/dev/null || fail "adb push b.txt"
a ls /data/local/tmp/tree >"$work/ls.out" || fail "adb ls"
if ! { grep -q ' a.bin$' "$work/ls.out" && grep -q ' sub$' "$work/ls.out"; }; then fail "adb ls: $(cat "$work/ls.out")"; fi
a pull /data/local/tmp/tree "$work/pulled" >/dev/null || fail "adb pull of a directory"
diff -r "$work/tree" "$work/pulled" >/dev/null || fail "the pulled directory differs"
rc=0
a pull /data/absent "$work/absent" >"$work/absent.err" 2>&1 || rc=$?
((rc != 0)) || fail "pull of an absent path succeeded"
grep -q "No such file or directory" "$work/absent.err" || fail "absent path: $(cat "$work/absent.err")"
saw 'sync: LIS2 ' || fail "ls_v2 not used: $(since_mark | grep -o 'sync: [A-Z0-9]* ' | sort -u | tr '\n' ' ')"
saw 'sync: \(STA2\|LST2\) /data/absent' || fail "stat_v2 not used for the absent path"
ids=$(since_mark | grep -o 'sync: [A-Z0-9]\{4\} ' | cut -c7-10 | sort | uniq -c | tr -s ' \n' ' ')
echo "sync: adb ls, push, pull of a directory, absent path ('$(head -1 "$work/absent.err")'); requests:$ids"
if ((major >= 34)); then
  # (adb 34 still sends a small file with one SEND v1 message: b.txt.)
  if ! { saw 'sync: SND2 /data/local/tmp/tree/a.bin' && saw 'sync: RCV2 /data/local/tmp/tree/a.bin'; }; then
    fail "adb $major did not use SND2/RCV2 (sendrecv_v2) for a.bin:$ids"
  fi
  echo "sendrecv_v2: SND2/RCV2 (flags: $(since_mark | grep -o 'flags 0x[0-9a-f]*' | sort -u | tr '\n' ' '))"

  # ---- sendrecv_v2 compression: adb 34's -z ALGORITHM (adb 29 has no compression).
  # Half text, half random: compressible enough that each algorithm shows on the wire.
  seq 1 250000 >"$work/z.bin"
  head -c $((3 * 512 * 1024)) /dev/urandom >>"$work/z.bin"
  size=$(stat -c %s "$work/z.bin")
  sum=$(sha256sum <"$work/z.bin" | cut -d' ' -f1)
  declare -A flag=([brotli]=0x1 [lz4]=0x2 [zstd]=0x4)
  for alg in brotli lz4 zstd; do
    set_mark
    remote=/data/local/tmp/z-$alg.bin
    t0=$(date +%s%N)
    a push -z "$alg" "$work/z.bin" "$remote" >/dev/null || fail "adb push -z $alg"
    t1=$(date +%s%N)
    a pull -z "$alg" "$remote" "$work/z-$alg.out" >/dev/null || fail "adb pull -z $alg"
    t2=$(date +%s%N)
    [[ $(sha256sum <"$work/root$remote" | cut -d' ' -f1) == "$sum" ]] || fail "-z $alg: the pushed file differs"
    [[ $(sha256sum <"$work/z-$alg.out" | cut -d' ' -f1) == "$sum" ]] || fail "-z $alg: the pulled file differs"
    saw "sync: SND2 $remote mode [0-7]* flags ${flag[$alg]}\$" || fail "-z $alg: no SND2 with flags ${flag[$alg]}: $(since_mark | grep 'sync: SND2')"
    saw "sync: RCV2 $remote flags ${flag[$alg]}\$" || fail "-z $alg: no RCV2 with flags ${flag[$alg]}: $(since_mark | grep 'sync: RCV2')"
    # "received PATH (N bytes from M compressed, ALG)", "sent PATH (N bytes as M compressed, ALG)"
    read -r pushed pushed_wire < <(since_mark | sed -n "s|.*sync: received $remote (\([0-9]*\) bytes from \([0-9]*\) compressed, $alg)\$|\1 \2|p") || true
    read -r pulled pulled_wire < <(since_mark | sed -n "s|.*sync: sent $remote (\([0-9]*\) bytes as \([0-9]*\) compressed, $alg)\$|\1 \2|p") || true
    [[ ${pushed:-} == "$size" && ${pulled:-} == "$size" ]] ||
      fail "-z $alg: adbd-sim did not log a $alg transfer of $size bytes both ways: $(since_mark | grep -E 'received|sent')"
    ((pushed_wire < size * 9 / 10 && pulled_wire < size * 9 / 10)) ||
      fail "-z $alg: $pushed_wire / $pulled_wire compressed bytes for $size: not compressed"
    echo "sendrecv_v2_$alg: $size bytes, equal sha256; push $pushed_wire bytes on the wire ($(((t1 - t0) / 1000000)) ms), pull $pulled_wire bytes ($(((t2 - t1) / 1000000)) ms)"
  done
  set_mark
  a push -n -z lz4 "$work/z.bin" /data/local/tmp/dry.bin >/dev/null || fail "adb push -n (dry run)"
  [[ ! -e $work/root/data/local/tmp/dry.bin ]] || fail "adb push -n wrote the file"
  saw "sync: received /data/local/tmp/dry.bin ($size bytes from [0-9]* compressed, lz4, dry run)" ||
    fail "adb push -n -z lz4: $(since_mark | grep 'sync: ')"
  echo "sendrecv_v2_dry_run_send: adb push -n -z lz4 decoded $size bytes, wrote nothing"
else
  if ! { saw 'sync: SEND ' && saw 'sync: RECV '; }; then fail "adb $major: expected SEND/RECV:$ids"; fi
fi

# ---- abb, abb_exec
set_mark
out=$(a abb package list packages) || fail "adb abb package list packages"
grep -qx 'package:com.android.shell' <<<"$out" || fail "adb abb printed '$out'"
saw 'stream [0-9]* (remote [^)]*): abb:package list packages' || fail "adb abb did not open abb:"
head -c 4096 /dev/urandom >"$work/app.apk"
out=$(a install "$work/app.apk" 2>&1) || fail "adb install: $out"
grep -q Success <<<"$out" || fail "adb install printed '$out'"
saw 'abb_exec:package install ' || fail "adb install did not use abb_exec: $(since_mark | grep stream)"
echo "abb: package list packages; abb_exec: adb install -> $(tail -1 <<<"$out")"

# ---- delayed_ack: adb 34 announces it when its server runs with ADB_DELAYED_ACK=1.
if ((major >= 34)); then
  adb kill-server >/dev/null 2>&1
  set_mark
  ADB_DELAYED_ACK=1 adb start-server >/dev/null 2>&1
  wait_state "$serial" device 30 || fail "adb (ADB_DELAYED_ACK=1) never listed $serial again"
  saw 'online, version .*, delayed_ack' || fail "delayed_ack was not negotiated: $(since_mark | grep online)"
  head -c $((20 * 1024 * 1024)) /dev/urandom >"$work/in.bin"
  a push "$work/in.bin" /data/local/tmp/da.bin >/dev/null || fail "push with delayed_ack"
  a pull /data/local/tmp/da.bin "$work/out.bin" >/dev/null || fail "pull with delayed_ack"
  cmp -s "$work/in.bin" "$work/out.bin" || fail "20 MiB push + pull with delayed_ack differs"
  rc=0
  a shell false || rc=$?
  ((rc == 1)) || fail "adb shell false with delayed_ack exited $rc"
  saw 'stream [0-9]* (remote [0-9]*, window [1-9][0-9]*)' || fail "no OPEN carried a window"
  payload=$(since_mark | grep -o 'online, version [^,]*, max payload [0-9]*' | tail -1 | grep -o '[0-9]*$')
  # The pull's stream: the most bytes it had unacknowledged at once towards the PC.
  most=$(since_mark | grep -o 'at most [0-9]* bytes unacknowledged to the host' | grep -o '[0-9]*' | sort -n | tail -1)
  echo "delayed_ack: negotiated (max payload $payload); 20 MiB push + pull equal; at most $most bytes unacknowledged towards the PC"
  ((most > payload)) || fail "never more than one WRTE ($most <= $payload bytes) in flight with delayed_ack"
else
  saw_any=$(grep -c 'delayed_ack' "$work/sim.log" || true)
  grep -q 'online, version [^,]*, max payload [0-9]*$' "$work/sim.log" || fail "adb $major: online line"
  echo "delayed_ack: adb $major does not offer it ($saw_any log lines mention it)"
fi
errors=$(relay_field guest0 protocol_errors)
((errors == 0)) || fail "the relay counted $errors protocol errors: $(relay_field guest0 last_error)"
echo "ok: modern ADB features through adbd-relay with adb $(adb version | sed -n 's/^Version //p')"
