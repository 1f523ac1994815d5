//! SQL knowledge in one place: one lexer per engine ([`lex`]), the splitter built on it, and
//! the classifiers the prechecks, the backup guard and the lint ask: what a statement does to
//! the schema ([`classify_for`]), which objects it creates or drops ([`objects::changes`]), what it
//! can write: which tables and columns it touches ([`touches()`]) and what it does to existing
//! rows ([`touches::writes`]), one lexer-based reading for both; whether it needs a backup
//! ([`needs_backup()`]) and whether it reports a row count ([`count::counted`]); and which
//! variables are sent as bound values ([`bind`]).
//!
//! This is deliberately not a SQL parser: statements reach the server verbatim. The classifiers
//! recognise the shapes a change ticket uses and fail closed on everything else.

pub mod backup;
pub mod bind;
pub mod count;
pub mod lex;
pub mod objects;
pub mod shape;
pub mod split;
pub mod touches;
mod words;

use std::sync::OnceLock;

use regex::Regex;

use crate::db::Engine;

pub use backup::{needs_backup, Reason};
pub use split::split;
pub use touches::{touches, Touch, Unclassified};

/// The statement's code without comments, white space collapsed, read with SQLite's rules (the
/// common core); use [`lex::strip_comments`] when the engine is known.
pub fn strip_comments(s: &str) -> String {
    lex::strip_comments(s, Engine::Sqlite)
}

/// Whether `stmt` is DDL as `engine` reads it: a schema change, which MariaDB/MySQL commits
/// implicitly. Fails closed: a statement with code hidden in a comment may be anything, so it
/// counts as DDL (a step holding one is not claimed to run as one transaction).
pub fn is_ddl(stmt: &str, engine: Engine) -> bool {
    words::Words::new(stmt, engine).has_hidden_code() || count::counted(stmt, engine) == count::Counted::Ddl
}

/// What a statement does, as far as prechecks, the guard and the lint need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    AddColumn {
        table: String,
        column: String,
        definition: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    AlterColumnType {
        table: String,
        column: String,
    },
    CreateIndex {
        name: String,
        table: String,
        unique: bool,
        concurrently: bool,
    },
    DropIndex {
        name: String,
    },
    CreateTable {
        table: String,
    },
    DropTable {
        table: String,
    },
    Truncate {
        table: String,
    },
    Delete {
        table: String,
        has_where: bool,
    },
    Update {
        table: String,
        has_where: bool,
    },
    /// `DROP SCHEMA`, `DROP VIEW`, `DROP DATABASE`, …: anything dropped but a table or an index.
    DropObject {
        what: String,
        name: String,
    },
    Other,
}

impl Effect {
    /// Whether the statement destroys data or schema that a backup should protect.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Effect::DropColumn { .. }
                | Effect::DropTable { .. }
                | Effect::Truncate { .. }
                | Effect::Delete { has_where: false, .. }
                | Effect::Update { has_where: false, .. }
                | Effect::DropObject { .. }
        )
    }
}

// An identifier character: exactly `[A-Za-z0-9_$]` in ASCII, any non-space beyond it. Unicode
// `\w` (under `(?i)` at that) made compiling these patterns most of the start-up time of
// `validate` and `plan`; this class compiles to a handful of UTF-8 ranges.
const IDENT: &str = r#"(?-i:((?:[`"]?[^\x00-\x23\x25-\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F\s]+[`"]?\.)?[`"]?[^\x00-\x23\x25-\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F\s]+[`"]?))"#;

fn re(pattern: &str) -> Regex {
    Regex::new(&pattern.replace("{ID}", IDENT)).expect("static regex")
}

/// Recognise one statement, read with SQLite's rules; see [`classify_for`].
pub fn classify(stmt: &str) -> Effect {
    classify_for(stmt, Engine::Sqlite)
}

/// Recognise one statement as `engine` reads it.
pub fn classify_for(stmt: &str, engine: Engine) -> Effect {
    static PATTERNS: OnceLock<Vec<(Regex, u8)>> = OnceLock::new();
    let pats = PATTERNS.get_or_init(|| {
        vec![
            (re(r"(?i)^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{ID} ADD (?:COLUMN )?(?:IF NOT EXISTS )?{ID}(.*)$"), 1),
            (re(r"(?i)^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{ID} DROP (?:COLUMN )?(?:IF EXISTS )?{ID}"), 2),
            (re(r"(?i)^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{ID} (?:ALTER (?:COLUMN )?{ID} (?:SET DATA )?TYPE|MODIFY (?:COLUMN )?{ID}|CHANGE (?:COLUMN )?{ID})"), 3),
            (re(r"(?i)^CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?{ID} ON (?:ONLY )?{ID}"), 4),
            (re(r"(?i)^DROP INDEX (?:CONCURRENTLY )?(?:IF EXISTS )?{ID}"), 5),
            (re(r"(?i)^CREATE TABLE (?:IF NOT EXISTS )?{ID}"), 6),
            (re(r"(?i)^DROP TABLE (?:IF EXISTS )?{ID}"), 7),
            (re(r"(?i)^TRUNCATE (?:TABLE )?(?:ONLY )?{ID}"), 8),
            (re(r"(?i)^DELETE FROM (?:ONLY )?{ID}(.*)$"), 9),
            // An alias, a join or MySQL's modifiers may stand between the table and SET.
            (re(r"(?i)^UPDATE (?:ONLY |LOW_PRIORITY |IGNORE )*{ID}(?: .*?)? SET(.*)$"), 10),
            (re(r"(?i)^DROP ((?:MATERIALIZED )?[A-Z]+)(?: IF EXISTS)? {ID}"), 11),
        ]
    });
    let s = lex::strip_comments(stmt, engine);
    // A data-modifying WITH (`WITH d AS (DELETE FROM t RETURNING 1) SELECT …`) does what its
    // DELETE or UPDATE does.
    if s.get(..5).is_some_and(|w| w.eq_ignore_ascii_case("WITH ")) {
        static INNER: OnceLock<Regex> = OnceLock::new();
        let inner = INNER.get_or_init(|| Regex::new(r"(?i)\b(?:DELETE\s+FROM|UPDATE)\s").expect("static regex"));
        return match inner.find(&s) {
            Some(m) => match classify_for(&s[m.start()..], engine) {
                e @ (Effect::Delete { .. } | Effect::Update { .. }) => e,
                _ => Effect::Other,
            },
            None => Effect::Other,
        };
    }
    for (re, id) in pats {
        if let Some(c) = re.captures(&s) {
            let g = |i: usize| c.get(i).map(|m| unquote(m.as_str())).unwrap_or_default();
            let has_where = |i: usize| c.get(i).is_some_and(|m| m.as_str().to_ascii_uppercase().contains(" WHERE "));
            return match id {
                1 if g(2).eq_ignore_ascii_case("CONSTRAINT")
                    || g(2).eq_ignore_ascii_case("INDEX")
                    || g(2).eq_ignore_ascii_case("PRIMARY")
                    || g(2).eq_ignore_ascii_case("UNIQUE")
                    || g(2).eq_ignore_ascii_case("FOREIGN") =>
                {
                    Effect::Other
                }
                1 => Effect::AddColumn {
                    table: g(1),
                    column: g(2),
                    definition: c.get(3).map(|m| m.as_str().trim().to_string()).unwrap_or_default(),
                },
                2 if g(2).eq_ignore_ascii_case("CONSTRAINT") || g(2).eq_ignore_ascii_case("INDEX") => Effect::Other,
                2 => Effect::DropColumn { table: g(1), column: g(2) },
                3 => Effect::AlterColumnType {
                    table: g(1),
                    column: [g(2), g(3), g(4)].into_iter().find(|x| !x.is_empty()).unwrap_or_default(),
                },
                4 => Effect::CreateIndex { unique: c.get(1).is_some(), concurrently: c.get(2).is_some(), name: g(3), table: g(4) },
                5 => Effect::DropIndex { name: g(1) },
                6 => Effect::CreateTable { table: g(1) },
                7 => Effect::DropTable { table: g(1) },
                8 => Effect::Truncate { table: g(1) },
                9 => Effect::Delete {
                    table: g(1),
                    has_where: has_where(2) || c.get(2).is_some_and(|m| m.as_str().to_ascii_uppercase().trim_start().starts_with("WHERE")),
                },
                10 => Effect::Update { table: g(1), has_where: has_where(2) },
                11 => Effect::DropObject { what: c.get(1).map(|m| m.as_str().to_ascii_uppercase()).unwrap_or_default(), name: g(2) },
                _ => Effect::Other,
            };
        }
    }
    Effect::Other
}

/// Drop quoting and any schema prefix: `"public"."all_users"` → `all_users`.
fn unquote(s: &str) -> String {
    let last = s.rsplit('.').next().unwrap_or(s);
    last.trim_matches(|c| c == '"' || c == '`').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_ticket_statements() {
        assert_eq!(
            classify("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL"),
            Effect::AddColumn { table: "all_users".into(), column: "pcc_user_uuid".into(), definition: "VARCHAR(36) NULL".into() }
        );
        assert_eq!(
            classify("alter table all_users drop column pcc_user_uuid"),
            Effect::DropColumn { table: "all_users".into(), column: "pcc_user_uuid".into() }
        );
        assert_eq!(
            classify("CREATE UNIQUE INDEX ux ON all_users (pcc_user_uuid)"),
            Effect::CreateIndex { name: "ux".into(), table: "all_users".into(), unique: true, concurrently: false }
        );
        assert!(classify("DELETE FROM t").is_destructive());
        assert!(!classify("DELETE FROM t WHERE id = 1").is_destructive());
        assert!(classify("UPDATE t SET a = 1").is_destructive());
        assert!(!classify("UPDATE t SET a = 1 WHERE b = 2").is_destructive());
        assert!(classify("TRUNCATE TABLE t").is_destructive());
        assert_eq!(classify("SELECT 1"), Effect::Other);
    }

    #[test]
    fn ddl_is_answered_here_and_fails_closed() {
        for s in [
            "CREATE INDEX ix ON t (a)",
            "ALTER TABLE t ADD c int",
            "drop table t",
            "TRUNCATE t",
            "RENAME TABLE a TO b",
            "GRANT SELECT ON t TO u",
        ] {
            assert!(is_ddl(s, Engine::Mysql), "{s}");
        }
        for s in ["UPDATE t SET a = 1", "INSERT INTO t VALUES (1)", "SELECT 1", "-- create\nDELETE FROM t WHERE a = 1"] {
            assert!(!is_ddl(s, Engine::Mysql), "{s}");
        }
        assert!(is_ddl("SELECT 1 /*!50000 , 2 */", Engine::Mysql), "hidden code may be anything");
    }

    /// Regression: these destroyed data with no backup, because the guard did not know them.
    #[test]
    fn recognises_destruction_in_other_shapes() {
        for stmt in [
            "DROP SCHEMA app CASCADE",
            "DROP VIEW IF EXISTS v",
            "UPDATE acct AS a SET bal = 0",
            "UPDATE acct a JOIN b ON a.id = b.id SET a.bal = 0",
            "WITH d AS (DELETE FROM acct RETURNING 1) SELECT count(*) FROM d",
            "with u as (update acct set bal = 0 returning id) select 1",
            "TRUNCATE ONLY acct",
            "DELETE FROM ONLY acct",
        ] {
            assert!(classify(stmt).is_destructive(), "{stmt} is not seen as destructive: {:?}", classify(stmt));
        }
        for stmt in [
            "UPDATE acct AS a SET bal = 0 WHERE a.id = 1",
            "WITH d AS (DELETE FROM acct WHERE id = 1 RETURNING 1) SELECT count(*) FROM d",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "DROP INDEX ix",
        ] {
            assert!(!classify(stmt).is_destructive(), "{stmt} is seen as destructive");
        }
    }
}
