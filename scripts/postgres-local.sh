#!/usr/bin/env bash
# A throwaway local PostgreSQL 15 for the PostgreSQL examples
# (examples/postgres_taxi.yaml, examples/taxi_scheduled.yaml), without
# Docker: Debian's server binaries (installed by scripts/setup/postgres.sh,
# sourced here), a cluster in .cache/postgres-local/, listening on
# 127.0.0.1 with the settings the examples' pluginDefaults expect:
#
#   url: jdbc:postgresql://localhost:5432/postgres-zoomcamp
#   username: kestra    password: k3str4
#
#   bash scripts/postgres-local.sh          start (idempotent: a running
#                                           cluster is left as it is)
#   bash scripts/postgres-local.sh stop     stop it (the data stays)
#   bash scripts/postgres-local.sh status
#
# BATON_PG_PORT (default 5432) picks another port: then edit the url in
# the example's pluginDefaults. Remove .cache/postgres-local/ to start
# from an empty database. As root, the server runs as the `postgres` user
# (initdb refuses root), as the end-to-end tests run it.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${BATON_PG_PORT:-5432}"
user=kestra
password=k3str4
db=postgres-zoomcamp
dir="$(mkdir -p .cache && cd .cache && pwd -P)/postgres-local"
data="$dir/data"

# shellcheck source=setup/postgres.sh
source scripts/setup/postgres.sh
for b in initdb pg_ctl psql; do
  command -v "$b" >/dev/null 2>&1 || { echo "postgres-local: $b not found (apt-get install postgresql-15)" >&2; exit 1; }
done

as_db_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A running cluster keeps the port it was started on (postmaster.pid's
# fourth line).
running() {
  [ -f "$data/postmaster.pid" ] && as_db_user pg_ctl -D "$data" status >/dev/null 2>&1 &&
    port="$(sed -n 4p "$data/postmaster.pid")"
}

settings() {
  cat <<EOF
PostgreSQL is running on 127.0.0.1:$port (data in $data, log in $dir/server.log)
  url:      jdbc:postgresql://localhost:$port/$db
  username: $user
  password: $password
  psql:     psql postgresql://$user:$password@localhost:$port/$db
stop it with: bash scripts/postgres-local.sh stop
EOF
}

case "${1:-start}" in
  stop)
    if running; then
      as_db_user pg_ctl -D "$data" -m fast -w stop >/dev/null
      echo "postgres-local: stopped"
    else
      echo "postgres-local: not running"
    fi
    exit 0
    ;;
  status)
    if running; then settings; else echo "postgres-local: not running"; exit 1; fi
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: bash scripts/postgres-local.sh [start|stop|status]" >&2
    exit 2
    ;;
esac

if running; then
  settings
  exit 0
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$dir"
fi
if [ ! -f "$data/PG_VERSION" ]; then
  pw="$dir/pw"
  printf '%s' "$password" >"$pw"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pw"
  as_db_user initdb -D "$data" -U "$user" --auth=scram-sha-256 -E UTF8 --locale=C --pwfile="$pw" >/dev/null
  rm -f "$pw"
fi
as_db_user pg_ctl -D "$data" -l "$dir/server.log" -w \
  -o "-p $port -h 127.0.0.1 -k '$dir'" start >/dev/null ||
  { echo "postgres-local: the server did not start; see $dir/server.log" >&2; tail -n 20 "$dir/server.log" >&2 || true; exit 1; }

export PGPASSWORD="$password"
if [ -z "$(psql -X -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  psql -X -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
fi
settings
