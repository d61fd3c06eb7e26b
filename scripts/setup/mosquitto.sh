# shellcheck shell=bash
# An MQTT broker for the MQTT tests (tests/tests/mqtt.rs): each test starts
# its own `mosquitto` on a free loopback port and publishes and reads with
# `mosquitto_pub`/`mosquitto_sub`. SOURCED by scripts/test.sh (or by hand:
# `source scripts/setup/mosquitto.sh`). Idempotent: Debian's packages,
# installed once (scripts/lib/apt.sh).

# shellcheck source=scripts/lib/apt.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/apt.sh"
baton_apt_ensure MQTT mosquitto mosquitto_pub -- mosquitto mosquitto-clients
