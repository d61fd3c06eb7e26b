#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs (idempotent),
# builds once, runs every test. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# No incremental state: a clean clone gains nothing from it and it is the
# largest part of target/ (it had grown to 27 GB here; a stop's CI run once
# died in rustc with exit 101 while the shared disk was 96 % full). Set
# CARGO_INCREMENTAL=1 to keep it for local re-runs.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The build is kept with the set-ups' cache (scripts/lib/cache.sh), outside
# the checkout: CI tests each submission in a fresh clone on the same
# machine, and a target folder kept from one clone to the next spares it
# compiling the ~650 dependency crates again (the workspace's own crates
# are rebuilt: their sources are new files). Bounded: with less than
# BATON_MIN_FREE_GB (default 30) free on its disk, the kept build is
# removed before this one starts. CARGO_TARGET_DIR set by the caller wins.
# shellcheck source=lib/cache.sh
source scripts/lib/cache.sh
mkdir -p "$BATON_CACHE"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$BATON_CACHE/target"
  free_gb=$(df -Pk "$BATON_CACHE" | awk 'NR == 2 { print int($4 / 1048576) }')
  if [ -d "$CARGO_TARGET_DIR" ] && [ "${free_gb:-0}" -lt "${BATON_MIN_FREE_GB:-30}" ]; then
    echo "== ${free_gb} GB free (under ${BATON_MIN_FREE_GB:-30}): removing the kept build $CARGO_TARGET_DIR"
    rm -rf "$CARGO_TARGET_DIR"
  fi
fi
export CARGO_TARGET_DIR
# each stage's line says how far into the run it starts (CI's budget is 45
# min) and how busy the machine's cores were since the stage before (from
# /proc/stat: a stage that waits on sleeps and emulators shows a low share,
# one that compiles or tests flat out shows ~100 %), and the load average
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat 2>/dev/null; }
read -r busy_before all_before < <(cpu_busy || echo "0 0") || true
stage() {
  local busy all share=""
  read -r busy all < <(cpu_busy || echo "0 0") || true
  if [ "$((all - all_before))" -gt 0 ]; then
    share=", cores $((100 * (busy - busy_before) / (all - all_before))) % busy since the last stage"
  fi
  busy_before=$busy all_before=$all
  echo "== [$((SECONDS / 60)) min $((SECONDS % 60)) s${share}, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)] $*"
}
stage "disk: $(df -h . | awk 'NR == 2 { print $4 " free of " $2 }'), build in $CARGO_TARGET_DIR"

# What the tests need outside cargo (PostgreSQL, libduckdb, emulators) is
# installed by scripts/setup/*.sh, each idempotent; they export what they set
# (DUCKDB_LIB_DIR, LD_LIBRARY_PATH, BATON_TEST_FEATURES...).
BATON_TEST_FEATURES=""
# The build needs only libduckdb (duckdb.sh): it starts right after it, in
# the background, while the other set-ups fetch packages (on a fresh
# machine several minutes of mostly network) and the format and docs
# checks run; the lints wait for it.
stage "setup: scripts/setup/duckdb.sh"
# shellcheck source=/dev/null
source scripts/setup/duckdb.sh
# Clippy lints the workspace's crates as they are built: clippy-driver is
# cargo's wrapper for them (not for dependencies), so the build emits the
# lints `cargo clippy --workspace --all-targets -- -D warnings` would, and a
# lint fails the build. A separate `cargo clippy` type-checks every crate a
# second time (7 of a run's 36 minutes); this costs only the lints. Every
# cargo command below runs with the same wrapper, so none rebuilds.
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
stage "cargo build in the background, linted (tests, benches, and the binaries the tests run as processes)"
build_log=$(mktemp)
(cargo test --workspace --all-targets $BATON_TEST_FEATURES --no-run --quiet &&
  cargo build --workspace --bins $BATON_TEST_FEATURES --quiet) >"$build_log" 2>&1 &
build_pid=$!
# The other two feature sets are linted beside the build, in a target
# folder of their own (cargo locks one folder per command) and at the lowest
# priority: the build's chain of crates keeps one core busy for long
# stretches, and these take the other.
lint_log=$(mktemp)
(export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/lint"
  unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
  # the local CLI as users build it by default: without the Google crates
  # (`--features gcp` off), so code behind the feature compiles both ways
  nice -n 19 cargo clippy -p shared -p baton-runtime -p baton-plugins --all-targets --quiet -- -D warnings &&
  # and without the plugin families that are default features (git,
  # compress, dbt): the library and the CLI still build, and name what they
  # left out
  nice -n 19 cargo clippy -p shared --no-default-features --lib --bins --quiet -- -D warnings) >"$lint_log" 2>&1 &
lint_pid=$!
trap 'pkill -P "$build_pid" 2>/dev/null; kill "$build_pid" 2>/dev/null; pkill -P "$lint_pid" 2>/dev/null; kill "$lint_pid" 2>/dev/null || true' EXIT
for f in scripts/setup/*.sh; do
  [ -e "$f" ] || continue
  [ "$f" = scripts/setup/duckdb.sh ] && continue
  stage "setup: $f"
  # shellcheck source=/dev/null
  source "$f"
done
stage "cargo fmt --check"
cargo fmt --all -- --check
stage "docs: mdbook build, internal links and anchors, README length, no history"
bash scripts/docs-check.sh
stage "waiting for the build"
if ! wait "$build_pid"; then
  cat "$build_log"
  echo "the build failed" >&2
  exit 1
fi
cat "$build_log"
rm -f "$build_log"
trap 'pkill -P "$lint_pid" 2>/dev/null; kill "$lint_pid" 2>/dev/null || true' EXIT
stage "waiting for clippy without the Google crates and without the default plugin families"
if ! wait "$lint_pid"; then
  cat "$lint_log"
  echo "clippy failed" >&2
  exit 1
fi
cat "$lint_log"
rm -f "$lint_log"
trap - EXIT
stage "cargo test"
log=$(mktemp)
# Tests make their homes, stores and browser profiles under one folder,
# removed when the run ends (many make theirs in the system's temporary
# folder and leave them: ~60 folders, 250 MB a run, on a disk CI shares).
tests_tmp=$(mktemp -d "${TMPDIR:-/tmp}/baton-tests.XXXXXX")
# open as /tmp is: the PostgreSQL clusters run as the `postgres` user
chmod 1777 "$tests_tmp"
trap 'rm -rf "$tests_tmp"' EXIT
export TMPDIR="$tests_tmp"
cargo test --workspace --no-fail-fast $BATON_TEST_FEATURES 2>&1 | tee "$log"
# `--workspace --test e2e`, not `-p e2e`: the same feature set as the build
# above, so the test binary is reused (with `-p e2e` cargo resolves other
# features and rebuilds the GCP crates, shared and e2e: minutes). Cargo
# holds no lock while tests run, so two of these can run at once.
deployed() {
  cargo test --workspace --test e2e $BATON_TEST_FEATURES -- --ignored --exact "$1" 2>&1
}
stage "the deployed pause test, alone (a quiet window is part of what it checks)"
deployed deployed_pause::a_timed_pause_is_woken_by_the_sweep_on_the_deployed_shape | tee -a "$log"
stage "the deployed tests that wait on real minutes, on the sweep or count, two at a time"
# the timed triggers' test idles until real whole minutes (Cloud Scheduler
# jobs on their own crons): it runs beside the subflow tests, which wait
# on 5 s sweep ticks, and the cold-decision test, all of which count, not
# time, what they check (the pause test failed beside another: it checks a
# quiet window); its output joins the log once it ends
# (in a session of its own, so that a failure of the others ends it too)
timed_log=$(mktemp)
setsid cargo test --workspace --test e2e $BATON_TEST_FEATURES -- --ignored --exact \
  deployed_timed::dates_and_http_polls_tick_from_their_cloud_scheduler_jobs_once_each >"$timed_log" 2>&1 &
timed_pid=$!
trap 'kill -- -"$timed_pid" 2>/dev/null; rm -rf "$tests_tmp"' EXIT
deployed deployed_subflow::a_subflow_runs_once_through_the_functions_and_passes_its_outputs_or_its_failure_back | tee -a "$log"
deployed deployed_subflow::the_sweep_ends_a_parent_whose_childs_end_message_was_lost | tee -a "$log"
deployed deployed_subflow::the_sweep_starts_the_child_whose_start_was_lost_once | tee -a "$log"
# cold decisions on part of an execution: a process of its own (a local
# store opened by another test in the process orders ids); it counts the
# documents its decisions read, not time
deployed gcp_backends::partial::cold_executors_decide_a_large_for_each_from_a_few_task_runs | tee -a "$log"
timed_rc=0
wait "$timed_pid" || timed_rc=$?
trap 'rm -rf "$tests_tmp"' EXIT
tee -a "$log" <"$timed_log"
rm -f "$timed_log"
[ "$timed_rc" -eq 0 ] || exit "$timed_rc"
stage "the deployed-system tests that load the cores, alone (timing-sensitive: see tests/tests/deployed.rs)"
deployed deployed::the_deployed_system_runs_right_through_ticks_backfills_updates_kills_and_idle | tee -a "$log"
deployed deployed_backfill::api_backfills_run_under_throttled_cpu_pin_revisions_and_fail_when_they_cannot_go_on | tee -a "$log"
deployed deployed_chunks::a_cold_executor_goes_on_from_the_chunks_of_a_large_foreach | tee -a "$log"
# one closing line for the whole suite (cargo prints one per test binary)
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
stage "end"
