//! Running a fleet: wave after wave, at most `--parallel` targets at once, each target a
//! child process of this binary (`run … --yes`, or `resume` through its own journal), with the
//! failure budget checked after every target and the operator asked once per wave.
//!
//! The fleet depends only on the command-line contract of `run`/`resume` and on the journal
//! format, never on the executor's internals: a target is exactly an ordinary run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::journal::{self as fjournal, FleetEvent, TargetOutline};
use super::state::{FleetState, Status};
use crate::error::{Error, Result, EXIT_FAILED, EXIT_OK, EXIT_STOPPED};
use crate::exec::interrupt::{self, Interrupts};
use crate::journal::{self, Event, Journal};
use crate::runbook::{Action, Loaded};
use crate::ui::prompt::ItemAnswer;
use crate::ui::{self, Prompter};

/// How the fleet runs its targets (what `fleet run` was given; `fleet resume` reads it back).
#[derive(Debug, Clone)]
pub struct Settings {
    pub runbook: PathBuf,
    pub parallel: usize,
    pub rollback_on_failure: bool,
    pub pause: Option<Duration>,
    pub skips: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub operator: String,
    /// `fleet resume --rerun-in-flight`: a step that was in flight in a target may run again.
    pub rerun_in_flight: bool,
}

/// What to do with one target in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Todo {
    Run,
    Resume,
    Retry,
}

impl Todo {
    fn as_str(self) -> &'static str {
        match self {
            Todo::Run => "run",
            Todo::Resume => "resume",
            Todo::Retry => "retry",
        }
    }
}

/// What a target's run left behind.
#[derive(Debug, Default)]
pub struct RunInfo {
    pub run_dir: Option<String>,
    pub run_id: Option<String>,
    pub outcome: String,
    pub seal: Option<String>,
    pub lines: u64,
    pub first_error: Option<String>,
    pub finished: bool,
    pub exit_code: Option<i32>,
    /// The run recorded its start snapshot: from there on `resume` can continue it. Before it,
    /// nothing was done on the target and `resume` refuses the journal.
    pub began: bool,
    /// The run stopped before this `scope: fleet` step, for the fleet to run it.
    pub awaiting: Option<String>,
}

/// Read a run folder's journal: its id, outcome, first error and seal.
pub fn inspect(run_dir: &Path) -> Result<RunInfo> {
    let (entries, seal) = journal::read(run_dir)?;
    let mut info = RunInfo { seal: Some(seal), lines: entries.len() as u64, outcome: "interrupted".into(), ..RunInfo::default() };
    for e in &entries {
        match &e.event {
            Event::RunStarted(h) => info.run_id = Some(h.run_id.clone()),
            Event::SchemaSnapshot { label, .. } if label == "start" => info.began = true,
            Event::StepFinished { step_id, error: Some(err), .. } if info.first_error.is_none() => {
                info.first_error = Some(format!("{step_id}: {err}"));
            }
            Event::RunFinished { outcome, exit_code, .. } => {
                info.outcome = outcome.as_str().to_string();
                info.exit_code = Some(*exit_code);
                info.finished = true;
            }
            Event::FleetStep { step_id, reference: None } => info.awaiting = Some(step_id.clone()),
            Event::RunResumed { .. } => {
                info.awaiting = None;
                info.finished = false;
                info.exit_code = None;
                info.outcome = "interrupted".into();
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Run folders in a target's folder, oldest first (run ids start with their time).
fn run_dirs(target_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(target_dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join(journal::FILE_NAME).is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Drive the fleet from `state` to its end.
///
/// `interrupts` listens for SIGINT, SIGTERM and SIGHUP from the fleet's start: every prompt
/// goes through [`interrupt::ask`], a signal during a wave is passed on to each target's run,
/// and the fleet then records the interruption and ends with exit 3.
///
/// Without `scope: fleet` steps that is one pass over the waves. With them, each pass takes
/// every target up to the next fleet step (their runs stop before it), then the fleet runs that
/// step once, and the next pass resumes every target's run from there; so the step runs after
/// all the waves of the steps before it and before any wave of the steps after it.
pub async fn drive(
    dir: &Path,
    mut journal: Journal,
    mut state: FleetState,
    settings: &Settings,
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    loaded: &Loaded,
) -> Result<i32> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| Error::failed(format!("cannot find this program's own path: {e}")))?;
    let outlines: BTreeMap<String, TargetOutline> = state.targets.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let fleet_steps = super::step::fleet_steps(loaded, &settings.skips);
    let pass_start = state.runs.len();
    let mut end;
    loop {
        let next = fleet_steps.iter().find(|s| state.fleet_step_done(&s.id).is_none()).copied();
        let pass = Pass::new(loaded, &fleet_steps, &state, next);
        let ctx = Ctx { dir, exe: &exe, settings, outlines: &outlines, interrupts };
        end = run_waves(&ctx, &mut journal, &mut state, prompter, loaded, &pass, pass_start).await?;
        if end != End::Done || state.budget_exceeded {
            break;
        }
        let Some(step) = next else { break };
        // Every target must stand before the step (or have failed within the budget); one that
        // never reached it leaves the fleet incomplete, and the step waits for a resume.
        let reached = state.awaiting(&step.id);
        let behind = state.status.values().any(|s| matches!(s, Status::NotStarted | Status::InFlight { .. }));
        if reached == 0 || behind {
            break;
        }
        let vars = crate::load::vars::Vars::resolve(&loaded.doc, &settings.vars.clone().into_iter().collect::<Vec<_>>())?;
        let code = match super::step::run(dir, &mut journal, loaded, &vars, step, prompter, interrupts, &settings.operator).await {
            Err(Error::Interrupted { signal }) => {
                end = End::Interrupted { signal, at: format!("at fleet step `{}`", step.id) };
                break;
            }
            other => other?,
        };
        state.note_fleet_step(
            &FleetEvent::FleetStepFinished {
                step_id: step.id.clone(),
                status: if code == EXIT_OK { "passed".into() } else { "failed".into() },
                detail: String::new(),
                log: None,
                duration_ms: 0,
            },
            journal.seq(),
        );
        match code {
            EXIT_OK => {}
            EXIT_STOPPED => {
                end = End::Stopped;
                break;
            }
            _ => {
                end = End::FleetStepFailed(step.id.clone());
                break;
            }
        }
    }
    finish(&mut journal, &state, started, end)
}

/// Why a drive ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Every wave of every pass ran (targets may still have failed).
    Done,
    /// The operator said no to a wave, a checklist or a fleet step.
    Stopped,
    /// The fleet step of this id failed.
    FleetStepFailed(String),
    /// A monitor sampled during the bake time crossed its threshold: after this wave, why.
    BakeFailed { wave: usize, why: String },
    /// A signal, or Ctrl-C typed at a prompt: the operator stopping, `at` saying where.
    Interrupted { signal: String, at: String },
}

/// A prompt's answer, or the fleet's end when a signal (or a typed Ctrl-C) came instead.
fn answered<T>(r: Result<T>, at: impl FnOnce() -> String) -> Result<std::result::Result<T, End>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(Error::Interrupted { signal }) => Ok(Err(End::Interrupted { signal, at: at() })),
        Err(e) => Err(e),
    }
}

/// What every wave of a drive shares.
struct Ctx<'a> {
    dir: &'a Path,
    exe: &'a Path,
    settings: &'a Settings,
    outlines: &'a BTreeMap<String, TargetOutline>,
    interrupts: &'a Interrupts,
}

/// One pass over the waves: the steps up to the next fleet step (or to the end).
struct Pass<'a> {
    /// The fleet step this pass stops before, if any.
    until: Option<&'a crate::runbook::Step>,
    /// What the wave prompt says about the pass, when the plan has fleet steps.
    label: String,
    /// The manual steps of this pass, whose checklists are asked once per wave.
    manual: Vec<&'a crate::runbook::Step>,
    /// The monitor steps of this pass, which keep sampling during the bake time.
    monitors: Vec<&'a crate::runbook::Step>,
    /// `--fleet-step` values for the targets' runs.
    fleet_step_args: Vec<(String, Option<String>)>,
}

impl<'a> Pass<'a> {
    fn new(
        loaded: &'a Loaded,
        fleet_steps: &[&'a crate::runbook::Step],
        state: &FleetState,
        until: Option<&'a crate::runbook::Step>,
    ) -> Pass<'a> {
        let pos = |id: &str| loaded.plan.iter().position(|s| s.id == id);
        // The pass covers the plan after the last fleet step done and before `until`.
        let from = fleet_steps.iter().filter(|s| state.fleet_step_done(&s.id).is_some()).filter_map(|s| pos(&s.id)).max();
        let to = until.and_then(|s| pos(&s.id)).unwrap_or(loaded.plan.len());
        let in_pass: Vec<&crate::runbook::Step> = loaded
            .plan
            .iter()
            .enumerate()
            .filter(|(i, s)| from.is_none_or(|f| *i > f) && *i < to && s.scope == crate::runbook::Scope::Target)
            .map(|(_, s)| s)
            .collect();
        let manual = in_pass.iter().copied().filter(|s| matches!(s.action, Action::Manual(_))).collect();
        let monitors = in_pass.iter().copied().filter(|s| matches!(s.action, Action::Monitor(_))).collect();
        let label = match (fleet_steps.is_empty(), until, from) {
            (true, _, _) => String::new(),
            (false, Some(u), _) => format!(" — steps before fleet step `{}`", u.id),
            (false, None, Some(f)) => format!(" — steps after fleet step `{}`", loaded.plan[f].id),
            (false, None, None) => String::new(),
        };
        let fleet_step_args = fleet_steps.iter().map(|s| (s.id.clone(), state.fleet_step_done(&s.id).map(str::to_string))).collect();
        Pass { until, label, manual, monitors, fleet_step_args }
    }
}

/// Every wave of one pass, in order; the operator is asked once per wave.
async fn run_waves(
    ctx: &Ctx<'_>,
    journal: &mut Journal,
    state: &mut FleetState,
    prompter: &mut Box<dyn Prompter>,
    loaded: &Loaded,
    pass: &Pass<'_>,
    pass_start: usize,
) -> Result<End> {
    let (settings, outlines) = (ctx.settings, ctx.outlines);
    let waves = state.waves.clone();
    let total = waves.len();
    for (wi, wave) in waves.iter().enumerate() {
        let w = wi + 1;
        let todo: Vec<(String, Todo, u32)> = wave
            .targets
            .iter()
            .filter_map(|name| match state.status.get(name) {
                Some(Status::NotStarted) | None => Some((name.clone(), Todo::Run, 1)),
                Some(Status::InFlight { attempt, .. }) => Some((name.clone(), Todo::Resume, *attempt)),
                // A failure from before this command is retried; one of this command's earlier
                // pass stays as it failed (the budget allowed it), until `fleet resume`.
                Some(Status::Finished { attempt, exit_code, .. }) if *exit_code != 0 && state.latest_run_index(name) < Some(pass_start) => {
                    Some((name.clone(), Todo::Retry, attempt + 1))
                }
                Some(Status::Finished { .. }) => None,
                // Its run goes on once the fleet has run the step it waits for.
                Some(Status::Awaiting { attempt, step_id }) if state.fleet_step_done(step_id).is_some() => {
                    Some((name.clone(), Todo::Resume, *attempt))
                }
                Some(Status::Awaiting { .. }) => None,
            })
            .collect();
        if todo.is_empty() {
            continue;
        }
        let names: Vec<String> = todo.iter().map(|t| t.0.clone()).collect();
        let question = format!("Start wave {w} of {total}: {} target(s) ({}){}?", names.len(), shorten(&names), pass.label);
        let go = match answered(interrupt::ask(prompter, Some(ctx.interrupts), move |p| p.confirm(&question, true)).await, || {
            format!("at the wave {w} prompt")
        })? {
            Ok(go) => go,
            Err(end) => return Ok(end),
        };
        let how = if prompter.interactive() { "interactive" } else { prompter.how() };
        journal.record_event(&FleetEvent::WaveStarted {
            wave: w,
            targets: names.clone(),
            decision: if go { "start".into() } else { "stop".into() },
            by: settings.operator.clone(),
            how: how.to_string(),
        })?;
        state.apply(
            &FleetEvent::WaveStarted { wave: w, targets: names.clone(), decision: String::new(), by: String::new(), how: how.into() },
            &journal::now(),
        );
        if !go {
            return Ok(End::Stopped);
        }
        // A manual step's checklist is answered here once for the wave, not once per target.
        let mut stopped = false;
        for step in &pass.manual {
            if let Action::Manual(m) = &step.action {
                if settings.skips.contains(&step.id) {
                    continue;
                }
                for item in &m.checklist {
                    let question = format!("wave {w}, {}: {item}", step.name);
                    // "Not yet" means the operator is still on it: ask again until it is settled.
                    let asked = interrupt::ask(prompter, Some(ctx.interrupts), move |p| loop {
                        match p.checklist_item(&question)? {
                            ItemAnswer::Yes => break Ok(true),
                            ItemAnswer::No => break Ok(false),
                            ItemAnswer::NotYet => continue,
                        }
                    })
                    .await;
                    let ok = match answered(asked, || format!("at the wave {w} checklist of `{}`", step.id))? {
                        Ok(ok) => ok,
                        Err(end) => return Ok(end),
                    };
                    journal.record_event(&FleetEvent::WaveChecklist {
                        wave: w,
                        step_id: step.id.clone(),
                        item: item.clone(),
                        confirmed: ok,
                        by: settings.operator.clone(),
                        how: how.to_string(),
                    })?;
                    if !ok {
                        stopped = true;
                    }
                }
            }
        }
        if stopped {
            return Ok(End::Stopped);
        }
        let decision = format!("wave {w} of fleet {} confirmed by {} ({how})", state.fleet_id, settings.operator);
        ui::out(format!("Wave {w} of {total}: {}{}", names.join(", "), pass.label));
        let (ok, failed, signal) = run_wave(ctx, journal, state, w, todo, &decision, pass_start, &pass.fleet_step_args).await?;
        // An interrupted wave did not finish: its targets' runs go on at `fleet resume`.
        if let Some(signal) = signal {
            return Ok(End::Interrupted { signal: signal.into(), at: format!("during wave {w}") });
        }
        journal.record_event(&FleetEvent::WaveFinished { wave: w, succeeded: ok, failed })?;
        if state.budget_exceeded {
            return Ok(End::Done);
        }
        // Bake time: after every wave but the last of the whole fleet.
        let last = w == total && pass.until.is_none();
        if let Some(pause) = settings.pause {
            if !last {
                // The wave's targets that came through: those that failed are not watched.
                let baked: Vec<String> = names
                    .iter()
                    .filter(|n| matches!(state.status.get(*n), Some(Status::Finished { exit_code: 0, .. } | Status::Awaiting { .. })))
                    .cloned()
                    .collect();
                let monitors: Vec<&crate::runbook::Step> = pass
                    .monitors
                    .iter()
                    .copied()
                    .filter(|s| !settings.skips.iter().any(|k| k.split('=').next() == Some(s.id.as_str())))
                    .collect();
                // The bake only waits and samples: a signal ends it where it is.
                let breach = tokio::select! {
                    r = super::bake::bake(journal, loaded, &settings.vars, outlines, &monitors, w, &baked, pause) => r?,
                    signal = ctx.interrupts.signalled() => {
                        return Ok(End::Interrupted { signal: signal.into(), at: format!("during the bake time after wave {w}") });
                    }
                };
                if let Some(why) = breach {
                    return Ok(End::BakeFailed { wave: w, why });
                }
            }
        }
    }
    Ok(End::Done)
}

/// Start the wave's targets, at most `parallel` at a time, and record each as it ends. Once the
/// budget is exceeded no new target starts; those in flight finish. Once a signal arrives no
/// new target starts either, each running one is passed the signal (see [`Job::run`]), and the
/// signal is returned once they have all ended.
#[allow(clippy::too_many_arguments)]
async fn run_wave(
    ctx: &Ctx<'_>,
    journal: &mut Journal,
    state: &mut FleetState,
    wave: usize,
    todo: Vec<(String, Todo, u32)>,
    decision: &str,
    pass_start: usize,
    fleet_steps: &[(String, Option<String>)],
) -> Result<(usize, usize, Option<&'static str>)> {
    let (dir, settings) = (ctx.dir, ctx.settings);
    let mut queue = todo.into_iter();
    let mut set = tokio::task::JoinSet::new();
    let (mut ok, mut failed) = (0, 0);
    loop {
        while set.len() < settings.parallel.max(1) && !state.budget_exceeded && ctx.interrupts.pending().is_none() {
            let Some((name, action, attempt)) = queue.next() else { break };
            let target_dir = dir.join(&name);
            let resume_dir = if action == Todo::Resume { run_dirs(&target_dir).pop() } else { None };
            let event = FleetEvent::TargetStarted {
                target: name.clone(),
                wave,
                attempt,
                action: if action == Todo::Resume && resume_dir.is_none() { "run".into() } else { action.as_str().into() },
                run_dir: resume_dir.as_ref().map(|p| relative(dir, p)),
            };
            journal.record_event(&event)?;
            state.apply(&event, &journal::now());
            let outline =
                ctx.outlines.get(&name).cloned().ok_or_else(|| Error::failed(format!("target `{name}` is not in the fleet record")))?;
            let job = Job {
                exe: ctx.exe.to_path_buf(),
                fleet_dir: dir.to_path_buf(),
                target_dir,
                outline,
                resume_dir,
                attempt,
                decision: decision.to_string(),
                settings: settings.clone(),
                fleet_steps: fleet_steps.to_vec(),
                interrupts: ctx.interrupts.clone(),
            };
            set.spawn(async move {
                let began = Instant::now();
                let r = job.run().await;
                (job.outline.name.clone(), job.attempt, r, began.elapsed())
            });
        }
        let Some(joined) = set.join_next().await else { break };
        let (name, attempt, result, took) = joined.map_err(|e| Error::failed(format!("a target's task failed: {e}")))?;
        let (exit_code, info) = match result {
            Ok(r) => r,
            Err(e) => (EXIT_FAILED, RunInfo { outcome: "not run".into(), first_error: Some(e.to_string()), ..RunInfo::default() }),
        };
        if let (Some(step_id), EXIT_STOPPED) = (&info.awaiting, exit_code) {
            let event = FleetEvent::TargetAwaiting {
                target: name.clone(),
                wave,
                attempt,
                run_dir: info.run_dir.clone(),
                step_id: step_id.clone(),
                duration_ms: took.as_millis() as u64,
            };
            journal.record_event(&event)?;
            state.apply(&event, &journal::now());
            ok += 1;
            ui::panel::ok(format!("wave {wave} · {name} · ready for fleet step `{step_id}` ({:.1} s)", took.as_secs_f64()));
            continue;
        }
        // A run the fleet's signal stopped is not over: it goes on at `fleet resume`.
        if let Some(signal) = ctx.interrupts.pending().filter(|_| info.outcome == "interrupted") {
            let event = FleetEvent::TargetInterrupted {
                target: name.clone(),
                wave,
                attempt,
                run_dir: info.run_dir.clone(),
                signal: signal.into(),
                exit_code: info.finished.then_some(exit_code),
                duration_ms: took.as_millis() as u64,
            };
            journal.record_event(&event)?;
            state.apply(&event, &journal::now());
            ui::panel::fail(format!(
                "wave {wave} · {name} · interrupted by {signal} ({}; {:.1} s)",
                if info.finished { "its run journaled the interruption" } else { "its run did not end in time and was killed" },
                took.as_secs_f64()
            ));
            continue;
        }
        let event = FleetEvent::TargetFinished {
            target: name.clone(),
            wave,
            attempt,
            run_dir: info.run_dir.clone(),
            run_id: info.run_id.clone(),
            exit_code,
            outcome: info.outcome.clone(),
            seal: info.seal.clone(),
            lines: info.lines,
            first_error: info.first_error.clone(),
            duration_ms: took.as_millis() as u64,
        };
        journal.record_event(&event)?;
        state.apply(&event, &journal::now());
        if exit_code == 0 {
            ok += 1;
            ui::panel::ok(format!("wave {wave} · {name} · {} ({:.1} s)", info.outcome, took.as_secs_f64()));
        } else {
            failed += 1;
            ui::panel::fail(format!(
                "wave {wave} · {name} · {} (exit {exit_code}){}",
                info.outcome,
                info.first_error.map(|e| format!(": {e}")).unwrap_or_default()
            ));
        }
        let failures = state.failures_since(pass_start);
        if failures > state.budget && !state.budget_exceeded {
            let event = FleetEvent::BudgetExceeded { failures, budget: state.budget };
            journal.record_event(&event)?;
            state.apply(&event, &journal::now());
            ui::panel::fail(format!(
                "{failures} target(s) failed, more than --max-failures {} allows: no new target starts",
                state.max_failures
            ));
        }
    }
    Ok((ok, failed, ctx.interrupts.pending()))
}

/// One target's child process.
struct Job {
    exe: PathBuf,
    fleet_dir: PathBuf,
    target_dir: PathBuf,
    outline: TargetOutline,
    resume_dir: Option<PathBuf>,
    attempt: u32,
    decision: String,
    settings: Settings,
    /// `--fleet-step` values: each fleet step, with the reference of its run once it ran.
    fleet_steps: Vec<(String, Option<String>)>,
    /// The fleet's signals, passed on to the target's run.
    interrupts: Interrupts,
}

/// How long a target's run has, once the fleet passed it a signal, to journal its interruption
/// and end (it cancels its statement within its own grace) before its process group is killed.
const FORWARD_WAIT: Duration = Duration::from_millis(1500);

/// Pass the fleet's signal on to a target's run (its process group: the run and anything it
/// started that is still in it), wait for the run to end, and kill the group if it does not.
async fn forward(child: &mut tokio::process::Child, signal: &str) -> std::io::Result<std::process::ExitStatus> {
    let group = child.id().map(|pid| pid as libc::pid_t);
    if let Some(pgid) = group {
        // SAFETY: kill(2) on the process group this child leads (it was started as its leader).
        unsafe {
            libc::kill(-pgid, interrupt::signal_number(signal));
        }
    }
    match tokio::time::timeout(FORWARD_WAIT, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            if let Some(pgid) = group {
                // SAFETY: as above; the run did not end in time, so nothing of it may stay.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            child.wait().await
        }
    }
}

impl Job {
    async fn run(&self) -> Result<(i32, RunInfo)> {
        std::fs::create_dir_all(&self.target_dir).map_err(|e| Error::write(&self.target_dir, e))?;
        let url = super::targets::FleetTarget {
            name: self.outline.name.clone(),
            db_template: self.outline.db.clone(),
            vars: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
        .db_url()?;
        // A run that finished after the fleet died is taken as it is, never run again.
        let mut resume_dir = self.resume_dir.clone();
        if let Some(rd) = &self.resume_dir {
            let info = inspect(rd)?;
            // A run waiting for a fleet step that has now run goes on; any other ended run is final.
            let goes_on = info.awaiting.as_ref().is_some_and(|a| self.fleet_steps.iter().any(|(id, r)| id == a && r.is_some()));
            // A run that ended as interrupted (the fleet passed it a signal) is not over either:
            // its own `resume` continues it.
            if info.finished && !goes_on && info.outcome != "interrupted" {
                let code = info.exit_code.unwrap_or(EXIT_FAILED);
                return Ok((code, RunInfo { run_dir: Some(relative(&self.fleet_dir, rd)), ..info }));
            }
            // Killed before its start snapshot: nothing ran there (resume would refuse such a
            // journal), so the target starts afresh in a run folder of its own.
            if !info.began {
                resume_dir = None;
            }
        }
        let mut cmd = tokio::process::Command::new(&self.exe);
        let before = run_dirs(&self.target_dir);
        match &resume_dir {
            Some(rd) => {
                cmd.arg("resume").arg(rd);
                if self.settings.rerun_in_flight {
                    cmd.arg("--rerun-in-flight");
                }
            }
            None => {
                cmd.arg("run").arg(&self.settings.runbook).arg("--runs-dir").arg(&self.target_dir);
                if self.settings.rollback_on_failure {
                    cmd.args(["--on-failure", "rollback"]);
                }
                for s in &self.settings.skips {
                    cmd.arg("--skip").arg(s);
                }
            }
        }
        cmd.arg("--yes").arg("--fleet-decision").arg(&self.decision).arg("--operator").arg(&self.settings.operator);
        for (id, reference) in &self.fleet_steps {
            match reference {
                Some(r) => cmd.arg("--fleet-step").arg(format!("{id}={r}")),
                None => cmd.arg("--fleet-step").arg(id),
            };
        }
        for (k, v) in self.settings.vars.iter().chain(self.outline.vars.iter()) {
            cmd.arg("--var").arg(format!("{k}={v}"));
        }
        // The URL goes through the environment: a password in argv would show in `ps`.
        cmd.env("RUNBOOK_DB", url);
        let log_path = self.target_dir.join(format!("attempt-{}.log", self.attempt));
        let log = std::fs::File::create(&log_path).map_err(|e| Error::write(&log_path, e))?;
        let log2 = log.try_clone().map_err(|e| Error::write(&log_path, e))?;
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid are async-signal-safe; together they make a
        // killed fleet take its targets with it, so that `fleet resume` finds every in-flight run
        // stopped. The death signal only covers a parent that dies after the prctl: a fleet
        // killed between the fork and the prctl is caught by the parent check, and the target
        // never starts.
        let fleet_pid = std::process::id() as libc::pid_t;
        // A process group of its own: a Ctrl-C at the terminal, or the hangup of a closed one,
        // reaches the fleet alone, which passes it on once (a second signal would make the run
        // exit without its cleanup).
        cmd.process_group(0);
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != fleet_pid {
                    return Err(std::io::Error::other("the fleet process is gone"));
                }
                Ok(())
            });
        }
        if self.interrupts.pending().is_some() {
            // Not started: the target stays in flight, and `fleet resume` starts it.
            return Ok((EXIT_STOPPED, RunInfo { outcome: "interrupted".into(), ..RunInfo::default() }));
        }
        let mut child = cmd.spawn().map_err(|e| Error::failed(format!("cannot start {}: {e}", self.exe.display())))?;
        let status = tokio::select! {
            status = child.wait() => status,
            signal = self.interrupts.signalled() => forward(&mut child, signal).await,
        }
        .map_err(|e| Error::failed(format!("waiting for {}: {e}", self.exe.display())))?;
        let code = status.code().unwrap_or(EXIT_FAILED);
        let run_dir = match &resume_dir {
            Some(rd) => Some(rd.clone()),
            None => run_dirs(&self.target_dir).into_iter().find(|d| !before.contains(d)),
        };
        match run_dir {
            Some(rd) => {
                let info = inspect(&rd)?;
                Ok((code, RunInfo { run_dir: Some(relative(&self.fleet_dir, &rd)), ..info }))
            }
            None => {
                // Refused before it began (bad variables, unreachable database): say why.
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                let why = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
                Ok((code, RunInfo { outcome: "not run".into(), first_error: Some(why), ..RunInfo::default() }))
            }
        }
    }
}

/// Record the end of this pass: the root over every run so far, and the fleet's exit code.
fn finish(journal: &mut Journal, state: &FleetState, started: Instant, end: End) -> Result<i32> {
    let leaves = state.leaves(state.runs.len());
    let root = super::merkle::root(&leaves);
    let succeeded = state.status.values().filter(|s| matches!(s, Status::Finished { exit_code: 0, .. })).count();
    let failed = state.failures();
    let awaiting = state.status.values().filter(|s| matches!(s, Status::Awaiting { .. })).count();
    // Only an interruption leaves a target in flight at the end of a drive.
    let interrupted = state.status.values().filter(|s| matches!(s, Status::InFlight { .. })).count();
    let not_started = state.status.len() - succeeded - failed - awaiting - interrupted;
    // Why the fleet stopped short, when that is not told by the counts that follow: a target
    // failure is, a failed fleet step or bake is not.
    let reason = match &end {
        End::FleetStepFailed(id) => Some(format!("stopped at fleet step `{id}`, which failed")),
        End::BakeFailed { wave, why } => Some(format!("stopped after wave {wave}: {why}")),
        End::Interrupted { signal, at } => Some(format!("interrupted by {signal} {at}")),
        End::Done | End::Stopped => None,
    };
    let (outcome, code) = if let End::Interrupted { signal, at } = &end {
        // The operator stopping, whatever the targets did before: exit 3, as a run.
        journal.record_event(&FleetEvent::FleetInterrupted { signal: signal.clone(), at: at.clone() })?;
        ("interrupted", EXIT_STOPPED)
    } else if failed > 0 || reason.is_some() {
        ("failed", EXIT_FAILED)
    } else if end == End::Stopped {
        ("stopped by the operator", EXIT_STOPPED)
    } else if not_started > 0 {
        ("incomplete", EXIT_FAILED)
    } else {
        ("succeeded", EXIT_OK)
    };
    journal.record_event(&FleetEvent::FleetFinished {
        outcome: outcome.into(),
        exit_code: code,
        root: root.clone(),
        runs: state.runs.len(),
        succeeded,
        failed,
        not_started,
        awaiting,
        interrupted,
        reason: reason.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    let waiting = if awaiting > 0 { format!(", {awaiting} waiting for a fleet step") } else { String::new() };
    let cut = if interrupted > 0 { format!(", {interrupted} interrupted") } else { String::new() };
    // An interruption's reason says the outcome itself.
    let head = match (&end, reason) {
        (End::Interrupted { .. }, Some(r)) => r,
        (_, r) => format!("{outcome}{}", r.map(|r| format!(", {r}")).unwrap_or_default()),
    };
    let line = format!(
        "Fleet {}: {head} — {succeeded} succeeded, {failed} failed, {not_started} not started{cut}{waiting}; root {root}",
        state.fleet_id
    );
    if code == EXIT_OK {
        ui::panel::ok(line);
    } else {
        ui::panel::fail(line);
    }
    if code != EXIT_OK {
        ui::out(format!(
            "Continue with: runbook fleet resume {}",
            journal.path().parent().map(|p| p.display().to_string()).unwrap_or_default()
        ));
    }
    Ok(code)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

fn shorten(names: &[String]) -> String {
    if names.len() <= 4 {
        names.join(", ")
    } else {
        format!("{}, … {}", names[..3].join(", "), names[names.len() - 1])
    }
}

/// A fleet id: the time it started, and a few random characters.
pub fn new_fleet_id() -> String {
    format!("fleet-{}", crate::exec::new_run_id())
}

/// Open the record of a new fleet in `dir` and write its plan.
pub fn open(dir: &Path, plan: FleetEvent) -> Result<(Journal, FleetState)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let mut journal = fjournal::create(dir, crate::redact::Redactor::default())?;
    journal.record_event(&plan)?;
    let state = FleetState::from_entries(&fjournal::read(dir)?)?;
    Ok((journal, state))
}
