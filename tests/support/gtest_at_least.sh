#!/usr/bin/env bash
# Runs a gtest binary with a filter and fails unless at least MIN tests ran and passed, so a
# filter that stops matching (a renamed test) cannot pass by running nothing.
# usage: gtest_at_least.sh MIN BINARY --gtest_filter=... [more gtest args]
set -uo pipefail
min=$1
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
((rc == 0)) || exit "$rc"
passed=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p')
if ((${passed:-0} < min)); then
  echo "gtest_at_least: only ${passed:-0} tests passed, expected at least $min" >&2
  exit 1
fi
