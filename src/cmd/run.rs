//! `runbook run FILE` and `runbook rollback FILE`: run one plan with confirmation prompts.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{opts::OnFailureArg, Confirmation, ConnectOpts, RunOpts, VarOpts};
use crate::error::Result;
use crate::exec::{self, RunOptions};
use crate::journal::{Mode, Skip};
use crate::runbook::PlanKind;

pub async fn run(
    file: &Path,
    which: PlanKind,
    connect: &ConnectOpts,
    var_opts: &VarOpts,
    confirm: &Confirmation,
    opts: &RunOpts,
) -> Result<i32> {
    let loaded = Arc::new(crate::load::load(file)?);
    let prompter = super::prompter(confirm.yes)?;
    let (vars, target) = super::vars_and_target(&loaded, var_opts, connect.db.as_deref())?;
    // Before the lock and before any step: the window, the approvals, the seal key.
    let approval = crate::approval::gate::check(&loaded, &target, &vars, which, &opts.skips(), &opts.operator(), &opts.approval).await?;
    if !approval.approvals.is_empty() {
        let who: Vec<String> = approval.approvals.iter().map(|a| a.principal.clone()).collect();
        crate::ui::panel::ok(format!("approved by {}: every approval matches this run and the target's schema", who.join(", ")));
    }
    let options = RunOptions {
        plan: which,
        mode: match which {
            PlanKind::Plan => Mode::Run,
            PlanKind::Rollback => Mode::Rollback,
        },
        operator: opts.operator(),
        runs_dir: opts.runs_dir.clone(),
        skips: opts.skips().into_iter().map(|(step_id, reason)| Skip { step_id, reason }).collect(),
        on_failure_rollback: opts.on_failure == OnFailureArg::Rollback,
        allow_no_backup: opts.allow_no_backup,
        baseline: opts.baseline.clone(),
        rehearsal: None,
        then_rollback: opts.then_rollback,
        approval,
        secret_vars: exec::secret_sources(&loaded.doc, &var_opts.vars),
        fleet_steps: exec::fleet_step::FleetSteps::parse(&confirm.fleet_step),
    };
    exec::run(loaded, target, vars, options, prompter).await
}
