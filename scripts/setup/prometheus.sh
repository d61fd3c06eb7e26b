# shellcheck shell=bash
# Prometheus and promtool for the metrics tests (tests/tests/prometheus.rs):
# the test checks a scrape of `baton server local` with `promtool check
# metrics` and starts its own `prometheus` on a free loopback port, its
# storage in a temp dir. SOURCED by scripts/test.sh (or by hand: `source
# scripts/setup/prometheus.sh`), so: no `exit`, no stray failures under
# `set -euo pipefail`.
#
# Idempotent: if `prometheus` and `promtool` are on the PATH nothing
# happens, else `apt-get install prometheus` (Debian's package gives
# /usr/bin/prometheus and /usr/bin/promtool; its service is stopped: the
# tests start their own).

baton_setup_prometheus() {
  if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "prometheus setup: prometheus/promtool not found and no apt-get; the Prometheus tests will fail" >&2
    return 0
  fi
  echo "prometheus setup: installing prometheus (apt-get)" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } ||
    echo "prometheus setup: apt-get install prometheus failed (the Prometheus tests will fail)" >&2
  # Debian's postinst may start the packaged service: stop it (the tests start their own)
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $sudo systemctl stop prometheus >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    $sudo /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  return 0
}

baton_setup_prometheus
unset -f baton_setup_prometheus
