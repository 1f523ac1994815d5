//! The plan state machine: the change plan, then (after a failure the operator wants undone,
//! an interruption, `--then-rollback` or a rehearsal) the rollback plan, and the outcome the
//! pair ends in. Steps themselves are [`super::lifecycle`]'s.

use crate::error::{Error, Result, EXIT_FAILED, EXIT_OK, EXIT_STOPPED};
use crate::journal::{Event, Outcome, StepStatus};
use crate::runbook::{Action, OnFailure, PlanKind, Scope};
use crate::ui;

use super::{baseline, rehearsal, Runner};

pub use crate::journal::RollbackCause;
use crate::runbook::selection::{self, Selection};

/// How one plan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanResult {
    Passed,
    Interrupted,
    Failed { rollback_requested: bool },
    Aborted,
}

impl Runner {
    /// A new run, connected and locked: journal the header, take the start snapshot and the
    /// baselines, then run.
    pub(crate) async fn start(&mut self, db_version: &str) -> Result<(Outcome, i32)> {
        self.journal.record(Event::RunStarted(self.header(db_version)))?;
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
        // The run becomes the rollback's baseline only once it reaches its first change
        // ([`Runner::reached_change`]): an accidental second run that fails at its first
        // statement must not replace the real change's snapshot.
        self.continue_run().await
    }

    /// Run the plan (or the rest of it, after a resume) and, when asked, the rollback plan.
    pub async fn continue_run(&mut self) -> Result<(Outcome, i32)> {
        if self.opts.rehearsal.is_some() {
            return rehearsal::run_both_plans(self).await;
        }
        let cause = match self.rollback {
            // A resumed run that had already moved on to the rollback plan.
            Some(cause) => cause,
            None => match self.run_plan(self.opts.plan).await? {
                PlanResult::Passed if self.opts.then_rollback && self.opts.plan == PlanKind::Plan => RollbackCause::ThenRollback,
                PlanResult::Passed => return Ok((Outcome::Succeeded, EXIT_OK)),
                PlanResult::Aborted => return Ok((Outcome::Aborted, EXIT_STOPPED)),
                PlanResult::Interrupted => {
                    if !self.offer_rollback_after_interrupt().await? {
                        return Ok((Outcome::Interrupted, EXIT_STOPPED));
                    }
                    RollbackCause::Interrupted
                }
                PlanResult::Failed { rollback_requested } => {
                    if !(rollback_requested && self.opts.plan == PlanKind::Plan && !self.loaded.rollback.is_empty()) {
                        return Ok((Outcome::Failed, EXIT_FAILED));
                    }
                    RollbackCause::StepFailed
                }
            },
        };
        let second = self.start_rollback(cause).await?;
        Ok(match (cause, second) {
            (_, PlanResult::Aborted) => (Outcome::Aborted, EXIT_STOPPED),
            (_, PlanResult::Interrupted) | (RollbackCause::Interrupted, _) => (Outcome::Interrupted, EXIT_STOPPED),
            (_, PlanResult::Failed { .. }) => (Outcome::Failed, EXIT_FAILED),
            (RollbackCause::ThenRollback | RollbackCause::Rehearsal, PlanResult::Passed) => (Outcome::Succeeded, EXIT_OK),
            (RollbackCause::StepFailed, PlanResult::Passed) => (Outcome::RolledBack, EXIT_FAILED),
        })
    }

    /// The one way into the rollback plan: journal why it starts (once: a resumed run inside
    /// the rollback plan continues it), then run it.
    pub(crate) async fn start_rollback(&mut self, cause: RollbackCause) -> Result<PlanResult> {
        if self.rollback.is_none() {
            self.rollback = Some(cause);
            let scope = self.rollback_scope();
            self.journal.record(Event::PlanStarted {
                plan: PlanKind::Rollback,
                reason: format!("{}; {}", cause.reason(), scope.summary()),
                steps: self.outline(PlanKind::Rollback),
                cause: Some(cause),
            })?;
        }
        self.run_plan(PlanKind::Rollback).await
    }

    /// The lock is held until the process ends; an interactive operator may still want the
    /// rollback plan right away after an interruption.
    async fn offer_rollback_after_interrupt(&mut self) -> Result<bool> {
        if !(self.opts.plan == PlanKind::Plan && self.prompter.interactive() && !self.loaded.rollback.is_empty()) {
            return Ok(false);
        }
        // Only the operator's Ctrl-C during a step is asked about: SIGTERM and SIGHUP mean
        // nobody is there to answer, and Ctrl-C typed at a prompt means "stop at once".
        if self.interrupts.as_ref().and_then(|i| i.last_signal()) != Some("Ctrl-C") {
            return Ok(false);
        }
        // A further signal here is a no, as is a terminal that went away.
        let yes = self.ask(|p| p.confirm("Interrupted. Run the rollback plan now?", false)).await.unwrap_or(false);
        self.journal.record(Event::RollbackDecision { accepted: yes, by: self.opts.operator.clone(), how: self.prompter.how().into() })?;
        Ok(yes)
    }

    /// Fingerprint, before anything runs, every table a `validate` step of `plan` names,
    /// over the columns that exist now.
    async fn take_baselines(&mut self, plan: PlanKind) -> Result<()> {
        let mut fps = Vec::new();
        for s in self.loaded.clone().steps(plan) {
            if let Action::Validate(v) = &s.action {
                if self.opts.is_skipped(&s.id) {
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
                    let fp = self.db.fingerprint(t, &cols, None).await?;
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

    /// Which rollback steps run, decided once per run from the change steps that ran: this
    /// run's own when it ran (part of) the change plan, else those of the recorded change run.
    fn rollback_scope(&mut self) -> Selection {
        if let Some(s) = &self.rollback_scope {
            return s.clone();
        }
        let s = if self.opts.plan == PlanKind::Plan {
            scope_of_run(&self.loaded, &self.run_dir)
        } else {
            recorded_scope(&self.loaded, &self.target, self.opts.baseline.as_deref()).0
        };
        if matches!(&s, Selection::Partial { skip } if !skip.is_empty()) {
            ui::panel::info(s.summary());
        }
        self.rollback_scope = Some(s.clone());
        s
    }

    pub(crate) async fn run_plan(&mut self, plan: PlanKind) -> Result<PlanResult> {
        if plan == PlanKind::Plan {
            self.ran_change_plan = true;
        } else {
            self.rollback_scope();
        }
        let steps = self.loaded.clone();
        let steps = steps.steps(plan);
        let total = steps.len();
        for (i, step) in steps.iter().enumerate() {
            if self.done.contains(&step.id) {
                ui::panel::info(format!("step {}/{total} `{}` was completed before the run was resumed", i + 1, step.id));
                continue;
            }
            if self.interrupted_between_steps()? {
                return Ok(PlanResult::Interrupted);
            }
            // A run whose lock session died stops here, before anything else runs unlocked.
            self.db.lock_alive().await?;
            if plan == PlanKind::Plan && step.scope == Scope::Fleet {
                match self.opts.fleet_steps.get(&step.id).cloned() {
                    // A single run is a fleet of one: the step runs here like any other.
                    None => {}
                    Some(None) => {
                        self.await_fleet_step(step)?;
                        return Ok(PlanResult::Interrupted);
                    }
                    Some(Some(reference)) => {
                        self.record_fleet_step_done(step, i + 1, total, &reference)?;
                        continue;
                    }
                }
            }
            match self.run_step(step, i + 1, total, plan).await? {
                StepStatus::Passed | StepStatus::Skipped => {}
                StepStatus::Aborted => return Ok(PlanResult::Aborted),
                StepStatus::Interrupted => return Ok(PlanResult::Interrupted),
                StepStatus::Failed => {
                    let rollback_requested = plan == PlanKind::Plan && self.rollback_after_failure(step).await?;
                    return Ok(PlanResult::Failed { rollback_requested });
                }
            }
        }
        Ok(PlanResult::Passed)
    }

    /// A signal that arrived after the last step ended: the next one does not start.
    fn interrupted_between_steps(&mut self) -> Result<bool> {
        let Some(signal) = self.interrupts.as_ref().and_then(|i| i.pending()) else { return Ok(false) };
        self.journal.record(Event::Interrupted { step_id: None, signal: signal.to_string() })?;
        if let Some(i) = &self.interrupts {
            i.acknowledge();
        }
        ui::panel::warn(format!("interrupted by {signal} between steps: the next step was not started"));
        Ok(true)
    }

    /// After a change-plan step failed: does the rollback plan follow? `--on-failure rollback`
    /// and the step's own `on_failure: rollback` say yes; otherwise an operator at a terminal
    /// is asked. Every yes and no is journaled.
    async fn rollback_after_failure(&mut self, step: &crate::runbook::Step) -> Result<bool> {
        let automatic = self.opts.on_failure_rollback || step.on_failure == OnFailure::Rollback;
        if automatic {
            let how = if self.opts.on_failure_rollback {
                "--on-failure rollback".into()
            } else {
                format!("on_failure: rollback (step `{}`)", step.id)
            };
            self.journal.record(Event::RollbackDecision { accepted: true, by: self.opts.operator.clone(), how })?;
            return Ok(true);
        }
        if !self.prompter.interactive() || self.loaded.rollback.is_empty() {
            return Ok(false);
        }
        let yes = self.ask(|p| p.confirm("The step failed. Run the rollback plan now?", false)).await?;
        self.journal.record(Event::RollbackDecision { accepted: yes, by: self.opts.operator.clone(), how: self.prompter.how().into() })?;
        Ok(yes)
    }
}

/// The rollback scope after the change steps that ran in the run folder `dir`.
fn scope_of_run(loaded: &crate::runbook::Loaded, dir: &std::path::Path) -> Selection {
    match crate::journal::read(dir) {
        Ok((entries, _)) => selection::select(loaded, &selection::ran_in(&entries)),
        Err(e) => Selection::Whole { why: format!("the change run's journal cannot be read ({e})") },
    }
}

/// The rollback scope of a rollback that is a run of its own: after the recorded change run of
/// this runbook against `target` (`--baseline`, or the state index), with where that came from.
pub fn recorded_scope(
    loaded: &crate::runbook::Loaded,
    target: &crate::db::Target,
    explicit: Option<&std::path::Path>,
) -> (Selection, Option<String>) {
    match baseline::recorded_plan_run(&loaded.doc.id, target, explicit) {
        Some((dir, source)) => (scope_of_run(loaded, &dir), Some(source)),
        None => (Selection::Whole { why: "no change run of this runbook against this target is recorded".into() }, None),
    }
}
