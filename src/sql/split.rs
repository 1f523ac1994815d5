//! Splitting a script into statements on `;`, reading it through the engine's own lexer, so a
//! semicolon in a comment, a string, a quoted name or a routine body never ends a statement.
//! Statements are returned verbatim (trimmed): they reach the server exactly as written.

use super::lex::{tokens, Kind};
use crate::db::Engine;

/// Split a script into statements as `engine` reads it.
pub fn split(script: &str, engine: Engine) -> Vec<String> {
    let toks = tokens(script, engine);
    let mut out = Vec::new();
    let mut start = 0;
    // Per statement: its first word, and whether it has named a routine kind yet. A body opens
    // only in CREATE … TRIGGER / PROCEDURE / FUNCTION / EVENT: a column called `begin` is not one.
    let mut first: Option<usize> = None;
    let mut routine = false;
    let mut depth = 0i32; // BEGIN … END (and CASE … END) nesting inside a routine body
    let code: Vec<usize> = (0..toks.len()).filter(|&k| toks[k].is_code()).collect();
    for (n, &k) in code.iter().enumerate() {
        let t = toks[k];
        if t.kind == Kind::Punct && t.text(script) == ";" && depth == 0 {
            push(&mut out, &script[start..t.start], engine);
            start = t.end;
            first = None;
            routine = false;
            continue;
        }
        if first.is_none() {
            first = Some(k);
        }
        if t.kind != Kind::Word {
            continue;
        }
        let creates = first.is_some_and(|f| toks[f].is_word(script, "CREATE"));
        if creates && ["TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"].iter().any(|w| t.is_word(script, w)) {
            routine = true;
        } else if (t.is_word(script, "BEGIN") && creates && routine) || (t.is_word(script, "CASE") && depth > 0) {
            depth += 1;
        } else if t.is_word(script, "END") && depth > 0 {
            // `END IF`, `END LOOP`, … close blocks that were never counted; a plain `END` or
            // `END CASE` closes a BEGIN or a CASE.
            let closes_uncounted =
                code.get(n + 1).is_some_and(|&j| ["IF", "LOOP", "WHILE", "REPEAT"].iter().any(|w| toks[j].is_word(script, w)));
            if !closes_uncounted {
                depth -= 1;
            }
        }
    }
    push(&mut out, &script[start..], engine);
    out
}

fn push(out: &mut Vec<String>, s: &str, engine: Engine) {
    let t = s.trim();
    if tokens(t, engine).iter().any(|t| t.is_code()) {
        out.push(t.to_string());
    }
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

    /// Regression: MariaDB reads `#` as a comment anywhere on a line, so a semicolon after it
    /// does not end a statement; `--` is a comment there only when a space follows.
    #[test]
    fn each_engine_comment_rules() {
        assert_eq!(split("SELECT 1;  # a comment; with a semicolon", Engine::Mysql), vec!["SELECT 1"]);
        assert_eq!(split("SELECT 1 -- x; y\n; SELECT 2", Engine::Mysql).len(), 2);
        assert_eq!(split("SELECT 5--1; SELECT 2", Engine::Mysql).len(), 2);
        assert_eq!(split("SELECT 1 /* a /* b */ ; */; SELECT 2", Engine::Postgres).len(), 2);
        assert_eq!(split("SELECT 1 /* a /* b */ ; SELECT 2", Engine::Sqlite).len(), 2);
    }
}
