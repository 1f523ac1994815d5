#!/usr/bin/env bash
# `runbook run --yes` of the seed runbook on a wide-row all_users table (benches/wide-users.sql;
# USERS, default 100,000), side by side with the same change done by hand with the sqlite3 CLI,
# twice:
#   - bare (sqlite3-bare.sql): backup with VACUUM INTO, integrity check and row count of the
#     backup, sha256 of the backup file, the DDL in a transaction, the schema checks, the report
#     and monitor queries. Target: runbook ≤ 2× this.
#   - with proof (sqlite3-equivalent.sql): the same plus two sha3_query fingerprints of every
#     row (before and after the change). Target: runbook ≤ 1.0× this.
# The Data Sync Test step is skipped (it needs the application) and monitoring lasts 0 s:
# each monitor check is sampled once. hyperfine runs the three commands one after the other
# (not alternated): on a busy machine, run the script twice and compare.
source "$(dirname "$0")/common.sh"
need sqlite3 "apt-get install -y sqlite3 (only the benchmark needs it, for the comparison)"

USERS="${USERS:-100000}"
machine
db="$WORK/wide-$USERS.db"
wide_users_db "$USERS" "$db"
cd "$WORK"
touch app.log
hyperfine --warmup 2 --runs "$RUNS" -N --export-json "$WORK/run-vs-sqlite3.json" \
    --prepare "sh -c 'cp $db work.db && rm -rf runs work.db.runbook-lock && mkdir -p runs/sqlite3'" \
    -n "runbook run --yes" \
    "$BIN run $SEED --db sqlite://$WORK/work.db --yes --skip data-sync-test --var monitor_duration=0 --var app_log=$WORK/app.log --runs-dir $WORK/runs" \
    -n "sqlite3 bare change" \
    "sh -c 'sqlite3 -bail $WORK/work.db -cmd \".read $ROOT/benches/sqlite3-bare.sql\" .quit && sha256sum runs/sqlite3/backup.sqlite3'" \
    -n "sqlite3 with two sha3_query" \
    "sh -c 'sqlite3 -bail $WORK/work.db -cmd \".read $ROOT/benches/sqlite3-equivalent.sql\" .quit && sha256sum runs/sqlite3/backup.sqlite3'"
rb=$(median_ms "$WORK/run-vs-sqlite3.json" 0)
bare=$(median_ms "$WORK/run-vs-sqlite3.json" 1)
proof=$(median_ms "$WORK/run-vs-sqlite3.json" 2)
echo "rows: $USERS; medians: runbook run $rb ms, sqlite3 bare $bare ms, sqlite3 with two sha3_query $proof ms"
echo "runbook ÷ bare: $(awk -v a="$rb" -v b="$bare" 'BEGIN {printf "%.2f", a / b}')× (target ≤ 2×)"
echo "runbook ÷ with two sha3_query: $(awk -v a="$rb" -v b="$proof" 'BEGIN {printf "%.2f", a / b}')× (target ≤ 1.0×)"
