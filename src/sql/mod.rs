//! SQL text handling shared by the engine, the prechecks, the backup guard and the lint:
//! splitting a script into statements and recognising what a statement does to the schema.
//!
//! This is deliberately not a SQL parser. It recognises the common DDL and DML shapes that a
//! change ticket uses, and says "other" for everything else.

pub mod writes;

use std::sync::OnceLock;

use regex::Regex;

use crate::db::Engine;

pub mod objects;

/// Split a script into statements on `;`, respecting quotes, comments, PostgreSQL
/// dollar-quoting and `BEGIN … END` bodies of triggers and routines, as `engine` reads them.
pub fn split(script: &str, engine: Engine) -> Vec<String> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut depth = 0i32; // BEGIN … END (and CASE … END) nesting inside a trigger or routine body
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                // A backslash escapes a quote only where the engine says so: always in MySQL and
                // MariaDB strings, in PostgreSQL only in E'…' strings, never in SQLite. Reading
                // `'C:\'` as unterminated would glue the next statement to this one.
                let backslash = c == b'\''
                    && match engine {
                        Engine::Mysql => true,
                        Engine::Postgres => i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e') && (i < 2 || !is_word(b[i - 2])),
                        Engine::Sqlite => false,
                    };
                i += 1;
                while i < b.len() {
                    if b[i] == c {
                        if i + 1 < b.len() && b[i + 1] == c {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    if b[i] == b'\\' && backslash {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' if at_line_start(b, i) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // $tag$ … $tag$
                if let Some(end) = script[i + 1..].find('$') {
                    let tag = &script[i..i + end + 2];
                    if tag[1..tag.len() - 1].chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                        if let Some(close) = script[i + tag.len()..].find(tag) {
                            i += tag.len() + close + tag.len();
                            continue;
                        }
                    }
                }
            }
            b';' if depth == 0 => {
                push(&mut out, &script[start..i]);
                start = i + 1;
            }
            _ if c.is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) => {
                let end = (i..b.len()).find(|&j| !is_word(b[j])).unwrap_or(b.len());
                let word = script[i..end].to_ascii_uppercase();
                // A body opens only in CREATE … TRIGGER / PROCEDURE / FUNCTION / EVENT, named as
                // whole words: a table called `events` with a column called `begin` is not one.
                // Looked at only on BEGIN: doing it for every word made splitting quadratic.
                let body = || {
                    let stmt_so_far = script[start..i].to_ascii_uppercase();
                    strip_comments(&stmt_so_far).starts_with("CREATE")
                        && stmt_so_far
                            .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                            .any(|w| matches!(w, "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"))
                };
                if (word == "BEGIN" && body()) || (word == "CASE" && depth > 0) {
                    depth += 1;
                } else if word == "END" && depth > 0 {
                    // `END IF`, `END LOOP`, … close blocks that were never counted; a plain `END`
                    // or `END CASE` closes a BEGIN or a CASE.
                    let next = script[end..].trim_start();
                    let closes_uncounted = ["IF", "LOOP", "WHILE", "REPEAT"].iter().any(|k| {
                        next.get(..k.len()).is_some_and(|w| w.eq_ignore_ascii_case(k))
                            && !next.as_bytes().get(k.len()).is_some_and(|c| is_word(*c))
                    });
                    if !closes_uncounted {
                        depth -= 1;
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    push(&mut out, &script[start..]);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn at_line_start(b: &[u8], i: usize) -> bool {
    b[..i].iter().rev().take_while(|c| **c != b'\n').all(|c| c.is_ascii_whitespace())
}

fn push(out: &mut Vec<String>, s: &str) {
    let t = s.trim();
    if !strip_comments(t).trim().is_empty() {
        out.push(t.to_string());
    }
}

/// The statement without `--` and `/* */` comments, whitespace collapsed.
pub fn strip_comments(s: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?s)/\*.*?\*/|--[^\n]*").unwrap());
    re.replace_all(s, " ").split_whitespace().collect::<Vec<_>>().join(" ")
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

/// Recognise one statement.
pub fn classify(stmt: &str) -> Effect {
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
    let s = strip_comments(stmt);
    // A data-modifying WITH (`WITH d AS (DELETE FROM t RETURNING 1) SELECT …`) does what its
    // DELETE or UPDATE does.
    if s.get(..5).is_some_and(|w| w.eq_ignore_ascii_case("WITH ")) {
        static INNER: OnceLock<Regex> = OnceLock::new();
        let inner = INNER.get_or_init(|| Regex::new(r"(?i)\b(?:DELETE\s+FROM|UPDATE)\s").expect("static regex"));
        return match inner.find(&s) {
            Some(m) => match classify(&s[m.start()..]) {
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
    fn splits_on_semicolons_outside_quotes_and_bodies() {
        let s = split(
            "CREATE TABLE a(x text default 'a;b'); -- c;\nINSERT INTO a VALUES ('x'';y');\nCREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 1; END;\nSELECT $$a;b$$;",
            Engine::Postgres,
        );
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[2].ends_with("END"));
    }

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

    /// Regression: a backslash before a quote is a plain character in PostgreSQL and SQLite
    /// strings, and reading it as an escape glued `DELETE FROM acct` to the statement before.
    #[test]
    fn backslashes_escape_quotes_only_where_the_engine_says_so() {
        let script = "UPDATE acct SET bal = 0 WHERE note = 'C:\\';\nDELETE FROM acct;";
        assert_eq!(split(script, Engine::Postgres).len(), 2);
        assert_eq!(split(script, Engine::Sqlite).len(), 2);
        assert_eq!(split("SELECT 'it\\'s; fine'; SELECT 2", Engine::Mysql).len(), 2);
        assert_eq!(split("SELECT E'it\\'s; fine'; SELECT 2", Engine::Postgres).len(), 2);
    }

    #[test]
    fn a_column_named_begin_opens_no_body() {
        let s = split("CREATE TABLE events (id int, begin datetime); DELETE FROM events WHERE id = 1; SELECT 1", Engine::Mysql);
        assert_eq!(s.len(), 3, "{s:#?}");
    }

    /// Regression: `CASE … END` inside a trigger body closed the body early.
    #[test]
    fn trigger_bodies_with_case_and_end_if_stay_whole() {
        let sqlite = "CREATE TRIGGER t_grade AFTER INSERT ON t BEGIN UPDATE t SET grade = CASE WHEN NEW.id > 10 THEN 'big' ELSE 'small' END WHERE id = NEW.id; INSERT INTO log VALUES (NEW.id); END; SELECT 1";
        let s = split(sqlite, Engine::Sqlite);
        assert_eq!(s.len(), 2, "{s:#?}");
        let mysql = "CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW BEGIN IF NEW.a > 1 THEN SET NEW.b = 1; END IF; SET NEW.c = CASE WHEN NEW.a THEN 1 END; END; SELECT 1";
        let s = split(mysql, Engine::Mysql);
        assert_eq!(s.len(), 2, "{s:#?}");
    }
}
