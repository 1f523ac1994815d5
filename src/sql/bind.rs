//! Lone literal variables become bound parameters. Where a variable is a whole string literal
//! (`'${name}'`) in a statement that takes parameters, the value is sent to the server apart from
//! the statement, so no quote, backslash or semicolon in it can change what the statement is.
//!
//! Only a quoted reference is bound: there the runbook says the value is a string, and a bound
//! text parameter means the same thing on every engine. An unquoted `${name}` is SQL text by
//! construction (a number, a name, an expression) and is substituted; the shape check guards a
//! secret one. A variable marked `sql: true` is SQL text wherever it stands.

use std::ops::Range;

use super::lex::{tokens, Kind};
use crate::db::Engine;
use crate::error::Result;
use crate::load::vars::{references, Vars};

/// One statement as it is sent: the SQL and the values of its placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement, with the engine's placeholders where values are bound.
    pub sql: String,
    /// The bound values, placeholder 1 first.
    pub params: Vec<String>,
    /// Byte range of each placeholder in `sql`, in the same order (PostgreSQL rewrites a
    /// placeholder whose type is not text; see `db::postgres`).
    pub slots: Vec<Range<usize>>,
}

impl Statement {
    /// A statement with nothing bound.
    pub fn text(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), params: Vec::new(), slots: Vec::new() }
    }
}

/// Statements that take parameters on every engine. DDL and the rest do not (PostgreSQL refuses
/// a parameter in a utility statement), so their values are substituted.
fn takes_parameters(raw: &str, engine: Engine) -> bool {
    let toks = tokens(raw, engine);
    let Some(first) = toks.iter().find(|t| t.is_code()) else { return false };
    ["SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"].iter().any(|w| first.is_word(raw, w))
}

/// The lone literal references of `raw`: each string literal that is exactly `'${name}'`, with
/// its byte range and the variable's name, for variables that have a value and are not SQL.
fn lone_literals(raw: &str, engine: Engine, vars: &Vars) -> Vec<(Range<usize>, String)> {
    tokens(raw, engine)
        .into_iter()
        .filter(|t| t.kind == Kind::Str)
        .filter_map(|t| {
            let text = t.text(raw);
            let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
            let refs = references(inner).ok()?;
            let [r] = refs.as_slice() else { return None };
            let whole = r.offset == 0 && r.name.len() + 3 == inner.len();
            (whole && vars.get(&r.name).is_some() && !vars.is_sql_text(&r.name)).then(|| (t.start..t.end, r.name.clone()))
        })
        .collect()
}

/// The placeholder for parameter `n` (1-based) on `engine`.
fn placeholder(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Postgres => format!("${n}"),
        Engine::Sqlite => format!("?{n}"),
        Engine::Mysql => "?".to_string(),
    }
}

/// Bind the lone literal variables of each raw statement (as written, `${…}` still in it), and
/// substitute every other reference. `None` when nothing in them can be bound: the caller then
/// renders the text as before.
///
/// A value substituted elsewhere in a statement may itself hold a `;`: the bound statement is
/// split again, and if it no longer is one statement nothing is bound (the shape check and the
/// backup guard judge such a step as substituted text).
pub fn bind_all(raw: &[String], engine: Engine, vars: &Vars) -> Result<Option<Vec<Statement>>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut any = false;
    for stmt in raw {
        let lone = if takes_parameters(stmt, engine) { lone_literals(stmt, engine, vars) } else { Vec::new() };
        if lone.is_empty() {
            out.push(Statement::text(vars.render(stmt)?));
            continue;
        }
        any = true;
        let mut sql = String::with_capacity(stmt.len());
        let mut params = Vec::new();
        let mut slots = Vec::new();
        let mut last = 0;
        for (range, name) in lone {
            sql.push_str(&vars.render(&stmt[last..range.start])?);
            let p = placeholder(engine, params.len() + 1);
            slots.push(sql.len()..sql.len() + p.len());
            sql.push_str(&p);
            params.push(vars.render(&format!("${{{name}}}"))?);
            last = range.end;
        }
        sql.push_str(&vars.render(&stmt[last..])?);
        if super::split(&sql, engine).len() != 1 {
            return Ok(None);
        }
        // `split` trims; the slots must still point into the statement as sent.
        let lead = sql.len() - sql.trim_start().len();
        let sql = sql.trim().to_string();
        let slots = slots.into_iter().map(|r| r.start - lead..r.end - lead).collect();
        out.push(Statement { sql, params, slots });
    }
    Ok(any.then_some(out))
}

/// One raw statement as it is shown: each value that [`bind_all`] binds written as the SQL
/// literal it stands for (quotes doubled; on MariaDB/MySQL, where a backslash escapes, backslashes
/// doubled too), every other reference substituted, secrets masked. Spliced into its quotes as
/// text, `alice' AND 'a'='b` would show `name = 'alice' AND 'a'='b'`: a condition that never
/// ran, in the evidence of a statement that compared the whole value.
pub fn shown(stmt: &str, engine: Engine, vars: &Vars) -> String {
    let lone = if takes_parameters(stmt, engine) { lone_literals(stmt, engine, vars) } else { Vec::new() };
    let mut out = String::with_capacity(stmt.len());
    let mut last = 0;
    for (range, name) in lone {
        out.push_str(&vars.mask(&stmt[last..range.start]));
        out.push_str(&literal(&vars.mask(&format!("${{{name}}}")), engine));
        last = range.end;
    }
    out.push_str(&vars.mask(&stmt[last..]));
    out
}

/// `value` as a string literal of `engine`.
fn literal(value: &str, engine: Engine) -> String {
    let mut v = value.replace('\'', "''");
    if engine == Engine::Mysql {
        v = v.replace('\\', "\\\\");
    }
    format!("'{v}'")
}

/// The raw statements with every literal that [`bind_all`] binds emptied (`''`), joined as one
/// script: the text whose shape the secrets' values can still change. A bound value cannot.
pub fn unbound_text(raw: &[String], engine: Engine, vars: &Vars) -> String {
    let mut out = Vec::with_capacity(raw.len());
    for stmt in raw {
        let lone = if takes_parameters(stmt, engine) { lone_literals(stmt, engine, vars) } else { Vec::new() };
        let mut s = String::with_capacity(stmt.len());
        let mut last = 0;
        for (range, _) in lone {
            s.push_str(&stmt[last..range.start]);
            s.push_str("''");
            last = range.end;
        }
        s.push_str(&stmt[last..]);
        out.push(s);
    }
    out.join(";\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let mut v = Vars::default();
        for (k, val) in pairs {
            v.set(k, *val);
        }
        v
    }

    #[test]
    fn binds_a_quoted_variable_and_substitutes_the_rest() {
        let v = vars(&[("name", "O'Brien'); DROP TABLE t; --"), ("id", "7"), ("tbl", "users")]);
        let raw = vec!["UPDATE ${tbl} SET name = '${name}', note = 'x ${id}' WHERE id = ${id}".to_string()];
        let b = bind_all(&raw, Engine::Postgres, &v).unwrap().unwrap();
        assert_eq!(b[0].sql, "UPDATE users SET name = $1, note = 'x 7' WHERE id = 7");
        assert_eq!(b[0].params, vec!["O'Brien'); DROP TABLE t; --".to_string()]);
        assert_eq!(&b[0].sql[b[0].slots[0].clone()], "$1");
        let m = bind_all(&raw, Engine::Mysql, &v).unwrap().unwrap();
        assert_eq!(m[0].sql, "UPDATE users SET name = ?, note = 'x 7' WHERE id = 7");
        let s = bind_all(&raw, Engine::Sqlite, &v).unwrap().unwrap();
        assert_eq!(s[0].sql, "UPDATE users SET name = ?1, note = 'x 7' WHERE id = 7");
    }

    #[test]
    fn shows_a_bound_value_as_the_literal_it_stands_for() {
        let mut v = vars(&[("name", r"alice' AND 'a'='b \"), ("id", "7")]);
        v.set_shown("tok", "s3cr3t-v4lue", "********");
        let raw = "SELECT count(*) FROM t WHERE name = '${name}' AND id = ${id} AND k = '${tok}'";
        assert_eq!(
            shown(raw, Engine::Postgres, &v),
            r"SELECT count(*) FROM t WHERE name = 'alice'' AND ''a''=''b \' AND id = 7 AND k = '********'"
        );
        assert_eq!(
            shown(raw, Engine::Mysql, &v),
            r"SELECT count(*) FROM t WHERE name = 'alice'' AND ''a''=''b \\' AND id = 7 AND k = '********'"
        );
        // Nothing is bound in DDL: it is shown as substituted, as it runs.
        assert_eq!(shown("ALTER TABLE t ADD c text DEFAULT '${id}'", Engine::Sqlite, &v), "ALTER TABLE t ADD c text DEFAULT '7'");
    }

    #[test]
    fn leaves_ddl_and_sql_text_alone() {
        let v = vars(&[("d", "x")]);
        assert_eq!(bind_all(&["ALTER TABLE t ADD c text DEFAULT '${d}'".into()], Engine::Postgres, &v).unwrap(), None);
        assert_eq!(bind_all(&["SELECT 1".into()], Engine::Postgres, &v).unwrap(), None);
    }
}
