# shellcheck shell=bash
# dbt for the dbt tests: the virtualenv DbtCLI builds when no container
# engine is reachable (dbt-core 1.11 + dbt-postgres 1.11 from PyPI), built
# here once into the cache the tests use, so no test waits for pip.
# SOURCED by scripts/test.sh: no `exit`, no stray failures.
#
# Idempotent: the venv is keyed exactly as Baton keys Python dependency
# venvs (sha256 of the interpreter path and the sorted requirements, first
# 8 bytes in hex) and marked ready with `.baton-ready`.
# Exports: BATON_DBT_CACHE_DIR (the plugin cache folder the dbt tests use).

baton_setup_dbt() {
  export BATON_DBT_CACHE_DIR="${BATON_DBT_CACHE_DIR:-$HOME/.cache/baton-dbt}"
  local py deps key venv
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "dbt setup: no python3 on PATH (dbt tests will fail)" >&2
    return 0
  fi
  # must match plugins::dbt::venv (DBT_CORE, adapter_requirement("postgres")), sorted
  deps=("dbt-core>=1.11,<1.12" "dbt-postgres>=1.11,<1.12")
  key="$( { printf '%s' "$py"; for d in "${deps[@]}"; do printf '\n%s' "$d"; done; } | sha256sum | cut -c1-16)"
  venv="$BATON_DBT_CACHE_DIR/python-venvs/$key"
  [ -f "$venv/.baton-ready" ] && return 0
  echo "dbt setup: installing ${deps[*]} into $venv (once)" >&2
  rm -rf "$venv"
  mkdir -p "$BATON_DBT_CACHE_DIR/python-venvs"
  if "$py" -m venv "$venv" >/dev/null 2>&1 &&
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "${deps[@]}" >/dev/null 2>&1; then
    printf '%s\n%s' "${deps[0]}" "${deps[1]}" >"$venv/.baton-ready"
  else
    echo "dbt setup: pip install of ${deps[*]} failed (dbt tests will install it themselves)" >&2
    rm -rf "$venv"
  fi
  return 0
}

baton_setup_dbt
unset -f baton_setup_dbt
