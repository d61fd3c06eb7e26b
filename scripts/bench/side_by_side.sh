#!/usr/bin/env bash
# Baton against Prefect on the same shapes (a benchmark, not a test): the
# whole process of `baton run -q` (scripts/bench/whole.sh's flows) and of a
# Prefect flow (scripts/bench/prefect_flows.py), each on a fresh home,
# timed by /usr/bin/time; median wall of RUNS runs, the ratio, peak RSS.
#
#   scripts/bench/side_by_side.sh BATON PYTHON ["chain:40 each0:1000 …"]
#   PYTHON is an interpreter with `prefect` installed. RUNS=3 by default.
set -euo pipefail
BATON=${1:?baton binary}
PY=${2:?python with prefect}
CASES=${3:-"chain:40 chain:1000 each0:1000 each0:10000"}
RUNS=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "| case | Baton wall | Baton peak RSS | Prefect wall | Prefect peak RSS | Prefect / Baton |"
echo "|---|---|---|---|---|---|"
for c in $CASES; do
  kind=${c%%:*} n=${c##*:}
  # Baton's row, from whole.sh (one case, RUNS runs)
  brow=$(RUNS=$RUNS "$here/whole.sh" "$BATON" "$c" | tail -1)
  bwall=$(echo "$brow" | awk -F'|' '{gsub(/[ s]/, "", $4); print $4}')
  brss=$(echo "$brow" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
  pkind=chain; [ "$kind" != chain ] && pkind=map
  : > "$work/w"; : > "$work/m"
  for ((r = 0; r < RUNS; r++)); do
    home=$(mktemp -d "$work/p.XXXX")
    /usr/bin/time -f "%e %M" -o "$work/t" env PREFECT_HOME="$home" PREFECT_LOGGING_LEVEL=WARNING PREFECT_SERVER_ANALYTICS_ENABLED=false \
      "$PY" "$here/prefect_flows.py" "$pkind" "$n" > /dev/null 2> "$work/err" \
      || { echo "prefect $c failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
    read -r w m < <(tail -1 "$work/t")
    echo "$w" >> "$work/w"; echo "$m" >> "$work/m"
    rm -rf "$home"
  done
  pwall=$(median < "$work/w"); prss=$(median < "$work/m")
  ratio=$(awk -v p="$pwall" -v b="$bwall" 'BEGIN { printf "%.0f×", p / b }')
  printf '| %s | %s s | %s MiB | %s s | %.1f MiB | %s |\n' "$c" "$bwall" "$brss" "$pwall" "$(awk -v k="$prss" 'BEGIN{print k/1024}')" "$ratio"
done
