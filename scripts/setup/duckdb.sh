# shellcheck shell=bash
# Prebuilt libduckdb for the DuckDB tasks (jdbc.duckdb.*), without compiling
# DuckDB's C++ (20-45 minutes on 2 cores). SOURCED by scripts/test.sh (and
# usable by hand: `source scripts/setup/duckdb.sh`), so: no `exit`, no stray
# failures under `set -euo pipefail`, nothing left behind but the exports.
#
# Idempotent: fetches `libduckdb.so` from the npm package
# @duckdb/node-bindings-linux-<arch> (DuckDB 1.5.6, the version the pinned
# `duckdb =1.10506.1` crate is built for) into `$BATON_CACHE/duckdb/` once (scripts/lib/cache.sh).
#
# Exports:
#   DUCKDB_LIB_DIR       where libduckdb-sys links from (shared/build.rs also
#                        puts it in the baton binary's rpath)
#   LD_LIBRARY_PATH      so test binaries find the library at run time
#   BATON_TEST_FEATURES  += --features shared/duckdb,e2e/duckdb

baton_setup_duckdb() {
  local version="1.5.6-r.1"
  local repo arch pkg dir tmp tgz
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  case "$(uname -m)" in
    x86_64 | amd64) arch="x64" ;;
    aarch64 | arm64) arch="arm64" ;;
    *)
      echo "duckdb setup: no prebuilt libduckdb for $(uname -m); DuckDB tasks are left out (build with --features duckdb-bundled)" >&2
      return 0
      ;;
  esac
  pkg="@duckdb/node-bindings-linux-${arch}@${version}"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  dir="$BATON_CACHE/duckdb"

  if [ -f "$dir/libduckdb.so" ] && [ "$(cat "$dir/VERSION" 2>/dev/null || true)" = "$pkg" ]; then
    echo "duckdb setup: $dir/libduckdb.so ($pkg) already there"
  else
    if ! command -v npm >/dev/null 2>&1; then
      echo "duckdb setup: npm is needed to fetch $pkg (apt-get install -y npm); DuckDB tasks are left out" >&2
      return 0
    fi
    echo "duckdb setup: fetching $pkg"
    mkdir -p "$dir"
    tmp="$(mktemp -d "$dir/.fetch.XXXXXX")"
    # npm checks the tarball's integrity against the registry
    if ! (cd "$tmp" && npm pack --silent "$pkg" >/dev/null); then
      rm -rf "$tmp"
      echo "duckdb setup: 'npm pack $pkg' failed; DuckDB tasks are left out" >&2
      return 0
    fi
    tgz="$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)"
    if [ -z "$tgz" ] || ! tar -xzf "$tgz" -C "$tmp" package/libduckdb.so; then
      rm -rf "$tmp"
      echo "duckdb setup: $pkg holds no package/libduckdb.so; DuckDB tasks are left out" >&2
      return 0
    fi
    # rename into place: a half-written library is never taken for a good one
    mv -f "$tmp/package/libduckdb.so" "$dir/libduckdb.so"
    echo "$pkg" >"$dir/VERSION"
    rm -rf "$tmp"
    echo "duckdb setup: $dir/libduckdb.so ready"
  fi

  export DUCKDB_LIB_DIR="$dir"
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$dir:"*) ;;
    *) export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
  esac
  case " ${BATON_TEST_FEATURES:-} " in
    *" shared/duckdb,e2e/duckdb "*) ;;
    *) BATON_TEST_FEATURES="${BATON_TEST_FEATURES:+$BATON_TEST_FEATURES }--features shared/duckdb,e2e/duckdb" ;;
  esac
  export BATON_TEST_FEATURES
}

baton_setup_duckdb
unset -f baton_setup_duckdb
