#!/usr/bin/env bash
# `runbook validate` on generated runbooks of 1k, 2k, 5k, 10k and 20k `sql` steps: the curve
# must be a straight line (time per 1,000 steps flat), and 10,000 steps well under a second.
source "$(dirname "$0")/common.sh"

SIZES="${SIZES:-1000 2000 5000 10000 20000}"

# A runbook of N sql steps, each with its own statement, a name and a description.
steps_runbook() {
    local n="$1" path="$2"
    [ -f "$path" ] && return
    awk -v n="$n" 'BEGIN {
        print "version: 1\nid: scale\nvars:\n  tbl:\n    default: all_users\nplan:"
        for (i = 1; i <= n; i++) {
            printf "  - id: step-%d\n    name: Step %d\n    description: sets row %d\n    kind: sql\n    sql: UPDATE ${tbl} SET email = %c%d@x%c WHERE id = %d\n", i, i, i, 39, i, 39, i
        }
    }' > "$path"
}

machine
args=()
for n in $SIZES; do
    steps_runbook "$n" "$WORK/steps-$n.yaml"
    args+=(-n "$n" "$BIN validate $WORK/steps-$n.yaml")
done
hyperfine --warmup 1 --runs "${RUNS_SCALE:-5}" -N --export-json "$WORK/validate-scale.json" "${args[@]}"
i=0
first=""
for n in $SIZES; do
    m="$(median_ms "$WORK/validate-scale.json" "$i")"
    per="$(awk -v m="$m" -v n="$n" 'BEGIN {printf "%.1f", m * 1000 / n}')"
    [ -z "$first" ] && first="$per"
    ratio="$(awk -v a="$per" -v b="$first" 'BEGIN {printf "%.2f", a / b}')"
    echo "validate $n steps: median $m ms, $per ms per 1,000 steps (${ratio}× the 1k figure)"
    i=$((i + 1))
done
