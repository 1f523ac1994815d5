//! `runbook plan FILE`: the dry run. Every step with variables resolved and secrets masked,
//! the exact SQL, and read-only prechecks against the target. Nothing is written: the
//! connection is opened read-only.
//!
//! Exit code: 0 when the preview was shown, whatever its warnings (they are counted in its last
//! line); 2 when the runbook or a flag is invalid; 1 when the target cannot be reached or read.

use std::path::Path;

use crate::cli::{ConnectOpts, VarOpts};
use crate::db;
use crate::error::Result;
use crate::exec::step;
use crate::runbook::PlanKind;
use crate::ui::{self, panel, Panel};

pub async fn run(file: &Path, rollback: bool, connect: &ConnectOpts, var_opts: &VarOpts) -> Result<i32> {
    let loaded = crate::load::load(file)?;
    let which = if rollback { PlanKind::Rollback } else { PlanKind::Plan };
    let (mut vars, target) = super::vars_and_target(&loaded, var_opts, connect.db.as_deref())?;
    vars.set("operator", whoami::username());

    let mut db = db::connect(&target, true).await?;
    let version = db.version().await?;
    let schema = db.schema().await?;
    // The schema as the steps so far leave it: each step's prechecks see what earlier
    // statements create and drop.
    let mut simulated = schema.clone();
    let steps = loaded.steps(which);

    ui::out(format!("Plan: {} — {}", loaded.title(), which.label()));
    if let Some(t) = &loaded.doc.ticket {
        let f: Vec<String> = t.fields().into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        if !f.is_empty() {
            ui::out(format!("  {}", f.join(" · ")));
        }
    }
    ui::out(format!("  target: {} ({version})", target.display()));
    ui::out(format!("  {} step(s); read-only preview, nothing will be written", steps.len()));
    let warnings = crate::lint::lint(&loaded, Some(target.engine));
    for w in &warnings {
        ui::out("");
        ui::out(w.render(&loaded.path));
    }
    let short = crate::redact::short_secret_warnings(&vars.secret_pairs());
    for w in &short {
        ui::out(format!("warning: {w}"));
    }

    let mut missing = Vec::new();
    let mut flagged = 0;
    for (i, s) in steps.iter().enumerate() {
        let action = step::describe(s, &vars, target.engine, None);
        let description = s.description.as_deref().map(|d| vars.mask(d));
        Panel {
            index: i + 1,
            total: steps.len(),
            name: &s.name,
            kind: s.kind.as_str(),
            plan_label: which.label(),
            description: description.as_deref(),
            action: &action,
            undo: step::undo_view(&loaded, s, which, &vars, target.engine, None),
        }
        .print();
        for line in step::precheck(db.as_mut(), &schema, &mut simulated, s, i + 1, &vars).await {
            // A precheck that expects trouble says so with `✘` or `!`: each is a warning.
            if line.starts_with('✘') || line.starts_with('!') {
                flagged += 1;
            }
            ui::out(format!("  precheck: {line}"));
        }
        let raw = loaded.doc.plan.iter().chain(&loaded.doc.rollback).find(|r| *r.id == s.id);
        let text = raw.and_then(|r| serde_json::to_string(r).ok()).unwrap_or_default();
        for m in vars.missing_in(&text) {
            panel::warn(format!("variable `{m}` has no value yet: pass --var {m}=VALUE to run this step"));
            missing.push(m);
        }
    }
    ui::out("");
    // Every `!` and `✘` line above is counted, so "0 warning(s)" means none was printed.
    let total = warnings.len() + short.len() + flagged + missing.len();
    panel::ok(format!("plan complete: {} step(s), {total} warning(s); nothing was written", steps.len()));
    Ok(0)
}
