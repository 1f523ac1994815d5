//! Which statements report a row count: the evidence of a statement is the number of rows it
//! changed only when its kind has such a number. Engines disagree on the rest (SQLite's
//! `changes()` keeps the previous statement's count across DDL, PostgreSQL and MariaDB say 0),
//! so the count the driver returns for any other statement is not evidence and is dropped.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::words::Words;
use crate::db::Engine;

/// What a statement's kind says about its row count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// `INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `MERGE`, an upsert, or a `WITH` whose statement
    /// is one of them: the engine's count of changed rows is the evidence. Journals written
    /// before the kind was recorded hold only such counts.
    #[default]
    Rows,
    /// Schema changes (`CREATE`, `ALTER`, `DROP`, `TRUNCATE`, `RENAME`, `COMMENT`, `GRANT`,
    /// `REVOKE`): no row count.
    Ddl,
    /// Anything else (`SELECT`, `SET`, `CALL`, `PRAGMA`, …): no row count.
    None,
}

impl Counted {
    /// How a statement's outcome reads in the terminal and the reports.
    pub fn label(self, rows: Option<u64>) -> String {
        match (self, rows) {
            (Counted::Rows, Some(n)) => format!("{n} row(s) affected"),
            (Counted::Ddl, _) => "DDL".to_string(),
            _ => "no row count".to_string(),
        }
    }

    /// The engine's count as evidence: kept for a statement that reports one, dropped otherwise.
    pub fn keep(self, engine_count: u64) -> Option<u64> {
        (self == Counted::Rows).then_some(engine_count)
    }
}

/// Read the statement's kind as `engine` reads it, from its first word (after a `WITH` list,
/// the word that starts the statement proper).
pub fn counted(stmt: &str, engine: Engine) -> Counted {
    let w = Words::new(stmt, engine);
    let mut i = 0;
    if w.is(0, "WITH") {
        // The statement proper is the first top-level word after the CTE list that begins one.
        let found = ["INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "REPLACE"].iter().filter_map(|k| w.find_top(1, k)).min();
        match found {
            Some(j) => i = j,
            None => return Counted::None,
        }
    }
    const ROWS: [&str; 6] = ["INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT"];
    const DDL: [&str; 8] = ["CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "COMMENT", "GRANT", "REVOKE"];
    if ROWS.iter().any(|k| w.is(i, k)) {
        Counted::Rows
    } else if DDL.iter().any(|k| w.is(i, k)) {
        Counted::Ddl
    } else {
        Counted::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_kinds() {
        for (s, want) in [
            ("UPDATE t SET a = 1", Counted::Rows),
            ("-- why\ninsert into t values (1) on conflict do nothing", Counted::Rows),
            ("/* x */ DELETE FROM t", Counted::Rows),
            ("REPLACE INTO t VALUES (1)", Counted::Rows),
            ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", Counted::Rows),
            ("WITH d AS (SELECT 1) UPDATE t SET a = 1", Counted::Rows),
            ("WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d", Counted::None),
            ("CREATE TABLE t (id INTEGER)", Counted::Ddl),
            ("create index i on t (a)", Counted::Ddl),
            ("ALTER TABLE t ADD COLUMN b INT", Counted::Ddl),
            ("DROP TABLE t", Counted::Ddl),
            ("TRUNCATE t", Counted::Ddl),
            ("SELECT 1", Counted::None),
            ("PRAGMA foreign_keys = ON", Counted::None),
            ("SET search_path = x", Counted::None),
        ] {
            assert_eq!(counted(s, Engine::Postgres), want, "{s}");
        }
        assert_eq!(counted("# note\nCREATE TABLE t (a INT)", Engine::Mysql), Counted::Ddl);
    }

    #[test]
    fn labels() {
        assert_eq!(Counted::Rows.label(Some(750)), "750 row(s) affected");
        assert_eq!(Counted::Ddl.label(None), "DDL");
        assert_eq!(Counted::None.label(None), "no row count");
        assert_eq!(Counted::Ddl.keep(750), None);
        assert_eq!(Counted::Rows.keep(0), Some(0));
    }
}
