//! SQLite fingerprint values: the hash computed inside SQLite must equal the definition every
//! stored baseline was taken with (SHA-256 of the `quote()`d values joined by U+001F, summed, and
//! per key range and column a sum of seeded cell hashes), on WAL and rollback-journal databases,
//! for NULLs, non-ASCII text, quotes, the separator itself inside a value, blobs and reals.

use std::collections::BTreeMap;

use runbook::db::localise::{cell_hash, KeyLayout};
use runbook::db::RowHashSum;
use sqlx::Connection;

use crate::support::*;

const VALIDATE: &str = "
version: 1
id: fingerprint-values
plan:
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [mixed, codes]
";

/// Rows with every storage class and the awkward texts, keys with gaps and a negative key.
const MIXED: &str = "
CREATE TABLE mixed(id INTEGER PRIMARY KEY, t TEXT, r REAL, b BLOB, n INTEGER, v);
INSERT INTO mixed VALUES
  (-5, 'Zoë Ñúñez', 1.0, X'00FF10', -9223372036854775808, NULL),
  (1, NULL, NULL, NULL, NULL, NULL),
  (2, 'it''s', 0.1, X'', 0, 'a' || char(31) || 'b'),
  (3, '山田 太郎 «Les Hêtres»', -2.5e-300, X'DEADBEEF', 9223372036854775807, 3.25),
  (4, '', 1e20, zeroblob(3), 42, X'01'),
  (10000, 'last', 123456789.125, NULL, 7, 'text');
WITH RECURSIVE n(i) AS (SELECT 5 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
INSERT INTO mixed SELECT i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'Ærø ' || i || ' ' || substr('ÅÄÖ—ßø', 1 + i % 5) END,
  i / 3.0, CASE WHEN i % 5 = 0 THEN X'' ELSE X'0102' END, i * i, NULL FROM n;
CREATE TABLE codes(code TEXT PRIMARY KEY, label TEXT, weight REAL) WITHOUT ROWID;
INSERT INTO codes VALUES ('c1', 'one', 1.5), ('c7', 'sé''ven', NULL), ('c9', NULL, 2.0);
";

/// The baseline the run journals at its start, per table.
fn baseline(t: &Test, db: &SqliteFile) -> BTreeMap<String, serde_json::Value> {
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(0);
    let j = journal(&t.run_dirs("runs")[0]);
    let b = events(&j, "fingerprint_baseline");
    b[0]["fingerprints"].as_array().unwrap().iter().map(|f| (f["table"].as_str().unwrap().to_string(), f.clone())).collect()
}

/// The fingerprint as it was defined before SQLite computed it: each row read as one text and
/// hashed by the client, with the layout chosen from the rowid span. Each value is `quote()`d,
/// but a text holding a NUL byte whole (`quote()` ends it at the NUL).
fn by_the_old_definition(db: &SqliteFile, table: &str, columns: &[&str], keyed: bool) -> serde_json::Value {
    let row = columns
        .iter()
        .map(|c| format!("CASE WHEN typeof(`{c}`) = 'text' AND instr(`{c}`, char(0)) > 0 THEN '''' || replace(`{c}`, '''', '''''') || '''' ELSE quote(`{c}`) END"))
        .collect::<Vec<_>>()
        .join(" || char(31) || ");
    let key = if keyed { "rowid" } else { "0" };
    let rows: Vec<(i64, Vec<u8>)> = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
        sqlx::query_as(&format!("SELECT {key}, CAST({row} AS BLOB) FROM {table}")).fetch_all(&mut c).await.unwrap()
    });
    let layout = keyed.then(|| {
        let lo = rows.iter().map(|r| r.0).min().unwrap();
        let hi = rows.iter().map(|r| r.0).max().unwrap();
        KeyLayout::new("rowid", lo, hi)
    });
    let mut sum = RowHashSum::default();
    let mut cells: BTreeMap<i64, (u64, Vec<u64>)> = BTreeMap::new();
    for (k, text) in &rows {
        sum.add(text);
        let range = layout.as_ref().map_or(0, |l| l.range_of(*k));
        let cell = cells.entry(range).or_insert_with(|| (0, vec![0; columns.len()]));
        cell.0 += 1;
        let fields = split_on_unquoted_separators(text);
        assert_eq!(fields.len(), columns.len(), "{}", String::from_utf8_lossy(text));
        for (s, f) in cell.1.iter_mut().zip(fields) {
            *s = s.wrapping_add(cell_hash(*k, f));
        }
    }
    let mut v = serde_json::json!({
        "table": table,
        "columns": columns,
        "rows": sum.rows,
        "hash": sum.hex(),
        "cells": cells.into_iter().map(|(range, (rows, columns))| serde_json::json!({"range": range, "rows": rows, "columns": columns})).collect::<Vec<_>>(),
    });
    if let Some(l) = layout {
        v["layout"] = serde_json::to_value(l).unwrap();
    }
    v
}

/// Values of a row text: separators inside a quoted string do not split.
fn split_on_unquoted_separators(text: &[u8]) -> Vec<&[u8]> {
    let (mut out, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, b) in text.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            0x1f if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn database(t: &Test, journal_mode: &str) -> SqliteFile {
    let db = SqliteFile { path: t.dir.join("app.db") };
    db.exec(&format!("PRAGMA journal_mode = {journal_mode};"));
    db.exec(MIXED);
    assert_eq!(db.scalar("PRAGMA journal_mode").to_lowercase(), journal_mode.to_lowercase());
    db
}

#[test]
fn sqlite_fingerprint_equals_the_row_by_row_definition_in_wal_and_rollback_journal_databases() {
    for mode in ["WAL", "DELETE"] {
        let t = Test::new().runbook(VALIDATE);
        let db = database(&t, mode);
        // quote() reads text as a C string and ends it at a NUL byte; the fingerprint does not.
        db.exec("UPDATE mixed SET v = 'a' || char(0) || 'b''c' WHERE id = 4");
        let got = baseline(&t, &db);
        let mixed = by_the_old_definition(&db, "mixed", &["id", "t", "r", "b", "n", "v"], true);
        assert_eq!(got["mixed"], mixed, "{mode}");
        assert_eq!(got["mixed"]["rows"], 702, "{mode}");
        let codes = by_the_old_definition(&db, "codes", &["code", "label", "weight"], false);
        assert_eq!(got["codes"], codes, "{mode}");
    }
}

/// Values a release computed before the hash moved into SQLite, committed: a baseline journaled
/// by an older `runbook` must still compare equal with one taken now.
#[test]
fn sqlite_fingerprint_still_equals_a_committed_baseline() {
    let t = Test::new().runbook(VALIDATE);
    let db = database(&t, "DELETE");
    let got = baseline(&t, &db);
    assert_eq!(got["mixed"]["hash"], "141d35c5f385a3d19c38e9929063356d");
    assert_eq!(got["mixed"]["layout"], serde_json::json!({"key": "rowid", "lo": -5, "hi": 10000, "width": 40, "count": 251}));
    assert_eq!(
        got["mixed"]["cells"][0],
        serde_json::json!({"range": 0, "rows": 35, "columns": [
            17664753372327971716u64, 16672177945051407419u64, 6332158945671571707u64, 6915559444841494113u64,
            5567456652410325946u64, 7393088628917677043u64]})
    );
    assert_eq!(got["mixed"]["cells"].as_array().unwrap().len(), 19);
    assert_eq!(got["codes"]["hash"], "3f775d7f345490db10b394b930a2a85e");
    assert_eq!(
        got["codes"]["cells"],
        serde_json::json!([{"range": 0, "rows": 3, "columns": [4105791476239216751u64, 12483425210206219789u64, 8143665734999170936u64]}])
    );
}

/// A change that rewrites the text after a NUL byte in an existing value, with a validate step.
fn nul_runbook(table: &str) -> String {
    format!(
        "version: 1\nid: nul\nplan:\n  - id: bk\n    name: Backup\n    kind: backup\n  - id: change\n    name: Add a column, and rewrite a note by mistake\n    kind: sql\n    sql:\n      - ALTER TABLE {table} ADD COLUMN extra TEXT\n      - UPDATE {table} SET name = 'a' || char(0) || 'EVIL' WHERE id = 2\n  - id: val\n    name: Existing data unchanged\n    kind: validate\n    tables: [{table}]\n"
    )
}

/// Regression: SQLite's `quote()` ends a text at its first NUL byte, and the fingerprint read
/// every text as `quote()` renders it, so an UPDATE that rewrote what follows a NUL
/// (`'a' || char(0) || 'good'` → `'a' || char(0) || 'EVIL'`) left the fingerprint equal and
/// validate passed a change that altered existing data. Narrow tables (values hashed one by one)
/// and wide ones (the row text joined in SQL) alike.
#[test]
fn sqlite_fingerprint_sees_a_change_after_a_nul_byte() {
    for wide in [false, true] {
        let t = Test::new().runbook(&nul_runbook("notes"));
        let db = SqliteFile { path: t.dir.join("app.db") };
        let more: String = if wide { (0..110).map(|i| format!(", c{i} INTEGER DEFAULT {i}")).collect() } else { String::new() };
        db.exec(&format!(
            "CREATE TABLE notes(id INTEGER PRIMARY KEY, name TEXT{more}); INSERT INTO notes (id, name) VALUES (1, 'bob'), (2, 'a' || char(0) || 'good'), (3, 'carl');"
        ));
        let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
        let columns = if wide { 112 } else { 2 };
        out.code(1).stdout_has("(same 3 rows); column name differs in 1 key range(s) (rowid 2) — the change can write column name (UPDATE notes SET name = 'a' || char(0) || 'EVIL' WHERE id = 2); decided by statement analysis\n").stdout_has(&format!("content hash over {columns} column(s)"));
        assert_eq!(db.scalar("SELECT hex(name) FROM notes WHERE id = 2"), "61004556494C");
    }
}
