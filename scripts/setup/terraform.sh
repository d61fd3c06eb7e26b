# shellcheck shell=bash
# The Python tools that check terraform/ offline (tests/tests/terraform.rs):
# python-hcl2 (parse every .tf, resolve references: terraform/tests/check_refs.py)
# and checkov (static security scan). SOURCED by scripts/test.sh (and usable by
# hand: `source scripts/setup/terraform.sh`), so: no `exit`, no stray failures
# under `set -euo pipefail`, nothing left behind but the exports.
#
# Each tool gets its own virtualenv under <repo>/.cache/pytools/, because they
# cannot share one: checkov depends on bc-python-hcl2, an old fork that
# installs the same `hcl2` package as python-hcl2 (the two overwrite each
# other's files), and checkov's pins (botocore, boto3...) downgrade what the
# system Python already has (awscli). Idempotent: a venv whose tool imports is
# left alone; pip runs only when it is missing.
#
# Exports:
#   BATON_HCL2_PYTHON  a python3 that can `import hcl2` (python-hcl2 8.x)
#   BATON_CHECKOV      the checkov executable
# `terraform` itself (1.11) is expected on the PATH; nothing here fetches it.

baton_setup_terraform_tools() {
  local repo base py
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  base="$repo/.cache/pytools"
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "terraform setup: python3 is needed for the terraform checks (apt-get install -y python3 python3-venv)" >&2
    return 0
  fi
  mkdir -p "$base"

  # $1 = venv name, $2 = python statement that proves the tool works, $3.. = pip requirements
  baton_venv() {
    local name="$1" probe="$2" dir="$base/$1"
    shift 2
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$probe" >/dev/null 2>&1; then
      echo "terraform setup: $name ready ($dir)"
      return 0
    fi
    echo "terraform setup: installing $* into $dir"
    rm -rf "$dir"
    if ! "$py" -m venv "$dir" >/dev/null 2>&1; then
      echo "terraform setup: 'python3 -m venv' failed (apt-get install -y python3-venv); the terraform checks will fail" >&2
      rm -rf "$dir"
      return 0
    fi
    if ! "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >/dev/null; then
      echo "terraform setup: 'pip install $*' failed; the terraform checks will fail" >&2
      return 0
    fi
    echo "terraform setup: $name installed"
  }

  baton_venv hcl2 "import hcl2, lark; assert hasattr(hcl2, 'loads')" "python-hcl2>=7,<9"
  baton_venv checkov "import checkov.main" "checkov>=3.2,<4"
  unset -f baton_venv

  export BATON_HCL2_PYTHON="$base/hcl2/bin/python"
  export BATON_CHECKOV="$base/checkov/bin/checkov"
}

baton_setup_terraform_tools
unset -f baton_setup_terraform_tools
