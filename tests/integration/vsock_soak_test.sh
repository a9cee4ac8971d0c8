#!/usr/bin/env bash
# vsock-soak over loopback. usage: vsock_soak_test.sh VSOCK_SOAK MODE
#   faults.unix, faults.tcp  ~25 s soak while the serve process is killed and restarted every
#                            4 s (and connections dropped, a reader paused, a small burst
#                            behind a paused reader: --small-burst-every): zero lost or
#                            corrupted bytes, every recovery measured and completed. The
#                            bound is loose (5 s): this machine is shared, and speed is
#                            measured by the lab soak, not asserted here.
#   corruption               a serve that flips one bit (--inject-corruption 1:100000) must make
#                            the run fail, naming stream 1 and offset 100000
#   html                     the HTML report opened in headless chromium: charts drawn with
#                            points, the verdict and summary shown (exit 77 without chromium)
set -euo pipefail
soak=$1
mode=$2
source "$(dirname "$0")/../lib/common.sh"
make_work_dir
serve_pid=
cleanup_hook() {
  [[ -f $work/serve.pid ]] && kill "$(cat "$work/serve.pid")" 2>/dev/null
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null
}
fail_hook() { show_logs --prefix 40 "$work"/*.log; }
# json KEY: a counter of the run's results (soak_json)
source "$(dirname "$0")/soak_lib.sh"
json() { soak_json "$work/r.json" "$1"; }

# faults.tcp: the first serve listens on port 0; the port it logs is the address every
# restart listens on again (written to $work/addr, which restart.sh reads).
case $mode in
  faults.tcp) addr=tcp:127.0.0.1:0 ;;
  *) addr=unix:$work/soak.sock ;;
esac
echo "$addr" >"$work/addr"

# The restart command kills the running serve and starts a new one, as a supervisor would.
# It returns once the new one listens, as a supervisor's "started" would: recovery is timed
# from there.
cat >"$work/restart.sh" <<SH
#!/usr/bin/env bash
[[ -f $work/serve.pid ]] && kill \$(cat $work/serve.pid) 2>/dev/null
while kill -0 \$(cat $work/serve.pid) 2>/dev/null; do sleep 0.01; done
n=\$(grep -c "listening on" $work/serve.log 2>/dev/null)
setsid "$soak" serve --listen "\$(cat $work/addr)" >>"$work/serve.log" 2>&1 </dev/null &
echo \$! >$work/serve.pid
for i in \$(seq 500); do (( \$(grep -c "listening on" $work/serve.log) > n )) && exit 0; sleep 0.01; done
exit 1
SH
chmod +x "$work/restart.sh"
start_serve() {  # start_serve [serve options]: a serve not managed by restart.sh
  "$soak" serve --listen "$addr" "$@" >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  wait_until 10 grep -q "listening on" "$work/serve.log" || fail "serve did not start"
  addr=$(bound_address "$work/serve.log")
}

case $mode in
  faults.*)
    bash "$work/restart.sh"
    wait_until 10 grep -q "listening on" "$work/serve.log" || true
    addr=$(bound_address "$work/serve.log")
    echo "$addr" >"$work/addr"
    set +e
    "$soak" run --target "$addr" --streams 6 --sizes 1..65536 --duration 25s --seed 42 \
      --restart-cmd "bash $work/restart.sh" --restart-every 3s --drop-every 3s \
      --pause-every 7s --pause-for 1s --small-burst-every 4s --small-burst-for 1s \
      --small-burst-window 512 --recovery-bound 5s --progress lines \
      --json "$work/r.json" >"$work/run.out" 2>"$work/run.log"
    rc=$?
    set -e
    cat "$work/run.out"
    (( rc == 0 )) || fail "run exited $rc"
    why=$(soak_clean "$work/r.json") || fail "$why"
    restarts=$(soak_restarts "$work/r.json")
    (( restarts >= 3 )) || fail "expected at least 3 timed restart recoveries, got $restarts"
    breaks=$(json breaks)
    (( breaks >= 3 * 6 )) || fail "restarts should have broken every stream's connection, breaks=$breaks"
    (( $(json messages) > 1000 )) || fail "too little traffic: $(json messages) messages"
    bursts=$(jq '[.faults[] | select(.kind == "small-burst")] | length' "$work/r.json")
    (( bursts >= 2 )) || fail "expected at least 2 small bursts, got $bursts"
    echo "ok: $restarts restarts, $breaks connections broken and resumed, $bursts small bursts, nothing lost"
    ;;
  corruption)
    start_serve --inject-corruption 1:100000
    set +e
    "$soak" run --target "$addr" --streams 2 --sizes 1000..3000 --duration 4s --progress quiet \
      --json "$work/r.json" >"$work/run.out" 2>"$work/run.log"
    rc=$?
    set -e
    cat "$work/run.out"
    (( rc == 1 )) || fail "a corrupting peer must fail the run (exit 1), got $rc"
    grep -q "FAIL" "$work/run.out" || fail "summary does not say FAIL"
    grep -q "stream 1 at offset 100000" "$work/run.out" || fail "summary does not name stream 1, offset 100000"
    jq -e '.first_corruption | .stream == 1 and .offset == 100000' "$work/r.json" >/dev/null ||
      fail "JSON first_corruption is wrong: $(jq -c .first_corruption "$work/r.json")"
    (( $(json corruptions) == 1 )) || fail "expected exactly one corrupted message"
    (( $(json lost_messages) == 0 )) || fail "the damaged message must be resent and verified, not lost"
    echo "ok: the flipped byte was reported at stream 1, offset 100000"
    ;;
  html)
    command -v chromium >/dev/null || { echo "SKIP: chromium not installed (tests/setup installs it)"; exit 77; }
    start_serve
    "$soak" run --target "$addr" --streams 3 --duration 8s --drop-every 2s --watch-pid "$serve_pid" \
      --warmup 2s --max-fd-growth 16 --progress quiet --json "$work/r.json" --html "$work/report.html" \
      >"$work/run.out" 2>"$work/run.log" || fail "run failed: $(cat "$work/run.out")"
    # --dump-dom prints the DOM after the page's script ran: what a person's browser shows.
    export HOME=$work  # chromium writes its profile under HOME
    timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
      --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/chromium.log" || fail "chromium failed"
    grep -q 'data-rendered="yes"' "$work/dom.html" || fail "the report's script did not finish"
    points() { grep -o "data-series=\"$1\" data-points=\"[0-9]*\"" "$work/dom.html" | grep -o '[0-9]*"$' | tr -d '"'; }
    n=$(points throughput)
    (( ${n:-0} >= 7 )) || fail "throughput chart has ${n:-no} points, expected >= 7 (8 s run)"
    for s in p50 p99 p99.9 max "rss:vsock-soak" "fds:vsock-soak"; do
      m=$(points "$s")
      (( ${m:-0} == n )) || fail "series $s has ${m:-no} points, throughput has $n"
    done
    grep -q '<span id="verdict" class="pass">PASS</span>' "$work/dom.html" || fail "verdict PASS not shown"
    grep -q '<div id="summary">vsock-soak: PASS' "$work/dom.html" || fail "summary line not shown"
    rows=$(grep -o '<td class="l">drop stream [0-9]*</td>' "$work/dom.html" | wc -l)
    (( rows >= 2 )) || fail "recovery table has $rows drop rows, expected >= 2"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
      --window-size=1100,1800 --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>&1 ||
      fail "screenshot failed"
    (( $(stat -c %s "$work/report.png") > 20000 )) || fail "screenshot suspiciously small"
    [[ -n ${VSOCK_SOAK_KEEP_REPORT:-} ]] && cp "$work/report.html" "$work/report.png" "$VSOCK_SOAK_KEEP_REPORT/"
    echo "ok: report rendered in chromium: $n points per series, verdict and summary shown, $rows recoveries listed"
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
