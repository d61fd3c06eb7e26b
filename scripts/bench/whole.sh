#!/usr/bin/env bash
# Whole-process benchmark (not a test): `baton run -q` of generated flows of
# trivial Return tasks — a chain of N, a ForEach of N values with
# concurrencyLimit 0 and 1 — each in a fresh Baton home, timed by
# the shell's nanosecond clock around /usr/bin/time -v (whose own wall time
# has centiseconds only; the ~1 ms of starting `time` and `env` is
# included). Prints a Markdown table: median wall of RUNS runs, task
# runs/s, median peak RSS, and the load average at the start of each row.
#
#   scripts/bench/whole.sh [BATON] ["chain:40 chain:10000 each0:10000 each1:10000 …"]
#   RUNS=3 (default) runs per row.
set -euo pipefail
BATON=${1:-target-release/release/baton}
CASES=${2:-"chain:40 chain:1000 chain:10000 each0:1000 each1:1000 each0:10000 each1:10000"}
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=scripts/bench/flows.sh
source "$(dirname "$0")/flows.sh"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "| case | task runs | wall (median of $RUNS) | task runs/s | peak RSS MiB | load |"
echo "|---|---|---|---|---|---|"
for c in $CASES; do
  kind=${c%%:*}; n=${c#*:}
  f=$(gen "$kind" "$n")
  runs=$n; [ "$kind" != chain ] && runs=$((n + 1))
  load=$(cut -d' ' -f1 /proc/loadavg)
  : > "$work/w"; : > "$work/r"
  for ((k = 0; k < RUNS; k++)); do
    home="$work/home$k"
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$work/t" env BATON_HOME="$home" "$BATON" run -q "$f" 2> "$work/err" \
      || { echo "run failed: $c" >&2; cat "$work/err" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "($t1 - $t0) / 1000000000" | bc -l >> "$work/w"
    awk -F': ' '/Maximum resident/ {printf "%.1f\n", $2/1024}' "$work/t" >> "$work/r"
    rm -rf "$home"
  done
  w=$(median < "$work/w"); r=$(median < "$work/r")
  printf '| %s | %d | %.3f s | %.0f | %s | %s |\n' "$c" "$runs" "$w" "$(echo "$runs / $w" | bc -l)" "$r" "$load"
done
