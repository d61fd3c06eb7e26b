# shellcheck shell=bash
# Kestra's published Python API clients (`kestra-api-client` 1.0.0 on PyPI,
# generated from Kestra 1.0's OpenAPI spec, and Kestra 2.0's SDK `kestrapy`
# 2.0.3 with `regex`, which it imports but does not declare), used by the API tests to drive
# `baton server local` and the GCP `api` function with code nobody here
# wrote; and Kestra's Python library for scripts (`kestra` 2.0.0 on PyPI:
# `Kestra.outputs/counter/timer/logger`), which the script-metrics tests
# run inside a python task with this virtualenv's interpreter.
# SOURCED by scripts/test.sh: no `exit`, nothing left but the export.
#
# Idempotent: a virtualenv under `$BATON_CACHE/kestra-client/` (scripts/lib/cache.sh), created and
# filled once (python3-venv from apt when missing).
#
# Exports:
#   BATON_KESTRA_PYTHON  the virtualenv's python (unset when it could not be made)

baton_setup_kestra_client() {
  local version="1.0.0+kestrapy-2.0.3+kestra-2.0.0"
  local repo dir
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  dir="$BATON_CACHE/kestra-client"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/VERSION" 2>/dev/null || true)" = "$version" ]; then
    echo "kestra client setup: $dir (kestra-api-client 1.0.0, kestrapy 2.0.3, kestra 2.0.0) already there"
  else
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
      echo "kestra client setup: installing python3-venv"
      if command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null 2>&1 || true
      fi
    fi
    rm -rf "$dir"
    if python3 -m venv "$dir" >/dev/null 2>&1 &&
      "$dir/bin/pip" install -q "kestra-api-client==1.0.0" "kestrapy==2.0.3" regex "kestra==2.0.0" >/dev/null 2>&1; then
      echo "$version" >"$dir/VERSION"
      echo "kestra client setup: kestra-api-client 1.0.0, kestrapy 2.0.3 and kestra 2.0.0 installed in $dir"
    else
      echo "kestra client setup: cannot install kestra-api-client 1.0.0 / kestrapy 2.0.3 / kestra 2.0.0; the Python-client API and script-metrics tests will fail" >&2
      return 0
    fi
  fi
  export BATON_KESTRA_PYTHON="$dir/bin/python"
}

baton_setup_kestra_client
