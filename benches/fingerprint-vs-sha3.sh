#!/usr/bin/env bash
# SQLite fingerprint throughput against the sqlite3 CLI's own sha3_query over the same rows, on
# wide rows (benches/wide-users.sql), at 100,000 and 1,000,000 users. Target: runbook's rows per
# second ≥ sha3_query's, i.e. the ratio runbook ÷ sha3_query ≤ 1.
#
# The two are alternated ROUNDS times (default 5) within one run of the script, so a change in
# the machine's load hits both. Per round:
#   - runbook: `run` of a one-step validate runbook. Its fingerprint time is the validate step's
#     own duration from the journal (one fingerprint, plus the step's schema read and its two
#     fsync'd assertions, so it errs against runbook); CPU time (user + system) is of the whole
#     command, which fingerprints twice (baseline at run start, then the step).
#   - sqlite3: one `sha3_query('SELECT * FROM all_users')` timed by the CLI itself (.timer on,
#     "real"), so no process start is counted; CPU time of a CLI session hashing twice.
source "$(dirname "$0")/common.sh"
need sqlite3 "apt-get install -y sqlite3 (only the benchmark needs it, for the comparison)"

ROUNDS="${ROUNDS:-5}"
SIZES="${SIZES:-100000 1000000}"
machine
cat > "$WORK/fingerprint.yaml" <<YAML
version: 1
id: fingerprint-bench
plan:
  - id: validation
    name: Validation
    kind: validate
    tables: [all_users]
YAML
sha3="SELECT count(*), hex(sha3_query('SELECT * FROM all_users')) FROM all_users;"
for n in $SIZES; do
    db="$WORK/wide-$n.db"
    wide_users_db "$n" "$db"
    echo "rows: $n ($(du -m "$db" | cut -f1) MB, $(sqlite3 "$db" 'SELECT round(avg(length(CAST(id AS TEXT)) + length(email) + ifnull(length(CAST(name AS BLOB)), 0) + ifnull(length(CAST(facility AS BLOB)), 0) + length(role) + 19 + ifnull(length(last_login_at), 0) + 1)) FROM all_users') bytes of values per row)"
    : >"$WORK/fp-rb.ms"; : >"$WORK/fp-sq.ms"; : >"$WORK/fp-rb.cpu"; : >"$WORK/fp-sq.cpu"
    for r in $(seq "$ROUNDS"); do
        rm -rf "$WORK/runs-fp"
        /usr/bin/time -f '%U %S' -o "$WORK/t" "$BIN" run "$WORK/fingerprint.yaml" --db "sqlite://$db" --yes --runs-dir "$WORK/runs-fp" >/dev/null
        awk '{print ($1 + $2) * 1000}' "$WORK/t" >>"$WORK/fp-rb.cpu"
        grep -o '"event":"step_finished","step_id":"validation"[^}]*' "$WORK"/runs-fp/*/journal.jsonl | grep -o '"duration_ms":[0-9]*' | cut -d: -f2 >>"$WORK/fp-rb.ms"
        /usr/bin/time -f '%U %S' -o "$WORK/t" sqlite3 "$db" <<<".timer on
$sha3
$sha3" >"$WORK/sq.out"
        awk '{print ($1 + $2) * 1000}' "$WORK/t" >>"$WORK/fp-sq.cpu"
        grep -m1 -o 'Run Time: real [0-9.]*' "$WORK/sq.out" | awk '{print $4 * 1000}' >>"$WORK/fp-sq.ms"
    done
    rb=$(median <"$WORK/fp-rb.ms"); sq=$(median <"$WORK/fp-sq.ms")
    rbc=$(median <"$WORK/fp-rb.cpu"); sqc=$(median <"$WORK/fp-sq.cpu")
    echo "  one fingerprint, medians of $ROUNDS: runbook $rb ms ($(tr '\n' ' ' <"$WORK/fp-rb.ms")), sha3_query $sq ms ($(tr '\n' ' ' <"$WORK/fp-sq.ms"))"
    echo "  ratio runbook ÷ sha3_query: $(awk -v a="$rb" -v b="$sq" 'BEGIN {printf "%.2f", a / b}') (target ≤ 1); throughput runbook $(awk -v n="$n" -v ms="$rb" 'BEGIN {printf "%.0f", n / (ms / 1000)}') rows/s, sha3_query $(awk -v n="$n" -v ms="$sq" 'BEGIN {printf "%.0f", n / (ms / 1000)}') rows/s"
    echo "  CPU of two fingerprints (whole command), medians: runbook $rbc ms, sqlite3 $sqc ms, ratio $(awk -v a="$rbc" -v b="$sqc" 'BEGIN {printf "%.2f", a / b}')"
done
