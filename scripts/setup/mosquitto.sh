# shellcheck shell=bash
# A MQTT broker for the MQTT tests (tests/tests/mqtt.rs): each
# test starts its own `mosquitto` on a free loopback port. SOURCED by
# scripts/test.sh (or by hand: `source scripts/setup/mosquitto.sh`), so: no
# `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: if `mosquitto` is on the PATH nothing happens, else
# `apt-get install mosquitto mosquitto-clients` (Debian's package; its service is not used).

baton_setup_mosquitto() {
  if command -v mosquitto_pub >/dev/null 2>&1 && command -v mosquitto >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "mosquitto setup: mosquitto not found and no apt-get; the MQTT tests will fail" >&2
    return 0
  fi
  echo "mosquitto setup: installing mosquitto (apt-get)" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null 2>&1; } ||
    echo "mosquitto setup: apt-get install mosquitto failed (the MQTT tests will fail)" >&2
  # Debian's postinst may start the packaged service; the tests start their own.
  return 0
}

baton_setup_mosquitto
unset -f baton_setup_mosquitto
