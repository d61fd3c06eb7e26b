#!/usr/bin/env bash
# Release binaries (not a test): builds `baton` in the `dist` profile (what
# users download: fat LTO, one codegen unit, stripped) for each feature set
# given, and prints a Markdown table, one row per feature set: the binary's
# size (bytes, MB, and gzip -9 as an archive carries it), the start-up —
# median wall time of RUNS runs of `baton --version` and of `baton validate`
# of one example flow — the median peak RSS of that validate, and the crates
# linked. Run it through record.sh, which adds the machine, load and commit:
#
#   scripts/bench/record.sh dist "Release binaries: size and start-up" \
#     scripts/bench/dist.sh default gcp
#
#   scripts/bench/dist.sh [--profile PROFILE] [--no-build] [FEATURES...]
#   FEATURES: `default` (the default features: no Google crate) or a
#   comma-separated list added to them (`gcp`); `default` when none given.
#   --no-build: measure the binary already in the target folder (one
#   feature set; a commit since its build would otherwise rebuild it:
#   `baton --version` names the commit, so shared's build script watches git).
#   RUNS=20 runs per timing (5 for the peak RSS); FLOW=examples/hello_world.yaml.
#
# Builds into $CARGO_TARGET_DIR (or target/) with --offline; a feature set
# already built is only re-linked if needed, so the build time is not a
# figure here (see the results file's prose). Wall times are taken with
# Python's time.perf_counter around each process, the peak RSS with
# /usr/bin/time -f %M (skipped, "-", when GNU time is absent).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=dist
build=true
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=${2:?"--profile needs a profile name"}; shift 2 ;;
    --no-build) build=false; shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- default
RUNS=${RUNS:-20}
FLOW=${FLOW:-examples/hello_world.yaml}
target=${CARGO_TARGET_DIR:-target}
bin=$target/$profile/baton
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median wall time in ms of RUNS runs of a command (stdout and stderr dropped;
# a failing run stops the benchmark)
wall_ms() {
  python3 - "$RUNS" "$@" <<'EOF'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t0)
print(f"{statistics.median(times) * 1000:.1f}")
EOF
}

# median peak RSS in MiB of 5 runs
peak_mib() {
  [ -x /usr/bin/time ] || { echo "-"; return; }
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f %M -o "$work/rss" "$@" > /dev/null 2>&1
    cat "$work/rss"
  done | sort -g | awk '{a[NR]=$1} END {printf "%.1f\n", a[3] / 1024}'
}

echo "| binary | size | MB | gzip -9 | \`baton --version\` (median of $RUNS) | \`baton validate $(basename "$FLOW")\` (median of $RUNS) | validate peak RSS MiB | crates |"
echo "|---|---|---|---|---|---|---|---|"
for set in "$@"; do
  args=(build --profile "$profile" --offline --quiet -p shared --bin baton)
  tree_args=()
  if [ "$set" != default ]; then
    args+=(--features "$set")
    tree_args=(--features "$set")
  fi
  $build && cargo "${args[@]}" >&2
  size=$(stat -c %s "$bin")
  gz=$(gzip -9 -c "$bin" | wc -c)
  crates=$(cargo tree --offline -p shared -e normal --prefix none "${tree_args[@]}" \
    | awk '{print $1" "$2}' | sort -u | wc -l)
  export BATON_HOME="$work/home"
  # a flow that does not validate stops here
  "$bin" validate "$FLOW" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
  version=$(wall_ms "$bin" --version)
  validate=$(wall_ms "$bin" validate "$FLOW")
  rss=$(peak_mib "$bin" validate "$FLOW")
  name="$profile, ${set/default/default features}"
  [ "$set" != default ] && name="$profile, default + $set"
  printf '| %s | %d bytes | %.1f MB | %.1f MB | %s ms | %s ms | %s | %d |\n' \
    "$name" "$size" "$(echo "$size / 1000000" | bc -l)" "$(echo "$gz / 1000000" | bc -l)" \
    "$version" "$validate" "$rss" "$crates"
done
