# shellcheck shell=bash
# Headless Chromium for the web UI's browser tests (tests/tests/ui.rs) and
# the UI benchmark: Debian's chromium and chromium-driver, driven by
# playwright-core (pinned) from npm with executablePath=/usr/bin/chromium
# (Playwright's own browser download does not work here). SOURCED by
# scripts/test.sh: no `exit`, nothing left but the exports.
#
# Idempotent: apt-get only when /usr/bin/chromium is missing; playwright-core
# installed once into `$BATON_CACHE/playwright/` (scripts/lib/cache.sh). When something cannot be
# installed it says so and returns 0: the UI tests then fail naming the
# missing variable, they never skip.
#
# Exports:
#   BATON_CHROMIUM         the Chromium binary (unset when missing)
#   BATON_PLAYWRIGHT_DIR   a node_modules parent holding playwright-core (unset when missing)

baton_setup_chromium() {
  local version="1.64.1"
  local repo dir
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  dir="$BATON_CACHE/playwright"
  if ! [ -x /usr/bin/chromium ]; then
    echo "chromium setup: installing chromium and chromium-driver"
    if command -v apt-get >/dev/null 2>&1; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 || true
    fi
  fi
  if [ -x /usr/bin/chromium ]; then
    export BATON_CHROMIUM=/usr/bin/chromium
  else
    echo "chromium setup: cannot install Debian's chromium; the UI tests will fail" >&2
  fi
  if [ -f "$dir/node_modules/playwright-core/package.json" ] && [ "$(cat "$dir/VERSION" 2>/dev/null || true)" = "$version" ]; then
    echo "chromium setup: playwright-core $version already in $dir"
  else
    rm -rf "$dir"
    mkdir -p "$dir"
    if command -v npm >/dev/null 2>&1 &&
      (cd "$dir" && echo '{"name":"baton-ui-tests","private":true}' >package.json &&
        npm install --silent --no-audit --no-fund "playwright-core@$version") >/dev/null 2>&1; then
      echo "$version" >"$dir/VERSION"
      echo "chromium setup: playwright-core $version installed in $dir"
    else
      echo "chromium setup: cannot install playwright-core $version (npm); the UI tests will fail" >&2
      return 0
    fi
  fi
  export BATON_PLAYWRIGHT_DIR="$dir"
}

baton_setup_chromium
