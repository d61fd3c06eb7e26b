# shellcheck shell=bash
# A Kafka-protocol broker for the Kafka tests (tests/tests/kafka.rs): Tansu,
# a broker written in Rust that speaks Kafka's wire protocol (produce,
# fetch, consumer groups, transactions). Debian packages no Kafka broker
# and Kafka's own needs Maven Central, which this project's machines do not
# reach; Tansu comes from crates.io. Each test starts its own
# `tansu broker` on a free loopback port with in-memory storage.
# SOURCED by scripts/test.sh (and usable by hand: `source
# scripts/setup/tansu.sh`), so: no `exit`, no stray failures under
# `set -euo pipefail`, nothing left behind but the exports.
#
# Installed with cargo, pinned and --locked, into `$BATON_CACHE/tansu/`
# once (scripts/lib/cache.sh), with the in-memory storage only (feature
# `dynostore`), built for a test tool rather than for production: no
# optimisation (opt-level 0), no LTO, many codegen units, no debug info.
# The tests send a few hundred messages, which an unoptimised broker serves
# as fast (the Kafka tests take ~20 s either way); tansu's own release
# profile cost most of its ~15 minutes on a fresh 2-core machine, opt-level
# 0 takes ~5 minutes there alone (303 s measured), then 0 s.
#
# Exports:
#   BATON_TANSU   the tansu binary (empty when it could not be installed:
#                 the Kafka tests then fail saying so)

baton_setup_tansu() {
  local version="0.6.0" features="dynostore" profile="opt-level 0"
  local repo root bin
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  root="$BATON_CACHE/tansu"
  bin="$root/bin/tansu"
  BATON_TANSU=""

  if [ -x "$bin" ] && [ "$(cat "$root/VERSION" 2>/dev/null || true)" = "$version $features $profile" ]; then
    echo "tansu setup: $bin ($version) already there"
  else
    if ! command -v cargo >/dev/null 2>&1; then
      echo "tansu setup: cargo is needed to install tansu $version; the Kafka tests will fail" >&2
      export BATON_TANSU
      return 0
    fi
    echo "tansu setup: cargo install tansu $version into $root (once, a few minutes)"
    mkdir -p "$root"
    # its own target dir, so the workspace's build is not touched, removed after
    if CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=0 \
      CARGO_PROFILE_RELEASE_INCREMENTAL=false \
      nice -n 10 cargo install tansu --locked --version "=$version" --features "$features" \
      --root "$root" --target-dir "$root/build" --quiet; then
      echo "$version $features $profile" >"$root/VERSION"
      rm -rf "$root/build"
      echo "tansu setup: $bin ready"
    else
      rm -rf "$root/build"
      echo "tansu setup: 'cargo install tansu $version' failed; the Kafka tests will fail" >&2
      export BATON_TANSU
      return 0
    fi
  fi

  BATON_TANSU="$bin"
  export BATON_TANSU
}

baton_setup_tansu
unset -f baton_setup_tansu
