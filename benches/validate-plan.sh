#!/usr/bin/env bash
# `runbook validate` and `runbook plan` of the seed runbook (target: median ≤ 20 ms each).
# plan runs against a 5,000-user SQLite database, read-only.
source "$(dirname "$0")/common.sh"

machine
users_db 5000 "$WORK/users-5k.db"
hyperfine --warmup 3 --runs "$RUNS" -N --export-json "$WORK/validate-plan.json" \
    -n validate "$BIN validate $SEED" \
    -n plan "$BIN plan $SEED --db sqlite://$WORK/users-5k.db"
echo "median validate: $(median_ms "$WORK/validate-plan.json" 0) ms (target ≤ 20 ms)"
echo "median plan:     $(median_ms "$WORK/validate-plan.json" 1) ms (target ≤ 20 ms)"
