#!/usr/bin/env bash
# `runbook run --yes` of the seed runbook on a 100,000-user all_users table, side by side with
# the sqlite3 CLI doing the same backup (VACUUM INTO + integrity check), fingerprints, DDL and
# checks (sqlite3-equivalent.sql). Target: runbook ≤ 2× sqlite3.
# The Data Sync Test step is skipped (it needs the application) and monitoring lasts 0 s:
# each monitor check is sampled once.
source "$(dirname "$0")/common.sh"
need sqlite3 "apt-get install -y sqlite3 (only the benchmark needs it, for the comparison)"

USERS="${USERS:-100000}"
machine
users_db "$USERS" "$WORK/users-100k.db"
cd "$WORK"
touch app.log
hyperfine --warmup 2 --runs "$RUNS" -N --export-json "$WORK/run-vs-sqlite3.json" \
    --prepare "sh -c 'cp users-100k.db work.db && rm -rf runs work.db.runbook-lock && mkdir -p runs/sqlite3'" \
    -n "runbook run --yes" \
    "$BIN run $SEED --db sqlite://$WORK/work.db --yes --skip data-sync-test --var monitor_duration=0 --var app_log=$WORK/app.log --runs-dir $WORK/runs" \
    -n "sqlite3 (same work)" \
    "sqlite3 -bail $WORK/work.db -cmd '.read $ROOT/benches/sqlite3-equivalent.sql' .quit"
rb=$(median_ms "$WORK/run-vs-sqlite3.json" 0)
sq=$(median_ms "$WORK/run-vs-sqlite3.json" 1)
echo "median runbook run: $rb ms, sqlite3: $sq ms, ratio $(awk -v a="$rb" -v b="$sq" 'BEGIN {printf "%.2f", a / b}')× (target ≤ 2×)"
