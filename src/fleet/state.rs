//! The state of a fleet, folded from its record: what `fleet resume`, `audit verify` and
//! `report` need to know about every target without reading any run journal.

use std::collections::BTreeMap;

use super::journal::{FleetEntry, FleetEvent, TargetOutline};
use crate::error::{Error, Result};

/// Where one target stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotStarted,
    /// Started and never finished: the fleet died or was interrupted while it ran.
    InFlight {
        attempt: u32,
        wave: usize,
    },
    Finished {
        attempt: u32,
        exit_code: i32,
        outcome: String,
    },
    /// Its run stopped before a `scope: fleet` step and waits for the fleet to run it.
    Awaiting {
        attempt: u32,
        step_id: String,
    },
}

/// A finished run as recorded: a leaf of the root.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub target: String,
    pub wave: usize,
    pub attempt: u32,
    pub run_dir: Option<String>,
    pub exit_code: i32,
    pub outcome: String,
    pub seal: Option<String>,
    pub first_error: Option<String>,
    pub duration_ms: u64,
    pub ts: String,
}

impl RunRecord {
    pub fn succeeded(&self) -> bool {
        self.exit_code == 0
    }
}

#[derive(Debug, Clone)]
pub struct Wave {
    pub targets: Vec<String>,
    pub started: Vec<String>,
    pub finished: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FleetState {
    pub fleet_id: String,
    pub mode: String,
    pub runbook_id: String,
    pub title: String,
    pub runbook_path: String,
    pub runbook_sha256: String,
    pub operator: String,
    pub started: String,
    pub targets: Vec<TargetOutline>,
    pub waves: Vec<Wave>,
    pub parallel: usize,
    pub max_failures: String,
    pub budget: usize,
    pub on_target_failure: String,
    pub skips: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub status: BTreeMap<String, Status>,
    /// Every finished run, in record order (retries included).
    pub runs: Vec<RunRecord>,
    /// The last `fleet_finished`: (root, exit code, outcome, how many runs it covered).
    pub finished: Option<(String, i32, String, usize)>,
    pub budget_exceeded: bool,
    pub resumed: usize,
    pub prompts: usize,
    /// `scope: fleet` steps the fleet ran: step id → (passed, the reference targets record).
    pub fleet_steps: BTreeMap<String, (bool, String)>,
}

impl FleetState {
    pub fn from_entries(entries: &[FleetEntry]) -> Result<FleetState> {
        let Some(FleetEntry { event: FleetEvent::FleetStarted { .. }, .. }) = entries.first() else {
            return Err(Error::usage("the fleet record does not start with fleet_started"));
        };
        let mut st: Option<FleetState> = None;
        for e in entries {
            match &e.event {
                FleetEvent::FleetStarted {
                    fleet_id,
                    mode,
                    runbook_id,
                    title,
                    runbook_path,
                    runbook_sha256,
                    operator,
                    targets,
                    waves,
                    parallel,
                    max_failures,
                    budget,
                    on_target_failure,
                    skips,
                    vars,
                    ..
                } => {
                    st = Some(FleetState {
                        fleet_id: fleet_id.clone(),
                        mode: mode.clone(),
                        runbook_id: runbook_id.clone(),
                        title: title.clone(),
                        runbook_path: runbook_path.clone(),
                        runbook_sha256: runbook_sha256.clone(),
                        operator: operator.clone(),
                        started: e.ts.clone(),
                        status: targets.iter().map(|t| (t.name.clone(), Status::NotStarted)).collect(),
                        targets: targets.clone(),
                        waves: waves.iter().map(|w| Wave { targets: w.clone(), started: Vec::new(), finished: Vec::new() }).collect(),
                        parallel: *parallel,
                        max_failures: max_failures.clone(),
                        budget: *budget,
                        on_target_failure: on_target_failure.clone(),
                        skips: skips.clone(),
                        vars: vars.clone(),
                        runs: Vec::new(),
                        finished: None,
                        budget_exceeded: false,
                        resumed: 0,
                        prompts: 0,
                        fleet_steps: BTreeMap::new(),
                    });
                }
                other => {
                    let Some(s) = st.as_mut() else { continue };
                    s.apply(other, &e.ts);
                    s.note_fleet_step(other, e.seq);
                }
            }
        }
        st.ok_or_else(|| Error::usage("the fleet record has no fleet_started event"))
    }

    /// Fold one more event in (the orchestrator keeps its state current this way).
    pub fn apply(&mut self, event: &FleetEvent, ts: &str) {
        match event {
            FleetEvent::FleetResumed { .. } => {
                self.resumed += 1;
                self.budget_exceeded = false;
            }
            FleetEvent::WaveStarted { wave, how, .. } => {
                if how == "interactive" {
                    self.prompts += 1;
                }
                if let Some(w) = self.waves.get_mut(*wave - 1) {
                    w.started.push(ts.to_string());
                }
            }
            FleetEvent::WaveChecklist { .. } => {}
            FleetEvent::TargetStarted { target, wave, attempt, .. } => {
                self.status.insert(target.clone(), Status::InFlight { attempt: *attempt, wave: *wave });
            }
            FleetEvent::TargetFinished { target, wave, attempt, run_dir, exit_code, outcome, seal, first_error, duration_ms, .. } => {
                self.status.insert(target.clone(), Status::Finished { attempt: *attempt, exit_code: *exit_code, outcome: outcome.clone() });
                self.runs.push(RunRecord {
                    target: target.clone(),
                    wave: *wave,
                    attempt: *attempt,
                    run_dir: run_dir.clone(),
                    exit_code: *exit_code,
                    outcome: outcome.clone(),
                    seal: seal.clone(),
                    first_error: first_error.clone(),
                    duration_ms: *duration_ms,
                    ts: ts.to_string(),
                });
            }
            FleetEvent::TargetAwaiting { target, attempt, step_id, .. } => {
                self.status.insert(target.clone(), Status::Awaiting { attempt: *attempt, step_id: step_id.clone() });
            }
            // The run goes on at `fleet resume`, in its own folder: still in flight.
            FleetEvent::TargetInterrupted { target, wave, attempt, .. } => {
                self.status.insert(target.clone(), Status::InFlight { attempt: *attempt, wave: *wave });
            }
            FleetEvent::FleetInterrupted { .. } => {}
            FleetEvent::FleetStepStarted { how, .. } => {
                if how == "interactive" {
                    self.prompts += 1;
                }
            }
            FleetEvent::FleetStepFinished { .. } | FleetEvent::BakeSample { .. } => {}
            FleetEvent::BudgetExceeded { .. } => self.budget_exceeded = true,
            FleetEvent::WaveFinished { wave, .. } => {
                if let Some(w) = self.waves.get_mut(*wave - 1) {
                    w.finished.push(ts.to_string());
                }
            }
            FleetEvent::FleetFinished { root, exit_code, outcome, .. } => {
                self.finished = Some((root.clone(), *exit_code, outcome.clone(), self.runs.len()));
            }
            FleetEvent::FleetStarted { .. } => {}
        }
    }

    /// Remember a fleet step's outcome, recorded at line `seq` of the fleet record.
    pub fn note_fleet_step(&mut self, event: &FleetEvent, seq: u64) {
        if let FleetEvent::FleetStepFinished { step_id, status, .. } = event {
            let reference = format!("fleet {}, {} line {seq}", self.fleet_id, super::FILE_NAME);
            self.fleet_steps.insert(step_id.clone(), (status == "passed", reference));
        }
    }

    /// The reference of a fleet step that ran and passed.
    pub fn fleet_step_done(&self, step_id: &str) -> Option<&str> {
        self.fleet_steps.get(step_id).filter(|(ok, _)| *ok).map(|(_, r)| r.as_str())
    }

    /// Targets waiting for the fleet step `step_id`.
    pub fn awaiting(&self, step_id: &str) -> usize {
        self.status.values().filter(|s| matches!(s, Status::Awaiting { step_id: id, .. } if id == step_id)).count()
    }

    /// The wave (1-based) a target belongs to.
    pub fn wave_of(&self, target: &str) -> usize {
        self.waves.iter().position(|w| w.targets.iter().any(|t| t == target)).map(|i| i + 1).unwrap_or(1)
    }

    /// The latest run of each target, by target name.
    pub fn latest(&self) -> BTreeMap<&str, &RunRecord> {
        let mut out = BTreeMap::new();
        for r in &self.runs {
            out.insert(r.target.as_str(), r);
        }
        out
    }

    /// Where the target's latest run is in `runs`.
    pub fn latest_run_index(&self, target: &str) -> Option<usize> {
        self.runs.iter().rposition(|r| r.target == target)
    }

    /// Targets whose latest run failed.
    pub fn failures(&self) -> usize {
        self.status.values().filter(|s| matches!(s, Status::Finished { exit_code, .. } if *exit_code != 0)).count()
    }

    /// Targets whose latest run failed and was made after the first `n` runs: the failures
    /// of this pass, which the budget counts (a resumed fleet retries the earlier ones).
    pub fn failures_since(&self, n: usize) -> usize {
        let mut latest: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
        for (i, r) in self.runs.iter().enumerate() {
            latest.insert(r.target.as_str(), (i, r.succeeded()));
        }
        latest.values().filter(|(i, ok)| *i >= n && !ok).count()
    }

    /// Merkle leaves of the first `n` runs, in record order.
    pub fn leaves(&self, n: usize) -> Vec<[u8; 32]> {
        self.runs.iter().take(n).filter_map(|r| Some(super::merkle::leaf(r.run_dir.as_deref()?, r.seal.as_deref()?))).collect()
    }
}
