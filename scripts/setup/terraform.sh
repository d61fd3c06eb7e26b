# shellcheck shell=bash
# The Python tools that check terraform/ offline (tests/tests/terraform*.rs):
# python-hcl2 (parse every .tf, resolve references: terraform/tests/check_refs.py)
# and checkov (static security scan). SOURCED by scripts/test.sh (and usable by
# hand: `source scripts/setup/terraform.sh`), so: no `exit`, no stray failures
# under `set -euo pipefail`, nothing left behind but the exports.
#
# Each tool gets its own virtualenv under $BATON_CACHE/pytools/ (scripts/lib/cache.sh), because they
# cannot share one: checkov depends on bc-python-hcl2, an old fork that
# installs the same `hcl2` package as python-hcl2 (the two overwrite each
# other's files), and checkov's pins (botocore, boto3...) downgrade what the
# system Python already has (awscli). Idempotent: a venv whose tool imports is
# left alone; pip runs only when it is missing.
#
# The google provider's schema (terraform/tests/check_schema.py) comes from
# PyPI too: the prebuilt CDK for Terraform bindings
# cdktf-cdktf-provider-google(-beta)==16.12.1 ship a jsii assembly describing
# google and google-beta 6.50.0 (the versions terraform/versions.tf pins).
# Each wheel (about 50 MB) is downloaded once, turned into a compact JSON
# schema (terraform/tests/provider_schema.py, about 3 MB) and deleted.
#
# Exports:
#   BATON_HCL2_PYTHON       a python3 that can `import hcl2` (python-hcl2 8.x)
#   BATON_CHECKOV           the checkov executable
#   BATON_PROVIDER_SCHEMAS  the folder of google-6.50.0.json and google-beta-6.50.0.json
# `terraform` itself (1.11) is expected on the PATH; nothing here fetches it.

baton_setup_terraform_tools() {
  local repo base py
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  # shellcheck source=scripts/lib/cache.sh
  source "$repo/scripts/lib/cache.sh"
  base="$BATON_CACHE/pytools"
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

  # $1 = provider (google, google-beta); the schema format is checked so a
  # newer provider_schema.py rebuilds it
  local schemas="$base/provider-schema" builder="$repo/terraform/tests/provider_schema.py" provider out tmp
  mkdir -p "$schemas"
  for provider in google google-beta; do
    out="$schemas/$provider-6.50.0.json"
    if [ -s "$out" ] && "$py" -c "import json,sys; sys.exit(json.load(open('$out')).get('format') != 1)" 2>/dev/null; then
      echo "terraform setup: $provider schema ready ($out)"
      continue
    fi
    if [ ! -x "$base/hcl2/bin/pip" ]; then
      echo "terraform setup: no pip to download the $provider schema; the schema check will fail" >&2
      continue
    fi
    tmp="$(mktemp -d)"
    echo "terraform setup: downloading cdktf-cdktf-provider-$provider==16.12.1 (the $provider 6.50.0 schema)"
    if "$base/hcl2/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$tmp" \
      "cdktf-cdktf-provider-$provider==16.12.1" >/dev/null &&
      "$py" "$builder" build "$(ls "$tmp"/*.whl | head -n 1)" "$out.part" >/dev/null; then
      mv "$out.part" "$out"
      echo "terraform setup: $provider schema built ($out)"
    else
      rm -f "$out.part"
      echo "terraform setup: could not build the $provider schema; the schema check will fail" >&2
    fi
    rm -rf "$tmp"
  done

  export BATON_HCL2_PYTHON="$base/hcl2/bin/python"
  export BATON_CHECKOV="$base/checkov/bin/checkov"
  export BATON_PROVIDER_SCHEMAS="$schemas"
}

baton_setup_terraform_tools
unset -f baton_setup_terraform_tools
