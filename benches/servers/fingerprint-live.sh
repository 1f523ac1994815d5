#!/usr/bin/env bash
# The attributed proof under a live writer against the same proof on a quiet table, on
# PostgreSQL and MariaDB, at 100k and 1M rows, with the client's peak RSS. Target: the
# `validate` step (one fingerprint, its comparison and the attribution) under a concurrent write
# load costs ≤ 1.5× the same step on the quiet table, and runbook's memory stays flat from 100k
# to 1M rows.
#   benches/servers/fingerprint-live.sh [SIZES…]      (about 2–4 minutes)
# Quiet and live runs are alternated, ROUNDS times (default 3), within one run of the script.
# The writer: on PostgreSQL pgbench (2 clients, 200 transactions/s in all, each updating one
# existing user and inserting a new one); on MariaDB one `mariadb` session fed the same two
# statements about 200 times a second. New users get ids above the table's, so the writer never
# collides with itself.
source "$(dirname "$0")/common.sh"
SIZES=("${@:-100000 1000000}")
read -ra SIZES <<<"${SIZES[*]}"
ROUNDS=${ROUNDS:-3}
# A change (a nullable column, as in the seed runbook) and the proof that existing data is
# unaffected; the column is dropped again after each run.
cat >"$WORK/validate.yaml" <<'YAML'
version: 1
id: bench-fingerprint-live
plan:
  - id: change
    name: Add a column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN bench_extra varchar(36) NULL
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [all_users]
YAML
drop_extra() {
  if [[ $1 == postgres ]]; then psql -qd rb_bench_live -c "ALTER TABLE all_users DROP COLUMN IF EXISTS bench_extra"
  else "${MY[@]}" rb_bench_live -e "ALTER TABLE all_users DROP COLUMN IF EXISTS bench_extra"; fi
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
step_ms() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "step_finished" and e.get("step_id") == "check":
        print(e["duration_ms"])' "$1"; }

writer_start() { # ENGINE ROWS ROUND
  if [[ $1 == postgres ]]; then
    cat >"$WORK/write.sql" <<SQL
\set u random(1, $2)
\set n random(1, 1000000000)
UPDATE all_users SET name = 'live ' || :n WHERE id = :u;
INSERT INTO all_users VALUES ($2 + 1000000 + :client_id * 100000000 + (:n % 100000000), 'live' || :n || '@example.org', NULL) ON CONFLICT DO NOTHING;
SQL
    pgbench -n -c 2 -j 1 -R 200 -T 600 -f "$WORK/write.sql" rb_bench_live >/dev/null 2>&1 &
  else
    # Each round's new ids start past the previous round's, so no insert collides.
    (i=$(($3 * 10000000)); while :; do
       i=$((i + 1))
       echo "UPDATE all_users SET name = CONCAT('live ', $i) WHERE id = 1 + ($i * 7919) % $2;"
       echo "INSERT INTO all_users VALUES ($2 + 1000000 + $i, 'live$i@example.org', NULL);"
       echo "DO SLEEP(0.005);"
     done) | "${MY[@]}" --force rb_bench_live >/dev/null 2>&1 &
  fi
  WRITER=$!
  sleep 1
}
writer_stop() { kill "$WRITER" 2>/dev/null || true; wait "$WRITER" 2>/dev/null || true; }

machine
printf '%-9s %8s %18s %18s %7s %12s %12s\n' engine rows "quiet step (ms)" "live step (ms)" ratio "quiet RSS" "live RSS"
for rows in "${SIZES[@]}"; do
  for engine in postgres mariadb; do
    url=postgres://postgres@127.0.0.1:5432/rb_bench_live
    if [[ $engine == postgres ]]; then pg_users rb_bench_live "$rows"; else my_users rb_bench_live "$rows"; url=mariadb://root@127.0.0.1:3306/rb_bench_live; fi
    : >"$WORK/quiet"; : >"$WORK/live"; qrss=0; lrss=0
    for round in $(seq "$ROUNDS"); do
      for mode in quiet live; do
        [[ $mode == live ]] && writer_start "$engine" "$rows" "$round"
        /usr/bin/time -v -o "$WORK/time" "$RUNBOOK" run "$WORK/validate.yaml" --db "$url" --yes --runs-dir "$WORK/runs" >"$WORK/out" || true
        [[ $mode == live ]] && writer_stop
        drop_extra "$engine"
        j="$(ls -d "$WORK"/runs/*/ | tail -1)/journal.jsonl"
        step_ms "$j" >>"$WORK/$mode"
        r=$(awk '/Maximum resident/ { print $6 }' "$WORK/time")
        if [[ $mode == quiet ]]; then ((r > qrss)) && qrss=$r; else ((r > lrss)) && lrss=$r; fi
        [[ $mode == live && $round == 1 ]] && { grep -m3 -i 'other sessions\|concurrent\|failed' "$WORK/out" | cut -c1-200 || true; }
        rm -rf "$WORK/runs"
      done
    done
    q=$(median <"$WORK/quiet"); l=$(median <"$WORK/live")
    printf '%-9s %8s %18s %18s %7s %9s KB %9s KB\n' "$engine" "$rows" "$q ($(tr '\n' ' ' <"$WORK/quiet" | xargs))" "$l ($(tr '\n' ' ' <"$WORK/live" | xargs))" \
      "$(awk -v a="$l" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" "$qrss" "$lrss"
  done
done
echo "(medians of $ROUNDS; the figure is the validate step from the journal, after the change added a column: one fingerprint of all_users(id, email, name), compared and attributed)"
psql -qd postgres -c "DROP DATABASE IF EXISTS rb_bench_live WITH (FORCE)"
"${MY[@]}" -e "DROP DATABASE IF EXISTS rb_bench_live"
