#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs (idempotent),
# builds once, runs every test. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1

# Nothing outside cargo is needed yet: the engine core's tests use SQLite
# (bundled), a temp folder and an in-process HTTP server.
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo build (tests)"
cargo test --workspace --no-run --quiet
echo "== cargo test"
cargo test --workspace
