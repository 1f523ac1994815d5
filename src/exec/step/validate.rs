//! `validate`: proof that existing data is unaffected. Tables named here are fingerprinted at
//! run start (row count and a hash over every column that existed then); this step fingerprints
//! the same columns again and compares. Report queries must still run.

use crate::db::{Database, Engine, Schema};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::load::vars::Vars;
use crate::runbook::{Step, ValidateAction};

pub fn describe(a: &ValidateAction, vars: &Vars, engine: Engine) -> String {
    let mut lines = Vec::new();
    for t in &a.tables {
        lines.push(format!("compare fingerprint of {t} (row count + hash of every column at run start) with the start of the run"));
    }
    for q in &a.report_queries {
        let sql = super::sql_for(&q.sql, engine).map(|s| vars.mask(&s)).unwrap_or_else(|| format!("<no SQL for {engine}>"));
        lines.push(format!("report query \"{}\" must run: {}", q.name, sql.trim()));
    }
    lines.join("\n")
}

pub async fn precheck(db: &mut dyn Database, schema: &Schema, a: &ValidateAction) -> Vec<String> {
    let mut out = Vec::new();
    for t in &a.tables {
        match schema.table(t) {
            None => out.push(format!("✘ table {t} does not exist: the run will refuse to start")),
            Some(table) => {
                let n = db.query_scalar(&format!("SELECT count(*) FROM {}", crate::db::quote_ident(db.engine(), t))).await;
                let rows = n.ok().flatten().unwrap_or_else(|| "?".into());
                out.push(format!("✔ table {t}: {rows} rows, {} columns will be fingerprinted at run start", table.columns.len()));
            }
        }
    }
    out
}

pub async fn run(r: &mut Runner, step: &Step, a: &ValidateAction) -> Result<()> {
    let mut failed = Vec::new();
    for t in &a.tables {
        let Some(before) = r.baselines.get(t).cloned() else {
            return Err(Error::failed(format!("no fingerprint of {t} was taken at run start")));
        };
        // A column that is gone is named as such: hashing it would fail on the servers and, on
        // SQLite, could read its name as a string literal.
        let schema = r.db.schema().await.map_err(|e| Error::failed(format!("reading the schema of {t}: {e}")))?;
        let gone: Vec<&String> = match schema.table(t) {
            None => before.columns.iter().collect(),
            Some(table) => before.columns.iter().filter(|c| !table.columns.iter().any(|k| k.name.eq_ignore_ascii_case(c))).collect(),
        };
        if !gone.is_empty() {
            let names = gone.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
            let what = if schema.table(t).is_none() {
                format!("table {t} no longer exists")
            } else if gone.len() == 1 {
                format!("column {names} of {t} no longer exists")
            } else {
                format!("columns {names} of {t} no longer exist")
            };
            r.assertion(
                step,
                format!("{t} columns fingerprinted at run start"),
                before.columns.join(", "),
                format!("missing: {names}"),
                false,
            )?;
            failed.push(format!("table {t}: {what}"));
            continue;
        }
        let now = r.db.fingerprint(t, &before.columns).await.map_err(|e| Error::failed(format!("fingerprint of {t}: {e}")))?;
        let rows_ok = now.rows == before.rows;
        r.assertion(step, format!("{t} row count"), before.rows.to_string(), now.rows.to_string(), rows_ok)?;
        let hash_ok = now.hash == before.hash;
        r.assertion(
            step,
            format!("{t} content hash over {} column(s): {}", before.columns.len(), before.columns.join(", ")),
            before.hash.clone(),
            now.hash.clone(),
            hash_ok,
        )?;
        // Whole hashes: a cut-off prefix can look equal on both sides of a difference.
        match (rows_ok, hash_ok) {
            (true, true) => {}
            (false, true) => failed.push(format!("table {t}: row count {} → {}", before.rows, now.rows)),
            (true, false) => failed.push(format!("table {t}: content hash {} → {} (same {} rows)", before.hash, now.hash, now.rows)),
            (false, false) => {
                failed.push(format!("table {t}: row count {} → {}, content hash {} → {}", before.rows, now.rows, before.hash, now.hash))
            }
        }
    }
    for q in &a.report_queries {
        let sql = super::sql_for(&q.sql, r.target.engine).ok_or_else(|| Error::failed(format!("no SQL for {}", r.target.engine)))?;
        let rendered = r.vars.render(&sql)?;
        match r.db.query_count(&rendered).await {
            Ok(n) => r.assertion(step, format!("report query \"{}\" runs", q.name), "runs".into(), format!("ran, {n} row(s)"), true)?,
            Err(e) => {
                failed.push(format!("report query \"{}\" failed", q.name));
                r.assertion(step, format!("report query \"{}\" runs", q.name), "runs".into(), format!("error: {e}"), false)?;
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!("existing data changed or reports broke: {}", failed.join("; "))))
    }
}
