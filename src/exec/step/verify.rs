//! `verify`: schema assertions, query assertions, and comparison of the whole schema with a
//! snapshot. Every assertion is recorded with its expected and actual values.

use crate::db::schema::normalize_type;
use crate::db::{Engine, Schema};
use crate::error::{Error, Result};
use crate::exec::{baseline, Runner};
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::{Baseline, Op, SchemaCheck, Step, VerifyAction};

pub fn describe(a: &VerifyAction, vars: &Vars, engine: Engine) -> String {
    let mut lines: Vec<String> = a.schema.iter().map(|c| format!("assert {}", check_label(c))).collect();
    for q in &a.queries {
        let sql = super::sql_for(&q.sql, engine).map(|s| vars.mask(&s)).unwrap_or_else(|| format!("<no SQL for {engine}>"));
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
    let mut s = if let Some(ix) = &c.index {
        format!("index {ix}{}", c.table.as_ref().map(|t| format!(" on {t}")).unwrap_or_default())
    } else if let Some(v) = &c.view {
        format!("view {v}")
    } else if let Some(t) = &c.trigger {
        format!("trigger {t}")
    } else if let Some(col) = &c.column {
        format!("column {}.{col}", c.table.as_deref().unwrap_or("?"))
    } else {
        format!("table {}", c.table.as_deref().unwrap_or("?"))
    };
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
    if let Some(ix) = &c.index {
        let found = schema.index(ix).filter(|i| c.table.as_ref().is_none_or(|t| i.table.eq_ignore_ascii_case(t)));
        out.push((format!("index {ix}"), expect_presence, presence(found.is_some()), found.is_some() == want));
        if let (Some(i), Some(u)) = (found, c.unique) {
            out.push((format!("index {ix} unique"), u.to_string(), i.unique.to_string(), i.unique == u));
        }
    } else if let Some(v) = &c.view {
        let found = schema.views.keys().any(|k| k.eq_ignore_ascii_case(v));
        out.push((format!("view {v}"), expect_presence, presence(found), found == want));
    } else if let Some(t) = &c.trigger {
        let found = schema.triggers.keys().any(|k| k.eq_ignore_ascii_case(t));
        out.push((format!("trigger {t}"), expect_presence, presence(found), found == want));
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
                let others: Vec<String> = schema
                    .dependents(table, col)
                    .into_iter()
                    .filter(|d| !except.iter().any(|e| d.rsplit(' ').next().is_some_and(|n| n.eq_ignore_ascii_case(e))))
                    .collect();
                let expected = if except.is_empty() { "none".to_string() } else { format!("none besides {}", except.join(", ")) };
                let actual = if others.is_empty() { "none".to_string() } else { others.join(", ") };
                out.push((format!("objects using {table}.{col}"), expected, actual, others.is_empty()));
            }
        }
    } else if let Some(table) = &c.table {
        let found = schema.table(table).is_some();
        out.push((format!("table {table}"), expect_presence, presence(found), found == want));
    }
    out
}

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
        let rendered = r.vars.render(&sql)?;
        let shown = r.vars.mask(&sql);
        let label = q.name.as_ref().map(|n| r.vars.mask(n)).unwrap_or_else(|| shown.trim().to_string());
        let expected = q.expected().map(|e| r.vars.render(&e.0)).transpose()?;
        let expected_text = format!("{} {}", q.op.as_str(), q.expected().map(|e| r.vars.mask(&e.0)).unwrap_or_else(|| "NULL".into()));
        match r.db.query_scalar(&rendered).await {
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
