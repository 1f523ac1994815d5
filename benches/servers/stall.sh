#!/usr/bin/env bash
# Stall under a blocker (PostgreSQL): a 1M-row all_users under steady read+write load from
# pgbench; a transaction that has read the table stays open for 8 s; the column is added once with
# plain `psql -c 'ALTER TABLE …'` and once with `runbook run` (lock_timeout 500ms + retries).
# Reports the worst transaction latency the load saw in each case (pgbench --log).
#   benches/servers/stall.sh [ROWS]      (about 1 minute)
source "$(dirname "$0")/common.sh"
ROWS=${1:-1000000}
DB=rb_bench_stall
pg_users $DB "$ROWS"
cat >"$WORK/load.sql" <<SQL
\set id random(1, $ROWS)
SELECT name FROM all_users WHERE id = :id;
UPDATE all_users SET email = email WHERE id = :id;
SQL
cat >"$WORK/add.yaml" <<'YAML'
version: 1
id: bench-add-column
plan:
  - id: add
    name: Add the column
    kind: sql
    lock_timeout: 500ms
    sql: ALTER TABLE all_users ADD COLUMN pcc_user_uuid varchar(36) NULL
YAML

# trial NAME COMMAND…: 14 s of load; the blocker opens at 2 s for 8 s; the change starts at 3 s.
trial() {
  local name=$1; shift
  psql -qd $DB -c "ALTER TABLE all_users DROP COLUMN IF EXISTS pcc_user_uuid"
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && pgbench -n -M simple -c 4 -j 2 -T 14 -f "$WORK/load.sql" --log --log-prefix=tx $DB >pgbench.out 2>&1) &
  local bench=$!
  sleep 2
  psql -qd $DB -c "BEGIN; SELECT count(*) FROM all_users; SELECT pg_sleep(8); COMMIT;" >/dev/null &
  local blocker=$!
  sleep 1
  local t0; t0=$(now)
  "$@" >"$WORK/$name/change.out" 2>&1 || { echo "$name: the change failed:"; cat "$WORK/$name/change.out"; }
  local took; took=$(since "$t0")
  wait $blocker $bench
  # Per-transaction log: client, tx no, latency (µs), script, epoch s, µs.
  local worst; worst=$(cat "$WORK/$name"/tx.* | awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { printf "%.0f", m / 1000 }')
  local txs; txs=$(cat "$WORK/$name"/tx.* | wc -l)
  echo "$name $worst $took $txs"
}

machine
echo "rows: $ROWS; load: pgbench -c 4 -j 2, SELECT + UPDATE by random id; blocker: 8 s transaction that read the table"
plain=$(trial plain psql -qd $DB -c "ALTER TABLE all_users ADD COLUMN pcc_user_uuid varchar(36) NULL")
rb=$(trial runbook "$RUNBOOK" run "$WORK/add.yaml" --db "postgres://postgres@127.0.0.1:5432/$DB" --yes --runs-dir "$WORK/runs")
retries=$(grep -ho 'hit [0-9]* time(s)' "$WORK"/runs/*/journal.jsonl || echo "no retries")
read -r _ pw pt ptx <<<"$plain"
read -r _ rw rt rtx <<<"$rb"
printf '%-28s %14s %12s %14s\n' "how the column was added" "worst stall" "change took" "transactions"
printf '%-28s %11s ms %10s s %14s\n' "psql -c 'ALTER TABLE …'" "$pw" "$pt" "$ptx"
printf '%-28s %11s ms %10s s %14s\n' "runbook run (500 ms + retry)" "$rw" "$rt" "$rtx"
awk -v p="$pw" -v r="$rw" 'BEGIN { printf "ratio plain/runbook: %.1fx; runbook target <= 600 ms: %s\n", p / r, (r <= 600 ? "met" : "MISSED") }'
echo "runbook lock timeouts: $retries"
psql -qd postgres -c "DROP DATABASE $DB WITH (FORCE)"
