#!/usr/bin/env bash
# Whole-process instruction counts (not a test): `baton run -q` of the
# generated flows of whole.sh, each once under valgrind's callgrind in a
# fresh Baton home. Instructions are the same for the same binary and
# flow whatever else the machine does, so this measures the code on a
# busy machine where wall times measure the load. Prints a Markdown table:
# instructions of the whole process (start-up and the flow file's reading
# included) and per task run.
#
#   scripts/bench/instructions.sh [BATON] ["chain:500 chain:2000 each0:2000"]
#
# A release build with line tables (CARGO_PROFILE_RELEASE_DEBUG=line-tables-only)
# lets `callgrind_annotate` name the lines; the counts do not depend on it.
set -euo pipefail
BATON=${1:-target/release/baton}
CASES=${2:-"chain:500 chain:2000 each0:2000"}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/bench/flows.sh
source "$(dirname "$0")/flows.sh"

echo "| case | task runs | instructions | per task run |"
echo "|---|---|---|---|"
for c in $CASES; do
  kind=${c%%:*}; n=${c#*:}
  f=$(gen "$kind" "$n")
  runs=$n; [ "$kind" != chain ] && runs=$((n + 1))
  BATON_HOME="$work/home" valgrind --tool=callgrind --callgrind-out-file="$work/cg" \
    "$BATON" run -q "$f" > /dev/null 2> "$work/err" || { echo "run failed: $c" >&2; cat "$work/err" >&2; exit 1; }
  total=$(awk '/^(summary|totals):/ { print $2; exit }' "$work/cg")
  printf '| %s | %d | %.1f M | %.0f K |\n' "$c" "$runs" "$(echo "$total / 1000000" | bc -l)" "$(echo "$total / $runs / 1000" | bc -l)"
  rm -rf "$work/home" "$work/cg"
done
