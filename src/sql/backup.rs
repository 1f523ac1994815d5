//! "Does this statement need a verified backup before it runs?", answered failing closed: only
//! statements known to keep every existing row and column intact are let through; anything
//! else, and anything the lexer and classifier cannot read, needs a backup.

use super::lex::Kind;
use super::touches::touches;
use super::words::Words;
use crate::db::Engine;

/// Why a statement needs a backup, or `None` when it provably does not.
pub fn needs_backup(stmt: &str, engine: Engine) -> Option<Reason> {
    let w = Words::new(stmt, engine);
    if w.has_hidden_code() {
        return Some(Reason::Unclassified);
    }
    if super::classify_for(stmt, engine).is_destructive() {
        return Some(Reason::Destructive);
    }
    if touches(stmt, engine).is_err() {
        return Some(Reason::Unclassified);
    }
    let has_where = |from: usize| w.find_top(from, "WHERE").is_some();
    if w.is(0, "UPDATE") || w.is(0, "DELETE") {
        return if has_where(1) { None } else { Some(Reason::Destructive) };
    }
    if w.is(0, "REPLACE") || (w.is(0, "INSERT") && (w.find_top(1, "UPDATE").is_some() || w.is(1, "OR"))) {
        // REPLACE deletes the row it replaces; an upsert overwrites existing values.
        return Some(Reason::Destructive);
    }
    if w.is(0, "CREATE") && w.is(1, "OR") {
        // CREATE OR REPLACE throws away the definition it replaces.
        return Some(Reason::Destructive);
    }
    if w.is(0, "ALTER") && w.is(1, "TABLE") && !alter_keeps_data(&w) {
        return Some(Reason::Destructive);
    }
    None
}

/// Why a statement needs a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It destroys or overwrites data or schema.
    Destructive,
    /// What it does cannot be read from its text: treated as destructive.
    Unclassified,
}

/// Whether every action of an `ALTER TABLE` is one that keeps existing data: adding things,
/// renaming, defaults, nullability, constraints and indexes.
fn alter_keeps_data(w: &Words) -> bool {
    let i = w.opt(2, &["IF", "EXISTS"]);
    let i = w.opt(i, &["ONLY"]);
    let Some((_, mut i)) = w.name(i) else { return false };
    loop {
        let ok = if w.is(i, "ADD") || w.is(i, "RENAME") || w.is(i, "VALIDATE") || w.is(i, "OWNER") {
            true
        } else if w.is(i, "DROP") {
            ["CONSTRAINT", "INDEX", "KEY", "DEFAULT", "NOT", "FOREIGN", "CHECK"].iter().any(|k| w.is(i + 1, k))
        } else if w.is(i, "ALTER") {
            let j = w.opt(i + 1, &["COLUMN"]);
            let j = w.name(j).map(|(_, j)| j).unwrap_or(j);
            w.seq(j, &["SET|DROP", "DEFAULT|NOT"]).is_some()
        } else {
            false
        };
        if !ok {
            return false;
        }
        // The next action, after a comma at depth 0.
        let mut depth = 0i32;
        let mut j = i;
        loop {
            j += 1;
            if j >= w.len() {
                return true;
            }
            match (w.kind(j), w.text(j)) {
                (Some(Kind::Punct), "(") => depth += 1,
                (Some(Kind::Punct), ")") => depth -= 1,
                (Some(Kind::Punct), ",") if depth == 0 => break,
                _ => {}
            }
        }
        i = j + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_safe_statements_go_without_a_backup() {
        for s in [
            "SELECT 1",
            "INSERT INTO t (a) VALUES (1)",
            "UPDATE t SET a = 1 WHERE id = 2",
            "DELETE FROM t WHERE id = 2",
            "CREATE TABLE t (a int)",
            "CREATE INDEX ix ON t (a)",
            "ALTER TABLE t ADD COLUMN b int NULL, ADD CONSTRAINT c CHECK (b > 0)",
            "ALTER TABLE t ALTER COLUMN b SET DEFAULT 0",
            "DROP INDEX ix",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert_eq!(needs_backup(s, Engine::Postgres), None, "{s}");
        }
        for s in [
            "CALL purge()",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "ALTER TABLE t MODIFY b VARCHAR(2)",
            "ALTER TABLE t ALTER COLUMN b TYPE int",
            "REPLACE INTO t VALUES (1)",
            "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2",
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "DO $$ BEGIN DELETE FROM t; END $$",
            "WITH d AS (DELETE FROM t WHERE id = 1) SELECT 1",
            "UPDATE t SET a = 1",
        ] {
            assert!(needs_backup(s, Engine::Postgres).is_some(), "{s}");
        }
        assert_eq!(needs_backup("SELECT 1 /*!50000 , (SELECT 1 FROM t FOR UPDATE) */", Engine::Mysql), Some(Reason::Unclassified));
        assert_eq!(needs_backup("/*!50000 DROP TABLE t */", Engine::Mysql), Some(Reason::Unclassified));
    }
}
