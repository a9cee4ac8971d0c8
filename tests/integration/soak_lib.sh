# shellcheck shell=bash
# Reading `vsock-soak run --json FILE` in the soak tests (sourced, not run).

# soak_json FILE KEY: the value of KEY (its first occurrence: the top-level counters come
# before the per-recovery records).
soak_json() { grep -o "\"$2\":[^,}]*" "$1" | head -1 | cut -d: -f2; }

# soak_clean FILE [--last-may-be-open]: succeeds when nothing was lost, corrupted or out
# of order and every recovery completed; otherwise prints why and fails. With
# --last-may-be-open the last recovery may still have been under way when the run ended
# (a restart that takes longer than the gap before the end; the run's verdict bounds it).
soak_clean() {
  local f=$1 k open
  for k in lost_messages lost_bytes corruptions gaps; do
    [[ $(soak_json "$f" "$k") == 0 ]] || { echo "$k=$(soak_json "$f" "$k"): $(head -c 600 "$f")"; return 1; }
  done
  open=$(grep -o '"recovered":[a-z]*' "$f" | grep -c false) || true
  if [[ ${2:-} == --last-may-be-open ]] && ((open == 1)) &&
    [[ $(grep -o '"recovered":[a-z]*' "$f" | tail -1) == '"recovered":false' ]]; then
    open=0
  fi
  ((open == 0)) || { echo "$open recoveries did not complete"; return 1; }
}

# soak_restarts FILE: how many restarts the run timed.
soak_restarts() { grep -o '"cause":"restart"' "$1" | wc -l; }
