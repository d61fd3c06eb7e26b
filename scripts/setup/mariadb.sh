# shellcheck shell=bash
# A MariaDB server for the MySQL task tests (tests/tests/mysql.rs, through
# tests/src/mariadb.rs): the tests create a throwaway data directory and
# start their own `mariadbd` on a free loopback port. SOURCED by
# scripts/test.sh (or by hand: `source scripts/setup/mariadb.sh`).
# Idempotent: Debian's package, installed once (scripts/lib/apt.sh).

# shellcheck source=scripts/lib/apt.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/apt.sh"
baton_apt_ensure MariaDB mariadbd mariadb-install-db mariadb -- mariadb-server mariadb-client
