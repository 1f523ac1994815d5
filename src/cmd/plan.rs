//! `runbook plan FILE`: the dry run. Every step with variables resolved and secrets masked,
//! the exact SQL, and read-only prechecks against the target. Nothing is written: the
//! connection is opened read-only.
//!
//! Exit code: 0 when the preview was shown, whatever its warnings (they are counted in its last
//! line); 2 when the runbook or a flag is invalid; 1 when the target cannot be reached or read.

use std::path::Path;

use crate::db::Engine;
use crate::load::vars::Vars;
use crate::runbook::{Action, Loaded, Step};
use crate::ui::columns::{self, Block};

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
        // The ticket as a block, one field a line, values aligned: read at a glance at 2 a.m.
        let fields = t.fields();
        if !fields.is_empty() {
            ui::out("");
            ui::out("Ticket");
            let w = fields.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
            for (k, v) in fields {
                let head = format!("  {k:<w$} : ");
                let lines = ui::terminal::wrap(&ui::visible::one_line(&v), ui::terminal::width(), &" ".repeat(head.chars().count()));
                for (i, l) in lines.into_iter().enumerate() {
                    ui::out(if i == 0 { format!("{head}{}", l.trim_start()) } else { l });
                }
            }
        }
    }
    ui::out("");
    ui::out(format!("  target: {} ({version})", target.display()));
    ui::out(format!("  {} step(s); read-only preview, nothing will be written", steps.len()));
    ui::out("");
    for line in overview(&loaded, &vars, target.engine) {
        ui::out(line);
    }
    let warnings = crate::lint::lint(&loaded, Some(target.engine), &vars);
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for w in &warnings {
        ui::out("");
        ui::out(ui::diagnostic::render_warning(w, &loaded.path, &loaded.source, color));
    }
    let short = crate::redact::short_secret_warnings(&vars.secret_pairs());
    for w in &short {
        ui::out(format!("warning: {w}"));
    }
    // The inputs a run would refuse to start without, and the endpoints it will call: a wrong
    // log path or a dead URL shows here, not at step 8.
    let mut inputs = crate::exec::inputs::problems(steps, &vars, &[]);
    inputs.extend(crate::exec::reach::problems(steps, &vars, &[], false).await);
    if !inputs.is_empty() {
        ui::out("");
        for p in &inputs {
            panel::warn(format!("preflight: {p}"));
        }
    }

    // Which rollback steps would run now: after the recorded change run (a partial change
    // undoes only what ran) and with each `when` read against the live schema.
    let scope = if which == PlanKind::Rollback {
        let (scope, source) = crate::exec::plan::recorded_scope(&loaded, &target, None);
        ui::out(format!("  {}: {}", source.unwrap_or_else(|| "no recorded change run".into()), scope.summary()));
        Some(scope)
    } else {
        None
    };
    let mut missing = Vec::new();
    let mut flagged = 0;
    // Steps a rehearsal would not run, for the summary: a rehearsal proves less about them.
    let mut rehearsal_skips = Vec::new();
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
        if s.scope == crate::runbook::Scope::Fleet {
            ui::out(format!("  scope: fleet — {}", crate::runbook::Scope::FLEET_NOTE));
        }
        // A rollback step that would be skipped now is not prechecked: it will not run, and
        // what it would drop is not dropped in the simulation either. `when` is read against the
        // schema as the rollback steps before it leave it, as the run reads it before the step.
        let now = scope.as_ref().map(|sc| match (sc.skips(&s.id), &s.when) {
            (Some(why), _) => (false, format!("now: would be skipped (nothing to undo: {why})")),
            (None, Some(cond)) if cond.holds(&simulated) => (true, format!("now: would run (when: {} — true)", cond.describe())),
            (None, Some(cond)) => (false, format!("now: would be skipped (when: {} — false on the target)", cond.describe())),
            (None, None) => (true, "now: would run".to_string()),
        });
        if let Some((false, line)) = &now {
            ui::out(format!("  {line}"));
            continue;
        }
        let mut lines = step::precheck(db.as_mut(), &schema, &mut simulated, s, i + 1, &vars).await;
        if let Action::Sql(a) = &s.action {
            lines.extend(crate::exec::preflight::dml_tables_missing(&simulated, a, i + 1, &vars, target.engine));
        }
        for line in lines {
            // A precheck that expects trouble says so with `✘` or `!`: each is a warning.
            if line.starts_with('✘') || line.starts_with('!') {
                flagged += 1;
            }
            ui::out(format!("  precheck: {line}"));
        }
        if let Some((_, line)) = &now {
            ui::out(format!("  {line}"));
        }
        if let Some(policy) = &s.rehearse {
            ui::out(format!("  {}", vars.mask(&policy.describe())));
            if let crate::runbook::rehearse::Rehearse::Skip { why } = policy {
                rehearsal_skips.push(format!("`{}`: {why}", s.id));
            }
        }
        let raw = loaded.doc.plan.iter().chain(&loaded.doc.rollback).find(|r| *r.id == s.id);
        let text = raw.and_then(|r| serde_json::to_string(r).ok()).unwrap_or_default();
        for m in vars.missing_in(&text) {
            panel::warn(format!("variable `{m}` has no value yet: pass --var {m}=VALUE to run this step"));
            missing.push(m);
        }
    }
    ui::out("");
    if !rehearsal_skips.is_empty() {
        ui::out(format!("A rehearsal skips {} step(s) of this plan:", rehearsal_skips.len()));
        for s in &rehearsal_skips {
            ui::out(format!("  - {s}"));
        }
    }
    // Every `!` and `✘` line above is counted, so "0 warning(s)" means none was printed.
    let total = warnings.len() + short.len() + inputs.len() + flagged + missing.len();
    panel::ok(format!("plan complete: {} step(s), {total} warning(s); nothing was written", steps.len()));
    Ok(0)
}

/// Both plans at a glance, the change plan beside its rollback plan (stacked on a narrow
/// terminal): each step with its kind, its time limits, its transaction mode and what undoes it.
fn overview(loaded: &Loaded, vars: &Vars, engine: Engine) -> Vec<String> {
    let block = |heading: &str, steps: &[Step], change: bool| Block {
        heading: format!("{heading} ({} step{})", steps.len(), if steps.len() == 1 { "" } else { "s" }),
        entries: steps.iter().enumerate().map(|(i, s)| entry(loaded, vars, engine, i + 1, s, change)).collect(),
    };
    let change = block("Change plan", &loaded.plan, true);
    let rollback = block("Rollback plan", &loaded.rollback, false);
    columns::layout(&change, &rollback, ui::terminal::layout_width())
}

/// One step of the overview: "3. Name · sql", then its limits, then (change plan) its undo.
fn entry(loaded: &Loaded, vars: &Vars, engine: Engine, n: usize, s: &Step, change: bool) -> Vec<String> {
    let mut lines = vec![format!("{n}. {} · {}", ui::visible::one_line(&s.name), s.kind.as_str())];
    // A limit taken from a variable is shown filled in, masked if secret.
    let shown = |t: &crate::runbook::Sp<String>| vars.render(&t.value).map(|v| vars.mask(&v)).unwrap_or_else(|_| t.value.clone());
    let mut limits = vec![match &s.timeout {
        Some(t) => format!("timeout {}", shown(t)),
        None => "no step timeout".to_string(),
    }];
    match &s.action {
        Action::Sql(a) => {
            limits.push(match &a.lock_timeout {
                Some(t) => format!("lock timeout {}", shown(t)),
                None => "engine's lock timeout".to_string(),
            });
            if let Some(t) = &a.statement_timeout {
                limits.push(format!("statement timeout {}", shown(t)));
            }
            limits.push(if a.transaction.for_engine(engine) {
                "one transaction".to_string()
            } else {
                "no transaction (each statement commits)".to_string()
            });
        }
        Action::Monitor(a) => limits.push(format!("for {}, every {}", shown(&a.duration), shown(&a.interval))),
        _ => {}
    }
    lines.push(format!("   {}", limits.join(" · ")));
    if change {
        match loaded.undo_of(&s.id) {
            crate::runbook::undo::Undo::By(refs) => {
                for r in refs {
                    lines.push(format!("   {}", panel::rollback_ref(r).replacen("rollback step", "↩ undone by rollback step", 1)));
                }
            }
            crate::runbook::undo::Undo::PointOfNoReturn => lines.push("   ⚠ no undo: point of no return".into()),
            crate::runbook::undo::Undo::Unpaired => lines.push("   ↩ no paired rollback step".into()),
            crate::runbook::undo::Undo::NotNeeded => {}
        }
    }
    lines
}
