//! The engine: runs one plan of a runbook against a target, step by step, with confirmation,
//! journaling every state it can be left in, and offering the rollback plan after a failure.
//!
//! - [`mod@preflight`]: what is checked before the target is touched;
//! - [`plan`]: the plan state machine (change plan, rollback plan, what follows what);
//! - [`lifecycle`]: one step: decide, then execute, then record how it ended;
//! - [`resume`]: rebuilding a run from its journal's header and events.

pub mod baseline;
pub mod fleet_step;
pub mod inputs;
pub mod interrupt;
pub mod lifecycle;
pub mod plan;
pub mod preflight;
pub mod reach;
pub mod rehearsal;
pub mod resume;
pub mod step;
pub mod timeout;
pub mod transactions;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::db::{self, BackupInfo, Database, Fingerprint, LockHolder, Schema, Target};
use crate::error::{Error, Result, EXIT_OK, EXIT_STOPPED};
use crate::journal::{Event, Journal, Mode, Outcome, RunHeader, SecretSource, Skip, StepOutline};
use crate::load::vars::Vars;
use crate::redact::Redactor;
use crate::runbook::{Loaded, PlanKind, Runbook};
use crate::ui::{self, panel, Prompter};

pub use plan::RollbackCause;

/// How a run was asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub plan: PlanKind,
    pub mode: Mode,
    pub operator: String,
    pub runs_dir: PathBuf,
    /// Step ids to skip, with the reason given (if any).
    pub skips: Vec<Skip>,
    pub on_failure_rollback: bool,
    pub allow_no_backup: bool,
    /// A run folder whose start snapshot is "the schema before the plan".
    pub baseline: Option<PathBuf>,
    /// A rehearsal on a scratch copy: the rollback plan follows the change plan, manual steps
    /// are acknowledged as "rehearsal", and the copy must end where it started.
    pub rehearsal: Option<rehearsal::Rehearsal>,
    /// Run the rollback plan right after a successful change plan, in the same run.
    pub then_rollback: bool,
    /// Where each secret variable's value came from, for the run header.
    pub secret_vars: BTreeMap<String, SecretSource>,
    /// The approvals (or the emergency) the run goes ahead under, and the seal key.
    pub approval: crate::approval::RunApproval,
    /// In a run started by `runbook fleet`: its `scope: fleet` steps (see [`fleet_step`]).
    pub fleet_steps: fleet_step::FleetSteps,
}

impl RunOptions {
    /// The `--skip` for a step, if any.
    pub fn skip(&self, step_id: &str) -> Option<&Skip> {
        self.skips.iter().find(|s| s.step_id == step_id)
    }

    pub fn is_skipped(&self, step_id: &str) -> bool {
        self.skip(step_id).is_some()
    }
}

/// Where each secret variable of `doc` gets its value this time: `--var` first, then the
/// environment variable the runbook names, then its default (the order of [`Vars::resolve`]).
pub fn secret_sources(doc: &Runbook, given: &[(String, String)]) -> BTreeMap<String, SecretSource> {
    doc.vars
        .iter()
        .filter(|(_, def)| def.secret)
        .filter_map(|(name, def)| {
            let source = if given.iter().any(|(k, _)| k == name) {
                SecretSource::Option
            } else if let Some(env) = def.env.as_ref().filter(|e| std::env::var_os(e).is_some()) {
                SecretSource::Env { name: env.clone() }
            } else if def.default.is_some() {
                SecretSource::Default
            } else {
                return None;
            };
            Some((name.clone(), source))
        })
        .collect()
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
    /// Steps a resumed run must not run again (finished, or marked done by the operator).
    pub done: HashSet<String>,
    /// Set once the rollback plan has started in this run (or in the run being resumed), with why.
    pub rollback: Option<RollbackCause>,
    /// Which rollback steps the rollback plan runs, decided when it starts (see
    /// [`crate::runbook::selection`]).
    pub rollback_scope: Option<crate::runbook::selection::Selection>,
    /// Ctrl-C and SIGTERM, when this process listens for them.
    pub interrupts: Option<interrupt::Interrupts>,
    /// This run is recorded as the change-plan run a rollback compares with ([`baseline`]).
    pub baseline_remembered: bool,
    /// `sql` steps of a resumed run that an earlier attempt left part-way, by id: the index of
    /// the first statement the journal does not show committed. The step runs from there,
    /// never running a committed statement again; taken by the step when it runs.
    pub resume_from: HashMap<String, usize>,
    /// The run's own database transactions, for `validate` to recognise its row versions.
    pub own_transactions: transactions::OwnTransactions,
}

/// Sortable to the millisecond, so that listing a runs folder gives the order of the runs.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &uuid::Uuid::new_v4().simple().to_string()[..6])
}

/// Check everything that can be checked before touching the target: skip ids and var values.
pub fn preflight(loaded: &Loaded, vars: &Vars, opts: &RunOptions) -> Result<()> {
    preflight::check(loaded, vars, opts)
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
    preflight::check(&loaded, &vars, &opts)?;
    opts.fleet_steps.check_references(&run_dir)?;
    step::sql::refuse_reshaping_secrets(
        loaded.plan.iter().chain(&loaded.rollback).filter(|s| !opts.is_skipped(&s.id)),
        &vars,
        target.engine,
    )?;
    preflight::rollback_baseline(&loaded, &target, &opts)?;

    let mut db = db::connect(&target, false).await?;
    let db_version = db.version().await?;
    // What the target and the network say before step 1: seen now, not at step 8.
    let warnings = preflight::environment(&loaded, &vars, &opts, db.as_mut()).await;
    if !warnings.is_empty() {
        panel::warn(format!("preflight found {} problem(s) before step 1:", warnings.len()));
        for w in &warnings {
            panel::warn(w);
        }
    }
    lock(db.as_mut(), &run_id, &opts.operator).await?;

    create_run_dir(&run_dir)?;
    let journal = Journal::create(&run_dir, redactor(&vars, &target))?;
    let mut r = Runner::new(loaded, target, db, journal, vars, prompter, opts, run_id, run_dir);
    r.interrupts = Some(interrupt::listen());
    let finished = r.start(&db_version).await;
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
        host: crate::db::this_host(),
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
            rollback: None,
            rollback_scope: None,
            interrupts: None,
            baseline_remembered: false,
            resume_from: HashMap::new(),
            own_transactions: transactions::OwnTransactions::default(),
        }
    }

    /// The run header: everything that decides what this run does, as `resume` will read it.
    pub fn header(&self, db_version: &str) -> RunHeader {
        let doc = &self.loaded.doc;
        let vars = doc
            .vars
            .keys()
            .filter_map(|k| {
                self.vars
                    .get(k)
                    .map(|v| (k.clone(), if self.vars.is_secret(k) { crate::load::vars::MASK.to_string() } else { v.to_string() }))
            })
            .collect();
        RunHeader {
            run_id: self.run_id.clone(),
            runbook_id: doc.id.value.clone(),
            title: self.loaded.title(),
            // Absolute, so that `resume` finds the runbook from any folder.
            runbook_path: std::path::absolute(&self.loaded.path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| self.loaded.path.clone()),
            runbook_sha256: self.loaded.sha256.clone(),
            plan: self.opts.plan,
            mode: self.opts.mode,
            operator: self.opts.operator.clone(),
            host: crate::db::this_host(),
            target: self.target.display(),
            target_id: self.target.identity(),
            then_rollback: self.opts.then_rollback,
            engine: self.target.engine.to_string(),
            db_version: db_version.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            confirmation: self.prompter.how().to_string(),
            ticket: doc.ticket.clone(),
            vars,
            secret_vars: self.opts.secret_vars.clone(),
            skips: self.opts.skips.clone(),
            on_failure_rollback: self.opts.on_failure_rollback,
            allow_no_backup: self.opts.allow_no_backup,
            baseline: self.opts.baseline.as_ref().map(|b| std::path::absolute(b).unwrap_or_else(|_| b.clone()).display().to_string()),
            header_complete: true,
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
        }
    }

    /// The common end of a run, whatever happened: release the lock, record how the run
    /// ended, write the report.
    pub async fn finish(mut self, finished: Result<(Outcome, i32)>, started: Instant) -> Result<i32> {
        if let Err(Error::Interrupted { signal }) = &finished {
            let _ = self.journal.record(Event::Interrupted { step_id: None, signal: signal.clone() });
        }
        let _ = self.db.unlock().await;
        // A lock that was lost was not released by this run: the journal says only what happened.
        if !matches!(finished, Err(Error::LockLost { .. })) {
            let _ = self.journal.record(Event::LockReleased { target: self.target.display() });
        }
        let (outcome, code, error) = match finished {
            Ok((o, c)) => (o, c, None),
            // Stopped at a prompt (a signal, or Ctrl-C typed there): an interruption like any other.
            Err(Error::Interrupted { signal }) => {
                panel::warn(format!("interrupted by {signal} at the prompt: nothing more was started"));
                (Outcome::Interrupted, EXIT_STOPPED, None)
            }
            Err(e) => {
                // An error that ends the run early is still a state the journal must show.
                let msg = self.journal.redactor().text(&e.to_string());
                // The operator stopping (Abort at resume's prompt, the terminal gone) is no error.
                let stopped = e.code() == EXIT_STOPPED;
                let what = if stopped { "the run stopped" } else { "the run stopped on an error" };
                let _ = self.journal.record(Event::Info { step_id: None, message: format!("{what}: {msg}") });
                let o = if stopped { Outcome::Aborted } else { Outcome::Failed };
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

    /// What to type after a run that did not end cleanly: finish it, or undo what it did. A
    /// rehearsal can be neither resumed nor rolled back (its scratch copy is dropped as it
    /// ends): the next step is another rehearsal of the same target.
    fn next_commands(&self, outcome: Outcome) -> Vec<(String, &'static str)> {
        use ui::ending::shell_word;
        if matches!(outcome, Outcome::Succeeded | Outcome::RolledBack) {
            return Vec::new();
        }
        let (vars, secret) = self.given_vars();
        if let Some(rehearsal) = &self.opts.rehearsal {
            return vec![(
                format!("runbook rehearse {} --db {}{vars}", shell_word(&self.loaded.path), shell_word(&rehearsal.original)),
                if secret {
                    "rehearse again on a fresh scratch copy once the cause is fixed; set the $-named shell variables to the secrets first"
                } else {
                    "rehearse again on a fresh scratch copy once the cause is fixed (the copy this rehearsal used is gone)"
                },
            )];
        }
        let mut next = vec![(
            format!("runbook resume {}", shell_word(&self.run_dir.display().to_string())),
            "continue this same run from where it stopped (steps already done are not run again)",
        )];
        if self.opts.plan == PlanKind::Plan && !self.loaded.rollback.is_empty() {
            next.push((
                format!("runbook rollback {} --db {}{vars}", shell_word(&self.loaded.path), shell_word(&self.target.display())),
                if secret {
                    "or undo the change with the rollback plan (a new run, with its own backup); set the $-named shell variables to the secrets first"
                } else {
                    "or undo the change with the rollback plan (a new run, with its own backup)"
                },
            ));
        }
        next
    }

    /// The `--var` options a new run needs to do what this one did, and whether any of them
    /// names a secret. A secret is passed by reference to a shell variable the operator sets,
    /// never by value.
    fn given_vars(&self) -> (String, bool) {
        use ui::ending::shell_word;
        let mut vars = String::new();
        let mut secret = false;
        for name in self.vars.given() {
            if self.vars.is_secret(name) {
                secret = true;
                vars.push_str(&format!(" --var {name}=\"${}\"", secret_reference(name)));
            } else if let Some(v) = self.vars.get(name) {
                vars.push_str(&format!(" --var {}", shell_word(&format!("{name}={v}"))));
            }
        }
        (vars, secret)
    }

    pub(crate) fn outline(&self, plan: PlanKind) -> Vec<StepOutline> {
        self.loaded.steps(plan).iter().map(|s| StepOutline { id: s.id.clone(), name: s.name.clone(), kind: s.kind, plan }).collect()
    }

    /// Record one assertion and print it.
    pub fn assertion(&mut self, step: &crate::runbook::Step, check: String, expected: String, actual: String, passed: bool) -> Result<()> {
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

/// The shell variable a suggested command reads a secret from: its name in capitals.
fn secret_reference(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}
