# shellcheck shell=bash
# A local SMTP server for the mail notification tests (tests/tests/notifications.rs).
# SOURCED by scripts/test.sh (and usable by hand: `source scripts/setup/smtp.sh`),
# so: no `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: pip-installs aiosmtpd 1.4.6 into python3 only when it is missing
# or at another version. The tests start tests/fixtures/smtp/capture.py with it.

baton_setup_smtp() {
  local py
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "smtp setup: python3 not found; the mail notification tests will fail (apt-get install -y python3 python3-pip)" >&2
    return 0
  fi
  if "$py" -c 'import importlib.metadata as m; assert m.version("aiosmtpd") == "1.4.6"' 2>/dev/null; then
    echo "smtp setup: aiosmtpd already installed"
  else
    echo "smtp setup: installing aiosmtpd (pip)"
    if ! "$py" -m pip install --quiet --disable-pip-version-check "aiosmtpd==1.4.6" >&2; then
      echo "smtp setup: pip install failed; the mail notification tests will fail" >&2
    fi
  fi
}

baton_setup_smtp
unset -f baton_setup_smtp
