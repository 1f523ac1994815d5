#!/usr/bin/env bash
# Fingerprint cost: runbook's server-side fingerprint (the `validate` step's comparison) against
# the hand-written single query, on PostgreSQL and MariaDB, at 100k and 1M rows, with the
# runbook process's peak RSS (/usr/bin/time -v) to show client memory stays flat.
#   benches/servers/fingerprint.sh [SIZES…]      (about 1–2 minutes)
source "$(dirname "$0")/common.sh"
SIZES=("${@:-100000 1000000}")
read -ra SIZES <<<"${SIZES[*]}"
cat >"$WORK/validate.yaml" <<'YAML'
version: 1
id: bench-fingerprint
plan:
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [all_users]
YAML
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
step_ms() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "step_finished":
        print(e["duration_ms"])' "$1"; }
pg_ref() { psql -qAtd rb_bench_fp -c '\timing on' -c 'SELECT count(*), sum(hashtextextended(t::text, 0)) FROM all_users t' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
# The server's own timing of the query (SHOW PROFILES), so the client's start and connection
# are not counted against the reference. The reference is runbook's own row hash (MD5, with the
# NULL flag) as one query.
my_ref() {
  "${MY[@]}" rb_bench_fp -Nse "SET profiling = 1;
    SELECT COUNT(*), SUM(CAST(CONV(LEFT(MD5(CONCAT_WS(0x1f, id, email, name, ISNULL(name))), 16), 16, 10) AS UNSIGNED)) FROM all_users;
    SHOW PROFILES" | awk 'END { printf "%.1f", $2 * 1000 }'
}

machine
printf '%-9s %8s %26s %30s %16s\n' engine rows "hand-written query (ms)" "runbook fingerprint (ms)" "runbook max RSS"
for rows in "${SIZES[@]}"; do
  pg_users rb_bench_fp "$rows"
  my_users rb_bench_fp "$rows"
  for engine in postgres mariadb; do
    url=postgres://postgres@127.0.0.1:5432/rb_bench_fp
    [[ $engine == mariadb ]] && url=mariadb://root@127.0.0.1:3306/rb_bench_fp
    : >"$WORK/ref"; : >"$WORK/rb"; rss=0
    for round in 1 2 3; do
      if [[ $engine == postgres ]]; then pg_ref >>"$WORK/ref"; else my_ref >>"$WORK/ref"; echo >>"$WORK/ref"; fi
      /usr/bin/time -v -o "$WORK/time" "$RUNBOOK" run "$WORK/validate.yaml" --db "$url" --yes --runs-dir "$WORK/runs" >/dev/null
      step_ms "$(ls -d "$WORK"/runs/*/ | tail -1)/journal.jsonl" >>"$WORK/rb"
      r=$(awk '/Maximum resident/ { print $6 }' "$WORK/time"); ((r > rss)) && rss=$r
      rm -rf "$WORK/runs"
    done
    printf '%-9s %8s %26s %30s %13s KB\n' "$engine" "$rows" "$(grep . "$WORK/ref" | median)" "$(median <"$WORK/rb")" "$rss"
  done
done
echo "(medians of 3; runbook's figure is the validate step, one fingerprint of all_users(id, email, name))"
psql -qd postgres -c "DROP DATABASE rb_bench_fp WITH (FORCE)"
"${MY[@]}" -e "DROP DATABASE rb_bench_fp"
