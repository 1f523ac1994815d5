//! What a statement can write to the rows that already exist in a table, read from the statement
//! itself. The `validate` step uses it to tell the change's own writes from the application's:
//! a difference in data the change cannot write was made by another session.
//!
//! The analysis is conservative: a statement it does not recognise may write anything, and so
//! may any data-changing statement on a table with triggers (the caller checks the schema).

use std::collections::BTreeSet;

use super::{classify, strip_comments, Effect};

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

/// The writes `stmt` can make to existing data; empty when it writes none (an added column, an
/// index, a new table or view).
pub fn writes(stmt: &str) -> Vec<Write> {
    let s = strip_comments(stmt);
    let s = s.trim();
    let upper = s.to_ascii_uppercase();
    match classify(s) {
        Effect::AddColumn { table, definition, .. } => {
            // MariaDB allows more clauses after the column: each must be another added column
            // or a lock/algorithm option; anything else (`, MODIFY …`) may rewrite values.
            let harmless = top_level_split(&definition, ',').iter().skip(1).all(|clause| {
                let c = clause.trim().to_ascii_uppercase();
                c.starts_with("ADD ") || c.starts_with("ALGORITHM") || c.starts_with("LOCK")
            });
            if harmless {
                Vec::new()
            } else {
                vec![Write::Table { table }]
            }
        }
        Effect::CreateIndex { .. } | Effect::DropIndex { .. } | Effect::CreateTable { .. } => Vec::new(),
        Effect::AlterColumnType { table, column } | Effect::DropColumn { table, column } => {
            vec![Write::Columns { table, columns: BTreeSet::from([column]) }]
        }
        Effect::DropTable { table } | Effect::Truncate { table } => vec![Write::Table { table }],
        Effect::Delete { table, .. } => vec![Write::Delete { table }],
        Effect::Update { table, .. } => match set_columns(s) {
            Some(columns) => vec![Write::Columns { table, columns }],
            None => vec![Write::Table { table }],
        },
        Effect::DropObject { .. } => vec![Write::Anything],
        Effect::Other => {
            let words: Vec<&str> = upper.split_whitespace().collect();
            let starts = |w: &[&str]| words.len() >= w.len() && words[..w.len()] == *w;
            let schema_only = starts(&["CREATE", "VIEW"])
                || starts(&["CREATE", "OR", "REPLACE", "VIEW"])
                || starts(&["COMMENT", "ON"])
                || (starts(&["ALTER", "TABLE"]) && words.get(3).is_some_and(|w| *w == "ADD") && add_constraint(&words));
            if schema_only {
                Vec::new()
            } else if let Some(table) = insert_target(s, &words) {
                // An upsert or REPLACE also rewrites or removes existing rows.
                if upper.contains(" ON CONFLICT") || upper.contains(" ON DUPLICATE KEY") || words[0] == "REPLACE" {
                    vec![Write::Table { table }]
                } else {
                    vec![Write::Insert { table }]
                }
            } else {
                vec![Write::Anything]
            }
        }
    }
}

/// `ALTER TABLE t ADD CONSTRAINT|INDEX|UNIQUE|PRIMARY|FOREIGN|KEY …`: checks, never writes.
fn add_constraint(words: &[&str]) -> bool {
    words.get(4).is_some_and(|w| ["CONSTRAINT", "INDEX", "UNIQUE", "PRIMARY", "FOREIGN", "KEY", "CHECK"].contains(w))
}

/// The table of `INSERT [IGNORE] INTO t …` / `REPLACE INTO t …`.
fn insert_target(s: &str, words: &[&str]) -> Option<String> {
    if !matches!(words.first(), Some(&"INSERT") | Some(&"REPLACE")) {
        return None;
    }
    let at = words.iter().position(|w| *w == "INTO")?;
    if at > 3 {
        return None;
    }
    let raw = s.split_whitespace().nth(at + 1)?;
    let name = raw.split('(').next().unwrap_or(raw);
    let last = name.rsplit('.').next().unwrap_or(name);
    Some(last.trim_matches(|c| c == '"' || c == '`').to_string())
}

/// The columns assigned by `UPDATE t [alias] SET a = …, b = …`; `None` when the statement is
/// more than one table (a join) or the list cannot be read.
fn set_columns(s: &str) -> Option<BTreeSet<String>> {
    let upper = s.to_ascii_uppercase();
    let set = find_top_level_word(&upper, "SET")?;
    let head: Vec<&str> = upper[..set].split_whitespace().collect();
    // UPDATE [modifiers] t [[AS] alias]: more words mean a join or a list of tables.
    let table_words = head.iter().skip(1).filter(|w| !["ONLY", "LOW_PRIORITY", "IGNORE", "AS"].contains(w)).count();
    if table_words > 2 || upper[..set].contains(',') {
        return None;
    }
    let body = &s[set + 3..];
    let end =
        ["WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"].iter().filter_map(|k| find_top_level_word(body, k)).min().unwrap_or(body.len());
    let mut columns = BTreeSet::new();
    for assignment in top_level_split(&body[..end], ',') {
        let lhs = assignment.split('=').next()?.trim();
        // `(a, b) = (…)` assigns several columns at once.
        for name in lhs.trim_start_matches('(').trim_end_matches(')').split(',') {
            let name = name.trim();
            let last = name.rsplit('.').next().unwrap_or(name).trim_matches(|c| c == '"' || c == '`');
            if last.is_empty() {
                return None;
            }
            columns.insert(last.to_string());
        }
    }
    (!columns.is_empty()).then_some(columns)
}

fn is_whole_word(b: &[u8], i: usize, len: usize) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    (i == 0 || !ident(b[i - 1])) && b.get(i + len).is_none_or(|c| !ident(*c))
}

/// Byte offset of `word` (upper case) as a whole word outside quotes and parentheses.
fn find_top_level_word(s: &str, word: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut quote) = (0i32, None::<u8>);
    for i in 0..b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'\'' | b'"' | b'`')) => quote = Some(c),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, _)
                if depth == 0
                    && s.get(i..i + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word))
                    && is_whole_word(b, i, word.len()) =>
            {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

/// Split on `sep` outside quotes and parentheses.
fn top_level_split(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut quote) = (Vec::new(), 0, 0i32, None::<char>);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(table: &str, c: &[&str]) -> Write {
        Write::Columns { table: table.into(), columns: c.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn schema_changes_write_no_existing_value() {
        assert_eq!(writes("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL"), vec![]);
        assert_eq!(writes("ALTER TABLE all_users ADD COLUMN u VARCHAR(36) NULL, ALGORITHM=INPLACE, LOCK=NONE"), vec![]);
        assert_eq!(writes("CREATE UNIQUE INDEX CONCURRENTLY ux ON all_users (u)"), vec![]);
        assert_eq!(writes("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)"), vec![]);
        assert_eq!(writes("ALTER TABLE t ADD COLUMN a int, MODIFY b text"), vec![Write::Table { table: "t".into() }]);
    }

    #[test]
    fn an_update_writes_the_columns_it_sets() {
        assert_eq!(
            writes("UPDATE all_users SET status = 'x', \"name\" = lower(name) WHERE id = 1"),
            vec![cols("all_users", &["name", "status"])]
        );
        assert_eq!(writes("update t u set u.a = f(1, 2), (b, c) = (1, 2)"), vec![cols("t", &["a", "b", "c"])]);
        assert_eq!(writes("UPDATE t SET a = 'x, y = 1' WHERE b = 2"), vec![cols("t", &["a"])]);
        assert_eq!(writes("UPDATE t JOIN u ON t.id = u.id SET t.a = u.a"), vec![Write::Table { table: "t".into() }]);
    }

    #[test]
    fn rows_added_and_removed() {
        assert_eq!(writes("INSERT INTO t (a) VALUES (1)"), vec![Write::Insert { table: "t".into() }]);
        assert_eq!(writes("INSERT INTO t(a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2"), vec![Write::Table { table: "t".into() }]);
        assert_eq!(writes("DELETE FROM t WHERE a = 1"), vec![Write::Delete { table: "t".into() }]);
        assert_eq!(writes("SELECT do_something()"), vec![Write::Anything]);
    }
}
