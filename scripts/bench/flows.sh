# The generated flows of the whole-process benchmarks (sourced by
# whole.sh and instructions.sh): `gen KIND N` writes one into "$work" and
# prints its path. KIND is chain (N trivial Return tasks one after the
# other), each0 or each1 (a ForEach over N values, concurrencyLimit 0 or 1,
# of one Return task).
gen() { # kind n → flow file
  local kind=$1 n=$2 f="$work/$1_$2.yaml"
  case $kind in
    chain)
      { echo "id: chain_$n"; echo "namespace: bench"; echo "tasks:"
        for ((i = 0; i < n; i++)); do
          printf '  - id: t%d\n    type: io.kestra.plugin.core.debug.Return\n    format: "{{ taskrun.id }}"\n' "$i"
        done; } > "$f" ;;
    each0|each1)
      local limit=${kind#each}
      { echo "id: each_$n"; echo "namespace: bench"; echo "tasks:"
        echo "  - id: each"; echo "    type: io.kestra.plugin.core.flow.ForEach"
        printf '    values: ['; seq -s ', ' 0 $((n - 1)) | tr -d '\n'; echo ']'
        echo "    concurrencyLimit: $limit"; echo "    tasks:"
        echo "      - id: r"; echo "        type: io.kestra.plugin.core.debug.Return"
        echo '        format: "{{ taskrun.value }}"'; } > "$f" ;;
  esac
  echo "$f"
}

