#!/usr/bin/env bash
# The offline demo on the embedded runtime (SQLite + a folder, no server).
set -euo pipefail
cd "$(dirname "$0")/.."
export BATON_HOME="${BATON_HOME:-$PWD/.baton}"
cargo run --release --quiet -- run examples/hello_world.yaml --input name=Baton "$@"
