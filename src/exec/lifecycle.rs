//! One step's life: show it, decide about it (`--skip`, the operator, or `--yes`), journal the
//! start and the decision together, execute it racing interruptions and its timeout, and
//! journal how it ended.
//!
//! Nothing is journaled for a step before its decision: an operator who is interrupted while
//! reading the panel leaves no "in flight" step behind, because nothing had started.

use std::time::Instant;

use crate::db;
use crate::error::{Error, Result};
use crate::journal::{Decision, Event, StepStatus};
use crate::runbook::{Action, PlanKind, Step};
use crate::ui::{panel, Panel};

use super::{interrupt, step, Runner};

/// A decision and who made it how, ready for the journal.
struct Decided {
    decision: Decision,
    how: String,
    reason: Option<String>,
}

impl Runner {
    /// Ask the operator through [`interrupt::ask`]: a signal ends the wait.
    pub(crate) async fn ask<T, F>(&mut self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn crate::ui::Prompter) -> Result<T> + Send + 'static,
    {
        interrupt::ask(&mut self.prompter, self.interrupts.as_ref(), f).await
    }

    pub(crate) async fn run_step(&mut self, step: &Step, index: usize, total: usize, plan: PlanKind) -> Result<StepStatus> {
        let action = step::describe(step, &self.vars, self.target.engine, Some(&self.run_dir));
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

        let decided = self.decide(step, plan).await?;
        self.journal.record(Event::StepStarted {
            step_id: step.id.clone(),
            plan,
            index,
            total,
            name: step.name.clone(),
            kind: step.kind,
            action,
        })?;
        self.journal.record(Event::StepDecision {
            step_id: step.id.clone(),
            decision: decided.decision,
            by: self.opts.operator.clone(),
            how: decided.how,
            reason: decided.reason,
        })?;
        // The step's time is its work, from the decision on: the minutes an operator spends
        // reading the panel belong to the decision's own timestamp, not to the step's duration.
        let started = Instant::now();
        self.step_started = started;
        let (status, error) = match decided.decision {
            Decision::Skip => (StepStatus::Skipped, None),
            Decision::Abort => (StepStatus::Aborted, None),
            Decision::Run => self.execute(step).await?,
        };
        self.finish_step(step, status, error, started)?;
        Ok(status)
    }

    /// `--skip` decides first; then the runbook itself (a rehearsal policy, a rollback step
    /// with nothing to undo); then the operator (or `--yes`).
    async fn decide(&mut self, step: &Step, plan: PlanKind) -> Result<Decided> {
        if let Some(skip) = self.opts.skip(&step.id) {
            match &skip.reason {
                Some(r) => panel::info(format!("skipped (--skip): {r}")),
                None => panel::info("skipped (--skip, no reason given)"),
            }
            let reason = skip.reason.clone().unwrap_or_else(|| "no reason given".into());
            return Ok(Decided { decision: Decision::Skip, how: "--skip".into(), reason: Some(reason) });
        }
        if let Some((how, reason)) = self.runbook_skips(step, plan).await? {
            panel::info(format!("skipped ({how}): {reason}"));
            return Ok(Decided { decision: Decision::Skip, how, reason: Some(reason) });
        }
        if let (Some(_), Some(policy)) = (&self.opts.rehearsal, &step.rehearse) {
            panel::info(self.vars.mask(&policy.describe()));
        }
        let question = step::question::question(step, &self.vars, self.target.engine);
        let decision = self.ask(move |p| p.step(&question)).await?;
        let reason = if decision == Decision::Skip { Some(self.ask(|p| p.skip_reason()).await?) } else { None };
        if !self.prompter.interactive() && decision == Decision::Run {
            panel::info(self.prompter.how());
        }
        Ok(Decided { decision, how: self.prompter.how().into(), reason })
    }

    /// Whether the runbook itself rules the step out here, as (how, why) for the journal: an
    /// `http` or `command` step whose rehearsal policy is to skip it, or a rollback step that
    /// undoes only change steps that never ran, or whose `when` does not hold on the live schema.
    async fn runbook_skips(&mut self, step: &Step, plan: PlanKind) -> Result<Option<(String, String)>> {
        if let (Some(_), Some(crate::runbook::rehearse::Rehearse::Skip { why })) = (&self.opts.rehearsal, &step.rehearse) {
            return Ok(Some(("rehearse policy".into(), format!("not run in a rehearsal: {why}"))));
        }
        if plan == PlanKind::Rollback {
            if let Some(why) = self.rollback_scope.as_ref().and_then(|s| s.skips(&step.id)) {
                return Ok(Some(("partial rollback".into(), format!("nothing to undo: {why}"))));
            }
            if let Some(cond) = &step.when {
                let schema = self.db.schema().await?;
                if !cond.holds(&schema) {
                    return Ok(Some(("when".into(), format!("nothing to undo: `when: {}` is false on the live schema", cond.describe()))));
                }
            }
        }
        Ok(None)
    }

    /// Run a confirmed step under its timeout, racing interruptions. Returns its status and
    /// the error to journal with it.
    async fn execute(&mut self, step: &Step) -> Result<(StepStatus, Option<String>)> {
        let limit = super::timeout::limit(step, &self.vars)?;
        let canceller = self.db.canceller();
        // A command's group is ended when its step is dropped; waiting for it first would only
        // delay that past the second a signal allows.
        let grace = match step.action {
            Action::Command(_) | Action::Http(_) | Action::Manual(_) => std::time::Duration::ZERO,
            _ => interrupt::CANCEL_GRACE,
        };
        let mut interrupts = self.interrupts.clone();
        let fut = super::timeout::within(limit, step::run(self, step));
        let res = match interrupts.as_mut() {
            Some(i) => interrupt::race(fut, i, canceller, grace).await,
            None => fut.await.map_err(interrupt::Outcome::Error),
        };
        // A step's own prompt (a checklist) that a signal or Ctrl-C ended is the same stop.
        let res = match res {
            Err(interrupt::Outcome::Error(Error::Interrupted { signal })) => Err(interrupt::Outcome::Interrupted(signal)),
            other => other,
        };
        // A command, a request or a confirmed manual step is a change once it has run, whatever
        // its outcome; a `sql` step says so itself, per committed statement.
        let acted =
            matches!(step.action, Action::Command(_) | Action::Http(_)) || (matches!(step.action, Action::Manual(_)) && res.is_ok());
        if acted {
            self.reached_change();
        }
        Ok(match res {
            Ok(()) => (StepStatus::Passed, None),
            Err(interrupt::Outcome::Interrupted(signal)) => {
                self.journal.record(Event::Interrupted { step_id: Some(step.id.clone()), signal: signal.clone() })?;
                if let Some(i) = &self.interrupts {
                    i.acknowledge();
                }
                panel::warn(format!("interrupted by {signal}: {}", what_stopped(&step.action)));
                (StepStatus::Interrupted, Some(format!("interrupted by {signal}")))
            }
            Err(interrupt::Outcome::Error(e @ Error::Stopped { .. })) => (StepStatus::Aborted, Some(e.to_string())),
            Err(interrupt::Outcome::Error(e @ Error::LockLost { .. })) => {
                // Not a failure the rollback plan could answer: the run must not go on at all.
                self.finish_step(step, StepStatus::Failed, Some(e.to_string()), self.step_started)?;
                return Err(e);
            }
            Err(interrupt::Outcome::Error(e)) => {
                let text = self.journal.redactor().text(&e.to_string());
                // Only the database's own errors can mean its connection was lost; an HTTP or
                // command step's "connection refused" is about something else.
                let msg = if matches!(e, Error::Database { .. }) { db::explain_failure(&text) } else { text };
                (StepStatus::Failed, Some(msg))
            }
        })
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
}

/// What an interruption stopped, in the step's own terms: a checklist or a monitor between two
/// samples has no statement in progress, and the operator should not be told one was cancelled.
fn what_stopped(action: &Action) -> &'static str {
    match action {
        Action::Sql(_) | Action::Verify(_) | Action::Validate(_) => "the statement in progress was cancelled",
        Action::Backup => "the backup in progress was cancelled",
        Action::Command(_) => "the command's process group was ended",
        Action::Http(_) => "the request in progress was abandoned",
        Action::Manual(_) => "the checklist was left unanswered; the step is not done",
        Action::Monitor(_) => "monitoring stopped; no further samples were taken",
    }
}
