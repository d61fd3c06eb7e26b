# shellcheck shell=bash
# PostgreSQL server binaries for the Postgres tests and benchmarks (they
# start a throwaway cluster with initdb + postgres). SOURCED by
# scripts/test.sh (or by hand: `source scripts/setup/postgres.sh`), so: no
# `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: if `initdb` is not on the PATH, use an installed
# /usr/lib/postgresql/<version>/bin, else `apt-get install postgresql-15`.
# Exports: PATH (with that bin dir) when it had to be added.

baton_setup_postgres() {
  local bin
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    return 0
  fi
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "postgres setup: initdb not found and no apt-get; install PostgreSQL 15 server binaries (Postgres tests will fail)" >&2
      return 0
    fi
    echo "postgres setup: installing postgresql-15 (apt-get)" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 >/dev/null 2>&1; } ||
      echo "postgres setup: apt-get install postgresql-15 failed (Postgres tests will fail)" >&2
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then
    export PATH="$bin:$PATH"
  fi
  return 0
}

baton_setup_postgres
unset -f baton_setup_postgres
