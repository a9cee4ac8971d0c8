# shellcheck shell=bash
# kernel-patches/apt.sh — sourced by verify and lab/vsock-test-suite: finds and downloads
# Debian packages (no installs). Needs LAB_CACHE (the lab's cache, tests/lab/run).
# The system's apt configuration first; then the private configurations the
# lab keeps for suites the system doesn't list (bullseye for 5.10).
APT_OPTS=()
apt_find() {  # apt_find PACKAGE=VERSION: sets APT_OPTS to a configuration that knows it
  local dir
  APT_OPTS=()
  apt-cache show "$1" >/dev/null 2>&1 && return 0
  for dir in "$LAB_CACHE"/apt/*/; do
    [[ -r $dir/sources.list ]] || continue
    APT_OPTS=(-o "Dir::Etc::sourcelist=${dir}sources.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State::Lists=${dir}lists" -o "Dir::Cache=${dir}cache"
              -o "Dir::State::status=${dir}status")
    ((EUID == 0)) && APT_OPTS+=(-o "APT::Sandbox::User=root")
    apt-cache "${APT_OPTS[@]}" show "$1" >/dev/null 2>&1 && return 0
  done
  APT_OPTS=()
  return 1
}

download() {  # download DIR PACKAGE=VERSION...
  local dir=$1; shift
  apt_find "$1" || { echo "${0##*/}: apt knows no $1 (apt-get update?)" >&2; return 1; }
  (cd "$dir" && apt-get "${APT_OPTS[@]}" -q download "$@") >"$dir/download.log" 2>&1 ||
    { tail -n 5 "$dir/download.log" >&2; return 1; }
}
