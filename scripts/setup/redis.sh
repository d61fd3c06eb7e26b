# shellcheck shell=bash
# A Redis server for the Redis task tests (tests/tests/redis_tasks.rs): each
# test starts its own `redis-server` on a free loopback port. SOURCED by
# scripts/test.sh (or by hand: `source scripts/setup/redis.sh`), so: no
# `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: if `redis-server` is on the PATH nothing happens, else
# `apt-get install redis-server` (Debian's package; its service is not used).

baton_setup_redis() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis setup: redis-server not found and no apt-get; the Redis tests will fail" >&2
    return 0
  fi
  echo "redis setup: installing redis-server (apt-get)" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1; } ||
    echo "redis setup: apt-get install redis-server failed (the Redis tests will fail)" >&2
  # Debian's postinst may start the packaged service; the tests start their own.
  return 0
}

baton_setup_redis
unset -f baton_setup_redis
