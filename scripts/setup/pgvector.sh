# shellcheck shell=bash
# The pgvector extension for the PGVector embedding-store tests (the AI
# tasks' `io.kestra.plugin.ai.embeddings.PGVector`), in the PostgreSQL the
# test clusters run (scripts/setup/postgres.sh). SOURCED by scripts/test.sh,
# so: no `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: nothing to do when `vector.control` is installed. Otherwise
# `apt-get install postgresql-<major>-pgvector` (on Debian bookworm that
# package only exists with apt.postgresql.org or backports), else build
# pgvector from the source in `<repo>/third_party/pgvector` (or
# `$BATON_PGVECTOR_SRC`) with postgresql-server-dev-<major>. Needs root (or
# sudo) to install.

baton_setup_pgvector() {
  local repo pgconfig major sharedir sudo="" src
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # the server first (this file sorts before postgres.sh; that one is idempotent)
  # shellcheck source=scripts/setup/postgres.sh
  source "$repo/scripts/setup/postgres.sh"
  pgconfig="$(command -v pg_config || true)"
  if [ -z "$pgconfig" ]; then
    major="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 | sed -E 's#.*/postgresql/([0-9]+)/bin#\1#' || true)"
  else
    major="$("$pgconfig" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
  fi
  if [ -z "$major" ]; then
    echo "pgvector setup: no PostgreSQL found; the PGVector tests will fail" >&2
    return 0
  fi
  sharedir="/usr/share/postgresql/$major"
  if [ -f "$sharedir/extension/vector.control" ]; then
    return 0
  fi
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-$major-pgvector" >/dev/null 2>&1 || true
    if [ -f "$sharedir/extension/vector.control" ]; then
      echo "pgvector setup: installed postgresql-$major-pgvector (apt-get)"
      return 0
    fi
    echo "pgvector setup: no postgresql-$major-pgvector package; building pgvector from third_party/pgvector" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "postgresql-server-dev-$major" make gcc >/dev/null 2>&1 ||
      echo "pgvector setup: apt-get install postgresql-server-dev-$major failed" >&2
  fi
  # the source ships in the repository (third_party/pgvector: CI reaches package
  # registries only); it is built in a copy under $BATON_CACHE so the tree stays clean
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  src="$BATON_CACHE/pgvector-build"
  rm -rf "$src"
  mkdir -p "$BATON_CACHE"
  cp -r "${BATON_PGVECTOR_SRC:-$repo/third_party/pgvector}" "$src" || {
    echo "pgvector setup: no pgvector source in ${BATON_PGVECTOR_SRC:-$repo/third_party/pgvector}; the PGVector tests will fail" >&2
    return 0
  }
  if (cd "$src" && make -s OPTFLAGS="" >/dev/null 2>&1 && $sudo make -s install >/dev/null 2>&1); then
    echo "pgvector setup: pgvector built and installed from $src"
  else
    echo "pgvector setup: building pgvector in $src failed; the PGVector tests will fail" >&2
  fi
  return 0
}

baton_setup_pgvector
unset -f baton_setup_pgvector
