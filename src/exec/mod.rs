//! The engine: runs one plan of a runbook against a target, step by step, with confirmation,
//! journaling every state it can be left in, and offering the rollback plan after a failure.

pub mod baseline;
pub mod inputs;
pub mod interrupt;
pub mod rehearsal;
pub mod resume;
pub mod step;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, BackupInfo, Database, Fingerprint, LockHolder, Schema, Target};
use crate::error::{Error, Result, EXIT_FAILED, EXIT_OK, EXIT_STOPPED};
use crate::journal::{Event, Journal, Outcome, StepOutline, StepStatus};
use crate::load::vars::Vars;
use crate::redact::Redactor;
use crate::runbook::{Action, Loaded, PlanKind, Step};
use crate::ui::{self, panel, Decision, Panel, Prompter};

/// How a run was asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub plan: PlanKind,
    /// "run", "rollback" or "rehearsal": shown in reports.
    pub mode: String,
    pub operator: String,
    pub runs_dir: PathBuf,
    /// Step ids to skip, with the reason given (if any).
    pub skips: Vec<(String, Option<String>)>,
    pub on_failure_rollback: bool,
    pub allow_no_backup: bool,
    /// A run folder whose start snapshot is "the schema before the plan".
    pub baseline: Option<PathBuf>,
    /// A rehearsal on a scratch copy: the rollback plan follows the change plan, manual steps
    /// are acknowledged as "rehearsal", and the copy must end where it started.
    pub rehearsal: Option<rehearsal::Rehearsal>,
    /// Run the rollback plan right after a successful change plan, in the same run.
    pub then_rollback: bool,
    /// The approvals (or the emergency) the run goes ahead under, and the seal key.
    pub approval: crate::approval::RunApproval,
}

/// State of one run, shared by the step implementations.
pub struct Runner {
    pub loaded: Arc<Loaded>,
    pub target: Target,
    pub db: Box<dyn Database>,
    pub journal: Journal,
    pub vars: Vars,
    pub prompter: Box<dyn Prompter>,
    pub opts: RunOptions,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub start_schema: Schema,
    /// Fingerprints taken at run start, by table, for `validate` steps.
    pub baselines: BTreeMap<String, Fingerprint>,
    /// Verified backups taken by this run.
    pub backups: Vec<BackupInfo>,
    /// Set when this run executed the change plan, so a later rollback in the same run can
    /// compare with the start snapshot.
    pub ran_change_plan: bool,
    pub step_started: Instant,
    /// Steps that a resumed run must not run again.
    pub done: HashSet<String>,
    /// Ctrl-C and SIGTERM, when this process listens for them.
    pub interrupts: Option<interrupt::Interrupts>,
}

/// The result of one plan.
/// Marker in `Runner::done`: the journal shows the rollback plan already started.
pub(crate) const ROLLBACK_STARTED: &str = "\u{0}rollback-started";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanResult {
    Passed,
    Interrupted,
    Failed { rollback_requested: bool },
    Aborted,
}

/// Sortable to the millisecond, so that listing a runs folder gives the order of the runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &uuid::Uuid::new_v4().simple().to_string()[..6])
}

fn host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into())
}

/// Check everything that can be checked before touching the target: skip ids and var values.
pub fn preflight(loaded: &Loaded, vars: &Vars, opts: &RunOptions) -> Result<()> {
    let steps = loaded.steps(opts.plan);
    if steps.is_empty() {
        return Err(Error::usage(format!("the runbook has no {}", opts.plan.label())));
    }
    for (id, _) in &opts.skips {
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
        if opts.skips.iter().any(|(id, _)| id == &s.id) {
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
    let skipped: Vec<String> = opts.skips.iter().map(|(id, _)| id.clone()).collect();
    let problems = inputs::problems(steps, vars, &skipped);
    if !problems.is_empty() {
        return Err(Error::usage(format!("the run's inputs are not ready; nothing was run:\n  {}", problems.join("\n  "))));
    }
    Ok(())
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
        .filter(|s| !opts.skips.iter().any(|(id, _)| id == &s.id))
        .filter(|s| matches!(&s.action, crate::runbook::Action::Verify(v) if v.unchanged_since == Some(crate::runbook::Baseline::Plan)))
        .map(|s| s.id.clone())
        .collect()
}

/// Run `opts.plan` of `loaded` against `target`. Returns the exit code.
pub async fn run(loaded: Arc<Loaded>, target: Target, mut vars: Vars, opts: RunOptions, prompter: Box<dyn Prompter>) -> Result<i32> {
    let started = Instant::now();
    let run_id = new_run_id();
    // Absolute, so that backup paths in the journal and report still mean something elsewhere.
    let run_dir = std::path::absolute(&opts.runs_dir).unwrap_or_else(|_| opts.runs_dir.clone()).join(&run_id);
    vars.set("run_id", run_id.clone());
    vars.set("run_dir", run_dir.display().to_string());
    vars.set("operator", opts.operator.clone());
    preflight(&loaded, &vars, &opts)?;
    step::sql::refuse_reshaping_secrets(
        loaded.plan.iter().chain(&loaded.rollback).filter(|s| !opts.skips.iter().any(|(id, _)| id == &s.id)),
        &vars,
        target.engine,
    )?;
    // A rollback that will compare with the schema from before the change must know that
    // schema before its first step changes anything, not after.
    let checks = plan_baseline_checks(&loaded, &opts);
    if opts.plan == PlanKind::Rollback && !checks.is_empty() {
        match baseline::recorded_plan_run(&loaded.doc.id, &target, opts.baseline.as_deref()) {
            None => {
                let skips: Vec<String> = checks.iter().map(|id| format!("--skip {id}")).collect();
                return Err(Error::usage(format!(
                    "{}, or {} to roll back without comparing; nothing was run",
                    baseline::NO_BASELINE,
                    skips.join(" ")
                )));
            }
            Some((dir, _)) => {
                baseline::snapshot_of(&dir).map_err(|e| Error::usage(format!("the change run's snapshot: {e}; nothing was run")))?;
            }
        }
    }

    let mut db = db::connect(&target, false).await?;
    let db_version = db.version().await?;
    lock(db.as_mut(), &run_id, &opts.operator).await?;

    create_run_dir(&run_dir)?;
    let journal = Journal::create(&run_dir, redactor(&vars, &target))?;
    let mut r = Runner::new(loaded, target, db, journal, vars, prompter, opts, run_id, run_dir);
    let interrupts = interrupt::listen();
    r.interrupts = Some(interrupts);
    let finished = r.drive(&db_version).await;
    r.finish(finished, started).await
}

/// Everything a journal's redactor must hide for this run.
pub fn redactor(vars: &Vars, target: &Target) -> Redactor {
    let mut redactor = Redactor::new(vars.secret_values());
    for p in target.secrets() {
        redactor.add_password(&p);
    }
    redactor
}

/// Take the run lock for this process.
pub async fn lock(db: &mut dyn Database, run_id: &str, operator: &str) -> Result<()> {
    let holder = LockHolder {
        run_id: run_id.to_string(),
        operator: operator.to_string(),
        started: crate::journal::now(),
        pid: std::process::id(),
        host: host(),
    };
    db.lock(&holder).await
}

fn create_run_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| Error::write(dir, e))
}

impl Runner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        loaded: Arc<Loaded>,
        target: Target,
        db: Box<dyn Database>,
        journal: Journal,
        vars: Vars,
        prompter: Box<dyn Prompter>,
        opts: RunOptions,
        run_id: String,
        run_dir: PathBuf,
    ) -> Runner {
        Runner {
            loaded,
            target,
            db,
            journal,
            vars,
            prompter,
            opts,
            run_id,
            run_dir,
            start_schema: Schema::default(),
            baselines: BTreeMap::new(),
            backups: Vec::new(),
            ran_change_plan: false,
            step_started: Instant::now(),
            done: HashSet::new(),
            interrupts: None,
        }
    }

    /// The common end of a run, whatever happened: release the lock, record how the run
    /// ended, write the report.
    pub async fn finish(mut self, finished: Result<(Outcome, i32)>, started: Instant) -> Result<i32> {
        let _ = self.db.unlock().await;
        let _ = self.journal.record(Event::LockReleased { target: self.target.display() });
        let (outcome, code, error) = match finished {
            Ok((o, c)) => (o, c, None),
            Err(e) => {
                // An error that ends the run early is still a state the journal must show.
                let msg = self.journal.redactor().text(&e.to_string());
                let _ = self.journal.record(Event::Info { step_id: None, message: format!("the run stopped on an error: {msg}") });
                let o = if e.code() == EXIT_STOPPED { Outcome::Aborted } else { Outcome::Failed };
                (o, e.code(), Some(e))
            }
        };
        self.journal.record(Event::RunFinished { outcome, exit_code: code, duration_ms: started.elapsed().as_millis() as u64 })?;
        if let Some(key) = &self.opts.approval.sign_key {
            if let Err(e) = crate::approval::seal::sign(&self.run_dir, self.journal.seal(), key) {
                panel::fail(format!("the final seal was not signed: {e}"));
            }
        }
        let report = self.write_report();
        let reports = match &report {
            Ok(md) => ["md", "html", "json"].iter().map(|ext| md.with_extension(ext)).filter(|p| p.exists()).collect(),
            Err(_) => Vec::new(),
        };
        ui::ending::Ending {
            run_id: &self.run_id,
            outcome: outcome.as_str(),
            ok: code == EXIT_OK,
            run_dir: &self.run_dir,
            reports,
            journal: self.journal.path(),
            next: self.next_commands(outcome),
        }
        .print();
        if let Some(e) = error {
            return Err(e);
        }
        report?;
        Ok(code)
    }

    /// What to type after a run that did not end cleanly: finish it, or undo what it did.
    fn next_commands(&self, outcome: Outcome) -> Vec<(String, &'static str)> {
        use ui::ending::shell_word;
        if matches!(outcome, Outcome::Succeeded | Outcome::RolledBack) {
            return Vec::new();
        }
        let mut next = vec![(
            format!("runbook resume {}", shell_word(&self.run_dir.display().to_string())),
            "continue this same run from where it stopped (steps already done are not run again)",
        )];
        if self.opts.plan == PlanKind::Plan && !self.loaded.rollback.is_empty() {
            next.push((
                format!("runbook rollback {} --db {}", shell_word(&self.loaded.path), shell_word(&self.target.display())),
                "or undo the change with the rollback plan (a new run, with its own backup)",
            ));
        }
        next
    }

    pub(crate) fn outline(&self, plan: PlanKind) -> Vec<StepOutline> {
        self.loaded.steps(plan).iter().map(|s| StepOutline { id: s.id.clone(), name: s.name.clone(), kind: s.kind, plan }).collect()
    }

    async fn drive(&mut self, db_version: &str) -> Result<(Outcome, i32)> {
        let doc = &self.loaded.doc;
        let masked_vars = doc
            .vars
            .keys()
            .filter_map(|k| {
                self.vars
                    .get(k)
                    .map(|v| (k.clone(), if self.vars.is_secret(k) { crate::load::vars::MASK.to_string() } else { v.to_string() }))
            })
            .collect();
        self.journal.record(Event::RunStarted {
            run_id: self.run_id.clone(),
            runbook_id: doc.id.value.clone(),
            title: self.loaded.title(),
            // Absolute, so that `resume` finds the runbook from any folder.
            runbook_path: std::path::absolute(&self.loaded.path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| self.loaded.path.clone()),
            runbook_sha256: self.loaded.sha256.clone(),
            plan: self.opts.plan,
            mode: self.opts.mode.clone(),
            operator: self.opts.operator.clone(),
            host: host(),
            target: self.target.display(),
            target_id: self.target.identity(),
            then_rollback: self.opts.then_rollback,
            engine: self.target.engine.to_string(),
            db_version: db_version.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            confirmation: self.prompter.how().to_string(),
            ticket: doc.ticket.clone(),
            vars: masked_vars,
            steps: self.outline(self.opts.plan),
            approvals: self.opts.approval.approvals.clone(),
            emergency: self.opts.approval.emergency.clone(),
            change_sha256: if self.opts.approval.change_sha256.is_some()
                && (self.opts.approval.emergency.is_some() || !self.opts.approval.approvals.is_empty())
            {
                self.opts.approval.change_sha256.clone()
            } else {
                None
            },
            seal_key: self.opts.approval.sign_key_fingerprint.clone(),
            seal_key_path: self.opts.approval.sign_key.as_ref().map(|p| p.display().to_string()),
        })?;
        self.journal.record(Event::LockAcquired { target: self.target.display() })?;
        ui::out(format!("{} · {} · {} · run {}", self.loaded.title(), self.opts.plan.label(), self.target.display(), self.run_id));
        ui::out(format!("Run folder: {}", self.run_dir.display()));
        self.start_schema = self.db.schema().await?;
        self.journal.record(Event::SchemaSnapshot { label: "start".into(), schema: self.start_schema.clone() })?;
        if self.opts.rehearsal.is_some() {
            rehearsal::take_full_fingerprint(self).await?;
        } else {
            self.take_baselines(self.opts.plan).await?;
        }
        if self.opts.plan == PlanKind::Plan && self.opts.rehearsal.is_none() {
            baseline::remember(self);
        }
        self.continue_run().await
    }

    /// Run the plan (or the rest of it, after a resume) and, when asked, the rollback plan.
    pub async fn continue_run(&mut self) -> Result<(Outcome, i32)> {
        if self.opts.rehearsal.is_some() {
            return rehearsal::run_both_plans(self).await;
        }

        let in_rollback = self.rollback_started();
        let first = if in_rollback { PlanResult::Failed { rollback_requested: true } } else { self.run_plan(self.opts.plan).await? };
        let (outcome, code) = match first {
            PlanResult::Passed if self.opts.then_rollback && self.opts.plan == PlanKind::Plan && !in_rollback => {
                self.journal.record(Event::PlanStarted {
                    plan: PlanKind::Rollback,
                    reason: "the change plan succeeded and the rollback plan follows (--then-rollback)".into(),
                    steps: self.outline(PlanKind::Rollback),
                })?;
                match self.run_plan(PlanKind::Rollback).await? {
                    PlanResult::Passed => (Outcome::Succeeded, EXIT_OK),
                    PlanResult::Failed { .. } => (Outcome::Failed, EXIT_FAILED),
                    PlanResult::Aborted => (Outcome::Aborted, EXIT_STOPPED),
                    PlanResult::Interrupted => (Outcome::Interrupted, EXIT_STOPPED),
                }
            }
            PlanResult::Passed => (Outcome::Succeeded, EXIT_OK),
            PlanResult::Aborted => (Outcome::Aborted, EXIT_STOPPED),
            PlanResult::Interrupted => {
                // The lock is held until the process ends; an interactive operator may still
                // want the rollback plan right away.
                if self.opts.plan == PlanKind::Plan && self.prompter.interactive() && !self.loaded.rollback.is_empty() {
                    let prompter = &mut self.prompter;
                    let yes =
                        tokio::task::block_in_place(|| prompter.confirm("Interrupted. Run the rollback plan now?", false)).unwrap_or(false);
                    self.journal.record(Event::RollbackDecision {
                        accepted: yes,
                        by: self.opts.operator.clone(),
                        how: self.prompter.how().into(),
                    })?;
                    if yes {
                        self.journal.record(Event::PlanStarted {
                            plan: PlanKind::Rollback,
                            reason: "the run was interrupted".into(),
                            steps: self.outline(PlanKind::Rollback),
                        })?;
                        self.run_plan(PlanKind::Rollback).await?;
                    }
                }
                (Outcome::Interrupted, EXIT_STOPPED)
            }
            PlanResult::Failed { rollback_requested } => {
                if rollback_requested && self.opts.plan == PlanKind::Plan && !self.loaded.rollback.is_empty() {
                    if !in_rollback {
                        self.journal.record(Event::PlanStarted {
                            plan: PlanKind::Rollback,
                            reason: "a change-plan step failed".into(),
                            steps: self.outline(PlanKind::Rollback),
                        })?;
                    }
                    let second = self.run_plan(PlanKind::Rollback).await?;
                    match second {
                        PlanResult::Passed => (Outcome::RolledBack, EXIT_FAILED),
                        PlanResult::Aborted => (Outcome::Aborted, EXIT_STOPPED),
                        PlanResult::Interrupted => (Outcome::Interrupted, EXIT_STOPPED),
                        PlanResult::Failed { .. } => (Outcome::Failed, EXIT_FAILED),
                    }
                } else {
                    (Outcome::Failed, EXIT_FAILED)
                }
            }
        };
        Ok((outcome, code))
    }

    /// Fingerprint, before anything runs, every table a `validate` step of `plan` names,
    /// over the columns that exist now.
    async fn take_baselines(&mut self, plan: PlanKind) -> Result<()> {
        let mut fps = Vec::new();
        for s in self.loaded.clone().steps(plan) {
            if let Action::Validate(v) = &s.action {
                if self.opts.skips.iter().any(|(id, _)| id == &s.id) {
                    continue;
                }
                for t in &v.tables {
                    if self.baselines.contains_key(t) {
                        continue;
                    }
                    let Some(table) = self.start_schema.table(t) else {
                        return Err(Error::failed(format!("step `{}` validates table `{t}`, which does not exist", s.id)));
                    };
                    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
                    let fp = self.db.fingerprint(t, &cols).await?;
                    self.baselines.insert(t.clone(), fp.clone());
                    fps.push(fp);
                }
            }
        }
        if !fps.is_empty() {
            self.journal.record(Event::FingerprintBaseline { fingerprints: fps })?;
        }
        Ok(())
    }

    /// Whether this run's journal already moved on to the rollback plan (a resumed run).
    fn rollback_started(&self) -> bool {
        self.done.contains(ROLLBACK_STARTED)
    }

    pub(crate) async fn run_plan(&mut self, plan: PlanKind) -> Result<PlanResult> {
        if plan == PlanKind::Plan {
            self.ran_change_plan = true;
        }
        let steps = self.loaded.clone();
        let steps = steps.steps(plan);
        let total = steps.len();
        for (i, step) in steps.iter().enumerate() {
            if self.done.contains(&step.id) {
                panel::info(format!("step {}/{total} `{}` was completed before the run was resumed", i + 1, step.id));
                continue;
            }
            match self.run_step(step, i + 1, total, plan).await? {
                StepStatus::Passed | StepStatus::Skipped => {}
                StepStatus::Aborted => return Ok(PlanResult::Aborted),
                StepStatus::Interrupted => return Ok(PlanResult::Interrupted),
                StepStatus::Failed => {
                    let mut rollback =
                        plan == PlanKind::Plan && (self.opts.on_failure_rollback || step.on_failure == crate::runbook::OnFailure::Rollback);
                    if plan == PlanKind::Plan && !rollback && self.prompter.interactive() && !self.loaded.rollback.is_empty() {
                        let yes =
                            tokio::task::block_in_place(|| self.prompter.confirm("The step failed. Run the rollback plan now?", false))?;
                        self.journal.record(Event::RollbackDecision {
                            accepted: yes,
                            by: self.opts.operator.clone(),
                            how: self.prompter.how().into(),
                        })?;
                        rollback = yes;
                    } else if rollback {
                        self.journal.record(Event::RollbackDecision {
                            accepted: true,
                            by: self.opts.operator.clone(),
                            how: if self.opts.on_failure_rollback {
                                "--on-failure rollback".into()
                            } else {
                                format!("on_failure: rollback (step `{}`)", step.id)
                            },
                        })?;
                    }
                    return Ok(PlanResult::Failed { rollback_requested: rollback });
                }
            }
        }
        Ok(PlanResult::Passed)
    }

    async fn run_step(&mut self, step: &Step, index: usize, total: usize, plan: PlanKind) -> Result<StepStatus> {
        let action = step::describe(step, &self.vars, self.target.engine, Some(&self.run_dir));
        self.journal.record(Event::StepStarted {
            step_id: step.id.clone(),
            plan,
            index,
            total,
            name: step.name.clone(),
            kind: step.kind,
            action: action.clone(),
        })?;
        let description = step.description.as_deref().map(|d| self.vars.mask(d));
        Panel {
            index,
            total,
            name: &step.name,
            kind: step.kind.as_str(),
            plan_label: plan.label(),
            description: description.as_deref(),
            action: &action,
            undo: step::undo_view(&self.loaded, step, plan, &self.vars, self.target.engine, Some(&self.run_dir)),
        }
        .print();

        let skip = self.opts.skips.iter().find(|(id, _)| id == &step.id).cloned();
        let decision = if let Some((_, reason)) = skip {
            match &reason {
                Some(r) => panel::info(format!("skipped (--skip): {r}")),
                None => panel::info("skipped (--skip, no reason given)"),
            }
            self.journal.record(Event::StepDecision {
                step_id: step.id.clone(),
                decision: "skip".into(),
                by: self.opts.operator.clone(),
                how: "--skip".into(),
                reason: Some(reason.unwrap_or_else(|| "no reason given".into())),
            })?;
            Decision::Skip
        } else {
            let question = step::question::question(step, &self.vars, self.target.engine);
            let prompter = &mut self.prompter;
            let d = tokio::task::block_in_place(|| prompter.step(&question))?;
            let reason = if d == Decision::Skip { Some(tokio::task::block_in_place(|| prompter.skip_reason())?) } else { None };
            self.journal.record(Event::StepDecision {
                step_id: step.id.clone(),
                decision: match d {
                    Decision::Run => "run",
                    Decision::Skip => "skip",
                    Decision::Abort => "abort",
                }
                .into(),
                by: self.opts.operator.clone(),
                how: self.prompter.how().into(),
                reason,
            })?;
            if !self.prompter.interactive() && d == Decision::Run {
                panel::info(self.prompter.how());
            }
            d
        };
        // The step's time is its work, from the decision on: the minutes an operator spends
        // reading the panel belong to the decision's own timestamp, not to the step's duration.
        let started = Instant::now();
        self.step_started = started;
        let status = match decision {
            Decision::Skip => StepStatus::Skipped,
            Decision::Abort => StepStatus::Aborted,
            Decision::Run => {
                let limit = match &step.timeout {
                    Some(t) => Some(crate::runbook::duration::parse(&self.vars.render(t)?).map_err(Error::usage)?),
                    None => None,
                };
                let canceller = self.db.canceller();
                let mut interrupts = self.interrupts.clone();
                let fut = async {
                    match limit {
                        Some(l) => match tokio::time::timeout(l, step::run(self, step)).await {
                            Ok(r) => r,
                            Err(_) => Err(Error::failed(format!("the step timed out after {}", crate::runbook::duration::human(l)))),
                        },
                        None => step::run(self, step).await,
                    }
                };
                let res = match interrupts.as_mut() {
                    Some(i) => interrupt::race(fut, i, canceller).await,
                    None => fut.await.map_err(interrupt::Outcome::Error),
                };
                let res = match res {
                    Err(interrupt::Outcome::Interrupted(signal)) => {
                        return self.interrupted(step, started, &signal).await;
                    }
                    Err(interrupt::Outcome::Error(e)) => Err(e),
                    Ok(()) => Ok(()),
                };
                match res {
                    Ok(()) => StepStatus::Passed,
                    Err(e @ Error::Stopped { .. }) => {
                        self.finish_step(step, StepStatus::Aborted, Some(e.to_string()), started)?;
                        return Ok(StepStatus::Aborted);
                    }
                    Err(e) => {
                        let text = self.journal.redactor().text(&e.to_string());
                        // Only the database's own errors can mean its connection was lost; an
                        // HTTP or command step's "connection refused" is about something else.
                        let msg = if matches!(e, Error::Database { .. }) { db::explain_failure(&text) } else { text };
                        self.finish_step(step, StepStatus::Failed, Some(msg), started)?;
                        return Ok(StepStatus::Failed);
                    }
                }
            }
        };
        self.finish_step(step, status, None, started)?;
        Ok(status)
    }

    /// The operator pressed Ctrl-C during `step`: the statement was cancelled; record it and
    /// release the lock. An interactive run then offers the rollback plan.
    async fn interrupted(&mut self, step: &Step, started: Instant, signal: &str) -> Result<StepStatus> {
        self.journal.record(Event::Interrupted { step_id: Some(step.id.clone()), signal: signal.to_string() })?;
        self.finish_step(step, StepStatus::Interrupted, Some(format!("interrupted by {signal}")), started)?;
        panel::warn(format!("interrupted by {signal}: the statement in progress was cancelled"));
        Ok(StepStatus::Interrupted)
    }

    fn finish_step(&mut self, step: &Step, status: StepStatus, error: Option<String>, started: Instant) -> Result<()> {
        let ms = started.elapsed().as_millis() as u64;
        match (&status, &error) {
            (StepStatus::Passed, _) => panel::ok(format!("passed in {}", crate::runbook::duration::human(started.elapsed()))),
            (StepStatus::Failed, Some(e)) => panel::fail(format!("failed: {e}")),
            (StepStatus::Aborted, _) => panel::fail("aborted by the operator"),
            (StepStatus::Interrupted, _) => panel::fail("interrupted"),
            _ => {}
        }
        self.journal.record(Event::StepFinished { step_id: step.id.clone(), status, error, duration_ms: ms })
    }

    /// Record one assertion and print it.
    pub fn assertion(&mut self, step: &Step, check: String, expected: String, actual: String, passed: bool) -> Result<()> {
        // A query may select a secret back; the terminal must not show it either.
        let (check, expected, actual) = {
            let r = self.journal.redactor();
            (r.text(&check), r.text(&expected), r.text(&actual))
        };
        if passed {
            panel::ok(format!("{check}: {actual}"));
        } else {
            panel::fail(format!("{check}: expected {expected}, got {actual}"));
        }
        self.journal.record(Event::Assertion { step_id: step.id.clone(), check, expected, actual, passed })
    }

    fn write_report(&self) -> Result<PathBuf> {
        crate::report::write_all(&self.run_dir)
    }
}
