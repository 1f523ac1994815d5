//! The schema snapshot of a SQLite target: the `sqlite_master` text of every object (what
//! `sqlite3 .schema` prints: tables, indexes with their expressions and `WHERE` clauses,
//! triggers, views), plus what the table text holds that no pragma lists on its own.
//!
//! SQLite keeps CHECK constraints and generated-column expressions only inside the CREATE TABLE
//! text, so they are read from it with the SQLite lexer: the table body is cut at its top-level
//! commas, and each item's `CHECK (…)` and `AS (…)` are taken out. Foreign keys come from
//! `pragma_foreign_key_list`, which also resolves the default parent columns. Unnamed
//! constraints get PostgreSQL's default names (`orders_user_id_fkey`, `users_age_check`), so a
//! runbook that names them works on both.

use sqlx::sqlite::SqliteConnection;

use super::objects::{self, Objects, DEFINITION, USES};
use super::{Column, Index, Schema, Table, Trigger};
use crate::db::Engine;
use crate::error::Result;
use crate::sql::lex::{tokens, Kind, Token};

pub async fn snapshot(conn: &mut SqliteConnection) -> Result<Schema> {
    let mut s = Schema::default();
    let mut o = Objects::new();
    let objects: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            .fetch_all(&mut *conn)
            .await?;
    for (ty, name, tbl, sql) in &objects {
        match ty.as_str() {
            "table" => {
                let cols: Vec<(String, String, i64, Option<String>, i64)> =
                    sqlx::query_as("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid")
                        .bind(name)
                        .fetch_all(&mut *conn)
                        .await?;
                // An INTEGER PRIMARY KEY is the rowid: it can never hold NULL although
                // SQLite reports no NOT NULL on it. The servers report their primary keys
                // as NOT NULL, and `{nullable: false}` must mean the same on every engine.
                let pk_columns = cols.iter().filter(|c| c.4 > 0).count();
                let columns = cols
                    .into_iter()
                    .map(|(n, t, nn, d, pk)| {
                        let rowid = pk > 0 && pk_columns == 1 && t.eq_ignore_ascii_case("INTEGER");
                        Column { name: n, type_: t, nullable: nn == 0 && !rowid, default: d }
                    })
                    .collect();
                s.tables.insert(name.clone(), Table { columns });
            }
            "view" => {
                s.views.insert(name.clone(), sql.clone().unwrap_or_default());
            }
            "trigger" => {
                s.triggers.insert(name.clone(), Trigger { table: tbl.clone() });
            }
            _ => {}
        }
        // Indexes behind UNIQUE and PRIMARY KEY constraints have no text of their own; the
        // table's text holds them.
        let Some(sql) = sql else { continue };
        let oname = if ty == "trigger" { format!("{name} on {tbl}") } else { name.clone() };
        objects::set(&mut o, ty, &oname, DEFINITION, Some(sql.clone()));
        if ty == "index" {
            objects::set(&mut o, ty, &oname, "table", Some(tbl.clone()));
        }
        if ty == "trigger" {
            if let Some((timing, events)) = trigger_shape(sql) {
                objects::set(&mut o, ty, &oname, "timing", Some(timing));
                objects::set(&mut o, ty, &oname, "events", Some(events));
            }
        }
    }
    // Indexes, including the implicit ones behind UNIQUE constraints.
    let tables: Vec<String> = s.tables.keys().cloned().collect();
    for t in &tables {
        let list: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, \"unique\" FROM pragma_index_list(?1)").bind(t).fetch_all(&mut *conn).await?;
        for (name, unique) in list {
            let cols: Vec<(Option<String>,)> =
                sqlx::query_as("SELECT name FROM pragma_index_info(?1) ORDER BY seqno").bind(&name).fetch_all(&mut *conn).await?;
            s.indexes.insert(
                name,
                Index {
                    table: t.clone(),
                    columns: cols.into_iter().map(|(c,)| c.unwrap_or_else(|| "<expr>".into())).collect(),
                    unique: unique != 0,
                },
            );
        }
    }
    for t in &tables {
        let fks: Vec<(i64, String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .bind(t)
        .fetch_all(&mut *conn)
        .await?;
        // id → (parent, child columns, parent columns, ON UPDATE, ON DELETE)
        type ForeignKey = (String, Vec<String>, Vec<String>, String, String);
        let mut by_id: std::collections::BTreeMap<i64, ForeignKey> = Default::default();
        for (id, parent, from, to, upd, del) in fks {
            let e = by_id.entry(id).or_insert_with(|| (parent.clone(), Vec::new(), Vec::new(), upd, del));
            e.1.push(from);
            // A foreign key without a column list points at the parent's primary key.
            let to = to.or_else(|| s.table(&parent).and_then(|p| p.columns.first().map(|c| c.name.clone()))).unwrap_or_default();
            e.2.push(to);
        }
        for (parent, from, to, upd, del) in by_id.into_values() {
            let name = format!("{t}_{}_fkey on {t}", from.join("_"));
            let def = format!("FOREIGN KEY ({}) REFERENCES {parent} ({}) ON UPDATE {upd} ON DELETE {del}", from.join(", "), to.join(", "));
            let mut uses: Vec<String> = from.iter().map(|c| format!("{t}.{c}")).collect();
            uses.extend(to.iter().map(|c| format!("{parent}.{c}")));
            objects::set(&mut o, "constraint", &name, "type", Some("foreign key".into()));
            objects::set(&mut o, "constraint", &name, DEFINITION, Some(def));
            objects::set(&mut o, "constraint", &name, USES, Some(uses.join(", ")));
        }
        let Some(sql) = objects.iter().find(|x| x.0 == "table" && &x.1 == t).and_then(|x| x.3.clone()) else { continue };
        let columns: Vec<String> = s.table(t).map(|x| x.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        for item in table_items(&sql) {
            item_objects(&sql, t, &item, &columns, &mut o);
        }
    }
    s.objects = Some(o);
    s.index_uses(Engine::Sqlite);
    Ok(s)
}

/// `BEFORE`/`AFTER`/`INSTEAD OF` and the event (`UPDATE OF a, b` included) of a CREATE TRIGGER.
fn trigger_shape(sql: &str) -> Option<(String, String)> {
    let toks: Vec<Token> = tokens(sql, Engine::Sqlite).into_iter().filter(Token::is_code).collect();
    let word = |i: usize| toks.get(i).filter(|t| t.kind == Kind::Word).map(|t| t.text(sql).to_ascii_uppercase()).unwrap_or_default();
    let on = (0..toks.len()).position(|i| word(i) == "ON")?;
    let start = (0..on).position(|i| ["BEFORE", "AFTER", "INSTEAD", "DELETE", "INSERT", "UPDATE"].contains(&word(i).as_str()))?;
    let (timing, event_at) = match word(start).as_str() {
        "BEFORE" => ("BEFORE", start + 1),
        "AFTER" => ("AFTER", start + 1),
        "INSTEAD" => ("INSTEAD OF", start + 2),
        // Without a timing word SQLite runs the trigger BEFORE.
        _ => ("BEFORE", start),
    };
    let event: Vec<&str> = toks[event_at..on].iter().map(|t| t.text(sql)).collect();
    Some((timing.to_string(), event.join(" ").replace(" ,", ",")))
}

/// The top-level items of a CREATE TABLE body (column definitions and table constraints), as
/// their code tokens.
fn table_items(sql: &str) -> Vec<Vec<Token>> {
    let toks: Vec<Token> = tokens(sql, Engine::Sqlite).into_iter().filter(Token::is_code).collect();
    let mut items = Vec::new();
    let mut cur = Vec::new();
    let mut depth = 0usize;
    for t in toks {
        let punct = |p: &str| t.kind == Kind::Punct && t.text(sql) == p;
        if punct("(") {
            depth += 1;
            if depth == 1 {
                continue;
            }
        }
        if punct(")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                items.push(std::mem::take(&mut cur));
                break;
            }
        }
        if depth == 0 {
            continue;
        }
        if depth == 1 && punct(",") {
            items.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(t);
    }
    items.into_iter().filter(|i: &Vec<Token>| !i.is_empty()).collect()
}

/// The text inside the parentheses opening at token `at`, as written, and the index after
/// the closing one.
fn group<'a>(sql: &'a str, item: &[Token], at: usize) -> Option<(&'a str, usize)> {
    let punct = |i: usize, p: &str| item.get(i).is_some_and(|t| t.kind == Kind::Punct && t.text(sql) == p);
    if !punct(at, "(") {
        return None;
    }
    let mut depth = 0;
    for i in at..item.len() {
        if punct(i, "(") {
            depth += 1;
        } else if punct(i, ")") {
            depth -= 1;
            if depth == 0 {
                return Some((sql[item[at].end..item[i].start].trim(), i + 1));
            }
        }
    }
    None
}

/// CHECK constraints and generated columns of one table item.
fn item_objects(sql: &str, table: &str, item: &[Token], columns: &[String], o: &mut Objects) {
    let is = |i: usize, w: &str| item.get(i).is_some_and(|t| t.is_word(sql, w));
    let first_is_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"].iter().any(|w| is(0, w));
    let column = if first_is_constraint {
        None
    } else {
        item.first().map(|t| if t.kind == Kind::QuotedIdent { objects::unquote(t.text(sql)) } else { t.text(sql).to_string() })
    };
    let mut i = 0;
    while i < item.len() {
        if is(i, "CHECK") {
            if let Some((expr, next)) = group(sql, item, i + 1) {
                let uses = objects::mentioned(expr, table, columns, Engine::Sqlite);
                let named = (i >= 2 && is(i - 2, "CONSTRAINT")).then(|| {
                    if item[i - 1].kind == Kind::QuotedIdent {
                        objects::unquote(item[i - 1].text(sql))
                    } else {
                        item[i - 1].text(sql).to_string()
                    }
                });
                let base = column.clone().or_else(|| uses.first().map(|u| u.rsplit('.').next().unwrap_or(u).to_string()));
                // PostgreSQL's scheme for unnamed checks: table_column_check, then …1, …2.
                let taken = |n: &str| o.get("constraint").is_some_and(|c| c.contains_key(&format!("{n} on {table}")));
                let name = named.unwrap_or_else(|| {
                    let stem = format!("{table}_{}check", base.as_ref().map(|b| format!("{b}_")).unwrap_or_default());
                    (0..).map(|k| if k == 0 { stem.clone() } else { format!("{stem}{k}") }).find(|n| !taken(n)).expect("unbounded")
                });
                let name = format!("{name} on {table}");
                objects::set(o, "constraint", &name, "type", Some("check".into()));
                objects::set(o, "constraint", &name, DEFINITION, Some(format!("CHECK ({expr})")));
                objects::set(o, "constraint", &name, USES, Some(uses.join(", ")));
                i = next;
                continue;
            }
        }
        if let (true, Some(col)) = (is(i, "AS"), &column) {
            if let Some((expr, next)) = group(sql, item, i + 1) {
                let name = format!("{table}.{col}");
                let uses = objects::mentioned(expr, table, columns, Engine::Sqlite);
                objects::set(o, "generated column", &name, "expression", Some(expr.to_string()));
                objects::set(o, "generated column", &name, USES, Some(uses.join(", ")));
                i = next;
                continue;
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_generated_columns_are_read_from_the_table_text() {
        let sql =
            "CREATE TABLE t (id INTEGER PRIMARY KEY, age INT CHECK (age > 0), \"Full\" TEXT GENERATED ALWAYS AS (upper(name)) STORED, \
                   name TEXT, CONSTRAINT named CHECK (length(name) < 10), CHECK (age < 200))";
        let cols: Vec<String> = ["id", "age", "Full", "name"].iter().map(|s| s.to_string()).collect();
        let mut o = Objects::new();
        for item in table_items(sql) {
            item_objects(sql, "t", &item, &cols, &mut o);
        }
        let c = &o["constraint"];
        assert_eq!(c.keys().cloned().collect::<Vec<_>>(), vec!["named on t", "t_age_check on t", "t_age_check1 on t"]);
        assert_eq!(c["t_age_check on t"][USES], "t.age");
        assert_eq!(c["named on t"][USES], "t.name");
        assert_eq!(o["generated column"]["t.Full"][USES], "t.name");
    }

    #[test]
    fn trigger_timing_and_events() {
        assert_eq!(
            trigger_shape("CREATE TRIGGER x AFTER UPDATE OF a, b ON t BEGIN SELECT 1; END"),
            Some(("AFTER".into(), "UPDATE OF a, b".into()))
        );
        assert_eq!(trigger_shape("CREATE TRIGGER x INSERT ON t BEGIN SELECT 1; END"), Some(("BEFORE".into(), "INSERT".into())));
    }
}
