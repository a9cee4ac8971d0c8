#!/usr/bin/env bash
# Every program refuses a negative or malformed number with exit status 2 and an error
# that names the option, whether given as "--option value" or "--option=value" (std::stoul once took "--allow-cid -1" as 18446744073709551615).
# usage: cli_numbers_test.sh VSOCK_PIPE ADBD_RELAY ADBD_SIM VSOCK_MCAST VSOCK_SOAK MCAST_PROBE
set -euo pipefail
pipe=$1 relay=$2 sim=$3 mcast=$4 soak=$5 probe=$6
failed=0

# expect OPTION COMMAND...: COMMAND must exit 2 and name OPTION in its error.
expect() {
  local option=$1 out rc=0
  shift
  out=$("$@" 2>&1 </dev/null) || rc=$?
  if ((rc != 2)) || [[ $out != *"$option"* ]]; then
    echo "FAIL: $* -> exit $rc: $out"
    failed=1
  else
    echo "ok: ${*:2} -> ${out%%$'\n'*}"
  fi
}

for bad in -1 " 5" 5x "" 99999999999999999999; do
  expect --allow-cid "$pipe" --allow-cid "$bad" unix:/nonexistent/a unix:/nonexistent/b
  expect --connect-timeout "$pipe" --connect-timeout "$bad" unix:/nonexistent/a unix:/nonexistent/b
  expect --host-allow-cid "$relay" --host-listen vsock:any:5555 --host-allow-cid "$bad"
  expect --allow-cid "$sim" --allow-cid "$bad"
  expect --allow-cid "$mcast" host --allow-cid "$bad"
  expect --rate-limit "$mcast" host --rate-limit "$bad"
  expect --streams "$soak" run --target unix:/nonexistent --streams "$bad"
  expect --count "$probe" send --count "$bad"
done
# The --option=value spelling reaches the same checks in every program.
expect --allow-cid "$pipe" --allow-cid=-1 unix:/nonexistent/a unix:/nonexistent/b
expect --host-allow-cid "$relay" --host-listen=vsock:any:5555 --host-allow-cid=-1
expect --allow-cid "$sim" --allow-cid=-1
expect --rate-limit "$mcast" host --rate-limit=-1
expect --streams "$soak" run --target=unix:/nonexistent --streams=-1
# Zero where at least one is needed, and the all-ones CID ("any", never a peer).
expect --chunk-size "$pipe" --chunk-size 0 unix:/nonexistent/a unix:/nonexistent/b
expect --allow-cid "$pipe" --allow-cid 4294967295 unix:/nonexistent/a unix:/nonexistent/b
exit "$failed"
