//! The schema snapshot of a PostgreSQL target: what `pg_dump --schema-only` shows for the
//! current schema, read from the catalogs with the server's own renderings
//! (`pg_get_functiondef`, `pg_get_triggerdef`, `pg_get_constraintdef`, `pg_get_indexdef`,
//! `pg_get_viewdef`), so that two snapshots differ exactly when the dumps would.
//!
//! Objects that belong to an extension are left out, as `pg_dump` leaves them out: the
//! extension itself is the object. Lists the catalog keeps in insertion order (ACLs, roles)
//! are sorted, so that granting in another order is not a difference.

use std::collections::BTreeMap;

use sqlx::postgres::PgConnection;

use super::objects::{self, Objects, DEFINITION, USES};
use super::{Column, Index, Schema, Table, Trigger};
use crate::db::postgres::text_rows;
use crate::db::Engine;
use crate::error::Result;

/// `pg_namespace.oid` of the schema being snapshotted.
const NS: &str = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())";

/// An ACL array as sorted, comma-separated text (NULL when the object has default privileges).
fn acl(expr: &str) -> String {
    format!("(SELECT string_agg(x::text, ', ' ORDER BY x::text) FROM unnest({expr}) x)")
}

/// `WHERE`-clause part that leaves out objects owned by an extension.
fn not_extension(catalog: &str, oid: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')")
}

type Rows = Vec<Vec<Option<String>>>;

fn cell(r: &[Option<String>], i: usize) -> Option<String> {
    r.get(i).cloned().flatten()
}

fn text(r: &[Option<String>], i: usize) -> String {
    cell(r, i).unwrap_or_default()
}

pub async fn snapshot(conn: &mut PgConnection) -> Result<Schema> {
    let mut s = Schema::default();
    let cols = text_rows(
        conn,
        &format!(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    (NOT a.attnotnull)::text, pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_class c \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
             WHERE c.relnamespace = {NS} AND c.relkind IN ('r', 'p') \
             ORDER BY c.relname, a.attnum"
        ),
    )
    .await?;
    for r in cols {
        s.tables.entry(text(&r, 0)).or_insert_with(Table::default).columns.push(Column {
            name: text(&r, 1),
            type_: text(&r, 2),
            nullable: r[3].as_deref() == Some("true"),
            default: cell(&r, 4),
        });
    }
    let indexes = text_rows(
        conn,
        &format!(
            "SELECT ic.relname::text, tc.relname::text, i.indisunique::text, \
                    (SELECT string_agg(coalesce(a.attname::text, '<expr>'), ',' ORDER BY k.ord) \
                     FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum), \
                    pg_get_indexdef(i.indexrelid), obj_description(ic.oid, 'pg_class'), \
                    CASE WHEN NOT i.indisvalid THEN 'invalid' END \
             FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_class tc ON tc.oid = i.indrelid \
             WHERE tc.relnamespace = {NS} \
             ORDER BY 1"
        ),
    )
    .await?;
    let mut o = Objects::new();
    for r in indexes {
        let name = text(&r, 0);
        s.indexes.insert(
            name.clone(),
            Index {
                table: text(&r, 1),
                columns: text(&r, 3).split(',').filter(|c| !c.is_empty()).map(String::from).collect(),
                unique: r[2].as_deref() == Some("true"),
            },
        );
        objects::set(&mut o, "index", &name, "table", cell(&r, 1));
        objects::set(&mut o, "index", &name, DEFINITION, cell(&r, 4));
        objects::set(&mut o, "index", &name, "comment", cell(&r, 5));
        objects::set(&mut o, "index", &name, "state", cell(&r, 6));
    }
    for r in text_rows(conn, "SELECT viewname::text, definition FROM pg_views WHERE schemaname = current_schema() ORDER BY 1").await? {
        s.views.insert(text(&r, 0), text(&r, 1));
    }
    let triggers = text_rows(
        conn,
        &format!(
            "SELECT t.tgname::text, c.relname::text, t.tgtype::int::text, pg_get_triggerdef(t.oid, true), \
                    f.proname || '(' || pg_get_function_identity_arguments(f.oid) || ')', f.prosrc, t.tgenabled::text, \
                    obj_description(t.oid, 'pg_trigger') \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc f ON f.oid = t.tgfoid \
             WHERE NOT t.tgisinternal AND c.relnamespace = {NS} ORDER BY 1"
        ),
    )
    .await?;
    for r in triggers {
        s.triggers.insert(text(&r, 0), Trigger { table: text(&r, 1) });
        let name = format!("{} on {}", text(&r, 0), text(&r, 1));
        let tgtype: u32 = text(&r, 2).parse().unwrap_or(0);
        let (timing, events, level) = trigger_type(tgtype);
        let put = |o: &mut Objects, aspect: &str, v: Option<String>| objects::set(o, "trigger", &name, aspect, v);
        put(&mut o, "timing", Some(timing));
        put(&mut o, "events", Some(events));
        put(&mut o, "level", Some(level));
        put(&mut o, DEFINITION, cell(&r, 3));
        put(&mut o, "function", cell(&r, 4));
        put(&mut o, "function body", cell(&r, 5));
        put(&mut o, "enabled", cell(&r, 6).map(|e| enabled(&e)));
        put(&mut o, "comment", cell(&r, 7));
    }
    relations(conn, &mut o).await?;
    columns(conn, &s, &mut o).await?;
    functions(conn, &mut o).await?;
    constraints(conn, &mut o).await?;
    policies(conn, &s, &mut o).await?;
    types(conn, &mut o).await?;
    others(conn, &mut o).await?;
    s.objects = Some(o);
    s.index_uses(Engine::Postgres);
    Ok(s)
}

/// Timing, events and level from `pg_trigger.tgtype`'s bits.
fn trigger_type(t: u32) -> (String, String, String) {
    let timing = if t & (1 << 6) != 0 {
        "INSTEAD OF"
    } else if t & (1 << 1) != 0 {
        "BEFORE"
    } else {
        "AFTER"
    };
    let events: Vec<&str> = [(2, "INSERT"), (4, "UPDATE"), (3, "DELETE"), (5, "TRUNCATE")]
        .iter()
        .filter(|(bit, _)| t & (1 << bit) != 0)
        .map(|(_, e)| *e)
        .collect();
    let level = if t & 1 != 0 { "ROW" } else { "STATEMENT" };
    (timing.to_string(), events.join(" OR "), level.to_string())
}

fn enabled(code: &str) -> String {
    match code {
        "O" => "enabled",
        "D" => "disabled",
        "R" => "replica only",
        "A" => "always",
        other => other,
    }
    .to_string()
}

/// Tables, views, materialized views, sequences and foreign tables: owner, grants, comment,
/// and the definition where the object has one.
async fn relations(conn: &mut PgConnection, o: &mut Objects) -> Result<()> {
    let rows: Rows = text_rows(
        conn,
        &format!(
            "SELECT c.relname::text, c.relkind::text, pg_get_userbyid(c.relowner)::text, {}, obj_description(c.oid, 'pg_class'), \
                    CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END, \
                    CASE WHEN c.relforcerowsecurity THEN 'forced' WHEN c.relrowsecurity THEN 'enabled' END, \
                    CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END, \
                    (SELECT 'as ' || format_type(q.seqtypid, NULL) || ' start ' || q.seqstart || ' increment ' || q.seqincrement \
                            || ' min ' || q.seqmin || ' max ' || q.seqmax || ' cache ' || q.seqcache \
                            || CASE WHEN q.seqcycle THEN ' cycle' ELSE ' no cycle' END \
                     FROM pg_sequence q WHERE q.seqrelid = c.oid), \
                    (SELECT tc.relname || '.' || a.attname FROM pg_depend d \
                     JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass \
                       AND d.deptype IN ('a', 'i') AND c.relkind = 'S' LIMIT 1) \
             FROM pg_class c WHERE c.relnamespace = {NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {}",
            acl("c.relacl"),
            not_extension("pg_class", "c.oid")
        ),
    )
    .await?;
    for r in rows {
        let kind = match text(&r, 1).as_str() {
            "v" => "view",
            "m" => "materialized view",
            "S" => "sequence",
            "f" => "foreign table",
            _ => "table",
        };
        let name = text(&r, 0);
        objects::entry(o, kind, &name);
        for (i, aspect) in [(2, "owner"), (3, "grants"), (4, "comment"), (5, DEFINITION), (6, "row level security"), (7, "persistence")] {
            objects::set(o, kind, &name, aspect, cell(&r, i));
        }
        if kind == "sequence" {
            objects::set(o, kind, &name, DEFINITION, cell(&r, 8));
            objects::set(o, kind, &name, "owned by", cell(&r, 9));
        }
    }
    Ok(())
}

/// Per-column aspects of tables and views that the column list does not hold: comments,
/// column grants, identity, generation and collation. Generated columns are also objects of
/// their own, so that they count as dependents of the columns they read.
async fn columns(conn: &mut PgConnection, s: &Schema, o: &mut Objects) -> Result<()> {
    let rows = text_rows(
        conn,
        &format!(
            "SELECT c.relname::text, c.relkind::text, a.attname::text, col_description(c.oid, a.attnum), {}, \
                    CASE a.attidentity WHEN 'a' THEN 'generated always' WHEN 'd' THEN 'generated by default' END, \
                    CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END, \
                    CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END \
             FROM pg_class c \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
             WHERE c.relnamespace = {NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            acl("a.attacl")
        ),
    )
    .await?;
    for r in rows {
        let kind = match text(&r, 1).as_str() {
            "v" => "view",
            "m" => "materialized view",
            "f" => "foreign table",
            _ => "table",
        };
        let (table, col) = (text(&r, 0), text(&r, 2));
        for (i, what) in [(3, "comment"), (4, "grants"), (5, "identity"), (7, "collation")] {
            if let Some(v) = cell(&r, i) {
                objects::set(o, kind, &table, &format!("column {col} {what}"), Some(v));
            }
        }
        if let Some(expr) = cell(&r, 6) {
            let name = format!("{table}.{col}");
            let cols: Vec<String> = s.table(&table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
            let uses = objects::mentioned(&expr, &table, &cols, Engine::Postgres);
            objects::set(o, "generated column", &name, "expression", Some(expr));
            objects::set(o, "generated column", &name, USES, Some(uses.join(", ")));
        }
    }
    Ok(())
}

async fn functions(conn: &mut PgConnection, o: &mut Objects) -> Result<()> {
    let rows = text_rows(
        conn,
        &format!(
            "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prokind::text, \
                    CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, p.prosrc, \
                    pg_get_userbyid(p.proowner)::text, {}, obj_description(p.oid, 'pg_proc') \
             FROM pg_proc p WHERE p.pronamespace = {NS} AND {}",
            acl("p.proacl"),
            not_extension("pg_proc", "p.oid")
        ),
    )
    .await?;
    for r in rows {
        let kind = match text(&r, 1).as_str() {
            "p" => "procedure",
            "a" => "aggregate",
            _ => "function",
        };
        let name = text(&r, 0);
        objects::entry(o, kind, &name);
        for (i, aspect) in [(2, DEFINITION), (3, "body"), (4, "owner"), (5, "grants"), (6, "comment")] {
            objects::set(o, kind, &name, aspect, cell(&r, i));
        }
    }
    Ok(())
}

/// Constraints of every kind, on tables and on domains. CHECK and FOREIGN KEY constraints
/// record the columns they read (both ends of a foreign key) as dependents.
async fn constraints(conn: &mut PgConnection, o: &mut Objects) -> Result<()> {
    let rows = text_rows(
        conn,
        &format!(
            "SELECT co.conname::text, coalesce('on ' || c.relname, 'on domain ' || ty.typname), co.contype::text, \
                    pg_get_constraintdef(co.oid, true), obj_description(co.oid, 'pg_constraint'), \
                    (SELECT string_agg(c.relname || '.' || a.attname, ', ' ORDER BY a.attname) FROM unnest(co.conkey) k \
                     JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k), \
                    (SELECT string_agg(fc.relname || '.' || a.attname, ', ' ORDER BY a.attname) FROM unnest(co.confkey) k \
                     JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k) \
             FROM pg_constraint co \
             LEFT JOIN pg_class c ON c.oid = co.conrelid \
             LEFT JOIN pg_type ty ON ty.oid = co.contypid \
             LEFT JOIN pg_class fc ON fc.oid = co.confrelid \
             WHERE co.connamespace = {NS}"
        ),
    )
    .await?;
    for r in rows {
        let name = format!("{} {}", text(&r, 0), text(&r, 1));
        let contype = text(&r, 2);
        let kind = match contype.as_str() {
            "c" => "check",
            "f" => "foreign key",
            "p" => "primary key",
            "u" => "unique",
            "x" => "exclusion",
            "t" => "trigger",
            "n" => "not null",
            other => other,
        };
        objects::set(o, "constraint", &name, "type", Some(kind.to_string()));
        objects::set(o, "constraint", &name, DEFINITION, cell(&r, 3));
        objects::set(o, "constraint", &name, "comment", cell(&r, 4));
        if contype == "c" || contype == "f" {
            let uses: Vec<String> = [cell(&r, 5), cell(&r, 6)].into_iter().flatten().collect();
            objects::set(o, "constraint", &name, USES, Some(uses.join(", ")));
        }
    }
    Ok(())
}

/// Row-level security policies; the columns their expressions read are their dependents.
async fn policies(conn: &mut PgConnection, s: &Schema, o: &mut Objects) -> Result<()> {
    let rows = text_rows(
        conn,
        &format!(
            "SELECT p.polname::text, c.relname::text, p.polcmd::text, \
                    CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END, \
                    (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ', ' ORDER BY 1) FROM unnest(p.polroles) r), \
                    pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) \
             FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = {NS}"
        ),
    )
    .await?;
    for r in rows {
        let table = text(&r, 1);
        let name = format!("{} on {table}", text(&r, 0));
        let command = match text(&r, 2).as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        objects::set(o, "policy", &name, "command", Some(command.to_string()));
        for (i, aspect) in [(3, "mode"), (4, "roles"), (5, "using"), (6, "with check")] {
            objects::set(o, "policy", &name, aspect, cell(&r, i));
        }
        let cols: Vec<String> = s.table(&table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        let mut uses = Vec::new();
        for expr in [cell(&r, 5), cell(&r, 6)].into_iter().flatten() {
            uses.extend(objects::mentioned(&expr, &table, &cols, Engine::Postgres));
        }
        uses.sort();
        uses.dedup();
        objects::set(o, "policy", &name, USES, Some(uses.join(", ")));
    }
    Ok(())
}

/// Enum, domain, composite and range types (not the row types every table has).
async fn types(conn: &mut PgConnection, o: &mut Objects) -> Result<()> {
    let rows = text_rows(
        conn,
        &format!(
            "SELECT t.typname::text, t.typtype::text, pg_get_userbyid(t.typowner)::text, {}, obj_description(t.oid, 'pg_type'), \
                    CASE t.typtype \
                      WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) \
                      WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || coalesce(' DEFAULT ' || t.typdefault, '') \
                                    || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END \
                      WHEN 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) \
                                     FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
                      WHEN 'r' THEN (SELECT 'range of ' || format_type(g.rngsubtype, NULL) FROM pg_range g WHERE g.rngtypid = t.oid) \
                    END \
             FROM pg_type t LEFT JOIN pg_class tc ON tc.oid = t.typrelid \
             WHERE t.typnamespace = {NS} AND t.typtype IN ('e', 'd', 'c', 'r') AND (t.typtype <> 'c' OR tc.relkind = 'c') AND {}",
            acl("t.typacl"),
            not_extension("pg_type", "t.oid")
        ),
    )
    .await?;
    for r in rows {
        let name = text(&r, 0);
        let kind = match text(&r, 1).as_str() {
            "e" => "enum",
            "d" => "domain",
            "c" => "composite",
            _ => "range",
        };
        objects::set(o, "type", &name, "kind", Some(kind.to_string()));
        for (i, aspect) in [(2, "owner"), (3, "grants"), (4, "comment"), (5, DEFINITION)] {
            objects::set(o, "type", &name, aspect, cell(&r, i));
        }
    }
    Ok(())
}

/// The schema itself (owner, grants, comment), its rules, and the database's extensions.
async fn others(conn: &mut PgConnection, o: &mut Objects) -> Result<()> {
    let schema = text_rows(
        conn,
        &format!(
            "SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text, {}, obj_description(n.oid, 'pg_namespace') \
             FROM pg_namespace n WHERE n.nspname = current_schema()",
            acl("n.nspacl")
        ),
    )
    .await?;
    for r in schema {
        let name = text(&r, 0);
        objects::entry(o, "schema", &name);
        for (i, aspect) in [(1, "owner"), (2, "grants"), (3, "comment")] {
            objects::set(o, "schema", &name, aspect, cell(&r, i));
        }
    }
    for r in
        text_rows(conn, "SELECT rulename::text || ' on ' || tablename::text, definition FROM pg_rules WHERE schemaname = current_schema()")
            .await?
    {
        objects::set(o, "rule", &text(&r, 0), DEFINITION, cell(&r, 1));
    }
    let mut extensions: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for r in text_rows(
        conn,
        "SELECT e.extname::text, e.extversion, n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace",
    )
    .await?
    {
        extensions.insert(text(&r, 0), (cell(&r, 1), cell(&r, 2)));
    }
    for (name, (version, schema)) in extensions {
        objects::set(o, "extension", &name, "version", version);
        objects::set(o, "extension", &name, "schema", schema);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_bits_read_as_timing_events_and_level() {
        // BEFORE INSERT OR UPDATE FOR EACH ROW: ROW(1) | BEFORE(2) | INSERT(4) | UPDATE(16).
        assert_eq!(trigger_type(1 | 2 | 4 | 16), ("BEFORE".into(), "INSERT OR UPDATE".into(), "ROW".into()));
        assert_eq!(trigger_type(8), ("AFTER".into(), "DELETE".into(), "STATEMENT".into()));
        assert_eq!(trigger_type(1 | 64 | 4), ("INSTEAD OF".into(), "INSERT".into(), "ROW".into()));
    }
}
