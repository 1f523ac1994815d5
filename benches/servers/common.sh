# Shared settings of the server benchmarks; sourced by the other scripts, run from the project root.
# The servers are the ones the tests use: PostgreSQL trust auth on 127.0.0.1:5432, MariaDB root
# without password on 127.0.0.1:3306. Each benchmark works in its own database, rb_bench_*.
set -euo pipefail
RUNBOOK=${RUNBOOK:-$PWD/target/release/runbook}
PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
PGOPTIONS="-c client_min_messages=warning"
export PGHOST PGPORT PGUSER PGOPTIONS
MY=(mariadb -h 127.0.0.1 -P 3306 -uroot)
[[ -x $RUNBOOK ]] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d /tmp/rb-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }

# pg_users DB ROWS: a fresh PostgreSQL database with all_users(id, email, name) of ROWS rows.
pg_users() {
  psql -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  psql -q -d "$1" -c "CREATE TABLE all_users(id integer PRIMARY KEY, email text NOT NULL, name text);
    INSERT INTO all_users SELECT i, 'u' || i || '@example.org', CASE WHEN i % 9 = 0 THEN NULL ELSE 'Zoë Ñúñez ' || i END
    FROM generate_series(1, $2) AS i;" -c "VACUUM ANALYZE all_users"
}

# my_users DB ROWS: the same on MariaDB.
my_users() {
  "${MY[@]}" -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
    USE $1;
    CREATE TABLE all_users(id int PRIMARY KEY, email varchar(255) NOT NULL, name varchar(255)) DEFAULT CHARSET = utf8mb4;
    INSERT INTO all_users SELECT seq, CONCAT('u', seq, '@example.org'), IF(seq % 9 = 0, NULL, CONCAT('Zoë Ñúñez ', seq)) FROM seq_1_to_$2;
    ANALYZE TABLE all_users;" >/dev/null
}

machine() {
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "servers: $(psql -Atd postgres -c 'SHOW server_version') PostgreSQL, $("${MY[@]}" -Nse 'SELECT VERSION()')"
}
