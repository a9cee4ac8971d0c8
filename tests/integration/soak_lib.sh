# Reading `vsock-soak run --json FILE` in the soak tests (sourced, not run).

# soak_json FILE KEY: the value of KEY (its first occurrence: the top-level counters come
# before the per-recovery records).
soak_json() { grep -o "\"$2\":[^,}]*" "$1" | head -1 | cut -d: -f2; }

# soak_clean FILE: succeeds when nothing was lost, corrupted or out of order and every
# recovery completed; otherwise prints why and fails.
soak_clean() {
  local f=$1 k
  for k in lost_messages lost_bytes corruptions gaps; do
    [[ $(soak_json "$f" "$k") == 0 ]] || { echo "$k=$(soak_json "$f" "$k"): $(head -c 600 "$f")"; return 1; }
  done
  ! grep -q '"recovered":false' "$f" || { echo "a recovery did not complete"; return 1; }
}

# soak_restarts FILE: how many restarts the run timed.
soak_restarts() { grep -o '"cause":"restart"' "$1" | wc -l; }
