//! `runbook resume RUN_DIR`: continue a killed or stopped run in its own journal.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{Confirmation, ConnectOpts, VarOpts};
use crate::error::Result;
use crate::exec::resume::{self, ResumeOptions, RunState};
use crate::journal::Outcome;
use crate::ui;

pub async fn run(
    run_dir: &Path,
    connect: &ConnectOpts,
    var_opts: &VarOpts,
    confirm: &Confirmation,
    rerun_in_flight: bool,
    operator: Option<String>,
    allow_no_backup: bool,
) -> Result<i32> {
    let state = RunState::read(run_dir)?;
    if state.finished == Some(Outcome::Succeeded) {
        ui::panel::ok(format!("run {} already finished and succeeded: nothing to resume", state.header.run_id));
        return Ok(0);
    }
    let prompter = super::prompter(confirm.yes)?;
    let loaded = Arc::new(crate::load::load(Path::new(&state.header.runbook_path))?);
    // The journal's target works unless it needed a password, which it never records.
    let db = connect.db.clone().or_else(|| (!state.header.target.contains("***")).then(|| state.header.target.clone()));
    let (vars, target) = super::vars_and_target(&loaded, var_opts, db.as_deref())?;
    let opts = ResumeOptions {
        run_dir: std::path::absolute(run_dir).unwrap_or_else(|_| run_dir.to_path_buf()),
        operator: operator.unwrap_or_else(|| state.header.operator.clone()),
        yes: confirm.yes,
        rerun_in_flight,
        allow_no_backup,
        given_vars: var_opts.vars.clone(),
        fleet_steps: crate::exec::fleet_step::FleetSteps::parse(&confirm.fleet_step),
    };
    resume::resume(state, loaded, target, vars, opts, prompter).await
}
