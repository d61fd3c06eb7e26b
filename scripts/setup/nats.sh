# shellcheck shell=bash
# A NATS server for the NATS tests (tests/tests/nats.rs): each test starts
# its own `nats-server -js` (with JetStream) on a free loopback port.
# SOURCED by scripts/test.sh (or by hand: `source scripts/setup/nats.sh`).
# Idempotent: Debian's package, installed once (scripts/lib/apt.sh).

# shellcheck source=scripts/lib/apt.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/apt.sh"
baton_apt_ensure NATS nats-server -- nats-server
