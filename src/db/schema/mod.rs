//! A schema snapshot, stored in the journal and in approvals and compared by `rehearse`,
//! `schema_unchanged_since` and the approval drift check.
//!
//! Two parts: an engine-neutral model of tables, columns, indexes, views and triggers, which
//! assertions and `plan`'s simulation read; and [`objects`], every object the engine's own
//! schema dump shows (functions, trigger timing and bodies, constraints, index definitions,
//! grants, comments, …) in the engine's rendering. The per-engine catalog queries live in
//! [`postgres`], [`mysql`] and [`sqlite`].
//!
//! Snapshots stored before the second part existed have no `objects`; comparing with one
//! compares the first part only, as it was compared when it was stored.

pub mod mysql;
pub mod objects;
pub mod postgres;
pub mod sqlite;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use objects::Objects;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    pub indexes: BTreeMap<String, Index>,
    pub views: BTreeMap<String, String>,
    pub triggers: BTreeMap<String, Trigger>,
    /// Every object of the engine's schema dump; `None` in a snapshot stored by an older
    /// version, which is then compared on the fields above only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Objects>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type as the engine reports it.
    #[serde(rename = "type")]
    pub type_: String,
    pub nullable: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub table: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub table: String,
}

/// An object that uses a column, as `no_dependents_except` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    pub kind: String,
    pub name: String,
}

impl Dependent {
    fn new(kind: &str, name: &str) -> Self {
        Dependent { kind: kind.to_string(), name: name.to_string() }
    }

    /// Whether a runbook's `no_dependents_except` entry names this object: by its name (with
    /// or without the table a constraint or trigger is on), or as `kind name`.
    pub fn is(&self, want: &str) -> bool {
        let want = want.trim();
        if objects::name_matches(&self.name, want) {
            return true;
        }
        want.len() > self.kind.len()
            && want[..self.kind.len()].eq_ignore_ascii_case(&self.kind)
            && objects::name_matches(&self.name, want[self.kind.len()..].trim())
    }
}

impl std::fmt::Display for Dependent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

impl Schema {
    pub fn column(&self, table: &str, column: &str) -> Option<&Column> {
        self.table(table)?.columns.iter().find(|c| c.name.eq_ignore_ascii_case(column))
    }

    /// Table lookup; names compare case-insensitively, as all three engines fold them by default.
    pub fn table(&self, table: &str) -> Option<&Table> {
        self.tables.get(table).or_else(|| self.tables.iter().find(|(k, _)| k.eq_ignore_ascii_case(table)).map(|(_, v)| v))
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.get(name).or_else(|| self.indexes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }

    /// Objects that use `table.column`: indexes on it, views that mention it, triggers on its
    /// table, and CHECK and FOREIGN KEY constraints, generated columns and policies that read it.
    pub fn dependents(&self, table: &str, column: &str) -> Vec<Dependent> {
        let mut out = Vec::new();
        for (name, ix) in &self.indexes {
            if ix.table.eq_ignore_ascii_case(table) && ix.columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
                out.push(Dependent::new("index", name));
            }
        }
        let one = [column.to_string()];
        for (name, def) in &self.views {
            if !objects::mentioned(def, table, &one, crate::db::Engine::Sqlite).is_empty() {
                out.push(Dependent::new("view", name));
            }
        }
        for (name, t) in &self.triggers {
            if t.table.eq_ignore_ascii_case(table) {
                out.push(Dependent::new("trigger", name));
            }
        }
        let pair = format!("{table}.{column}");
        for (kind, objs) in self.objects.iter().flatten() {
            for (name, aspects) in objs {
                let uses = aspects.get(objects::USES).map(String::as_str).unwrap_or("");
                let dependent = Dependent::new(kind, name);
                if uses.split(", ").any(|u| u.eq_ignore_ascii_case(&pair)) && !out.contains(&dependent) {
                    out.push(dependent);
                }
            }
        }
        out
    }

    /// Record, on each index object, the columns its definition reads (key columns,
    /// expressions, the `WHERE` predicate), so that an expression or partial index counts as
    /// a dependent of every column it mentions. Called by each engine's snapshot at its end.
    pub fn index_uses(&mut self, engine: crate::db::Engine) {
        let Some(o) = self.objects.as_mut() else { return };
        for aspects in o.get_mut("index").into_iter().flat_map(|m| m.values_mut()) {
            let (Some(table), Some(def)) = (aspects.get("table"), aspects.get(objects::DEFINITION)) else { continue };
            let Some(t) = self.tables.iter().find(|(k, _)| k.eq_ignore_ascii_case(table)) else { continue };
            let cols: Vec<String> = t.1.columns.iter().map(|c| c.name.clone()).collect();
            // What follows the first parenthesis: the name and the table come before it.
            let body = def.find('(').map(|i| &def[i..]).unwrap_or("");
            let uses = objects::mentioned(body, t.0, &cols, engine);
            aspects.insert(objects::USES.to_string(), uses.join(", "));
        }
    }

    /// The objects of `kind` whose name matches `want` (see [`objects::name_matches`]).
    pub fn objects_named<'a>(&'a self, kind: &'a str, want: &'a str) -> impl Iterator<Item = (&'a String, &'a objects::Aspects)> + 'a {
        self.objects.iter().flat_map(move |o| o.get(kind)).flatten().filter(move |(n, _)| objects::name_matches(n, want))
    }

    /// Apply what a statement creates or drops, as `plan` simulates a run: a table created by
    /// an earlier statement is then known to the prechecks of later ones. Objects the snapshot
    /// does not hold (functions, constraints, …) are ignored.
    pub fn apply(&mut self, ch: &crate::sql::objects::Change) {
        use crate::sql::objects::{Object, Verb};
        // Insert when absent / remove, with names compared case-insensitively.
        fn put<V>(m: &mut BTreeMap<String, V>, name: &str, v: V) {
            if !m.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                m.insert(name.to_string(), v);
            }
        }
        fn take<V>(m: &mut BTreeMap<String, V>, name: &str) {
            m.retain(|k, _| !k.eq_ignore_ascii_case(name));
        }
        let on_table = || ch.on_table.clone().unwrap_or_default();
        match (ch.verb, &ch.object) {
            (Verb::Create, Object::Table(t)) => put(&mut self.tables, t, Table::default()),
            (Verb::Drop, Object::Table(t)) => {
                take(&mut self.tables, t);
                self.indexes.retain(|_, ix| !ix.table.eq_ignore_ascii_case(t));
                self.triggers.retain(|_, tr| !tr.table.eq_ignore_ascii_case(t));
            }
            (verb, Object::Column { table, column }) => {
                let Some(t) = self.tables.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(table)).map(|(_, t)| t) else { return };
                let present = t.columns.iter().any(|c| c.name.eq_ignore_ascii_case(column));
                match verb {
                    Verb::Create if !present => {
                        t.columns.push(Column { name: column.clone(), type_: String::new(), nullable: true, default: None })
                    }
                    Verb::Drop => t.columns.retain(|c| !c.name.eq_ignore_ascii_case(column)),
                    Verb::Create => {}
                }
            }
            (Verb::Create, Object::Index(n)) => put(&mut self.indexes, n, Index { table: on_table(), columns: Vec::new(), unique: false }),
            (Verb::Drop, Object::Index(n)) => take(&mut self.indexes, n),
            (Verb::Create, Object::View(n)) => put(&mut self.views, n, String::new()),
            (Verb::Drop, Object::View(n)) => take(&mut self.views, n),
            (Verb::Create, Object::Trigger(n)) => put(&mut self.triggers, n, Trigger { table: on_table() }),
            (Verb::Drop, Object::Trigger(n)) => take(&mut self.triggers, n),
            _ => {}
        }
    }

    pub fn trigger(&self, name: &str) -> Option<&Trigger> {
        self.triggers.get(name).or_else(|| self.triggers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }

    pub fn view(&self, name: &str) -> Option<&String> {
        self.views.get(name).or_else(|| self.views.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
    }

    /// Human-readable differences from `self` (before) to `after`; empty when equal.
    pub fn diff(&self, after: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        for (name, t) in &self.tables {
            match after.tables.get(name) {
                None => out.push(format!("- table {name} was dropped")),
                Some(t2) => {
                    for c in &t.columns {
                        match t2.columns.iter().find(|x| x.name == c.name) {
                            None => out.push(format!("- column {name}.{} was dropped", c.name)),
                            Some(c2) if c2 != c => {
                                out.push(format!("~ column {name}.{} changed: {} → {}", c.name, describe(c), describe(c2)))
                            }
                            _ => {}
                        }
                    }
                    for c in &t2.columns {
                        if !t.columns.iter().any(|x| x.name == c.name) {
                            out.push(format!("+ column {name}.{} was added ({})", c.name, describe(c)));
                        }
                    }
                }
            }
        }
        for name in after.tables.keys().filter(|n| !self.tables.contains_key(*n)) {
            out.push(format!("+ table {name} was added"));
        }
        let (Some(before), Some(now)) = (&self.objects, &after.objects) else {
            // A snapshot from before whole-schema objects: compare what it holds.
            diff_map(&mut out, "index", &self.indexes, &after.indexes, |i| {
                format!("{}on {}({})", if i.unique { "unique " } else { "" }, i.table, i.columns.join(", "))
            });
            diff_map(&mut out, "view", &self.views, &after.views, |v| v.clone());
            diff_map(&mut out, "trigger", &self.triggers, &after.triggers, |t| format!("on {}", t.table));
            return out;
        };
        // Indexes, views and triggers are objects too, with more said about each; tables are
        // reported above, column by column, so their own appearance and disappearance and
        // SQLite's whole table text are only repeated when the columns say nothing.
        let tables_named: Vec<String> = out.clone();
        let said =
            |table: &str| tables_named.iter().any(|l| l.contains(&format!(" table {table} ")) || l.contains(&format!(" column {table}.")));
        let mut more = Vec::new();
        objects::diff(before, now, &mut more, |kind, name| {
            kind == "table"
                && (!before.get(kind).is_some_and(|t| t.contains_key(name)) || !now.get(kind).is_some_and(|t| t.contains_key(name)))
        });
        out.extend(more.into_iter().filter(|l| {
            !l.split_once(": ")
                .is_some_and(|(head, what)| head.strip_prefix("~ table ").is_some_and(&said) && what.starts_with(objects::DEFINITION))
        }));
        out
    }
}

fn describe(c: &Column) -> String {
    let mut s = format!("{} {}", c.type_, if c.nullable { "NULL" } else { "NOT NULL" });
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    s
}

fn diff_map<T: PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    show: impl Fn(&T) -> String,
) {
    for (name, v) in before {
        match after.get(name) {
            None => out.push(format!("- {what} {name} was dropped ({})", show(v))),
            Some(v2) if v2 != v => out.push(format!("~ {what} {name} changed: {} → {}", show(v), show(v2))),
            _ => {}
        }
    }
    for (name, v) in after {
        if !before.contains_key(name) {
            out.push(format!("+ {what} {name} was added ({})", show(v)));
        }
    }
}

/// Normalise a type name so that runbooks can write one spelling for every engine:
/// `varchar(36)`, `VARCHAR(36)` and `character varying(36)` are the same type. The mapping is
/// the table "Types across engines" in docs/runbook-format.md; keep the two in step.
pub fn normalize_type(t: &str) -> String {
    let lower = t.trim().to_ascii_lowercase();
    let compact: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let compact = compact.replace(" (", "(").replace(", ", ",");
    // MariaDB/MySQL's BOOLEAN is TINYINT(1), and that is how they report it.
    if compact == "tinyint(1)" {
        return "bool".into();
    }
    let aliases = [
        ("character varying", "varchar"),
        ("character", "char"),
        ("integer", "int"),
        ("int4", "int"),
        ("int8", "bigint"),
        ("int2", "smallint"),
        // SERIAL and friends are integers with a sequence default; PostgreSQL reports the
        // integer type, and MariaDB's SERIAL is BIGINT UNSIGNED … AUTO_INCREMENT.
        ("serial", "int"),
        ("serial4", "int"),
        ("bigserial", "bigint"),
        ("serial8", "bigint"),
        ("smallserial", "smallint"),
        ("boolean", "bool"),
        ("double precision", "double"),
        ("float8", "double"),
        ("decimal", "numeric"),
        ("timestamp without time zone", "timestamp"),
        ("timestamp with time zone", "timestamptz"),
    ];
    // base name, then an optional `(…)`, then modifiers such as `unsigned`.
    let (base, args, tail) = match (compact.find('('), compact.find(')')) {
        (Some(i), Some(j)) if j > i => (&compact[..i], &compact[i..=j], compact[j + 1..].trim()),
        _ => (compact.as_str(), "", ""),
    };
    let base = aliases.iter().find(|(a, _)| *a == base).map(|(_, b)| *b).unwrap_or(base);
    // MySQL reports display widths such as int(11); they carry no meaning for comparison.
    let args = if ["int", "bigint", "smallint", "tinyint", "mediumint"].contains(&base) { "" } else { args };
    let tail = if tail.is_empty() { String::new() } else { format!(" {tail}") };
    format!("{base}{args}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_spellings_compare_equal_across_engines() {
        assert_eq!(normalize_type("VARCHAR(36)"), normalize_type("character varying(36)"));
        assert_eq!(normalize_type("int(11)"), normalize_type("integer"));
        assert_ne!(normalize_type("varchar(36)"), normalize_type("varchar(64)"));
        assert_eq!(normalize_type("SERIAL"), normalize_type("integer"));
        assert_eq!(normalize_type("bigserial"), normalize_type("bigint(20)"));
        assert_eq!(normalize_type("boolean"), normalize_type("tinyint(1)"));
        assert_eq!(normalize_type("DECIMAL(10, 2)"), normalize_type("numeric(10,2)"));
        assert_eq!(normalize_type("int(10) unsigned"), "int unsigned");
        assert_ne!(normalize_type("int unsigned"), normalize_type("int"));
        assert_ne!(normalize_type("varchar(36)"), normalize_type("text"));
    }

    #[test]
    fn diff_names_added_and_dropped_objects() {
        let mut a = Schema::default();
        a.tables
            .insert("t".into(), Table { columns: vec![Column { name: "id".into(), type_: "int".into(), nullable: false, default: None }] });
        let mut b = a.clone();
        b.tables.get_mut("t").unwrap().columns.push(Column { name: "x".into(), type_: "text".into(), nullable: true, default: None });
        b.indexes.insert("ix".into(), Index { table: "t".into(), columns: vec!["x".into()], unique: true });
        let d = a.diff(&b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("t.x was added"));
        assert!(d[1].contains("index ix was added"));
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn a_snapshot_stored_before_objects_compares_on_what_it_holds() {
        // As journals and approvals of earlier versions stored it: no `objects`.
        let old: Schema = serde_json::from_str(
            r#"{"tables":{"t":{"columns":[{"name":"id","type":"integer","nullable":false,"default":null}]}},"indexes":{},"views":{},"triggers":{"tr":{"table":"t"}}}"#,
        )
        .unwrap();
        assert!(old.objects.is_none());
        let mut now = old.clone();
        let mut o = Objects::new();
        objects::set(&mut o, "trigger", "tr on t", "timing", Some("AFTER".into()));
        objects::set(&mut o, "function", "f()", "body", Some("x".into()));
        now.objects = Some(o.clone());
        assert!(old.diff(&now).is_empty(), "{:?}", old.diff(&now));
        assert!(now.diff(&old).is_empty());
        // Both whole: the objects are compared.
        let mut before = now.clone();
        objects::set(before.objects.as_mut().unwrap(), "trigger", "tr on t", "timing", Some("BEFORE".into()));
        assert_eq!(before.diff(&now), vec!["~ trigger tr on t: timing BEFORE → AFTER".to_string()]);
        // And a new snapshot serialises its objects, an old one nothing new.
        assert!(!serde_json::to_string(&old).unwrap().contains("objects"));
        assert!(serde_json::to_string(&now).unwrap().contains("\"objects\""));
    }
}
