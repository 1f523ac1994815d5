//! Preflight: everything that can be checked before the target is touched — skip ids, variable
//! values, durations that come from variables, the files and programs steps use, and the
//! baseline a rollback compares with. A run that fails here has changed nothing and exits 2.
//!
//! Then, once the target answers, [`environment`]: the tables the SQL names exist (or an
//! earlier step creates them) and the HTTP endpoints answer. Those are reported as warnings,
//! not refusals: a table or a service may rightly appear during the change (a manual step, a
//! deploy), and the operator decides at the first prompt, having seen them.

use crate::error::{Error, Result};
use crate::load::vars::Vars;
use crate::runbook::{Loaded, PlanKind, Step};

use super::RunOptions;

/// Check everything that can be checked before touching the target: skip ids and var values.
pub fn check(loaded: &Loaded, vars: &Vars, opts: &RunOptions) -> Result<()> {
    let steps = loaded.steps(opts.plan);
    if steps.is_empty() {
        return Err(Error::usage(format!("the runbook has no {}", opts.plan.label())));
    }
    for skip in &opts.skips {
        let id = &skip.step_id;
        if !loaded.plan.iter().chain(&loaded.rollback).any(|s| &s.id == id) {
            let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
            return Err(Error::usage(format!("--skip {id}: no step has that id (steps: {})", ids.join(", "))));
        }
    }
    let mut needed: Vec<&Step> = steps.iter().collect();
    if opts.plan == PlanKind::Plan {
        needed.extend(loaded.rollback.iter());
    }
    for s in needed {
        if opts.is_skipped(&s.id) {
            continue;
        }
        check_durations(loaded, vars, s)?;
        let raw = loaded.doc.plan.iter().chain(&loaded.doc.rollback).find(|r| *r.id == s.id);
        let text = raw.and_then(|r| serde_json::to_string(r).ok()).unwrap_or_default();
        let mut missing = vars.missing_in(&text);
        missing.dedup();
        if let Some(name) = missing.first() {
            if crate::load::vars::BUILTINS.contains(&name.as_str()) {
                continue;
            }
            return Err(Error::usage(format!(
                "step `{}` uses variable `{name}`, which has no value: pass --var {name}=VALUE (or --skip {})",
                s.id, s.id
            )));
        }
    }
    let skipped: Vec<String> = opts.skips.iter().map(|s| s.step_id.clone()).collect();
    let problems = super::inputs::problems(steps, vars, &skipped);
    if !problems.is_empty() {
        return Err(Error::usage(format!("the run's inputs are not ready; nothing was run:\n  {}", problems.join("\n  "))));
    }
    Ok(())
}

/// A rollback that will compare with the schema from before the change must know that schema
/// before its first step changes anything, not after.
pub fn rollback_baseline(loaded: &Loaded, target: &crate::db::Target, opts: &RunOptions) -> Result<()> {
    let checks = plan_baseline_checks(loaded, opts);
    if opts.plan != PlanKind::Rollback || checks.is_empty() {
        return Ok(());
    }
    match super::baseline::recorded_plan_run(&loaded.doc.id, target, opts.baseline.as_deref()) {
        None => {
            let skips: Vec<String> = checks.iter().map(|id| format!("--skip {id}")).collect();
            Err(Error::usage(format!(
                "{}, or {} to roll back without comparing; nothing was run",
                super::baseline::NO_BASELINE,
                skips.join(" ")
            )))
        }
        Some((dir, _)) => {
            super::baseline::snapshot_of(&dir).map_err(|e| Error::usage(format!("the change run's snapshot: {e}; nothing was run")))?;
            Ok(())
        }
    }
}

/// Every duration a step will read, parsed now: one that comes from a variable can only be
/// checked once the variables have values, and finding it bad halfway through a run would
/// leave the steps before it committed.
fn check_durations(loaded: &Loaded, vars: &Vars, step: &Step) -> Result<()> {
    let mut fields: Vec<(&str, &crate::runbook::Sp<String>)> = Vec::new();
    if let Some(t) = &step.timeout {
        fields.push(("timeout", t));
    }
    match &step.action {
        crate::runbook::Action::Sql(a) => {
            fields.extend(a.lock_timeout.iter().map(|t| ("lock_timeout", t)));
            fields.extend(a.statement_timeout.iter().map(|t| ("statement_timeout", t)));
        }
        crate::runbook::Action::Monitor(a) => fields.extend([("interval", &a.interval), ("duration", &a.duration)]),
        _ => {}
    }
    for (what, field) in fields {
        // A missing variable is reported by the caller, with the flag that supplies it.
        let Ok(text) = vars.render(&field.value) else { continue };
        if let Err(why) = crate::runbook::duration::parse(&text) {
            return Err(Error::Invalid {
                diagnostics: vec![crate::error::Diagnostic {
                    path: loaded.path.clone(),
                    source: loaded.source.clone(),
                    line: field.pos.line,
                    column: field.pos.column,
                    message: format!("step `{}`: {what}: {why}", step.id),
                    label: Some(format!("this is `{}` with the variables filled in", vars.mask(&field.value))),
                    help: Some("nothing was run".into()),
                }],
            });
        }
    }
    Ok(())
}

/// The steps of the plan being run (not skipped) that verify `schema_unchanged_since: plan`.
fn plan_baseline_checks(loaded: &Loaded, opts: &RunOptions) -> Vec<String> {
    loaded
        .steps(opts.plan)
        .iter()
        .filter(|s| !opts.is_skipped(&s.id))
        .filter(|s| matches!(&s.action, crate::runbook::Action::Verify(v) if v.unchanged_since == Some(crate::runbook::Baseline::Plan)))
        .map(|s| s.id.clone())
        .collect()
}

/// Problems the target and the network show before step 1, each naming its step: tables the
/// SQL needs that neither exist nor are created by an earlier step, and HTTP endpoints that do
/// not answer. Reading only; never refuses (see the module comment).
pub async fn environment(loaded: &Loaded, vars: &Vars, opts: &RunOptions, db: &mut dyn crate::db::Database) -> Vec<String> {
    let steps = loaded.steps(opts.plan);
    let skipped: Vec<String> = opts.skips.iter().map(|s| s.step_id.clone()).collect();
    let mut out = Vec::new();
    if let Ok(schema) = db.schema().await {
        out.extend(missing_tables(steps, vars, &schema, db.engine(), &skipped));
    }
    out.extend(super::reach::problems(steps, vars, &skipped, opts.rehearsal.is_some()).await);
    out
}

/// The SQL prechecks of `plan`, run over the schema as the steps before each leave it, keeping
/// only the lines that expect trouble (`✘`, `!`), each with its step.
pub fn missing_tables(
    steps: &[Step],
    vars: &Vars,
    schema: &crate::db::Schema,
    engine: crate::db::Engine,
    skipped: &[String],
) -> Vec<String> {
    let mut simulated = schema.clone();
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let crate::runbook::Action::Sql(a) = &s.action else { continue };
        if skipped.contains(&s.id) {
            continue;
        }
        let mut lines = super::step::sql::precheck(&mut simulated, a, i + 1, vars, engine);
        lines.extend(dml_tables_missing(&simulated, a, i + 1, vars, engine));
        for line in lines {
            if let Some(rest) = line.strip_prefix('✘').or_else(|| line.strip_prefix('!')) {
                out.push(format!("step {} `{}`: {}", i + 1, s.id, rest.trim()));
            }
        }
    }
    out
}

/// Tables that the step's INSERT, UPDATE and DELETE statements write and that do not exist in
/// `schema` (the schema as the steps before leave it, this step's own DDL included): each a
/// `✘` line like the DDL prechecks'. Names are read from the statements with secrets masked.
pub fn dml_tables_missing(
    schema: &crate::db::Schema,
    a: &crate::runbook::SqlAction,
    index: usize,
    vars: &Vars,
    engine: crate::db::Engine,
) -> Vec<String> {
    let Ok(stmts) = super::step::statements(&a.sql, engine, vars, true) else { return Vec::new() };
    let mut out = Vec::new();
    for stmt in stmts {
        let first = stmt.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        if !matches!(first.as_str(), "INSERT" | "UPDATE" | "DELETE") {
            continue;
        }
        for t in crate::sql::touches::touches(&stmt, engine).unwrap_or_default() {
            let line = format!("✘ table {} does not exist: step {index} will fail", t.table);
            if schema.table(&t.table).is_none() && !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}
