//! Resuming a run that was killed or stopped: rebuild the run's state from its journal, decide
//! about the step that was in flight, and continue in the same journal. Completed steps are
//! never run again.
//!
//! The order matters: resume listens for signals, connects and takes the run lock before it
//! asks anything (a value given again, a secret, the step in flight), so that a second operator
//! cannot resume the same run while the first decides. Its questions go through the run's own
//! interrupt-aware prompt, and an operator who stops at one (a signal, Ctrl-C, Abort) ends the
//! attempt through the runner's finish like any other run: journaled, the lock released, the
//! reports rewritten, exit 3, and the run still resumable.

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

use super::interrupt::{self, Interrupts};
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
    /// The run's own transactions, from its statements' journaled ids.
    own_transactions: super::transactions::OwnTransactions,
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
        own_transactions: super::transactions::OwnTransactions::from_journal(entries),
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
/// The overrides to journal go to `overrides`.
async fn header_vars(
    header: &RunHeader,
    vars: &mut Vars,
    opts: &ResumeOptions,
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    overrides: &mut Vec<Event>,
) -> Result<()> {
    for (name, value) in &header.vars {
        if header.secret_vars.contains_key(name) || (value == MASK && vars.is_secret(name)) {
            continue;
        }
        let given = opts.given_vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match given {
            Some(g) if &g != value => {
                let question = format!("--var {name}: the run used `{value}`, you gave `{g}`. Continue the run with `{g}`?");
                let yes = !opts.yes && interrupt::ask(prompter, Some(interrupts), move |p| p.confirm(&question, false)).await?;
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
                match interrupt::ask(prompter, Some(interrupts), move |p| p.secret(&prompt)).await? {
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
    Ok(())
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

    /// Each statement, committed or not, for the operator. `unsure`: the first statement the
    /// journal does not show may have committed all the same ([`Partial::unsure`]).
    fn show(&self, unsure: bool) {
        for (i, sql) in self.shown.iter().enumerate() {
            let mark = match i {
                i if i < self.first => "✔ committed    ",
                i if i == self.first && unsure => "? unknown      ",
                _ => "✘ not committed",
            };
            ui::out(format!("  {mark}  {}. {}", i + 1, sql.lines().next().unwrap_or("")));
        }
    }

    /// Whether the first statement the journal does not show may have committed all the same:
    /// the step was cut off by a kill (nothing journaled its end) on a server. The server runs
    /// a statement to its end after its client died, and commits it on its own, so "not
    /// journaled" does not prove "not committed" there — except on PostgreSQL for a statement
    /// run in a transaction block of its own ([`crate::db::postgres::fits_in_block`]): the run
    /// sends its COMMIT only after the statement returned, so a kill before that rolls it back.
    /// On SQLite the statement runs inside the killed process and dies with it; a step that
    /// ended (failed, interrupted with the statement cancelled and checked) journaled how.
    fn unsure(&self, engine: Engine) -> bool {
        match engine {
            Engine::Sqlite => false,
            Engine::Postgres => self.shown.get(self.first).is_none_or(|s| !crate::db::postgres::fits_in_block(s)),
            Engine::Mysql => true,
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

/// What resume's questions settled, filled in as they are answered: an attempt stopped at a
/// later question is journaled with what the earlier ones decided.
#[derive(Default)]
struct Settled {
    /// `var_override` events for the values the operator confirmed.
    overrides: Vec<Event>,
    /// What became of the step in flight, in words, for `run_resumed`.
    decision: Option<String>,
    close: Option<Close>,
    /// Where each `sql` step left part-way starts again: its first statement not committed.
    resume_from: HashMap<String, usize>,
}

/// Whether an error at resume's questions is the operator stopping (a signal, Ctrl-C, Abort,
/// the terminal gone): the attempt is then journaled and ends like any interrupted run. Any
/// other error is bad input, refused before the attempt begins, with the journal left as it
/// was.
fn operator_stopped(e: &Error) -> bool {
    matches!(e, Error::Interrupted { .. } | Error::Stopped { .. })
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

    // From here every signal is the operator stopping, at a prompt as during a step; and the
    // lock is held before anything is asked, so a second operator cannot resume the same run
    // while the first is still deciding about it.
    let interrupts = interrupt::listen();
    let mut db = db::connect(&target, false).await?;
    super::lock(db.as_mut(), &header.run_id, &opts.operator).await?;
    // How answers are given, read before a prompt a signal abandons takes the prompter away.
    let how = prompter.how();
    let mut settled = Settled::default();
    let asked =
        settle(&state, &loaded, target.engine, &mut rebuilt, &mut vars, &opts, &run_opts, &mut prompter, &interrupts, &mut settled).await;
    let asked = match asked {
        Err(e) if !operator_stopped(&e) => {
            let _ = db.unlock().await;
            return Err(e);
        }
        other => other,
    };
    // Opened once the secrets are read again, so that its redactor knows every one of them.
    let journal = match Journal::append_to(&opts.run_dir, super::redactor(&vars, &target)) {
        Ok(j) => j,
        Err(e) => {
            let _ = db.unlock().await;
            return Err(e);
        }
    };
    let run_id = header.run_id.clone();
    let plan = header.plan;
    let in_flight = rebuilt.open.as_ref().map(|o| o.0.clone());
    let mut r = Runner::new(loaded, target, db, journal, vars, prompter, run_opts, run_id, opts.run_dir.clone());
    r.start_schema = start_schema;
    r.baselines = std::mem::take(&mut rebuilt.baselines);
    r.backups = rebuilt.backups.clone();
    r.done = std::mem::take(&mut rebuilt.done);
    r.rollback = rebuilt.rollback;
    r.resume_from = std::mem::take(&mut settled.resume_from);
    // Rebuilt from the statements' journaled transactions, so that a validate step after the
    // resume still tells the run's row versions from the application's.
    r.own_transactions = std::mem::take(&mut rebuilt.own_transactions);
    r.ran_change_plan = plan == PlanKind::Plan;
    r.interrupts = Some(interrupts);
    // The attempt is journaled however its questions ended; an operator who stopped at one
    // ends it through the same finish as any other run: interrupted (or aborted), the lock
    // released, the reports rewritten, exit 3, and the run still resumable.
    let finished = match asked {
        Ok(()) => continue_resumed(&mut r, how, in_flight, &rebuilt, settled, stale_credentials, &opts).await,
        Err(stop) => r.record_resumed(how, in_flight, settled.decision, &stale_credentials, &opts.operator).and(Err(stop)),
    };
    r.finish(finished, started).await
}

/// Ask resume's questions, in order: a value given again that differs from the header, each
/// secret the journal does not hold, then the step that was in flight. Every question goes
/// through [`interrupt::ask`], as the run's own prompts do.
#[allow(clippy::too_many_arguments)]
async fn settle(
    state: &RunState,
    loaded: &Loaded,
    engine: Engine,
    rebuilt: &mut Rebuilt,
    vars: &mut Vars,
    opts: &ResumeOptions,
    run_opts: &RunOptions,
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    settled: &mut Settled,
) -> Result<()> {
    header_vars(&state.header, vars, opts, prompter, interrupts, &mut settled.overrides).await?;
    super::preflight(loaded, vars, run_opts)?;
    in_flight(state, loaded, engine, rebuilt, vars, opts, run_opts, prompter, interrupts, settled).await?;

    // A step that failed or was interrupted part-way in an earlier attempt, with statements that
    // commit one by one, runs again from its first statement the journal does not show
    // committed.
    for (id, indexes) in &rebuilt.statements {
        if rebuilt.done.contains(id) || settled.resume_from.contains_key(id) || rebuilt.open.as_ref().is_some_and(|o| &o.0 == id) {
            continue;
        }
        if let Some(p) = Partial::of(loaded, id, engine, vars, indexes).filter(|p| p.first > 0) {
            ui::out(format!("Step `{id}` stopped part-way in an earlier attempt; the journal shows:"));
            p.show(false);
            settled.resume_from.insert(id.clone(), p.first);
        }
    }
    Ok(())
}

/// Decide about the step that was in flight, if any: the journal decides when it can (a skip,
/// statements that committed), the operator otherwise.
#[allow(clippy::too_many_arguments)]
async fn in_flight(
    state: &RunState,
    loaded: &Loaded,
    engine: Engine,
    rebuilt: &mut Rebuilt,
    vars: &Vars,
    opts: &ResumeOptions,
    run_opts: &RunOptions,
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    settled: &mut Settled,
) -> Result<()> {
    let header = &state.header;
    let Some((id, kind, at, journaled)) = &rebuilt.open else { return Ok(()) };
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
        Some(indexes) if *kind == Kind::Sql => Partial::of(loaded, id, engine, vars, indexes),
        _ => None,
    };
    if skipped {
        // Its decision was to skip it: nothing of it ran, and nothing of it may run now.
        ui::out(format!("Step `{id}` was being skipped when run {} stopped: it stays skipped", header.run_id));
        settled.decision = Some("skipped, as decided before the run stopped".to_string());
        settled.close = Some(Close::Skipped);
    } else if let Some(p) = partial.as_ref().filter(|p| p.first > 0 && !p.all_committed() && p.commits_each && !p.unsure(engine)) {
        // Its statements commit one by one and each is journaled as it commits: the
        // journal proves which are applied, so the step goes on from the first that is not,
        // and none runs twice.
        ui::out(format!(
            "Step `{id}` was in flight when run {} stopped, part-way; its statements commit one by one, and the journal shows:",
            header.run_id
        ));
        p.show(false);
        ui::out(format!("  it resumes from statement {} of {}", p.first + 1, p.shown.len()));
        settled.decision = Some(p.resumed());
        settled.resume_from.insert(id.clone(), p.first);
    } else if *kind == Kind::Sql && !committed.is_empty() && partial.as_ref().is_none_or(Partial::all_committed) {
        // Every statement of the step is journaled, so every one had committed (or, in a
        // journal older than statement indexes, the step's statements were journaled
        // together once all had): the step's work is done, only its end was not recorded.
        // Running it again would apply it twice.
        ui::out(format!("Step `{id}` was in flight when run {} stopped, and its statements had committed:", header.run_id));
        for sql in &committed {
            ui::out(format!("  ✔ {}", sql.lines().next().unwrap_or("")));
        }
        settled.decision = Some("its statements had committed: finished without running it again".to_string());
        settled.close = Some(Close::Committed);
    } else {
        // A step part-way on a server: the statement after the journaled ones may have
        // committed after the kill. Running it again is the operator's call, from there.
        let unsure = partial.as_ref().filter(|p| p.first > 0 && !p.all_committed() && p.commits_each);
        if let Some(p) = unsure {
            ui::out(format!(
                "Step `{id}` was in flight when run {} stopped, part-way; its statements commit one by one, and the journal shows:",
                header.run_id
            ));
            p.show(true);
            ui::out(format!(
                "  statement {} was running on the server when the run was killed: the server finishes a statement whose client died, so it may have committed",
                p.first + 1
            ));
        } else {
            ui::out(format!("Step `{id}` ({kind}) was in flight when run {} stopped; the journal knows:", header.run_id));
            ui::out(format!("  started at {at}"));
            for e in state.entries.iter().filter(|e| step_of(&e.event) == Some(id.as_str())) {
                ui::out(format!("  {} {}", e.ts, describe(&e.event)));
            }
            if kind == &Kind::Sql {
                ui::out("  (a statement cut off inside a transaction was rolled back by the database; DDL on MariaDB/MySQL commits statement by statement)");
            }
        }
        let choice = if opts.yes {
            if !opts.rerun_in_flight {
                return Err(Error::usage(match unsure {
                    Some(p) => format!(
                        "step `{id}` was in flight when the run stopped, at statement {} of {}, which may have committed on the server after the run was killed; --yes will not decide about it: check the database, then pass --rerun-in-flight to run the step again from statement {}, or resume interactively",
                        p.first + 1,
                        p.shown.len(),
                        p.first + 1
                    ),
                    None => format!(
                        "step `{id}` was in flight when the run stopped; --yes will not decide about it: check the database, then pass --rerun-in-flight to run it again, or resume interactively"
                    ),
                }));
            }
            InFlight::RunAgain
        } else {
            let step = id.clone();
            interrupt::ask(prompter, Some(interrupts), move |p| p.in_flight(&step)).await?
        };
        let how = if opts.yes { "--rerun-in-flight" } else { "interactive" };
        settled.decision = Some(match &choice {
            // The statements the journal shows committed are never run again.
            InFlight::RunAgain => match unsure {
                Some(p) => {
                    settled.resume_from.insert(id.clone(), p.first);
                    format!(
                        "run again from statement {} of {} ({how}): statement(s) 1–{} are journaled committed and are not run again",
                        p.first + 1,
                        p.shown.len(),
                        p.first
                    )
                }
                None => format!("run again ({how})"),
            },
            InFlight::MarkDone => "marked done after checking".to_string(),
            InFlight::Skip(reason) => format!("skipped: {reason}"),
            InFlight::Abort => {
                settled.decision = Some("aborted at resume's prompt: nothing was run".to_string());
                return Err(Error::Stopped { message: format!("resume aborted at the in-flight step `{id}`: nothing was run") });
            }
        });
        settled.close = match choice {
            InFlight::MarkDone => Some(Close::MarkedDone),
            InFlight::Skip(reason) => Some(Close::SkippedNow(reason)),
            _ => None,
        };
    }
    if settled.close.is_some() {
        rebuilt.done.insert(id.clone());
    }
    Ok(())
}

impl Runner {
    /// Journal the start of a resume attempt: the lock it took (the line the reports start the
    /// attempt at), who resumed, what became of the step in flight, and the credential files it
    /// removed.
    fn record_resumed(
        &mut self,
        how: &str,
        in_flight: Option<String>,
        decision: Option<String>,
        stale_credentials: &[String],
        operator: &str,
    ) -> Result<()> {
        self.journal.record(Event::LockAcquired { target: self.target.display() })?;
        self.journal.record(Event::RunResumed { by: operator.to_string(), how: how.to_string(), in_flight, decision })?;
        for name in stale_credentials {
            panel::info(format!("removed the credential file {name} left by the interrupted attempt"));
            self.journal.record(Event::Info {
                step_id: None,
                message: format!("removed credential file {name} left by the interrupted attempt"),
            })?;
        }
        Ok(())
    }
}

/// The resume goes ahead: journal the attempt and its decisions, close the step in flight as
/// decided, and continue the plan.
async fn continue_resumed(
    r: &mut Runner,
    how: &str,
    in_flight: Option<String>,
    rebuilt: &Rebuilt,
    settled: Settled,
    stale_credentials: Vec<String>,
    opts: &ResumeOptions,
) -> Result<(Outcome, i32)> {
    // A rehearsal killed on this target may have left its scratch copy (all the data) behind.
    let dropped_scratch = db::scratch::sweep(&r.target).await.unwrap_or_default();
    r.record_resumed(how, in_flight, settled.decision, &stale_credentials, &opts.operator)?;
    for o in settled.overrides {
        r.journal.record(o)?;
    }
    for name in dropped_scratch {
        panel::info(format!("dropped the scratch database {name} left by a killed rehearsal"));
        r.journal.record(Event::Info { step_id: None, message: format!("dropped scratch database {name} left by a killed rehearsal") })?;
    }
    if let Some((id, kind, _, _)) = &rebuilt.open {
        match settled.close {
            Some(Close::MarkedDone) => r.journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Passed,
                error: Some(format!("marked done by {} after checking the database", opts.operator)),
                duration_ms: 0,
            })?,
            Some(Close::Committed) => r.journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Passed,
                error: Some("finished by resume: the journal shows its statements committed".into()),
                duration_ms: 0,
            })?,
            Some(Close::SkippedNow(reason)) => r.journal.record(Event::StepFinished {
                step_id: id.clone(),
                status: StepStatus::Skipped,
                error: Some(format!("skipped by {} at resume: {reason}", opts.operator)),
                duration_ms: 0,
            })?,
            Some(Close::Skipped) => {
                r.journal.record(Event::StepFinished { step_id: id.clone(), status: StepStatus::Skipped, error: None, duration_ms: 0 })?
            }
            None if *kind == Kind::Backup => remove_partial_backups(&mut r.journal, &opts.run_dir, id, &rebuilt.backups)?,
            None => {}
        }
    }
    ui::out(format!("Resuming run {} ({}) against {}", r.run_id, r.opts.plan.label(), r.target.display()));
    r.continue_run().await
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
