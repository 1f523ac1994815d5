#!/usr/bin/env bash
# The `validate` step on 1,000,000 users: fingerprinting streams rows (target: peak RSS
# ≤ 40 MB) and the rows per second. The run fingerprints all_users twice (baseline at run
# start, then the step), so rows/s comes from the step's own duration in the journal.
source "$(dirname "$0")/common.sh"

USERS="${USERS:-1000000}"
machine
users_db "$USERS" "$WORK/users-1m.db"
cat > "$WORK/fingerprint.yaml" <<YAML
version: 1
id: fingerprint-bench
plan:
  - id: validation
    name: Validation
    kind: validate
    tables: [all_users]
YAML
rm -rf "$WORK/runs-fp"
/usr/bin/time -v "$BIN" run "$WORK/fingerprint.yaml" --db "sqlite://$WORK/users-1m.db" --yes --runs-dir "$WORK/runs-fp" \
    >"$WORK/fingerprint.out" 2>"$WORK/fingerprint.time"
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/fingerprint.time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/fingerprint.time")
step_ms=$(grep -o '"event":"step_finished","step_id":"validation"[^}]*' "$WORK"/runs-fp/*/journal.jsonl | grep -o '"duration_ms":[0-9]*' | cut -d: -f2)
echo "rows: $USERS, whole run (2 fingerprints): $wall, validate step (1 fingerprint): ${step_ms} ms"
echo "peak RSS: $((rss_kb / 1024)) MB (target ≤ 40 MB)"
echo "rows per second: $(awk -v n="$USERS" -v ms="$step_ms" 'BEGIN {printf "%.0f", n / (ms / 1000)}')"
