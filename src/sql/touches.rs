//! What a statement writes, read once through the engine's lexer: which table and columns it
//! can change ([`touches`], for the backup guard and the preflight) and what it can do to the
//! rows that already exist ([`writes`], for the `validate` step, which tells the change's own
//! writes from the application's).
//!
//! One module, because the two questions are one: two parsers (this lexer-based one and a
//! string-based one) answered them apart, and disagreed at the edges (quotes, comments, MariaDB's
//! `/*! … */`). A statement this module cannot read is never "writes nothing": [`touches`]
//! returns [`Unclassified`], and [`writes`] says it may write anything.

use std::collections::BTreeSet;

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
                // `(a, b) = (…)` assigns several columns at once.
                (Some(Kind::Punct), "(") if expect_col && depth == 0 => {
                    let mut k = j + 1;
                    loop {
                        let (c, next) = w.name(k).ok_or(Unclassified)?;
                        cols.push(c);
                        match w.text(next) {
                            "," => k = next + 1,
                            ")" => break j = next + 1,
                            _ => return Err(Unclassified),
                        }
                    }
                    expect_col = false;
                    continue;
                }
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

/// What one statement may do to the existing rows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Rewrites values of these columns (UPDATE … SET, a column's type changed, dropped).
    Columns { table: String, columns: BTreeSet<String> },
    /// Adds rows.
    Insert { table: String },
    /// Removes rows.
    Delete { table: String },
    /// Any value of this table.
    Table { table: String },
    /// Not recognised: any value of any table.
    Anything,
}

impl Write {
    /// The table written to, if the write is confined to one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Write::Columns { table, .. } | Write::Insert { table } | Write::Delete { table } | Write::Table { table } => Some(table),
            Write::Anything => None,
        }
    }
}

/// The writes `stmt` can make to existing data on `engine`; empty when it writes none (an added
/// column, an index, a view, a new table). Built on [`touches`]: what it cannot read may write
/// anything, and so may any data-changing statement on a table with triggers (the caller checks
/// the schema).
pub fn writes(stmt: &str, engine: Engine) -> Vec<Write> {
    let Ok(touched) = touches(stmt, engine) else { return vec![Write::Anything] };
    let w = Words::new(stmt, engine);
    let Some(first) = touched.into_iter().next() else { return reads_or_schema(&w) };
    let table = first.table;
    if w.is(0, "INSERT") || w.is(0, "REPLACE") {
        // An upsert or a REPLACE also rewrites or removes existing rows.
        let replaces = w.is(0, "REPLACE")
            || (w.is(1, "OR") && w.is(2, "REPLACE"))
            || w.find_top(1, "CONFLICT").is_some()
            || w.find_top(1, "DUPLICATE").is_some();
        return vec![if replaces { Write::Table { table } } else { Write::Insert { table } }];
    }
    if w.is(0, "UPDATE") {
        return vec![match first.columns {
            Some(columns) if !columns.is_empty() => Write::Columns { table, columns: columns.into_iter().collect() },
            _ => Write::Table { table },
        }];
    }
    if w.is(0, "DELETE") {
        return vec![Write::Delete { table }];
    }
    if w.is(0, "ALTER") {
        return altered(&w, table);
    }
    // A new table holds no existing row; one created over an old one (`OR REPLACE`) replaces it.
    if w.is(0, "CREATE") && !w.is(1, "OR") {
        return Vec::new();
    }
    vec![Write::Table { table }]
}

/// A statement that changes no table's rows, by [`touches`]: a read, a setting, a grant, a new
/// index or view. A call among its words (`SELECT f()`, `SET @x = f()`) may run code that
/// writes anything; a dropped or created routine or trigger changes what later writes do.
fn reads_or_schema(w: &Words) -> Vec<Write> {
    let calls = (0..w.len()).any(|j| w.kind(j) == Some(Kind::Word) && w.text(j + 1) == "(");
    let code = (w.is(0, "CREATE") || w.is(0, "DROP"))
        && (1..w.len().min(5)).any(|j| ["FUNCTION", "PROCEDURE", "TRIGGER", "RULE", "EVENT", "VIEW"].iter().any(|k| w.is(j, k)))
        && !(w.is(0, "CREATE") && (1..w.len().min(4)).any(|j| w.is(j, "VIEW")));
    if code || (calls && ["SELECT", "WITH", "VALUES", "SET"].iter().any(|k| w.is(0, k))) {
        vec![Write::Anything]
    } else {
        Vec::new()
    }
}

/// The index of the comma that ends the clause starting at `i` (outside parentheses), or the end.
fn clause_end(w: &Words, i: usize) -> usize {
    let mut depth = 0i32;
    for j in i..w.len() {
        match (w.kind(j), w.text(j)) {
            (Some(Kind::Punct), "(") => depth += 1,
            (Some(Kind::Punct), ")") => depth -= 1,
            (Some(Kind::Punct), ",") if depth == 0 => return j,
            _ => {}
        }
    }
    w.len()
}

/// What `ALTER TABLE table …` writes, clause by clause: adding a column or a constraint, or
/// changing a default, writes no existing value; changing or dropping a column rewrites that
/// column; anything else (a rename, an engine change) may rewrite the table.
fn altered(w: &Words, table: String) -> Vec<Write> {
    let i = w.opt(2, &["IF", "EXISTS"]);
    let i = w.opt(i, &["ONLY"]);
    let Some((_, mut i)) = w.name(i) else { return vec![Write::Table { table }] };
    let mut columns = BTreeSet::new();
    while i < w.len() {
        let end = clause_end(w, i);
        let keys = ["CONSTRAINT", "INDEX", "KEY", "UNIQUE", "PRIMARY", "FOREIGN", "CHECK"];
        let column_after = |j: usize| {
            let j = w.opt(j, &["COLUMN"]);
            w.name(w.opt(j, &["IF", "EXISTS"]))
        };
        if w.is(i, "ADD") || w.is(i, "ALGORITHM") || w.is(i, "LOCK") || (w.is(i, "DROP") && keys.iter().any(|k| w.is(i + 1, k))) {
            // No existing value changes.
        } else if w.is(i, "DROP") || w.is(i, "MODIFY") || w.is(i, "CHANGE") {
            match column_after(i + 1) {
                Some((c, _)) => {
                    columns.insert(c);
                }
                None => return vec![Write::Table { table }],
            }
        } else if w.is(i, "ALTER") {
            let Some((c, after)) = column_after(i + 1) else { return vec![Write::Table { table }] };
            // Defaults and NOT NULL are checked or kept for later rows; a type is rewritten.
            let keeps = (w.is(after, "SET") || w.is(after, "DROP")) && (w.is(after + 1, "DEFAULT") || w.is(after + 1, "NOT"));
            if !keeps {
                columns.insert(c);
            }
        } else {
            return vec![Write::Table { table }];
        }
        i = end + 1;
    }
    if columns.is_empty() {
        Vec::new()
    } else {
        vec![Write::Columns { table, columns }]
    }
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

    fn set(table: &str, c: &[&str]) -> Write {
        Write::Columns { table: table.into(), columns: c.iter().map(|s| s.to_string()).collect() }
    }

    fn writes_pg(stmt: &str) -> Vec<Write> {
        writes(stmt, Engine::Postgres)
    }

    #[test]
    fn schema_changes_write_no_existing_value() {
        assert_eq!(writes("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL", Engine::Mysql), vec![]);
        assert_eq!(writes("ALTER TABLE all_users ADD COLUMN u VARCHAR(36) NULL, ALGORITHM=INPLACE, LOCK=NONE", Engine::Mysql), vec![]);
        assert_eq!(writes_pg("CREATE UNIQUE INDEX CONCURRENTLY ux ON all_users (u)"), vec![]);
        assert_eq!(writes_pg("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)"), vec![]);
        assert_eq!(writes_pg("ALTER TABLE t ALTER COLUMN a SET DEFAULT 0"), vec![]);
        assert_eq!(writes_pg("CREATE TABLE n (a int)"), vec![]);
        assert_eq!(writes_pg("CREATE VIEW v AS SELECT a FROM t"), vec![]);
        // A clause after the added column that rewrites values is seen.
        assert_eq!(writes("ALTER TABLE t ADD COLUMN a int, MODIFY b text", Engine::Mysql), vec![set("t", &["b"])]);
        assert_eq!(writes_pg("ALTER TABLE t ALTER COLUMN a TYPE bigint"), vec![set("t", &["a"])]);
        assert_eq!(writes_pg("ALTER TABLE t DROP COLUMN a"), vec![set("t", &["a"])]);
        assert_eq!(writes_pg("ALTER TABLE t RENAME TO u"), vec![Write::Table { table: "t".into() }]);
    }

    #[test]
    fn an_update_writes_the_columns_it_sets() {
        assert_eq!(
            writes_pg("UPDATE all_users SET status = 'x', \"name\" = lower(name) WHERE id = 1"),
            vec![set("all_users", &["name", "status"])]
        );
        assert_eq!(writes("update t u set u.a = f(1, 2), (b, c) = (1, 2)", Engine::Mysql), vec![set("t", &["a", "b", "c"])]);
        assert_eq!(writes_pg("UPDATE t SET a = 'x, y = 1' WHERE b = 2"), vec![set("t", &["a"])]);
        // A comment or a quoted word cannot hide or add a column.
        assert_eq!(writes_pg("UPDATE t SET /* b = 1, */ a = 'WHERE' -- , c = 2\n WHERE b = 2"), vec![set("t", &["a"])]);
        // A join may write the other table too: not confined to the set columns.
        assert_eq!(writes("UPDATE t JOIN u ON t.id = u.id SET t.a = u.a", Engine::Mysql), vec![Write::Anything]);
    }

    #[test]
    fn rows_added_and_removed() {
        assert_eq!(writes_pg("INSERT INTO t (a) VALUES (1)"), vec![Write::Insert { table: "t".into() }]);
        assert_eq!(writes_pg("INSERT INTO t(a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2"), vec![Write::Table { table: "t".into() }]);
        assert_eq!(
            writes("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2", Engine::Mysql),
            vec![Write::Table { table: "t".into() }]
        );
        assert_eq!(writes("REPLACE INTO t VALUES (1)", Engine::Mysql), vec![Write::Table { table: "t".into() }]);
        assert_eq!(writes_pg("DELETE FROM t WHERE a = 1"), vec![Write::Delete { table: "t".into() }]);
        assert_eq!(writes_pg("TRUNCATE t"), vec![Write::Table { table: "t".into() }]);
        assert_eq!(writes_pg("DROP TABLE t"), vec![Write::Table { table: "t".into() }]);
    }

    #[test]
    fn what_it_cannot_read_may_write_anything() {
        assert_eq!(writes_pg("SELECT do_something()"), vec![Write::Anything]);
        assert_eq!(writes_pg("CALL p()"), vec![Write::Anything]);
        assert_eq!(writes_pg("CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql"), vec![Write::Anything]);
        assert_eq!(writes("/*!50000 DELETE FROM t */", Engine::Mysql), vec![Write::Anything]);
        assert_eq!(writes_pg("SELECT a FROM t"), vec![]);
    }
}
