#!/usr/bin/env bash
# The step bench's events counted instead of timed (not a test): each shape
# and size of `shared/benches/step.rs` run once under valgrind's callgrind
# with its cache simulator, collecting only the events after the first
# (`--toggle-collect='*one_event*'`). Prints a Markdown table per event:
# instructions (the executor's work: the same for the same binary and
# inputs, whatever else the machine does), first-level data-cache misses,
# and misses of a 2 MiB last level (this VM's L2 per core; what does not
# fit there comes from the shared L3 or memory). Instructions flat with the
# size while the time grows means the time is memory, not work.
#
#   scripts/bench/step_counts.sh ["100 1000 10000 100000"]
#   EVENTS=48 (default) events per shape and size, after WARMUP=500 (at
#   most half the size) events that are not counted (the bench's own
#   header says why; it prints how many it timed, which the ForEach at
#   limit 0, with (size - 1) / 2 - 1 running iterations, may cap).
#
# Builds the bench (release, line tables for `callgrind_annotate`) first.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${1:-"100 1000 10000 100000"}
EVENTS=${EVENTS:-48}
WARMUP=${WARMUP:-500}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
bin=$(cargo bench -p shared --features shared/duckdb --bench step --no-run \
  --config 'profile.bench.package.shared.debug="line-tables-only"' --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*step[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "no step bench binary built" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "| shape | task runs | instructions/event | L1d misses/event | 2 MiB-LL misses/event |"
echo "|---|---|---|---|---|"
for n in $SIZES; do
  for shape in chain 1 0; do
    out="$work/cg.$shape.$n"
    BATON_BENCH_STEP_SHAPES=$shape BATON_BENCH_STEP_SIZES=$n BATON_BENCH_STEP_EVENTS=$EVENTS BATON_BENCH_STEP_WARMUP=$WARMUP \
      valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64 \
      --toggle-collect='*one_event*' --callgrind-out-file="$out" "$bin" >"$out.md" 2>"$out.err"
    # the bench's row: its shape's name, and the events it timed (and
    # callgrind counted) in its last column
    row=$(grep '^| [cF]' "$out.md" | tail -1)
    name=$(awk -F'|' '{gsub(/^ +| +$/, "", $2); print $2}' <<<"$row")
    events=$(awk -F'|' '{gsub(/ /, "", $(NF-1)); print $(NF-1)}' <<<"$row")
    # totals: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
    read -r ir _ _ _ d1mr d1mw _ dlmr dlmw < <(sed -n 's/^summary: //p;s/^totals: //p' "$out" | tail -1)
    awk -v name="$name" -v n="$n" -v e="$events" -v ir="$ir" -v d1="$((d1mr + d1mw))" -v ll="$((dlmr + dlmw))" \
      'BEGIN { printf "| %s | %d | %.0f | %.1f | %.1f |\n", name, n, ir / e, d1 / e, ll / e }'
  done
done
