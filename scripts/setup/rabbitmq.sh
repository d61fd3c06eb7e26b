# shellcheck shell=bash
# An AMQP broker for the AMQP tests (tests/tests/amqp.rs): each test starts
# its own RabbitMQ node (Debian's `rabbitmq-server`, on Erlang) on a free
# loopback port, with a node name, data and log folders and an Erlang cookie
# of its own. SOURCED by scripts/test.sh (or by hand: `source
# scripts/setup/rabbitmq.sh`). Idempotent: Debian's package, installed once
# (scripts/lib/apt.sh); its own service is not used. Exports
# BATON_RABBITMQ_SERVER, the node's start script the tests run (not the
# /usr/sbin wrapper, which switches to the `rabbitmq` user).

# shellcheck source=scripts/lib/apt.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/apt.sh"
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  # `baton_apt_ensure` tests commands on the PATH: the script is not on it
  baton_apt_ensure AMQP baton-rabbitmq-absent -- rabbitmq-server
fi
if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  export BATON_RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
else
  echo "AMQP setup: no /usr/lib/rabbitmq/bin/rabbitmq-server; the AMQP tests will fail" >&2
fi
