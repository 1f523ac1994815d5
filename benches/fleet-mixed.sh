#!/usr/bin/env bash
# One fleet across the three engines: S SQLite files, P PostgreSQL databases and M MariaDB
# databases (default 200, 20, 10), run with `fleet run --parallel 4` against the sum of the same
# number of single `runbook run`s on fresh twins, with the fleet process's own peak memory.
#   benches/fleet-mixed.sh [S=200] [P=20] [M=10] [PAR=4] [BIN=target/release/runbook]
# Servers: PostgreSQL trust auth on 127.0.0.1:5432, MariaDB root on 127.0.0.1:3306 (as the tests).
# Its databases are named rbfleet_<pid>_*, and dropped at the end.
set -euo pipefail
S=${1:-200}; P=${2:-20}; M=${3:-10}; PAR=${4:-4}; BIN=$(realpath "${5:-target/release/runbook}")
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
MY=(mariadb -h 127.0.0.1 -P 3306 -uroot)
tag="rbfleet_$$"
work=$(mktemp -d)
cleanup() {
  for side in single fleet; do
    for i in $(seq 1 "$P"); do psql -q -d postgres -c "DROP DATABASE IF EXISTS ${tag}_${side}_pg$i WITH (FORCE)" >/dev/null 2>&1 || true; done
    for i in $(seq 1 "$M"); do "${MY[@]}" -e "DROP DATABASE IF EXISTS ${tag}_${side}_my$i" >/dev/null 2>&1 || true; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat > rb.yaml <<'YAML'
version: 1
id: fleet-bench
plan:
  - id: add
    name: Add the marker table
    kind: sql
    sql: CREATE TABLE fleet_marker (x INTEGER)
  - id: fill
    name: Mark this database
    kind: sql
    sql: INSERT INTO fleet_marker VALUES (1)
YAML
mk() { # $1 = single|fleet: fresh databases, a targets file and a list of URLs
  echo "targets:" > "$1.yaml"; : > "$1.urls"
  add() { printf '  - name: %s\n    db: %s\n' "$1" "$2" >> "$side.yaml"; echo "$2" >> "$side.urls"; }
  local side=$1
  for i in $(seq 1 "$S"); do
    sqlite3 "$side-$i.db" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"
    add "lite$i" "sqlite://$PWD/$side-$i.db"
  done
  for i in $(seq 1 "$P"); do
    psql -q -d postgres -c "CREATE DATABASE ${tag}_${side}_pg$i" >/dev/null
    add "pg$i" "postgres://postgres@127.0.0.1:5432/${tag}_${side}_pg$i"
  done
  for i in $(seq 1 "$M"); do
    "${MY[@]}" -e "CREATE DATABASE ${tag}_${side}_my$i"
    add "my$i" "mariadb://root@127.0.0.1:3306/${tag}_${side}_my$i"
  done
}
mk single; mk fleet
N=$((S + P + M))
start=$(date +%s%N)
while read -r url; do "$BIN" run rb.yaml --db "$url" --yes --runs-dir singles >/dev/null; done < single.urls
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))
start=$(date +%s%N)
"$BIN" fleet run rb.yaml --targets fleet.yaml --waves 1,100% --parallel "$PAR" --yes --runs-dir fleets >/dev/null &
pid=$!; hwm=0
while kill -0 "$pid" 2>/dev/null; do
  h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "${h:-0}" -gt "$hwm" ] && hwm=$h; sleep 0.05
done
wait "$pid"
fleet_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok=$(grep -c '"event":"target_finished".*"exit_code":0' fleets/*/fleet.jsonl)
echo "sqlite=$S postgres=$P mariadb=$M targets=$N succeeded=$ok parallel=$PAR sum_of_single_runs_ms=$single_ms fleet_ms=$fleet_ms ratio=$(awk "BEGIN{printf \"%.2f\", $fleet_ms/$single_ms}") single_run_ms=$(( single_ms / N )) fleet_ms_per_target=$(( fleet_ms / N )) fleet_peak_rss_kib=$hwm"
