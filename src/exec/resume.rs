//! Resuming a run that was killed or stopped: rebuild the run's state from its journal, decide
//! about the step that was in flight, and continue in the same journal. Completed steps are
//! never run again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, Engine, Target};
use crate::error::{Error, Result};
use crate::journal::{self, Decision, Entry, Event, Journal, Mode, Outcome, RollbackCause, RunHeader, SecretSource, StepStatus};
use crate::load::vars::{Vars, MASK};
use crate::runbook::{Action, Kind, Loaded, PlanKind};
use crate::ui::{self, panel, InFlight, Prompter};

use super::{RunOptions, Runner};

/// What the journal says about a run.
pub struct RunState {
    /// The run header: what the run was asked to do.
    pub header: RunHeader,
    pub finished: Option<Outcome>,
    pub entries: Vec<Entry>,
}

impl RunState {
    pub fn read(run_dir: &Path) -> Result<RunState> {
        let (entries, _) = journal::read(run_dir)?;
        let Some(Event::RunStarted(header)) = entries.first().map(|e| e.event.clone()) else {
            return Err(Error::usage(format!("{}: no run_started event: not a run folder", run_dir.display())));
        };
        // The last run_finished counts unless a resume came after it.
        let finished = entries.iter().rev().find_map(|e| match &e.event {
            Event::RunFinished { outcome, .. } => Some(Some(*outcome)),
            Event::RunResumed { .. } => Some(None),
            _ => None,
        });
        Ok(RunState { header, finished: finished.flatten(), entries })
    }
}

pub struct ResumeOptions {
    pub run_dir: PathBuf,
    pub operator: String,
    pub yes: bool,
    pub rerun_in_flight: bool,
    pub allow_no_backup: bool,
    /// `--var` values given to `resume` itself: each must agree with the run header, or the
    /// operator must confirm the override.
    pub given_vars: Vec<(String, String)>,
    /// `scope: fleet` steps, when `runbook fleet` resumes the run.
    pub fleet_steps: super::fleet_step::FleetSteps,
}

/// The run as its journal left it.
struct Rebuilt {
    start_schema: Option<crate::db::Schema>,
    baselines: BTreeMap<String, crate::db::Fingerprint>,
    backups: Vec<crate::db::BackupInfo>,
    done: HashSet<String>,
    rollback: Option<RollbackCause>,
    /// The step that started and did not finish: id, kind, when, and its journaled decision.
    open: Option<(String, Kind, String, Option<Decision>)>,
    /// The index of every statement journaled, by step id, in every attempt at the step
    /// (`None` in journals written before statements carried it).
    statements: HashMap<String, Vec<Option<u32>>>,
}

fn rebuild(header: &RunHeader, entries: &[Entry]) -> Rebuilt {
    let mut r = Rebuilt {
        start_schema: None,
        baselines: BTreeMap::new(),
        backups: Vec::new(),
        done: HashSet::new(),
        rollback: None,
        open: None,
        statements: HashMap::new(),
    };
    let mut failed = false;
    let mut interrupted = false;
    for e in entries {
        match &e.event {
            Event::SchemaSnapshot { label, schema } if label == "start" && r.start_schema.is_none() => {
                r.start_schema = Some(schema.clone())
            }
            Event::FingerprintBaseline { fingerprints } => {
                for f in fingerprints {
                    r.baselines.insert(f.table.clone(), f.clone());
                }
            }
            Event::Backup { backup, .. } => r.backups.push(backup.clone()),
            Event::PlanStarted { plan: PlanKind::Rollback, cause, .. } => {
                // Older journals name no cause: it follows from what happened before.
                r.rollback = Some(cause.unwrap_or(if failed {
                    RollbackCause::StepFailed
                } else if interrupted {
                    RollbackCause::Interrupted
                } else if header.then_rollback {
                    RollbackCause::ThenRollback
                } else {
                    RollbackCause::StepFailed
                }));
            }
            Event::Interrupted { .. } => interrupted = true,
            Event::Statement { step_id, index, .. } => r.statements.entry(step_id.clone()).or_default().push(*index),
            Event::StepStarted { step_id, kind, .. } => r.open = Some((step_id.clone(), *kind, e.ts.clone(), None)),
            Event::StepDecision { step_id, decision, .. } => {
                if let Some(open) = r.open.as_mut().filter(|o| &o.0 == step_id) {
                    open.3 = Some(*decision);
                }
            }
            Event::StepFinished { step_id, status, .. } => {
                if matches!(status, StepStatus::Passed | StepStatus::Skipped) {
                    r.done.insert(step_id.clone());
                } else {
                    r.done.remove(step_id);
                }
                failed |= *status == StepStatus::Failed;
                if r.open.as_ref().is_some_and(|o| &o.0 == step_id) {
                    r.open = None;
                }
            }
            _ => {}
        }
    }
    r
}

/// The variables of the resumed run: the header's values, secret ones read again from where
/// they came from, and any value given again that differs only with the operator's consent.
/// Returns the overrides to journal.
fn header_vars(header: &RunHeader, vars: &mut Vars, opts: &ResumeOptions, prompter: &mut Box<dyn Prompter>) -> Result<Vec<Event>> {
    let mut overrides = Vec::new();
    for (name, value) in &header.vars {
        if header.secret_vars.contains_key(name) || (value == MASK && vars.is_secret(name)) {
            continue;
        }
        let given = opts.given_vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match given {
            Some(g) if &g != value => {
                let question = format!("--var {name}: the run used `{value}`, you gave `{g}`. Continue the run with `{g}`?");
                let yes = !opts.yes && tokio::task::block_in_place(|| prompter.confirm(&question, false))?;
                if !yes {
                    return Err(Error::usage(format!(
                        "--var {name}={g} differs from the value run {} started with (`{value}`); resume finishes the run that was started: drop --var {name}, or resume interactively and confirm the override",
                        header.run_id
                    )));
                }
                overrides.push(Event::VarOverride {
                    name: name.clone(),
                    from: value.clone(),
                    to: g.clone(),
                    by: opts.operator.clone(),
                    how: prompter.how().into(),
                });
                vars.set(name, g);
            }
            Some(_) => {}
            None => vars.set(name, value.clone()),
        }
    }
    for (name, source) in &header.secret_vars {
        let given = opts.given_vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let value = match source {
            SecretSource::Env { name: env } => given.or_else(|| std::env::var(env).ok()),
            SecretSource::Option => given,
            SecretSource::Default => continue,
        };
        let value = match value {
            Some(v) => v,
            None => {
                let from = match source {
                    SecretSource::Env { name: env } => format!("the environment variable {env}"),
                    _ => format!("--var {name}=…"),
                };
                let prompt = format!("Secret `{name}` (the run read it from {from})");
                match tokio::task::block_in_place(|| prompter.secret(&prompt))? {
                    Some(v) => v,
                    None => {
                        return Err(Error::usage(format!(
                            "secret variable `{name}` is not stored in the journal: the run read it from {from}; give it again the same way (or resume interactively to type it)"
                        )))
                    }
                }
            }
        };
        vars.set(name, value);
    }
    Ok(overrides)
}

/// A `sql` step an earlier attempt left part-way.
struct Partial {
    /// Its statements, as shown (secrets masked).
    shown: Vec<String>,
    /// How many of them, from the first, the journal shows committed.
    first: usize,
    /// Whether they commit one by one ([`super::step::sql::commits_each`]).
    commits_each: bool,
}

impl Partial {
    /// How far the journal shows `sql` step `id` done, from the indexes of its journaled
    /// statements. `None` for a journal written before statements carried their index: there a
    /// step's statements were journaled together once all had committed.
    fn of(loaded: &Loaded, id: &str, engine: Engine, vars: &Vars, indexes: &[Option<u32>]) -> Option<Partial> {
        let committed = indexes.iter().map(|i| i.map(|i| i as usize)).collect::<Option<BTreeSet<usize>>>()?;
        let first = (0..).find(|i| !committed.contains(i)).unwrap_or(0);
        let step = loaded.plan.iter().chain(&loaded.rollback).find(|s| s.id == id)?;
        let Action::Sql(a) = &step.action else { return None };
        let (sent, shown) = super::step::to_send(&a.sql, engine, vars).ok()?;
        let texts: Vec<String> = sent.into_iter().map(|s| s.sql).collect();
        Some(Partial { commits_each: super::step::sql::commits_each(a, &texts, engine), shown, first })
    }

    fn all_committed(&self) -> bool {
        self.first >= self.shown.len()
    }

    /// Each statement, committed or not, for the operator.
    fn show(&self) {
        for (i, sql) in self.shown.iter().enumerate() {
            let mark = if i < self.first { "✔ committed    " } else { "✘ not committed" };
            ui::out(format!("  {mark}  {}. {}", i + 1, sql.lines().next().unwrap_or("")));
        }
    }

    /// Where the step starts again, as journaled in the resume's decision.
    fn resumed(&self) -> String {
        format!(
            "resumed from statement {} of {}: the journal shows statement(s) 1–{} committed, and they are not run again",
            self.first + 1,
            self.shown.len(),
            self.first
        )
    }
}

/// How resume closes the step that was in flight without running it.
enum Close {
    /// Its journaled decision (or the header's `--skip`) was to skip it.
    Skipped,
    /// Its statements are journaled, so they had committed.
    Committed,
    /// The operator checked the database and says it is done.
    MarkedDone,
    /// The operator skips it at resume's prompt, for this reason.
    SkippedNow(String),
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
    // A killed process leaves a dump tool's credential file (the password) in the run folder:
    // it goes first, whatever the resume then decides.
    let stale_credentials = crate::db::dump::remove_stale_credentials(&opts.run_dir);
    opts.fleet_steps.check_references(&opts.run_dir)?;
    let header = &state.header;
    if loaded.sha256 != header.runbook_sha256 {
        return Err(Error::usage(format!(
            "the runbook changed since run {} started (sha256 {} then, {} now); resume needs the runbook the run started with",
            header.run_id,
            &header.runbook_sha256[..12],
            &loaded.sha256[..12]
        )));
    }
    if !header.target_id.is_empty() && header.target_id != target.identity() {
        return Err(Error::usage(format!(
            "run {} changed {}, not {}: resume it against the same database (--db)",
            header.run_id,
            header.target,
            target.display()
        )));
    }
    if header.mode == Mode::Rehearsal {
        return Err(Error::usage("a rehearsal cannot be resumed: its scratch copy is gone; run `runbook rehearse` again"));
    }

    let mut rebuilt = rebuild(header, &state.entries);
    let start_schema = rebuilt
        .start_schema
        .take()
        .ok_or_else(|| Error::usage("the journal has no start snapshot: the run died before its first step; start a new run"))?;

    let overrides = header_vars(header, &mut vars, &opts, &mut prompter)?;
    vars.set("run_id", header.run_id.clone());
    vars.set("run_dir", opts.run_dir.display().to_string());
    vars.set("operator", opts.operator.clone());
    if !header.header_complete {
        panel::warn("this journal predates the full run header: its --skip and --on-failure choices were not recorded; steps it finished keep their results");
    }

    let run_opts = RunOptions {
        plan: header.plan,
        mode: header.mode,
        operator: opts.operator.clone(),
        runs_dir: opts.run_dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        skips: header.skips.clone(),
        on_failure_rollback: header.on_failure_rollback,
        allow_no_backup: header.allow_no_backup || opts.allow_no_backup,
        baseline: header.baseline.as_ref().map(PathBuf::from),
        rehearsal: None,
        then_rollback: header.then_rollback,
        secret_vars: header.secret_vars.clone(),
        approval: crate::approval::RunApproval::resumed(&state.entries),
        fleet_steps: opts.fleet_steps.clone(),
    };
    super::preflight(&loaded, &vars, &run_opts)?;

    // Decide about the step in flight before touching the database.
    let mut decision = None;
    let mut close_in_flight = None;
    let mut resume_from = HashMap::new();
    if let Some((id, kind, at, journaled)) = &rebuilt.open {
        let skipped = *journaled == Some(Decision::Skip) || run_opts.is_skipped(id);
        let committed: Vec<&str> = state
            .entries
            .iter()
            .filter_map(|e| match &e.event {
                Event::Statement { step_id, sql, .. } if step_id == id => Some(sql.as_str()),
                _ => None,
            })
            .collect();
        let partial = match rebuilt.statements.get(id) {
            Some(indexes) if *kind == Kind::Sql => Partial::of(&loaded, id, target.engine, &vars, indexes),
            _ => None,
        };
        if skipped {
            // Its decision was to skip it: nothing of it ran, and nothing of it may run now.
            ui::out(format!("Step `{id}` was being skipped when run {} stopped: it stays skipped", header.run_id));
            decision = Some("skipped, as decided before the run stopped".to_string());
            close_in_flight = Some(Close::Skipped);
            rebuilt.done.insert(id.clone());
        } else if let Some(p) = partial.as_ref().filter(|p| p.first > 0 && !p.all_committed() && p.commits_each) {
            // Its statements commit one by one and each is journaled as it commits: the
            // journal proves which are applied, so the step goes on from the first that is not,
            // and none runs twice.
            ui::out(format!(
                "Step `{id}` was in flight when run {} stopped, part-way; its statements commit one by one, and the journal shows:",
                header.run_id
            ));
            p.show();
            ui::out(format!("  it resumes from statement {} of {}", p.first + 1, p.shown.len()));
            decision = Some(p.resumed());
            resume_from.insert(id.clone(), p.first);
        } else if *kind == Kind::Sql && !committed.is_empty() && partial.as_ref().is_none_or(Partial::all_committed) {
            // Every statement of the step is journaled, so every one had committed (or, in a
            // journal older than statement indexes, the step's statements were journaled
            // together once all had): the step's work is done, only its end was not recorded.
            // Running it again would apply it twice.
            ui::out(format!("Step `{id}` was in flight when run {} stopped, and its statements had committed:", header.run_id));
            for sql in &committed {
                ui::out(format!("  ✔ {}", sql.lines().next().unwrap_or("")));
            }
            decision = Some("its statements had committed: finished without running it again".to_string());
            close_in_flight = Some(Close::Committed);
            rebuilt.done.insert(id.clone());
        } else {
            ui::out(format!("Step `{id}` ({kind}) was in flight when run {} stopped; the journal knows:", header.run_id));
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
                InFlight::RunAgain
            } else {
                let p = &mut prompter;
                tokio::task::block_in_place(|| p.in_flight(id))?
            };
            decision = Some(match &choice {
                InFlight::RunAgain => format!("run again ({})", if opts.yes { "--rerun-in-flight" } else { "interactive" }),
                InFlight::MarkDone => "marked done after checking".to_string(),
                InFlight::Skip(reason) => format!("skipped: {reason}"),
                InFlight::Abort => return Err(Error::Stopped { message: format!("resume aborted at the in-flight step `{id}`") }),
                InFlight::Interrupted => {
                    // Ctrl-C at this prompt is the operator stopping, as a signal would be: the
                    // attempt is journaled as interrupted, and the run stays resumable.
                    let mut journal = Journal::append_to(&opts.run_dir, super::redactor(&vars, &target))?;
                    journal.record(Event::RunResumed {
                        by: opts.operator.clone(),
                        how: prompter.how().to_string(),
                        in_flight: Some(id.clone()),
                        decision: None,
                    })?;
                    journal.record(Event::Interrupted { step_id: None, signal: "Ctrl-C".into() })?;
                    journal.record(Event::RunFinished {
                        outcome: Outcome::Interrupted,
                        exit_code: crate::error::EXIT_STOPPED,
                        duration_ms: started.elapsed().as_millis() as u64,
                    })?;
                    ui::restore_terminal();
                    return Err(Error::Stopped {
                        message: format!(
                            "interrupted (Ctrl-C) at the in-flight step `{id}`: nothing was run; `runbook resume {}` asks again",
                            opts.run_dir.display()
                        ),
                    });
                }
            });
            match choice {
                InFlight::MarkDone => close_in_flight = Some(Close::MarkedDone),
                InFlight::Skip(reason) => close_in_flight = Some(Close::SkippedNow(reason)),
                _ => {}
            }
            if close_in_flight.is_some() {
                rebuilt.done.insert(id.clone());
            }
        }
    }

    // A step that failed or was interrupted part-way in an earlier attempt, with statements that
    // commit one by one, runs again from its first statement the journal does not show
    // committed.
    for (id, indexes) in &rebuilt.statements {
        if rebuilt.done.contains(id) || resume_from.contains_key(id) || rebuilt.open.as_ref().is_some_and(|o| &o.0 == id) {
            continue;
        }
        if let Some(p) = Partial::of(&loaded, id, target.engine, &vars, indexes).filter(|p| p.first > 0) {
            ui::out(format!("Step `{id}` stopped part-way in an earlier attempt; the journal shows:"));
            p.show();
            resume_from.insert(id.clone(), p.first);
        }
    }

    let mut db = db::connect(&target, false).await?;
    super::lock(db.as_mut(), &header.run_id, &opts.operator).await?;
    // A rehearsal killed on this target may have left its scratch copy (all the data) behind.
    let dropped_scratch = db::scratch::sweep(&target).await.unwrap_or_default();
    let mut journal = Journal::append_to(&opts.run_dir, super::redactor(&vars, &target))?;
    journal.record(Event::LockAcquired { target: target.display() })?;
    journal.record(Event::RunResumed {
        by: opts.operator.clone(),
        how: prompter.how().to_string(),
        in_flight: rebuilt.open.as_ref().map(|o| o.0.clone()),
        decision: decision.clone(),
    })?;
    for o in overrides {
        journal.record(o)?;
    }
    for name in dropped_scratch {
        panel::info(format!("dropped the scratch database {name} left by a killed rehearsal"));
        journal.record(Event::Info { step_id: None, message: format!("dropped scratch database {name} left by a killed rehearsal") })?;
    }
    for name in stale_credentials {
        panel::info(format!("removed the credential file {name} left by the interrupted attempt"));
        journal
            .record(Event::Info { step_id: None, message: format!("removed credential file {name} left by the interrupted attempt") })?;
    }
    if let Some((id, kind, _, _)) = &rebuilt.open {
        match close_in_flight {
            Some(Close::MarkedDone) => journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Passed,
                error: Some(format!("marked done by {} after checking the database", opts.operator)),
                duration_ms: 0,
            })?,
            Some(Close::Committed) => journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Passed,
                error: Some("finished by resume: the journal shows its statements committed".into()),
                duration_ms: 0,
            })?,
            Some(Close::SkippedNow(reason)) => journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Skipped,
                error: Some(format!("skipped by {} at resume: {reason}", opts.operator)),
                duration_ms: 0,
            })?,
            Some(Close::Skipped) => {
                journal.record(Event::StepFinished { step_id: id.clone(), status: StepStatus::Skipped, error: None, duration_ms: 0 })?
            }
            None if *kind == Kind::Backup => remove_partial_backups(&mut journal, &opts.run_dir, id, &rebuilt.backups)?,
            None => {}
        }
    }
    ui::out(format!("Resuming run {} ({}) against {}", header.run_id, header.plan.label(), target.display()));

    let run_id = header.run_id.clone();
    let plan = header.plan;
    let mut r = Runner::new(loaded, target, db, journal, vars, prompter, run_opts, run_id, opts.run_dir.clone());
    r.start_schema = start_schema;
    r.baselines = rebuilt.baselines;
    r.backups = rebuilt.backups;
    r.done = rebuilt.done;
    r.rollback = rebuilt.rollback;
    r.resume_from = resume_from;
    r.ran_change_plan = plan == PlanKind::Plan;
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
        Event::Statement { sql, rows_affected, kind, .. } => {
            format!("statement done: {} ({})", sql.lines().next().unwrap_or(""), kind.label(*rows_affected))
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
