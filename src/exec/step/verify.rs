//! `verify`: schema assertions, query assertions, and comparison of the whole schema with a
//! snapshot. Every assertion is recorded with its expected and actual values.

use crate::db::schema::normalize_type;
use crate::db::schema::objects::{Aspects, DEFINITION};
use crate::db::{Engine, Schema};
use crate::error::{Error, Result};
use crate::exec::{baseline, Runner};
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::{Baseline, Op, SchemaCheck, Step, VerifyAction};

pub fn describe(a: &VerifyAction, vars: &Vars, engine: Engine) -> String {
    let mut lines: Vec<String> = a.schema.iter().map(|c| format!("assert {}", check_label(c))).collect();
    for q in &a.queries {
        let sql = super::sql_for(&q.sql, engine)
            .map(|s| crate::sql::bind::shown(&s, engine, vars))
            .unwrap_or_else(|| format!("<no SQL for {engine}>"));
        let expect = q.expected().map(|e| vars.mask(&e.0)).unwrap_or_else(|| "NULL".into());
        lines.push(format!("assert ({}) {} {}", sql.trim(), q.op.as_str(), expect));
    }
    for item in &a.checklist {
        lines.push(format!("[ ] {}", vars.mask(item)));
    }
    if let Some(b) = a.unchanged_since {
        lines.push(match b {
            Baseline::Start => "assert the schema equals the snapshot taken at the start of this run".into(),
            Baseline::Plan => "assert the schema equals the snapshot taken before the change plan".into(),
        });
    }
    lines.join("\n")
}

fn check_label(c: &SchemaCheck) -> String {
    let exists = c.exists.unwrap_or(true);
    let on_table = || c.table.as_ref().map(|t| format!(" on {t}")).unwrap_or_default();
    let mut s = if let Some(ix) = &c.index {
        format!("index {ix}{}", on_table())
    } else if let Some(v) = &c.view {
        format!("view {v}")
    } else if let Some(t) = &c.trigger {
        format!("trigger {t}{}", on_table())
    } else if let Some(f) = &c.function {
        format!("function {f}")
    } else if let Some(k) = &c.constraint {
        format!("constraint {k}{}", on_table())
    } else if let Some(col) = &c.column {
        format!("column {}.{col}", c.table.as_deref().unwrap_or("?"))
    } else {
        format!("table {}", c.table.as_deref().unwrap_or("?"))
    };
    if let Some(g) = &c.grantee {
        let privs = c.privileges.as_deref().unwrap_or_default().join(", ");
        s.push_str(&format!(": {g} {} {privs}", if exists { "holds" } else { "holds none of" }));
        return s;
    }
    s.push_str(if exists { " exists" } else { " is absent" });
    if let Some(t) = &c.type_ {
        s.push_str(&format!(", type {t}"));
    }
    if let Some(n) = c.nullable {
        s.push_str(if n { ", nullable" } else { ", NOT NULL" });
    }
    if let Some(u) = c.unique {
        s.push_str(if u { ", unique" } else { ", not unique" });
    }
    if let Some(t) = &c.timing {
        s.push_str(&format!(", {t}"));
    }
    if let Some(e) = &c.events {
        s.push_str(&format!(" {}", e.join(" OR ")));
    }
    if let Some(x) = &c.contains {
        s.push_str(&format!(", definition contains {x:?}"));
    }
    if let Some(except) = &c.no_dependents_except {
        s.push_str(&format!(", used by nothing{}", if except.is_empty() { String::new() } else { format!(" but {}", except.join(", ")) }));
    }
    s
}

/// One evaluated schema assertion: (label, expected, actual, passed).
pub fn evaluate(schema: &Schema, c: &SchemaCheck) -> Vec<(String, String, String, bool)> {
    let want = c.exists.unwrap_or(true);
    let mut out = Vec::new();
    let presence = |found: bool| if found { "exists".to_string() } else { "absent".to_string() };
    let expect_presence = if want { "exists" } else { "absent" }.to_string();
    // With `grantee` the assertion is about privileges, and `exists` about those: the object
    // itself must exist either way.
    let (want_object, expect_object) = if c.grantee.is_some() { (true, "exists".to_string()) } else { (want, expect_presence.clone()) };
    if let Some(ix) = &c.index {
        let found = schema.index(ix).filter(|i| c.table.as_ref().is_none_or(|t| i.table.eq_ignore_ascii_case(t)));
        out.push((format!("index {ix}"), expect_presence, presence(found.is_some()), found.is_some() == want));
        if let (Some(i), Some(u)) = (found, c.unique) {
            out.push((format!("index {ix} unique"), u.to_string(), i.unique.to_string(), i.unique == u));
        }
        if found.is_some() {
            let object = schema.objects_named("index", ix).next();
            contains(&mut out, &format!("index {ix}"), object.map(|o| o.1), &[DEFINITION], c);
        }
    } else if let Some(v) = &c.view {
        let found = schema.views.keys().any(|k| k.eq_ignore_ascii_case(v));
        out.push((format!("view {v}"), expect_object, presence(found), found == want_object));
        if found {
            let object = schema.objects_named("view", v).next();
            contains(&mut out, &format!("view {v}"), object.map(|o| o.1), &[DEFINITION], c);
            grant(&mut out, &format!("view {v}"), object.map(|o| o.1), false, c);
        }
    } else if let Some(t) = &c.trigger {
        trigger(&mut out, schema, t, c);
    } else if let Some(f) = &c.function {
        let found: Vec<_> = ["function", "procedure", "aggregate"].iter().flat_map(|k| schema.objects_named(k, f)).collect();
        out.push((format!("function {f}"), expect_object, presence(!found.is_empty()), found.is_empty() != want_object));
        if let Some((name, aspects)) = found.first() {
            let label = format!("function {name}");
            contains(&mut out, &label, Some(aspects), &[DEFINITION, "body"], c);
            grant(&mut out, &label, Some(aspects), true, c);
        }
    } else if let Some(k) = &c.constraint {
        let found: Vec<_> = schema.objects_named("constraint", k).filter(|(n, _)| on(n, c.table.as_deref())).collect();
        let label = format!("constraint {k}{}", c.table.as_ref().map(|t| format!(" on {t}")).unwrap_or_default());
        out.push((label.clone(), expect_presence, presence(!found.is_empty()), found.is_empty() != want));
        if let Some((_, aspects)) = found.first() {
            if let Some(t) = &c.type_ {
                let kind = |s: &str| s.trim().replace('_', " ").to_ascii_lowercase();
                let actual = aspects.get("type").cloned().unwrap_or_default();
                out.push((format!("{label} type"), t.clone(), actual.clone(), kind(t) == kind(&actual)));
            }
            contains(&mut out, &label, Some(aspects), &[DEFINITION], c);
        }
    } else if let (Some(table), Some(col)) = (&c.table, &c.column) {
        let found = schema.column(table, col);
        out.push((format!("column {table}.{col}"), expect_presence, presence(found.is_some()), found.is_some() == want));
        if let Some(found) = found {
            if let Some(t) = &c.type_ {
                let ok = normalize_type(t) == normalize_type(&found.type_);
                out.push((format!("column {table}.{col} type"), t.clone(), found.type_.clone(), ok));
            }
            if let Some(n) = c.nullable {
                let show = |b: bool| if b { "nullable" } else { "NOT NULL" }.to_string();
                out.push((format!("column {table}.{col} nullability"), show(n), show(found.nullable), found.nullable == n));
            }
            if let Some(except) = &c.no_dependents_except {
                let others: Vec<String> =
                    schema.dependents(table, col).into_iter().filter(|d| !except.iter().any(|e| d.is(e))).map(|d| d.to_string()).collect();
                let expected = if except.is_empty() { "none".to_string() } else { format!("none besides {}", except.join(", ")) };
                let actual = if others.is_empty() { "none".to_string() } else { others.join(", ") };
                out.push((format!("objects using {table}.{col}"), expected, actual, others.is_empty()));
            }
        }
    } else if let Some(table) = &c.table {
        let found = schema.table(table).is_some();
        out.push((format!("table {table}"), expect_object, presence(found), found == want_object));
        if found {
            let object =
                ["table", "sequence", "materialized view", "foreign table"].iter().find_map(|k| schema.objects_named(k, table).next());
            grant(&mut out, &format!("table {table}"), object.map(|o| o.1), false, c);
        }
    }
    out
}

/// Whether an object named `name on table` (a trigger's or constraint's name) is on `table`.
fn on(name: &str, table: Option<&str>) -> bool {
    table.is_none_or(|t| name.to_ascii_lowercase().ends_with(&format!(" on {}", t.to_ascii_lowercase())))
}

fn trigger(out: &mut Vec<(String, String, String, bool)>, schema: &Schema, t: &str, c: &SchemaCheck) {
    let want = c.exists.unwrap_or(true);
    let label = format!("trigger {t}{}", c.table.as_ref().map(|x| format!(" on {x}")).unwrap_or_default());
    let presence = |found: bool| if found { "exists".to_string() } else { "absent".to_string() };
    let expect = if want { "exists" } else { "absent" }.to_string();
    let legacy = schema
        .triggers
        .iter()
        .any(|(k, tr)| k.eq_ignore_ascii_case(t) && c.table.as_ref().is_none_or(|x| tr.table.eq_ignore_ascii_case(x)));
    let object = schema.objects_named("trigger", t).find(|(n, _)| on(n, c.table.as_deref())).map(|o| o.1);
    let found = legacy || object.is_some();
    out.push((label.clone(), expect, presence(found), found == want));
    let Some(aspects) = object else { return };
    let words = |s: &str| s.split_whitespace().map(str::to_ascii_uppercase).collect::<Vec<_>>().join(" ");
    if let Some(timing) = &c.timing {
        let actual = aspects.get("timing").cloned().unwrap_or_default();
        out.push((format!("{label} timing"), words(timing), actual.clone(), words(timing) == words(&actual)));
    }
    if let Some(events) = &c.events {
        // "INSERT OR UPDATE" (PostgreSQL), "UPDATE OF a, b" (SQLite): the event is the first word.
        let set = |items: Vec<String>| -> std::collections::BTreeSet<String> {
            items.iter().filter_map(|e| e.split_whitespace().next().map(str::to_ascii_uppercase)).collect()
        };
        let actual = aspects.get("events").cloned().unwrap_or_default();
        let got = set(actual.split(" OR ").map(String::from).collect());
        let wanted = set(events.clone());
        let show = |s: &std::collections::BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        out.push((format!("{label} events"), show(&wanted), show(&got), wanted == got));
    }
    contains(out, &label, Some(aspects), &[DEFINITION, "body", "function body"], c);
}

/// `contains:`: the text appears in one of `aspects` of the object, case, spacing and
/// identifier quotes ignored.
fn contains(out: &mut Vec<(String, String, String, bool)>, label: &str, object: Option<&Aspects>, aspects: &[&str], c: &SchemaCheck) {
    let Some(want) = &c.contains else { return };
    // Engines quote identifiers in their renderings as they please (`age`, "Age"); a runbook
    // should not have to guess which.
    let squeeze = |s: &str| s.replace(['`', '"'], "").split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let texts: Vec<&String> = aspects.iter().filter_map(|a| object.and_then(|o| o.get(*a))).collect();
    let ok = texts.iter().any(|t| squeeze(t).contains(&squeeze(want)));
    let actual = texts.first().map(|t| squeeze(t)).unwrap_or_else(|| "no definition".into());
    out.push((format!("{label} definition"), format!("contains {want:?}"), actual, ok));
}

/// `grantee` + `privileges`: which of the privileges the grantee holds on the object.
fn grant(out: &mut Vec<(String, String, String, bool)>, label: &str, object: Option<&Aspects>, routine: bool, c: &SchemaCheck) {
    let Some(grantee) = &c.grantee else { return };
    let want = c.exists.unwrap_or(true);
    let wanted: Vec<String> = c.privileges.iter().flatten().map(|p| p.trim().to_ascii_uppercase()).collect();
    let held = object.map(|o| privileges_of(o, grantee, routine)).unwrap_or_default();
    let hits: Vec<&String> = wanted.iter().filter(|p| held.contains(*p)).collect();
    let ok = if want { hits.len() == wanted.len() } else { hits.is_empty() };
    let expected = format!("{} {}", if want { "holds" } else { "holds none of" }, wanted.join(", "));
    let actual = if held.is_empty() {
        "holds nothing".to_string()
    } else {
        format!("holds {}", held.iter().cloned().collect::<Vec<_>>().join(", "))
    };
    out.push((format!("{label}: privileges of {grantee}"), expected, actual, ok));
}

/// The privileges `grantee` holds according to an object's `grants` aspect: PostgreSQL ACL
/// items (`role=arw/grantor`, an empty role for PUBLIC; no ACL at all means the owner holds
/// everything and, on routines, PUBLIC may execute) or MariaDB/MySQL items (`'u'@'h' SELECT`).
fn privileges_of(object: &Aspects, grantee: &str, routine: bool) -> std::collections::BTreeSet<String> {
    let mut held = std::collections::BTreeSet::new();
    let g = grantee.trim().trim_matches('"');
    let Some(grants) = object.get("grants") else {
        if object.get("owner").is_some_and(|o| o.eq_ignore_ascii_case(g)) {
            held.extend(PG_PRIVILEGES.iter().map(|(_, p)| p.to_string()));
        } else if routine && g.eq_ignore_ascii_case("public") && object.contains_key("owner") {
            held.insert("EXECUTE".to_string());
        }
        return held;
    };
    for item in grants.split(", ") {
        if let Some((role, rest)) = item.split_once('=').filter(|_| item.contains('/')) {
            let role = role.trim_matches('"');
            let is = if role.is_empty() { g.eq_ignore_ascii_case("public") } else { role.eq_ignore_ascii_case(g) };
            if is {
                let letters = rest.split('/').next().unwrap_or("");
                held.extend(PG_PRIVILEGES.iter().filter(|(l, _)| letters.contains(*l)).map(|(_, p)| p.to_string()));
            }
        } else if let Some(at) = item.find("' ") {
            let (account, privilege) = item.split_at(at + 1);
            let user = account.split('@').next().unwrap_or("").trim_matches('\'');
            if account.eq_ignore_ascii_case(g) || user.eq_ignore_ascii_case(g) {
                held.insert(privilege.trim().trim_end_matches(" WITH GRANT OPTION").to_ascii_uppercase());
            }
        }
    }
    held
}

/// PostgreSQL's ACL letters.
const PG_PRIVILEGES: [(char, &str); 12] = [
    ('r', "SELECT"),
    ('w', "UPDATE"),
    ('a', "INSERT"),
    ('d', "DELETE"),
    ('D', "TRUNCATE"),
    ('x', "REFERENCES"),
    ('t', "TRIGGER"),
    ('X', "EXECUTE"),
    ('U', "USAGE"),
    ('C', "CREATE"),
    ('c', "CONNECT"),
    ('T', "TEMPORARY"),
];

/// Compare a query result with an expectation; numbers compare as numbers.
pub fn compare(actual: Option<&str>, op: Op, expected: Option<&str>) -> bool {
    match (actual, expected) {
        (None, None) => op == Op::Eq,
        (None, Some(_)) | (Some(_), None) => op == Op::Ne,
        (Some(a), Some(e)) => {
            if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), e.trim().parse::<f64>()) {
                return match op {
                    Op::Eq => x == y,
                    Op::Ne => x != y,
                    Op::Lt => x < y,
                    Op::Le => x <= y,
                    Op::Gt => x > y,
                    Op::Ge => x >= y,
                };
            }
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Lt => a < e,
                Op::Le => a <= e,
                Op::Gt => a > e,
                Op::Ge => a >= e,
            }
        }
    }
}

pub async fn run(r: &mut Runner, step: &Step, a: &VerifyAction) -> Result<()> {
    let mut failed = 0;
    if !a.schema.is_empty() || a.unchanged_since.is_some() {
        let schema = r.db.schema().await?;
        for c in &a.schema {
            for (label, expected, actual, ok) in evaluate(&schema, c) {
                failed += usize::from(!ok);
                r.assertion(step, label, expected, actual, ok)?;
            }
        }
        if let Some(b) = a.unchanged_since {
            let (before, source) = match b {
                Baseline::Start => (r.start_schema.clone(), "the start of this run".to_string()),
                Baseline::Plan => baseline::before_plan(r)?,
            };
            let diff = before.diff(&schema);
            let ok = diff.is_empty();
            failed += usize::from(!ok);
            let actual = if ok { "no differences".to_string() } else { format!("{} difference(s): {}", diff.len(), diff.join("; ")) };
            r.assertion(step, format!("schema equals the snapshot from {source}"), "no differences".into(), actual, ok)?;
        }
    }
    failed += run_queries(r, step, &a.queries).await?;
    if failed > 0 {
        return Err(Error::failed(format!("{failed} assertion(s) failed")));
    }
    if !a.checklist.is_empty() {
        super::manual::confirm_items(r, step, &a.checklist).await?;
    }
    r.journal.record(Event::Info { step_id: Some(step.id.clone()), message: "all assertions passed".into() })?;
    Ok(())
}

/// Evaluate query assertions; returns how many failed.
pub async fn run_queries(r: &mut Runner, step: &Step, queries: &[crate::runbook::QueryCheck]) -> Result<usize> {
    let mut failed = 0;
    for q in queries {
        let sql = super::sql_for(&q.sql, r.target.engine)
            .ok_or_else(|| Error::failed(format!("no SQL for {} in a query assertion", r.target.engine)))?;
        let sent = super::query(&r.vars, &sql, r.target.engine)?;
        let shown = crate::sql::bind::shown(&sql, r.target.engine, &r.vars);
        let label = q.name.as_ref().map(|n| r.vars.mask(n)).unwrap_or_else(|| shown.trim().to_string());
        let expected = q.expected().map(|e| r.vars.render(&e.0)).transpose()?;
        let expected_text = format!("{} {}", q.op.as_str(), q.expected().map(|e| r.vars.mask(&e.0)).unwrap_or_else(|| "NULL".into()));
        match r.db.query_scalar(&sent).await {
            Ok(actual) => {
                let ok = compare(actual.as_deref(), q.op, expected.as_deref());
                failed += usize::from(!ok);
                r.assertion(step, label, expected_text, actual.unwrap_or_else(|| "NULL".into()), ok)?;
            }
            Err(e) => {
                failed += 1;
                r.assertion(step, label, expected_text, format!("query error: {e}"), false)?;
            }
        }
    }
    Ok(failed)
}

/// Current state of each schema assertion, for `plan`.
pub fn precheck(schema: &Schema, a: &VerifyAction) -> Vec<String> {
    let mut out = Vec::new();
    for c in &a.schema {
        for (label, expected, actual, ok) in evaluate(schema, c) {
            out.push(format!("{} {label}: now {actual} (expected after the steps before: {expected})", if ok { "•" } else { "…" }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numbers_numerically_and_text_exactly() {
        assert!(compare(Some("10"), Op::Gt, Some("9")));
        assert!(compare(Some("0"), Op::Eq, Some("0.0")));
        assert!(!compare(Some("abc"), Op::Eq, Some("abd")));
        assert!(compare(None, Op::Eq, None));
        assert!(!compare(Some("1"), Op::Eq, None));
    }
}
