#!/usr/bin/env bash
# Build times and binary sizes of the `baton` CLI, for one commit and one
# feature set: a clean release build (empty target folder, crates already
# downloaded), then an incremental one after touching one plugin file, and
# the binary's size. Prints one markdown table row and appends it to the
# results file given: commit, features, crates linked, the two build times,
# the size, when, the load average before and after, rustc. The results
# file's header names the machine and the command.
#
#   scripts/bench/build.sh REV RESULTS.md [FEATURES]
#
#   scripts/bench/build.sh 54f7701 docs/bench/2026-11-27-build.md
#   scripts/bench/build.sh HEAD docs/bench/2026-11-27-build.md gcp
#
# The commit is checked out in a worktree under .cache/bench-build/ with its
# own target folder, so the working tree and its target/ are untouched. Run
# it on an idle machine: the numbers are wall-clock times.
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?"usage: $0 REV RESULTS.md [FEATURES]"}
results=${2:?"usage: $0 REV RESULTS.md [FEATURES]"}
features=${3:-}
commit=$(git rev-parse --short "$rev")
root=$PWD/.cache/bench-build
tree=$root/$commit
target=$root/target-$commit${features:+-$features}
mkdir -p "$root"
if [ ! -d "$tree" ]; then
  git worktree add --detach "$tree" "$commit" >/dev/null
fi
rm -rf "$target"

args=(build --release --offline --quiet -p shared --bin baton)
[ -n "$features" ] && args+=(--features "$features")

# the plugin file touched for the incremental build: core.log.Log's, in the
# layout of that commit
plugin=
for p in shared/plugins/src/core/log.rs shared/src/plugins/core/log.rs; do
  [ -e "$tree/$p" ] && { plugin=$p; break; }
done
[ -n "$plugin" ] || { echo "no core/log.rs plugin file in $commit" >&2; exit 1; }

load_before=$(cut -d' ' -f1 /proc/loadavg)
t0=$(date +%s.%N)
(cd "$tree" && CARGO_TARGET_DIR=$target cargo "${args[@]}")
t1=$(date +%s.%N)
touch "$tree/$plugin"
(cd "$tree" && CARGO_TARGET_DIR=$target cargo "${args[@]}")
t2=$(date +%s.%N)
bin=$target/release/baton
size=$(stat -c %s "$bin")
crates=$(cd "$tree" && cargo tree --offline -p shared -e normal --prefix none ${features:+--features "$features"} \
  | awk '{print $1" "$2}' | sort -u | wc -l)

clean=$(echo "$t1 - $t0" | bc)
incr=$(echo "$t2 - $t1" | bc)
when=$(date -u +%FT%TZ)
load_after=$(cut -d' ' -f1 /proc/loadavg)
rustc_v=$(rustc --version | cut -d' ' -f2)
row=$(printf '| %s | %s | %d | %.1f min | %.0f s | %.1f MB | %s | %s / %s | %s |' \
  "$commit" "${features:-(default)}" "$crates" "$(echo "$clean / 60" | bc -l)" "$incr" \
  "$(echo "$size / 1000000" | bc -l)" "$when" "$load_before" "$load_after" "$rustc_v")
echo "$row"
echo "$row" >> "$results"
