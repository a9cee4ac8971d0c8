# shellcheck shell=bash
# Reading `vsock-soak run --json FILE` in the soak tests (sourced, not run). The results
# document (bench/vsock-soak/src/results.cpp): "totals" holds the run's counters, "recoveries"
# one record per fault or break. Read with jq (tests/setup installs it); a FILE that is not
# JSON fails each helper.

# soak_json FILE KEY: the value of KEY (a number, or a "string" with its quotes) among the
# run's counters ("totals"), or else at the top level ("result", "first_corruption", ...);
# fails when neither has KEY.
soak_json() {
  jq -c --arg key "$2" '
    if (.totals | has($key)) then .totals[$key]
    elif has($key) then .[$key]
    else error("no \($key) in the results") end' "$1"
}

# soak_clean FILE [--last-may-be-open]: succeeds when nothing was lost, corrupted or out
# of order and every recovery completed; otherwise prints why and fails. With
# --last-may-be-open the last recovery may still have been under way when the run ended
# (a restart that takes longer than the gap before the end; the run's verdict bounds it).
soak_clean() {
  local f=$1 k open
  for k in lost_messages lost_bytes corruptions gaps; do
    [[ $(soak_json "$f" "$k") == 0 ]] || { echo "$k=$(soak_json "$f" "$k"): $(head -c 600 "$f")"; return 1; }
  done
  open=$(jq '[.recoveries[] | select(.recovered | not)] | length' "$f") ||
    { echo "cannot read the recoveries of $f"; return 1; }
  if [[ ${2:-} == --last-may-be-open ]] && ((open == 1)) &&
    jq -e '.recoveries[-1].recovered == false' "$f" >/dev/null; then
    open=0
  fi
  ((open == 0)) || { echo "$open recoveries did not complete"; return 1; }
}

# soak_restarts FILE: how many restarts the run timed.
soak_restarts() { jq '[.recoveries[] | select(.cause == "restart")] | length' "$1"; }
