# shellcheck shell=bash
# A local S3 server for the AWS S3 tests (tests/tests/s3.rs): moto's server mode.
# SOURCED by scripts/test.sh (and usable by hand: `source scripts/setup/moto.sh`),
# so: no `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: pip-installs moto[server] 5.2.5 into python3 only when it is
# missing or at another version. The tests start `python3 -m moto.server` on
# a free port of 127.0.0.1. Also makes sure moto's `cryptography` is 44 or
# later (Argon2id), which tests/crypt/kestraenc.py uses as a second
# implementation of Kestra's KESTRAENC format (tests/tests/compress_crypt.rs).

baton_setup_moto() {
  local py
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "moto setup: python3 not found; the S3 tests will fail (apt-get install -y python3 python3-pip)" >&2
    return 0
  fi
  if "$py" -c 'import importlib.metadata as m; assert m.version("moto") == "5.2.5"; import flask, flask_cors' 2>/dev/null; then
    echo "moto setup: moto[server] already installed"
  else
    echo "moto setup: installing moto[server] (pip)"
    if ! "$py" -m pip install --quiet --disable-pip-version-check "moto[server]==5.2.5" >&2; then
      echo "moto setup: pip install failed; the S3 tests will fail" >&2
    fi
  fi
  if ! "$py" -c 'from cryptography.hazmat.primitives.kdf.argon2 import Argon2id' 2>/dev/null; then
    echo "moto setup: installing cryptography>=44 (pip)"
    "$py" -m pip install --quiet --disable-pip-version-check "cryptography>=44" >&2 ||
      echo "moto setup: pip install of cryptography failed; the KESTRAENC interop test will fail" >&2
  fi
}

baton_setup_moto
unset -f baton_setup_moto
