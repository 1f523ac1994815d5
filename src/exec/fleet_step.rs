//! A `scope: fleet` step inside a target's run: the run stops before it so that the fleet can
//! run it once for every target, and once the fleet has, the resumed run records it as done at
//! fleet level with a reference to the fleet's record, then goes on with the steps after it.
//!
//! Only a run started by `runbook fleet` is told about fleet steps (hidden `--fleet-step`
//! flags); a run without them runs such a step itself, as a fleet of one.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::fleet::journal::FleetEntry;
use crate::fleet::state::FleetState;
use crate::journal::verify::{verify_chain, Verdict};
use crate::journal::{Event, StepStatus};
use crate::runbook::{PlanKind, Step};
use crate::ui;

use super::Runner;

/// Step id → `None` (not yet run by the fleet: stop before it) or the reference to the fleet
/// record of its run.
#[derive(Debug, Clone, Default)]
pub struct FleetSteps(BTreeMap<String, Option<String>>);

impl FleetSteps {
    /// From `--fleet-step ID` and `--fleet-step ID=REFERENCE` values.
    pub fn parse(values: &[String]) -> FleetSteps {
        FleetSteps(
            values
                .iter()
                .map(|v| match v.split_once('=') {
                    Some((id, reference)) => (id.trim().to_string(), Some(reference.trim().to_string())),
                    None => (v.trim().to_string(), None),
                })
                .collect(),
        )
    }

    pub fn get(&self, step_id: &str) -> Option<&Option<String>> {
        self.0.get(step_id)
    }

    /// Check every reference against the fleet's own record, before the run starts: the
    /// hidden flag alone is a claim, and a run may record a step it did not run as passed only
    /// when the fleet's record, its chain intact, shows that step passed at that very line.
    /// `run_dir` is the run's folder, `<fleet>/<target>/<run-id>`.
    pub fn check_references(&self, run_dir: &Path) -> Result<()> {
        let claimed: Vec<(&String, &String)> = self.0.iter().filter_map(|(id, r)| r.as_ref().map(|r| (id, r))).collect();
        let Some((first, _)) = claimed.first() else { return Ok(()) };
        let fleet_dir = run_dir.parent().and_then(Path::parent).unwrap_or(Path::new("."));
        let path = fleet_dir.join(crate::fleet::FILE_NAME);
        let refused =
            |why: String| Error::usage(format!("step `{first}` is said to have been run by the fleet, but {why}; nothing was run"));
        let bytes = std::fs::read(&path).map_err(|_| refused(format!("there is no fleet record at {}", path.display())))?;
        if let Verdict::Broken { line, reason } = verify_chain::<FleetEntry>(&bytes, None) {
            return Err(refused(format!("the fleet record {} is broken at line {line}: {reason}", path.display())));
        }
        let state = FleetState::from_entries(&crate::fleet::journal::read(fleet_dir)?)?;
        for (id, reference) in claimed {
            if state.fleet_step_done(id) != Some(reference.as_str()) {
                return Err(Error::usage(format!(
                    "step `{id}` is said to have been run by the fleet ({reference}), but the fleet record {} does not show it passed there; nothing was run",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

impl Runner {
    /// Stop the run before the fleet step. The run ends interrupted, so that `resume` continues
    /// it from here once the fleet has run the step.
    pub(crate) fn await_fleet_step(&mut self, step: &Step) -> Result<()> {
        self.journal.record(Event::FleetStep { step_id: step.id.clone(), reference: None })?;
        ui::panel::info(format!(
            "stopped before `{}` ({}): the fleet runs it once for every target, then resumes this run",
            step.id, step.name
        ));
        Ok(())
    }

    /// Record the fleet step as done at fleet level, without running it here.
    pub(crate) fn record_fleet_step_done(&mut self, step: &Step, index: usize, total: usize, reference: &str) -> Result<()> {
        self.journal.record(Event::StepStarted {
            step_id: step.id.clone(),
            plan: PlanKind::Plan,
            index,
            total,
            name: step.name.clone(),
            kind: step.kind,
            action: "run once for the whole fleet".into(),
        })?;
        self.journal.record(Event::FleetStep { step_id: step.id.clone(), reference: Some(reference.to_string()) })?;
        self.journal.record(Event::StepFinished { step_id: step.id.clone(), status: StepStatus::Passed, error: None, duration_ms: 0 })?;
        self.done.insert(step.id.clone());
        ui::panel::ok(format!("step {index}/{total} `{}` was run once for the whole fleet ({reference})", step.id));
        Ok(())
    }
}
