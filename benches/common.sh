# Shared setup for the benchmark scripts: the release binary, a scratch folder and the machine.
# Sourced, not run. Needs hyperfine and GNU time (Debian: apt-get install -y hyperfine time).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RUNBOOK_BIN:-$ROOT/target/release/runbook}"
SEED="$ROOT/runbooks/add-pcc-user-uuid.yaml"
WORK="${BENCH_DIR:-$ROOT/target/bench}"
RUNS="${BENCH_RUNS:-20}"

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "benches: $1 is missing ($2)" >&2; exit 2; }
}
need hyperfine "apt-get install -y hyperfine"
[ -x /usr/bin/time ] || { echo "benches: /usr/bin/time is missing (apt-get install -y time)" >&2; exit 2; }

if [ -z "${RUNBOOK_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
fi
mkdir -p "$WORK"

machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
    echo "runbook: $("$BIN" --version), $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 | sed 's/^/sqlite3 CLI /' || echo 'no sqlite3 CLI')"
}

# A demo database with N users at PATH, made once and reused.
users_db() {
    local n="$1" path="$2"
    [ -f "$path" ] || "$BIN" demo-stand-in make-db --out "$path" --users "$n" >/dev/null
}

# A demo database with N users at PATH whose rows are widened by benches/wide-users.sql (long
# non-ASCII names and facilities, NULLs kept), made once and reused. Needs the sqlite3 CLI.
wide_users_db() {
    local n="$1" path="$2"
    if [ ! -f "$path" ]; then
        rm -f "$path.tmp"
        "$BIN" demo-stand-in make-db --out "$path.tmp" --users "$n" >/dev/null
        sqlite3 "$path.tmp" ".read $ROOT/benches/wide-users.sql"
        mv "$path.tmp" "$path"
    fi
}

# Milliseconds since the epoch, for timing single commands in alternating loops.
now_ms() {
    date +%s%3N
}

# The median of numbers, one a line, on stdin.
median() {
    sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# The median in milliseconds from a hyperfine JSON export, for result N (0-based).
median_ms() {
    grep -o '"median": *[0-9.e+-]*' "$1" | sed -n "$(( $2 + 1 ))p" | awk '{printf "%.1f", $2 * 1000}'
}
