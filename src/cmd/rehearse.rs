//! `runbook rehearse FILE`: the change plan and then the rollback plan on a scratch copy of the
//! target, and proof that the copy ends where it started. The target is only read, and the
//! copy is dropped at the end whatever happened.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{ConnectOpts, VarOpts};
use crate::db;
use crate::error::{Error, Result};
use crate::exec::{self, rehearsal::Rehearsal, RunOptions};
use crate::runbook::PlanKind;
use crate::ui::{self, AutoPrompter};

pub async fn run(file: &Path, connect: &ConnectOpts, var_opts: &VarOpts, runs_dir: &Path, skip: &[String]) -> Result<i32> {
    let loaded = Arc::new(crate::load::load(file)?);
    if loaded.rollback.is_empty() {
        return Err(Error::usage("the runbook has no rollback plan: there is nothing to rehearse"));
    }
    let (mut vars, target) = super::vars_and_target(&loaded, var_opts, connect.db.as_deref())?;
    sweep_leftovers(&target).await;
    // The process id in the name lets a later rehearsal tell a dead one's folder (with its copy
    // of the data and a credential file) from a live one's.
    let work = std::env::temp_dir().join(format!("runbook-rehearsal-{}-{}", std::process::id(), exec::new_run_id()));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&work).map_err(|e| Error::write(&work, e))?;
    }
    ui::out(format!("Rehearsal: copying {} to a scratch copy (the target is only read)…", target.display()));
    let scratch = {
        let mut original = db::connect(&target, true).await?;
        let s = original.scratch_copy(&work).await;
        drop(original);
        match s {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&work);
                return Err(e);
            }
        }
    };
    ui::out(format!("  scratch copy: {} ({})", scratch.target.display(), scratch.method));
    // Commands see the copy, never the target.
    vars.set_shown("db_url", scratch.target.url.clone(), scratch.target.display());
    let opts = RunOptions {
        plan: PlanKind::Plan,
        mode: crate::journal::Mode::Rehearsal,
        operator: whoami::username(),
        runs_dir: runs_dir.to_path_buf(),
        skips: skip
            .iter()
            .map(|s| match s.split_once('=') {
                Some((id, r)) => crate::journal::Skip { step_id: id.to_string(), reason: Some(r.to_string()) },
                None => crate::journal::Skip { step_id: s.clone(), reason: None },
            })
            .collect(),
        on_failure_rollback: false,
        allow_no_backup: false,
        baseline: None,
        rehearsal: Some(Rehearsal { copy_method: scratch.method.clone(), original: target.display() }),
        then_rollback: false,
        approval: Default::default(),
        secret_vars: exec::secret_sources(&loaded.doc, &var_opts.vars),
        fleet_steps: Default::default(),
    };
    let result = exec::run(loaded, scratch.target.clone(), vars, opts, Box::new(AutoPrompter { label: "rehearsal" })).await;
    let dropped = db::drop_scratch(&scratch).await;
    let _ = std::fs::remove_dir_all(&work);
    match dropped {
        Ok(()) => ui::panel::ok("scratch copy dropped"),
        Err(e) => ui::panel::warn(format!("could not drop the scratch copy {}: {e}", scratch.target.display())),
    }
    result
}

/// Remove what killed rehearsals of `target` left: scratch databases on its server, and work
/// folders in the temporary directory whose process is gone.
async fn sweep_leftovers(target: &crate::db::Target) {
    match db::scratch::sweep(target).await {
        Ok(dropped) => {
            for name in dropped {
                ui::panel::info(format!("dropped the scratch database {name} left by a killed rehearsal"));
            }
        }
        Err(e) => ui::panel::warn(format!("could not look for scratch databases left by killed rehearsals: {e}")),
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix("runbook-rehearsal-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = u32::try_from(pid).is_ok_and(crate::db::process_gone);
        if gone && std::fs::remove_dir_all(e.path()).is_ok() {
            ui::panel::info(format!("removed {name}, left by a killed rehearsal"));
        }
    }
}
