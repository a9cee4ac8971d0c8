#!/usr/bin/env bash
# A hardened systemd unit stays hardened: `systemd-analyze security --offline=true` must
# rate its exposure at most MAX (0.0 best .. 10.0 worst; docs/security.md has the scores),
# and systemd must understand every line of it (an ignored, misspelt setting protects
# nothing).
# usage: systemd_security_test.sh UNIT_FILE MAX      exit 77 (skip) without systemd-analyze
set -euo pipefail
unit=$1 max=$2

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: skipped"
  exit 77
fi

out=$(systemd-analyze security --offline=true "$unit" 2>&1) || true
echo "$out" | grep -v '✓' || true   # what is still exposed, for whoever reads the log

if ignored=$(echo "$out" | grep -E 'Unknown (key|section)|ignoring|Failed to parse'); then
  echo "FAIL: systemd does not understand parts of $unit:" >&2
  echo "$ignored" >&2
  exit 1
fi
score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [[ -z $score ]]; then
  echo "FAIL: no exposure level in the output for $unit" >&2
  exit 1
fi
if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
  echo "FAIL: $unit exposure $score is above $max" >&2
  exit 1
fi
echo "PASS: $(basename "$unit") exposure $score (at most $max)"
