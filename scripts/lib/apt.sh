# shellcheck shell=bash
# Installs Debian packages a test needs when its command is missing:
# `baton_apt_ensure LABEL COMMAND... -- PACKAGE...` does nothing when every
# COMMAND is on the PATH, else `apt-get install PACKAGE...` (updating the
# package lists once if the first try fails). The packages' services are
# not used: each test starts its own server. SOURCED by the set-ups in
# scripts/setup/, so: no `exit`, no stray failures under `set -euo
# pipefail`; a failed install is said, and the tests that need it fail.

baton_apt_ensure() {
  local label="$1"
  shift
  local missing=0
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    command -v "$1" >/dev/null 2>&1 || missing=1
    shift
  done
  shift
  [ "$missing" -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$label setup: $* not installed and no apt-get; the $label tests will fail" >&2
    return 0
  fi
  echo "$label setup: installing $* (apt-get)" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; } ||
    echo "$label setup: apt-get install $* failed (the $label tests will fail)" >&2
  return 0
}
