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
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo build (tests)"
cargo test --workspace --no-run --quiet
echo "== cargo test"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
# one closing line for the whole suite (cargo prints one per test binary)
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
