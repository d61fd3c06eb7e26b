#!/usr/bin/env bash
# Records one benchmark run in a dated results file (not a test): runs
# COMMAND, which prints a Markdown table, and appends to
# docs/bench/DATE-NAME.md a section with the machine (cores, CPU, memory),
# the load before and after, the commit, rustc, the command and the time,
# then the table marked `<!-- table: NAME -->` so that
# scripts/bench/render.py can quote it in docs/src/performance.md.
#
#   scripts/bench/record.sh [--compare] NAME "TITLE" COMMAND [ARGS...]
#   e.g. scripts/bench/record.sh whole "baton run of generated flows" \
#          scripts/bench/whole.sh target/release/baton "chain:40 each0:10000"
#   --compare: then print the figures worse than the previous run's by
#   over 20 % (scripts/bench/compare.py), exiting 1 if there are any.
set -euo pipefail
compare=false
[ "${1:-}" = --compare ] && { compare=true; shift; }
[ $# -ge 3 ] || { sed -n '2,16p' "$0"; exit 2; }
name=$1 title=$2
shift 2
cd "$(dirname "$0")/../.."
file="docs/bench/$(date -u +%F)-$name.md"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%FT%TZ)
"$@" > "$out"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
grep -q '^|' "$out" || { echo "record.sh: '$*' printed no Markdown table" >&2; cat "$out" >&2; exit 1; }

commit=$(git rev-parse --short=10 HEAD)
# -dirty: the code measured differs from the commit (docs and scripts do not count)
git diff --quiet HEAD -- Cargo.toml Cargo.lock shared functions tests || commit="$commit-dirty"
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
new=true
[ -f "$file" ] && new=false
{
  $new && printf '# %s\n' "$title"
  printf '\n## Run of %s\n\n' "$started"
  printf -- '- Machine: %s cores (%s), %s, %s.\n' "$(nproc)" "$cpu" "$mem" "$(uname -sm)"
  printf -- '- Load average (1, 5, 15 min): %s before, %s after.\n' "$load_before" "$load_after"
  printf -- '- Commit: %s; %s.\n' "$commit" "$(rustc --version 2>/dev/null || echo 'rustc unknown')"
  printf -- '- Command: `%s`\n\n' "$*"
  printf '<!-- table: %s -->\n' "$name"
  grep '^|' "$out"
} >> "$file"
echo "recorded in $file"
if $compare; then
  python3 scripts/bench/compare.py "$name"
fi
