#!/usr/bin/env bash
# Backup throughput: runbook's `backup` step of a 1M-row all_users against the bare dump tools,
# side by side in one run, alternating, 5 rounds; medians. PostgreSQL: pg_dump -Fc; MariaDB:
# mariadb-dump --single-transaction (the options runbook uses).
#   benches/servers/backup.sh [ROWS]      (about 1–2 minutes)
source "$(dirname "$0")/common.sh"
ROWS=${1:-1000000}
pg_users rb_bench_backup "$ROWS"
my_users rb_bench_backup "$ROWS"
cat >"$WORK/backup.yaml" <<'YAML'
version: 1
id: bench-backup
plan:
  - id: backup
    name: Backup
    kind: backup
YAML
# The bare reference runs the real pg_dump, as runbook does: Debian's PATH entry is a Perl
# wrapper that costs about 20 ms a call before the dump starts.
PG_DUMP=$(command -v pg_dump)
if [[ $(readlink -f "$PG_DUMP") == */pg_wrapper ]]; then
  PG_DUMP=/usr/lib/postgresql/$(($(psql -Atd postgres -c 'SHOW server_version_num') / 10000))/bin/pg_dump
fi
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
step_seconds() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "step_finished":
        print("%.3f" % (e["duration_ms"] / 1000))' "$1"; }

machine
echo "rows: $ROWS; bare pg_dump: $PG_DUMP"
printf '%-44s %9s %9s %12s\n' "backup" "wall s" "step s" "bytes"
for engine in postgres mariadb; do
  : >"$WORK/bare" ; : >"$WORK/bare-sync"; : >"$WORK/rb" ; : >"$WORK/step"
  for round in 1 2 3 4 5; do
    t0=$(now)
    if [[ $engine == postgres ]]; then
      "$PG_DUMP" -Fc -d rb_bench_backup >"$WORK/bare.dump"
    else
      mariadb-dump -h 127.0.0.1 -uroot --single-transaction --quick --routines --triggers --hex-blob --no-tablespaces \
        --default-character-set=utf8mb4 rb_bench_backup >"$WORK/bare.dump"
    fi
    since "$t0" >>"$WORK/bare"
    # The same, made durable as runbook makes its backup (fsync before the step passes).
    t0=$(now)
    if [[ $engine == postgres ]]; then
      "$PG_DUMP" -Fc -d rb_bench_backup >"$WORK/bare.dump"
    else
      mariadb-dump -h 127.0.0.1 -uroot --single-transaction --quick --routines --triggers --hex-blob --no-tablespaces \
        --default-character-set=utf8mb4 rb_bench_backup >"$WORK/bare.dump"
    fi
    sync "$WORK/bare.dump"
    since "$t0" >>"$WORK/bare-sync"
    bare_size=$(stat -c %s "$WORK/bare.dump"); rm -f "$WORK/bare.dump"
    url=postgres://postgres@127.0.0.1:5432/rb_bench_backup
    [[ $engine == mariadb ]] && url=mariadb://root@127.0.0.1:3306/rb_bench_backup
    t0=$(now)
    "$RUNBOOK" run "$WORK/backup.yaml" --db "$url" --yes --runs-dir "$WORK/runs-$round-$engine" >/dev/null
    since "$t0" >>"$WORK/rb"
    dir=$(ls -d "$WORK/runs-$round-$engine"/*/)
    step_seconds "$dir/journal.jsonl" >>"$WORK/step"
    rb_size=$(stat -c %s "$dir"/backup-backup.*)
    rm -rf "$WORK/runs-$round-$engine"
  done
  b=$(median <"$WORK/bare"); bs=$(median <"$WORK/bare-sync"); r=$(median <"$WORK/rb"); s=$(median <"$WORK/step")
  tool="pg_dump -Fc"; [[ $engine == mariadb ]] && tool="mariadb-dump --single-transaction"
  printf '%-44s %9s %9s %12s\n' "$engine: bare $tool > file" "$b" "-" "$bare_size"
  printf '%-44s %9s %9s %12s\n' "$engine: bare $tool > file; sync file" "$bs" "-" "$bare_size"
  printf '%-44s %9s %9s %12s\n' "$engine: runbook backup step (+verify)" "$r" "$s" "$rb_size"
  awk -v b="$b" -v bs="$bs" -v r="$r" -v s="$s" -v e="$engine" 'BEGIN { printf "%s: runbook step / bare = %.2f (%.2f against bare + fsync); whole command / bare = %.2f; target <= 1.10: %s\n", e, s / b, s / bs, r / b, (s / b <= 1.10 ? "met" : "MISSED") }'
done
psql -qd postgres -c "DROP DATABASE rb_bench_backup WITH (FORCE)"
"${MY[@]}" -e "DROP DATABASE rb_bench_backup"
