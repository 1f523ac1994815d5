#!/usr/bin/env bash
# Every benchmark in turn; the figures go into docs/performance.md.
set -euo pipefail
dir="$(dirname "$0")"
for b in validate-plan validate-scale fingerprint-vs-sha3 run-vs-sqlite3 fingerprint-1m; do
    echo "== $b"
    bash "$dir/$b.sh"
done
