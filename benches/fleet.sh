#!/usr/bin/env bash
# Fleet scale on SQLite: N targets at --parallel P against the sum of N single runs, and the
# fleet process's own peak memory (VmHWM; each target is a child process with its own).
#   benches/fleet.sh [N=100] [P=4] [BIN=target/release/runbook]
set -euo pipefail
N=${1:-100}; P=${2:-4}; BIN=$(realpath "${3:-target/release/runbook}")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; cd "$work"
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
mk() { # $1 = prefix: N fresh databases and a targets file
  echo "targets:" > "$1.yaml"
  for i in $(seq 1 "$N"); do
    sqlite3 "$1-$i.db" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"
    printf '  - name: t%s\n    db: sqlite://%s/%s-%s.db\n' "$i" "$PWD" "$1" "$i" >> "$1.yaml"
  done
}
mk single; mk fleet
start=$(date +%s%N)
for i in $(seq 1 "$N"); do "$BIN" run rb.yaml --db "sqlite://$PWD/single-$i.db" --yes --runs-dir singles >/dev/null; done
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))
start=$(date +%s%N)
"$BIN" fleet run rb.yaml --targets fleet.yaml --waves 1,100% --parallel "$P" --yes --runs-dir fleets >/dev/null &
pid=$!; hwm=0
while kill -0 "$pid" 2>/dev/null; do
  h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "${h:-0}" -gt "$hwm" ] && hwm=$h; sleep 0.05
done
wait "$pid"
fleet_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "targets=$N parallel=$P sum_of_single_runs_ms=$single_ms fleet_ms=$fleet_ms ratio=$(awk "BEGIN{printf \"%.2f\", $fleet_ms/$single_ms}") single_run_ms=$(( single_ms / N )) fleet_ms_per_target=$(( fleet_ms / N )) fleet_peak_rss_kib=$hwm"
