#!/usr/bin/env bash
# The cost of observability on the whole-process benchmarks (not a test):
# scripts/bench/whole.sh's cases run with metrics off (BATON_METRICS=off,
# `baton run`'s default), metrics on (BATON_METRICS=on: the Prometheus
# recorder installed, every counter and histogram recorded) and metrics on
# with traces exported over OTLP/HTTP (protobuf) to a local receiver
# (scripts/bench/otlp_sink.py, which answers 200 and counts what it got).
# The modes alternate run by run, so a change in the machine's load falls
# on all three alike. Prints a Markdown table: median CPU time (user +
# system of `baton` alone: what observability adds, and far less disturbed
# than the wall by other processes on a shared machine) of RUNS runs per
# mode against metrics off, then the median walls and peak RSS.
#
#   scripts/bench/overhead.sh [BATON] ["chain:10000 each0:10000 …"]
#   RUNS=7 (default) runs per mode.
set -euo pipefail
BATON=$(realpath "${1:-target-release/release/baton}")
CASES=${2:-"chain:10000 each0:10000 each1:10000"}
RUNS=${RUNS:-7}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$here/otlp_sink.py" "$port" "$work/spans" &
sink=$!
trap 'kill $sink 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -f "$work/spans" ] && break; sleep 0.1; done
# whole.sh runs this wrapper, which appends baton's CPU seconds to CPU_FILE
printf '#!/usr/bin/env bash\nexec /usr/bin/time -f "%%U %%S" -a -o "$CPU_FILE" %q "$@"\n' "$BATON" > "$work/baton"
chmod +x "$work/baton"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
pct() { echo "$1 $2" | awk '{printf "%+.1f %%", ($1 / $2 - 1) * 100}'; }
modes="off metrics traces"
mode_env() {
  case $1 in
    off) echo "BATON_METRICS=off" ;;
    metrics) echo "BATON_METRICS=on" ;;
    traces) echo "BATON_METRICS=on OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port" ;;
  esac
}

echo "| case | CPU, metrics off | metrics on | Δ | metrics on, traces exported | Δ | wall: off / on / traces | peak RSS MiB: off / on / traces | spans received per run | load |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for c in $CASES; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  for m in $modes; do : > "$work/w_$m"; : > "$work/r_$m"; : > "$work/c_$m"; done
  : > "$work/spans_per_run"
  for ((k = 0; k < RUNS; k++)); do
    for m in $modes; do
      before=$(cat "$work/spans")
      : > "$work/cpu"
      # one row of whole.sh: | case | runs | wall s | runs/s | RSS | load |
      row=$(env -u OTEL_EXPORTER_OTLP_ENDPOINT $(mode_env "$m") CPU_FILE="$work/cpu" RUNS=1 \
        "$here/whole.sh" "$work/baton" "$c" | tail -n 1)
      echo "$row" | awk -F'|' '{gsub(/[ s]/, "", $4); print $4}' >> "$work/w_$m"
      echo "$row" | awk -F'|' '{gsub(/ /, "", $6); print $6}' >> "$work/r_$m"
      awk '{print $1 + $2}' "$work/cpu" >> "$work/c_$m"
      if [ "$m" = traces ]; then echo $(($(cat "$work/spans") - before)) >> "$work/spans_per_run"; fi
    done
  done
  c_off=$(median < "$work/c_off"); c_met=$(median < "$work/c_metrics"); c_tr=$(median < "$work/c_traces")
  printf '| %s | %.2f s | %.2f s | %s | %.2f s | %s | %.2f / %.2f / %.2f s | %s / %s / %s | %s | %s |\n' "$c" \
    "$c_off" "$c_met" "$(pct "$c_met" "$c_off")" "$c_tr" "$(pct "$c_tr" "$c_off")" \
    "$(median < "$work/w_off")" "$(median < "$work/w_metrics")" "$(median < "$work/w_traces")" \
    "$(median < "$work/r_off")" "$(median < "$work/r_metrics")" "$(median < "$work/r_traces")" \
    "$(median < "$work/spans_per_run")" "$load"
done
