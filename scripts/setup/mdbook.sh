# shellcheck shell=bash
# mdBook, to build the documentation site in docs/ (scripts/docs-check.sh).
# SOURCED by scripts/test.sh (and usable by hand: `source
# scripts/setup/mdbook.sh`), so: no `exit`, no stray failures under
# `set -euo pipefail`, nothing left behind but the exports.
#
# mdBook has no Debian package; it is installed from crates.io with cargo,
# pinned and --locked, into `$BATON_CACHE/mdbook/` once (scripts/lib/cache.sh). Only the `search`
# feature is built (not `serve`/`watch`, which pull in a web server and a
# file watcher the check does not need): a few minutes on 2 cores, then 0 s.
# Once installed, nothing here needs the network.
#
# Exports:
#   BATON_MDBOOK   the mdbook binary (empty when it could not be installed:
#                  scripts/docs-check.sh then fails saying so)

baton_setup_mdbook() {
  local version="0.5.4"
  local repo root bin
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  root="$BATON_CACHE/mdbook"
  bin="$root/bin/mdbook"
  BATON_MDBOOK=""

  if [ -x "$bin" ] && [ "$(cat "$root/VERSION" 2>/dev/null || true)" = "$version" ]; then
    echo "mdbook setup: $bin ($version) already there"
  else
    if ! command -v cargo >/dev/null 2>&1; then
      echo "mdbook setup: cargo is needed to install mdbook $version; the docs check will fail" >&2
      export BATON_MDBOOK
      return 0
    fi
    echo "mdbook setup: cargo install mdbook $version into $root (once, a few minutes)"
    mkdir -p "$root"
    # its own target dir, so the workspace's target/ is not touched, removed after
    if cargo install mdbook --locked --version "=$version" \
      --no-default-features --features search \
      --root "$root" --target-dir "$root/build" --quiet; then
      echo "$version" >"$root/VERSION"
      rm -rf "$root/build"
      echo "mdbook setup: $bin ready"
    else
      rm -rf "$root/build"
      echo "mdbook setup: 'cargo install mdbook $version' failed; the docs check will fail" >&2
      export BATON_MDBOOK
      return 0
    fi
  fi

  BATON_MDBOOK="$bin"
  export BATON_MDBOOK
}

baton_setup_mdbook
unset -f baton_setup_mdbook
