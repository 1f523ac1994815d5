//! Resuming a run that was killed or stopped: rebuild the run's state from its journal, decide
//! about the step that was in flight, and continue in the same journal. Completed steps are
//! never run again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, Target};
use crate::error::{Error, Result};
use crate::journal::{self, Entry, Event, Journal, Outcome, StepStatus};
use crate::load::vars::Vars;
use crate::runbook::{Kind, Loaded, PlanKind};
use crate::ui::{self, panel, Prompter};

use super::{RunOptions, Runner, ROLLBACK_STARTED};

/// What the journal says about a run.
pub struct RunState {
    pub run_id: String,
    pub plan: PlanKind,
    pub mode: String,
    pub runbook_path: String,
    pub runbook_sha256: String,
    pub target_id: String,
    pub target: String,
    pub operator: String,
    pub vars: BTreeMap<String, String>,
    pub then_rollback: bool,
    pub finished: Option<Outcome>,
    pub entries: Vec<Entry>,
}

impl RunState {
    pub fn read(run_dir: &Path) -> Result<RunState> {
        let (entries, _) = journal::read(run_dir)?;
        let Some(Event::RunStarted {
            run_id,
            plan,
            mode,
            runbook_path,
            runbook_sha256,
            target_id,
            target,
            operator,
            vars,
            then_rollback,
            ..
        }) = entries.first().map(|e| e.event.clone())
        else {
            return Err(Error::usage(format!("{}: no run_started event: not a run folder", run_dir.display())));
        };
        // The last run_finished counts unless a resume came after it.
        let finished = entries.iter().rev().find_map(|e| match &e.event {
            Event::RunFinished { outcome, .. } => Some(Some(*outcome)),
            Event::RunResumed { .. } => Some(None),
            _ => None,
        });
        let finished = finished.flatten();
        Ok(RunState {
            run_id,
            plan,
            mode,
            runbook_path,
            runbook_sha256,
            target_id,
            target,
            operator,
            vars,
            then_rollback,
            finished,
            entries,
        })
    }
}

pub struct ResumeOptions {
    pub run_dir: PathBuf,
    pub operator: String,
    pub yes: bool,
    pub rerun_in_flight: bool,
    pub allow_no_backup: bool,
}

/// Continue the run in `opts.run_dir`.
pub async fn resume(
    state: RunState,
    loaded: Arc<Loaded>,
    target: Target,
    mut vars: Vars,
    opts: ResumeOptions,
    mut prompter: Box<dyn Prompter>,
) -> Result<i32> {
    let started = Instant::now();
    if loaded.sha256 != state.runbook_sha256 {
        return Err(Error::usage(format!(
            "the runbook changed since run {} started (sha256 {} then, {} now); resume needs the runbook the run started with",
            state.run_id,
            &state.runbook_sha256[..12],
            &loaded.sha256[..12]
        )));
    }
    if !state.target_id.is_empty() && state.target_id != target.identity() {
        return Err(Error::usage(format!(
            "run {} changed {}, not {}: resume it against the same database (--db)",
            state.run_id,
            state.target,
            target.display()
        )));
    }
    if state.mode == "rehearsal" {
        return Err(Error::usage("a rehearsal cannot be resumed: its scratch copy is gone; run `runbook rehearse` again"));
    }

    // Rebuild what the run knew.
    let mut start_schema = None;
    let mut baselines = BTreeMap::new();
    let mut backups = Vec::new();
    let mut done = std::collections::HashSet::new();
    let mut open: Option<(String, Kind, String)> = None; // step id, kind, started at
    let mut kinds = BTreeMap::new();
    for e in &state.entries {
        match &e.event {
            Event::SchemaSnapshot { label, schema } if label == "start" && start_schema.is_none() => start_schema = Some(schema.clone()),
            Event::FingerprintBaseline { fingerprints } => {
                for f in fingerprints {
                    baselines.insert(f.table.clone(), f.clone());
                }
            }
            Event::Backup { backup, .. } => backups.push(backup.clone()),
            Event::PlanStarted { plan: PlanKind::Rollback, .. } => {
                done.insert(ROLLBACK_STARTED.to_string());
            }
            Event::StepStarted { step_id, kind, .. } => {
                kinds.insert(step_id.clone(), *kind);
                open = Some((step_id.clone(), *kind, e.ts.clone()));
            }
            Event::StepFinished { step_id, status, .. } => {
                if matches!(status, StepStatus::Passed | StepStatus::Skipped) {
                    done.insert(step_id.clone());
                } else {
                    done.remove(step_id);
                }
                if open.as_ref().is_some_and(|(id, _, _)| id == step_id) {
                    open = None;
                }
            }
            _ => {}
        }
    }
    let start_schema = start_schema
        .ok_or_else(|| Error::usage("the journal has no start snapshot: the run died before its first step; start a new run"))?;

    for (k, v) in &state.vars {
        if vars.get(k).is_none() && v != crate::load::vars::MASK {
            vars.set(k, v.clone());
        }
    }
    vars.set("run_id", state.run_id.clone());
    vars.set("run_dir", opts.run_dir.display().to_string());
    vars.set("operator", opts.operator.clone());

    let run_opts = RunOptions {
        plan: state.plan,
        mode: state.mode.clone(),
        operator: opts.operator.clone(),
        runs_dir: opts.run_dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        skips: Vec::new(),
        on_failure_rollback: false,
        allow_no_backup: opts.allow_no_backup,
        baseline: None,
        rehearsal: None,
        then_rollback: state.then_rollback,
        approval: crate::approval::RunApproval::resumed(&state.entries),
    };
    super::preflight(&loaded, &vars, &run_opts)?;

    // Decide about the step in flight before touching the database.
    let mut decision = None;
    if let Some((id, kind, at)) = &open {
        ui::out(format!("Step `{id}` ({kind}) was in flight when run {} stopped; the journal knows:", state.run_id));
        ui::out(format!("  started at {at}"));
        for e in state.entries.iter().filter(|e| step_of(&e.event) == Some(id.as_str())) {
            ui::out(format!("  {} {}", e.ts, describe(&e.event)));
        }
        if kind == &Kind::Sql {
            ui::out("  (a statement cut off inside a transaction was rolled back by the database; DDL on MariaDB/MySQL commits statement by statement)");
        }
        let choice = if opts.yes {
            if !opts.rerun_in_flight {
                return Err(Error::usage(format!(
                    "step `{id}` was in flight when the run stopped; --yes will not decide about it: check the database, then pass --rerun-in-flight to run it again, or resume interactively"
                )));
            }
            0
        } else {
            let p = &mut prompter;
            tokio::task::block_in_place(|| {
                p.choose("What about this step?", &["Run it again", "Mark it done (I checked the database)", "Abort"])
            })?
        };
        decision = Some(match choice {
            0 => format!("run again ({})", if opts.yes { "--rerun-in-flight" } else { "interactive" }),
            1 => "marked done after checking".to_string(),
            _ => return Err(Error::Stopped { message: format!("resume aborted at the in-flight step `{id}`") }),
        });
        if choice == 1 {
            done.insert(id.clone());
        }
    }

    let mut db = db::connect(&target, false).await?;
    super::lock(db.as_mut(), &state.run_id, &opts.operator).await?;
    let mut journal = Journal::append_to(&opts.run_dir, super::redactor(&vars, &target))?;
    journal.record(Event::LockAcquired { target: target.display() })?;
    journal.record(Event::RunResumed {
        by: opts.operator.clone(),
        how: prompter.how().to_string(),
        in_flight: open.as_ref().map(|(id, _, _)| id.clone()),
        decision: decision.clone(),
    })?;
    if let (Some((id, _, _)), Some(d)) = (&open, &decision) {
        if d.starts_with("marked done") {
            journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Passed,
                error: Some(format!("marked done by {} after checking the database", opts.operator)),
                duration_ms: 0,
            })?;
        } else if open.as_ref().is_some_and(|(_, k, _)| *k == Kind::Backup) {
            remove_partial_backups(&mut journal, &opts.run_dir, id, &backups)?;
        }
    }
    ui::out(format!("Resuming run {} ({}) against {}", state.run_id, state.plan.label(), target.display()));

    let mut r = Runner::new(loaded, target, db, journal, vars, prompter, run_opts, state.run_id.clone(), opts.run_dir.clone());
    r.start_schema = start_schema;
    r.baselines = baselines;
    r.backups = backups;
    r.done = done;
    r.ran_change_plan = state.plan == PlanKind::Plan;
    r.interrupts = Some(super::interrupt::listen());
    let finished = r.continue_run().await;
    r.finish(finished, started).await
}

/// A backup cut off mid-write leaves a file no journal event vouches for: remove it.
fn remove_partial_backups(journal: &mut Journal, run_dir: &Path, step_id: &str, good: &[db::BackupInfo]) -> Result<()> {
    let prefix = format!("backup-{step_id}");
    for entry in std::fs::read_dir(run_dir).map_err(|e| Error::read(run_dir, e))?.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&prefix) && !good.iter().any(|b| Path::new(&b.path) == path) {
            let _ = std::fs::remove_file(&path);
            panel::info(format!("removed the partial backup {name} left by the interrupted attempt"));
            journal.record(Event::Info {
                step_id: Some(step_id.to_string()),
                message: format!("removed partial backup {} left by the interrupted attempt", path.display()),
            })?;
        }
    }
    Ok(())
}

fn step_of(e: &Event) -> Option<&str> {
    match e {
        Event::StepDecision { step_id, .. }
        | Event::Statement { step_id, .. }
        | Event::Assertion { step_id, .. }
        | Event::Backup { step_id, .. }
        | Event::Command { step_id, .. }
        | Event::ChecklistItem { step_id, .. }
        | Event::Sample { step_id, .. } => Some(step_id),
        _ => None,
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::StepDecision { decision, by, how, .. } => format!("decision: {decision} by {}", crate::report::by_how(by, how)),
        Event::Statement { sql, rows_affected, .. } => {
            format!("statement done: {} ({rows_affected} rows)", sql.lines().next().unwrap_or(""))
        }
        Event::Assertion { check, passed, .. } => format!("assertion {check}: {}", if *passed { "passed" } else { "failed" }),
        Event::Backup { backup, .. } => format!("backup written and verified: {}", backup.path),
        Event::Command { exit_code, .. } => format!("command finished with {exit_code:?}"),
        Event::ChecklistItem { item, confirmed, .. } => {
            format!("checklist: {item}: {}", if *confirmed { "confirmed" } else { "not confirmed" })
        }
        Event::Sample { check, value, ok, .. } => format!("sample {check}: {value:?} ({})", if *ok { "ok" } else { "over threshold" }),
        other => format!("{other:?}"),
    }
}
