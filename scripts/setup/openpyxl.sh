# shellcheck shell=bash
# An independent Excel reader and writer for the Excel serdes tests (tests/tests/serdes_excel.rs):
# openpyxl reads the workbooks IonToExcel writes and writes the ones ExcelToIon reads.
# SOURCED by scripts/test.sh (and usable by hand: `source scripts/setup/openpyxl.sh`),
# so: no `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: pip-installs openpyxl 3.1.5 into python3 only when it is missing
# or at another version.

baton_setup_openpyxl() {
  local py
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "openpyxl setup: python3 not found; the Excel serdes tests will fail (apt-get install -y python3 python3-pip)" >&2
    return 0
  fi
  if "$py" -c 'import importlib.metadata as m; assert m.version("openpyxl") == "3.1.5"' 2>/dev/null; then
    echo "openpyxl setup: openpyxl already installed"
  else
    echo "openpyxl setup: installing openpyxl (pip)"
    if ! "$py" -m pip install --quiet --disable-pip-version-check "openpyxl==3.1.5" >&2; then
      echo "openpyxl setup: pip install failed; the Excel serdes tests will fail" >&2
    fi
  fi
}

baton_setup_openpyxl
unset -f baton_setup_openpyxl
