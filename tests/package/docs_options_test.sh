#!/usr/bin/env bash
# docs/configuration.md must document every option of every program, and nothing else:
#  - each long option in `PROGRAM --help` appears in the program's section (## PROGRAM);
#  - each --option the section mentions exists in --help (no stale flags);
#  - each config key the program's parser accepts (`key == "..."` or `k == "..."` in
#    relay/PROGRAM/src) and
#    each key in its example configs (relay/PROGRAM/dist/*.conf, commented-out ones too)
#    appears in the section as `key`.
# usage: docs_options_test.sh SOURCE_DIR PROGRAM...   (ctest: packaging.docs_options)
set -euo pipefail
src=$1; shift
doc=$src/docs/configuration.md
fail=0
err() { echo "docs/configuration.md: $*"; fail=1; }

for prog in "$@"; do
  name=$(basename "$prog")
  section=$(awk -v h="## $name" '$0 == h {on=1; next} /^## / {on=0} on' "$doc")
  if [[ -z $section ]]; then err "no section '## $name'"; continue; fi
  help=$("$prog" --help)
  # Programs with subcommands ("usage: vsock-mcast host [OPTIONS]") list options per command.
  mapfile -t cmds < <(grep -oE "$name [a-z]+ +\[OPTIONS\]" <<<"$help" | awk '{print $2}' | sort -u)
  for cmd in "${cmds[@]}"; do
    help+=$'\n'$("$prog" "$cmd" --help)
  done
  flags=$(grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' <<<"$help" | grep -oE -- '--[a-z0-9-]+' | sort -u || true)
  n=0
  for f in $flags; do
    grep -qE -- "${f}([^a-z0-9-]|$)" <<<"$section" || err "$name: $f (in --help) is not documented"
    n=$((n + 1))
  done
  for f in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$section" | sort -u || true); do
    grep -qxF -- "$f" <<<"$flags" || err "$name: documents $f, which --help does not list"
  done
  keys=$( { grep -ohE '\b(key|k) == "[a-z_]+"' "$src/relay/$name/src/"*.cpp 2>/dev/null | cut -d'"' -f2
            sed -nE 's/^[#[:space:]]*([a-z_]+)[[:space:]]*=.*/\1/p' "$src/relay/$name/dist/"*.conf 2>/dev/null
          } | sort -u || true)
  k=0
  for key in $keys; do
    grep -qF -- "\`$key\`" <<<"$section" || err "$name: config key '$key' is not documented"
    k=$((k + 1))
  done
  echo "$name: $n options, $k config keys checked"
done
((fail == 0)) && echo "docs/configuration.md: up to date"
