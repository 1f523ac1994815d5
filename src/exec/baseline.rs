//! Finding "the schema before the plan" for a rollback run.
//!
//! A rollback usually runs in a later invocation than the change, maybe from another runs
//! folder. So every change-plan run is remembered in a small state index keyed by runbook id and
//! target identity; `--baseline RUN_DIR` names the run explicitly. A run is remembered only
//! once it reaches its first change (a statement commits, a command or request runs, a manual
//! step is confirmed), so a second run that fails before changing anything leaves the real
//! change's run as the baseline.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Runner;
use crate::db::Schema;
use crate::error::{Error, Result};
use crate::journal::{self, Event};

/// `$RUNBOOK_STATE_DIR`, else `$XDG_STATE_HOME/runbook`, else `~/.local/state/runbook`.
pub fn state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RUNBOOK_STATE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(d).join("runbook"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/runbook"))
}

fn key(runbook_id: &str, identity: &str) -> String {
    hex::encode(&Sha256::digest(format!("{runbook_id}\n{identity}").as_bytes())[..12])
}

/// Record that this run is the latest change-plan run of its runbook against its target.
/// Failing to record is not fatal: `--baseline` still works.
pub fn remember(r: &Runner) {
    let Some(dir) = state_dir() else { return };
    let dir = dir.join("plan-runs");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let run_dir = std::fs::canonicalize(&r.run_dir).unwrap_or_else(|_| r.run_dir.clone());
    let body = serde_json::json!({
        "run_id": r.run_id,
        "run_dir": run_dir,
        "runbook_id": r.loaded.doc.id.value,
        "target": r.target.display(),
    });
    let _ = std::fs::write(dir.join(key(&r.loaded.doc.id, &r.target.identity())), body.to_string());
}

impl Runner {
    /// The change plan has changed something: from now on this run is "the change" whose start
    /// snapshot a later rollback compares with. Once per run; not for rehearsals or rollbacks.
    pub(crate) fn reached_change(&mut self) {
        if self.baseline_remembered
            || self.opts.plan != crate::runbook::PlanKind::Plan
            || self.opts.rehearsal.is_some()
            || self.rollback.is_some()
        {
            return;
        }
        self.baseline_remembered = true;
        remember(self);
    }
}

/// The start snapshot recorded in a run folder's journal.
pub fn snapshot_of(run_dir: &Path) -> Result<Schema> {
    let (entries, _) = journal::read(run_dir)?;
    entries
        .into_iter()
        .find_map(|e| match e.event {
            Event::SchemaSnapshot { label, schema } if label == "start" => Some(schema),
            _ => None,
        })
        .ok_or_else(|| Error::failed(format!("{} holds no start snapshot", run_dir.display())))
}

/// The schema before the change plan, and where it came from.
pub fn before_plan(r: &Runner) -> Result<(Schema, String)> {
    if r.ran_change_plan {
        return Ok((r.start_schema.clone(), format!("this run ({})", r.run_id)));
    }
    match recorded_plan_run(&r.loaded.doc.id, &r.target, r.opts.baseline.as_deref()) {
        Some((dir, source)) => Ok((snapshot_of(&dir)?, source)),
        None => Err(Error::failed(NO_BASELINE)),
    }
}

pub const NO_BASELINE: &str =
    "no snapshot from before the change plan is known for this runbook and target; pass --baseline RUN_DIR (the run folder of the change)";

/// The run folder holding the schema from before the change plan, for a run that does not
/// run the plan itself: `--baseline`, else the state index. `None` when neither names one.
pub fn recorded_plan_run(runbook_id: &str, target: &crate::db::Target, explicit: Option<&Path>) -> Option<(PathBuf, String)> {
    if let Some(dir) = explicit {
        return Some((dir.to_path_buf(), format!("--baseline {}", dir.display())));
    }
    let file = state_dir()?.join("plan-runs").join(key(runbook_id, &target.identity()));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let dir = v.get("run_dir")?.as_str()?;
    let run_id = v.get("run_id").and_then(|d| d.as_str()).unwrap_or("?");
    Some((PathBuf::from(dir), format!("change-plan run {run_id}")))
}
