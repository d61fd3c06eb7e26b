# shellcheck shell=bash
# A Redis server for the Redis task tests (tests/tests/redis_tasks.rs): each
# test starts its own `redis-server` on a free loopback port. SOURCED by
# scripts/test.sh (or by hand: `source scripts/setup/redis.sh`).
# Idempotent: Debian's package, installed once (scripts/lib/apt.sh).

# shellcheck source=scripts/lib/apt.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/apt.sh"
baton_apt_ensure Redis redis-server -- redis-server
