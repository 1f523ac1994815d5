//! Which table and columns a statement touches, read through the engine's lexer, for the backup
//! guard. A statement this module cannot read is an error, never "touches nothing": the guard
//! then asks for a backup. (`writes` answers the narrower question of the `validate` step.)

use super::lex::Kind;
use super::words::Words;
use crate::db::Engine;

/// One table a statement can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// Unquoted, without its schema.
    pub table: String,
    /// The columns it can change; `None` when it can change whole rows (INSERT without a column
    /// list, DELETE, TRUNCATE, DROP, ALTER).
    pub columns: Option<Vec<String>>,
}

/// A statement whose writes cannot be read: treat it as writing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclassified;

/// The tables and columns `stmt` can write; empty for a statement that writes no table data
/// (`SELECT`, `SET`, `SHOW`, `EXPLAIN`, transaction control).
pub fn touches(stmt: &str, engine: Engine) -> Result<Vec<Touch>, Unclassified> {
    let w = Words::new(stmt, engine);
    if w.has_hidden_code() {
        return Err(Unclassified);
    }
    if w.len() == 0 {
        return Ok(Vec::new());
    }
    let whole = |table: String| Ok(vec![Touch { table, columns: None }]);
    if w.is(0, "SELECT") {
        // SELECT … INTO creates a table (PostgreSQL) or writes a file/variables (MariaDB); a
        // locking read is still a read.
        return if w.find_top(1, "INTO").is_some() { Err(Unclassified) } else { Ok(Vec::new()) };
    }
    if w.is(0, "WITH") {
        // A WITH that only reads; one holding a data-modifying part is read no further.
        let modifies = (0..w.len()).any(|j| ["INSERT", "UPDATE", "DELETE", "MERGE", "INTO"].iter().any(|k| w.is(j, k)));
        return if modifies { Err(Unclassified) } else { Ok(Vec::new()) };
    }
    if [
        "SHOW",
        "EXPLAIN",
        "DESCRIBE",
        "DESC",
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "VALUES",
        "GRANT",
        "REVOKE",
        "COMMENT",
        "ANALYZE",
        "USE",
        "ATTACH",
        "DETACH",
    ]
    .iter()
    .any(|k| w.is(0, k))
        || (w.is(0, "SET") && !w.is(1, "ROLE"))
    {
        return Ok(Vec::new());
    }
    if w.is(0, "INSERT") || w.is(0, "REPLACE") {
        let mut i = 1;
        while ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "OR", "ROLLBACK", "ABORT", "FAIL", "REPLACE"]
            .iter()
            .any(|m| w.is(i, m))
        {
            i += 1;
        }
        i = w.opt(i, &["INTO"]);
        let (table, mut i) = w.name(i).ok_or(Unclassified)?;
        if w.is(i, "AS") {
            i += 2;
        }
        if w.kind(i) == Some(Kind::Punct) && w.text(i) == "(" {
            let mut cols = Vec::new();
            let mut j = i + 1;
            while j < w.len() && w.text(j) != ")" {
                if let Some((c, _)) = w.name(j).filter(|_| w.text(j) != ",") {
                    cols.push(c);
                }
                j += 1;
            }
            // A conflict clause may update columns outside the list.
            if w.find_top(j + 1, "UPDATE").is_some() {
                return whole(table);
            }
            return Ok(vec![Touch { table, columns: Some(cols) }]);
        }
        return whole(table);
    }
    if w.is(0, "UPDATE") {
        let mut i = 1;
        while ["LOW_PRIORITY", "IGNORE", "ONLY", "OR"].iter().any(|m| w.is(i, m)) {
            i += 1;
        }
        let (table, after) = w.name(i).ok_or(Unclassified)?;
        let set = w.find_top(after, "SET").ok_or(Unclassified)?;
        // A join between the table and SET may write the other tables too.
        if (after..set).any(|j| w.is(j, "JOIN") || w.text(j) == ",") {
            return Err(Unclassified);
        }
        let mut cols = Vec::new();
        let mut j = set + 1;
        let mut depth = 0i32;
        let mut expect_col = true;
        while j < w.len() {
            let t = w.text(j);
            match (w.kind(j), t) {
                (Some(Kind::Punct), "(") => depth += 1,
                (Some(Kind::Punct), ")") => depth -= 1,
                (Some(Kind::Punct), ",") if depth == 0 => expect_col = true,
                _ if depth == 0 && ["WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"].iter().any(|k| w.is(j, k)) => break,
                _ if expect_col && depth == 0 => {
                    let (c, next) = w.name(j).ok_or(Unclassified)?;
                    cols.push(c);
                    expect_col = false;
                    j = next;
                    continue;
                }
                _ => {}
            }
            j += 1;
        }
        return Ok(vec![Touch { table, columns: Some(cols) }]);
    }
    if w.is(0, "DELETE") {
        let i = w.opt(1, &["LOW_PRIORITY"]);
        let i = w.opt(i, &["QUICK"]);
        let i = w.opt(i, &["IGNORE"]);
        let i = w.seq(i, &["FROM"]).ok_or(Unclassified)?;
        let i = w.opt(i, &["ONLY"]);
        let (table, after) = w.name(i).ok_or(Unclassified)?;
        if w.is(after, "USING") || w.text(after) == "," || (after..w.len()).any(|j| w.is(j, "JOIN")) {
            return Err(Unclassified);
        }
        return whole(table);
    }
    if w.is(0, "TRUNCATE") {
        let i = w.opt(1, &["TABLE"]);
        let i = w.opt(i, &["ONLY"]);
        let (table, after) = w.name(i).ok_or(Unclassified)?;
        return if w.text(after) == "," { Err(Unclassified) } else { whole(table) };
    }
    if w.is(0, "ALTER") && w.is(1, "TABLE") {
        let i = w.opt(2, &["IF", "EXISTS"]);
        let i = w.opt(i, &["ONLY"]);
        let (table, _) = w.name(i).ok_or(Unclassified)?;
        return whole(table);
    }
    if w.is(0, "CREATE") || w.is(0, "DROP") {
        use super::objects::{changes, Object, Verb};
        let found = changes(stmt);
        let Some(first) = found.first() else { return Err(Unclassified) };
        return match &first.object {
            Object::Table(t) => whole(t.clone()),
            // A dropped schema or database holds tables this statement cannot name.
            Object::Other { what, .. } if first.verb == Verb::Drop && (what == "SCHEMA" || what == "DATABASE") => Err(Unclassified),
            // Other objects hold no table data.
            _ => Ok(Vec::new()),
        };
    }
    Err(Unclassified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(stmt: &str) -> Option<Vec<String>> {
        touches(stmt, Engine::Postgres).unwrap()[0].columns.clone()
    }

    #[test]
    fn reads_the_columns_a_statement_sets() {
        assert_eq!(
            cols("UPDATE acct a SET bal = bal - 1, \"Note\" = (SELECT 'x,y') WHERE id = 1"),
            Some(vec!["bal".into(), "Note".into()])
        );
        assert_eq!(cols("INSERT INTO s.t (a, b) VALUES (1, 2)"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(cols("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2"), None);
        assert_eq!(cols("DELETE FROM t WHERE a = 1"), None);
        assert_eq!(touches("SELECT * FROM t", Engine::Postgres), Ok(vec![]));
    }

    #[test]
    fn fails_closed() {
        for s in [
            "CALL p()",
            "MERGE INTO t USING s ON 1=1 WHEN MATCHED THEN DELETE",
            "UPDATE a JOIN b ON a.id = b.id SET a.x = 1",
            "DO $$ BEGIN DELETE FROM t; END $$",
            "SELECT * INTO t2 FROM t",
        ] {
            assert_eq!(touches(s, Engine::Postgres), Err(Unclassified), "{s}");
        }
        assert_eq!(touches("/*!50000 DELETE FROM t */", Engine::Mysql), Err(Unclassified));
    }
}
