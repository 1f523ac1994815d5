//! `fleet.jsonl`: the fleet's own record, one event a line, hash-chained by the same code as a
//! run journal (`crate::journal`), so `audit verify` and a reader treat both alike.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::redact::Redactor;

/// A target as the fleet lists it at the start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetOutline {
    pub name: String,
    /// The database without credentials.
    pub target: String,
    /// The URL as the targets file writes it: passwords only as `${ENV}` references, so a
    /// resumed fleet can reach the target again without a secret in the record.
    pub db: String,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

// An event lives from its creation to its line, one at a time (as the run journal's do).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FleetEvent {
    FleetStarted {
        fleet_id: String,
        /// `run` for a fleet this tool ran, `collect` for run folders gathered from elsewhere.
        mode: String,
        runbook_id: String,
        title: String,
        runbook_path: String,
        runbook_sha256: String,
        operator: String,
        host: String,
        tool_version: String,
        confirmation: String,
        targets: Vec<TargetOutline>,
        /// Target names, wave by wave.
        waves: Vec<Vec<String>>,
        parallel: usize,
        max_failures: String,
        budget: usize,
        on_target_failure: String,
        #[serde(default)]
        skips: Vec<String>,
        #[serde(default)]
        vars: BTreeMap<String, String>,
    },
    /// `fleet resume` took the fleet up again.
    FleetResumed {
        by: String,
        how: String,
    },
    /// The operator's decision to start a wave, given once for all its targets.
    WaveStarted {
        wave: usize,
        targets: Vec<String>,
        decision: String,
        by: String,
        how: String,
    },
    /// A manual step's checklist, answered once for the wave's targets.
    WaveChecklist {
        wave: usize,
        step_id: String,
        item: String,
        confirmed: bool,
        by: String,
        how: String,
    },
    TargetStarted {
        target: String,
        wave: usize,
        attempt: u32,
        /// `run`, `resume` (through the run's own journal) or `retry` (a new run after a failure).
        action: String,
        #[serde(default)]
        run_dir: Option<String>,
    },
    TargetFinished {
        target: String,
        wave: usize,
        attempt: u32,
        /// The run folder, relative to the fleet folder; none when the run never started.
        #[serde(default)]
        run_dir: Option<String>,
        #[serde(default)]
        run_id: Option<String>,
        exit_code: i32,
        outcome: String,
        /// The hash of the run journal's last line: the leaf of the fleet's Merkle root.
        #[serde(default)]
        seal: Option<String>,
        #[serde(default)]
        lines: u64,
        #[serde(default)]
        first_error: Option<String>,
        duration_ms: u64,
    },
    /// The target's run stopped before a `scope: fleet` step, to be resumed once the fleet has
    /// run it. Not a leaf of the root: the run goes on in the same folder and ends later.
    TargetAwaiting {
        target: String,
        wave: usize,
        attempt: u32,
        run_dir: Option<String>,
        step_id: String,
        duration_ms: u64,
    },
    /// The fleet was interrupted while this target's run ran: the fleet passed the signal on
    /// to the run, which journaled its own interruption. Not a leaf of the root: the target
    /// stays in flight, and `fleet resume` continues the same run in the same folder.
    TargetInterrupted {
        target: String,
        wave: usize,
        attempt: u32,
        #[serde(default)]
        run_dir: Option<String>,
        /// `Ctrl-C`, `SIGTERM` or `SIGHUP`, as the fleet received it.
        signal: String,
        /// The run's own exit code (3 when it ended as interrupted); none when it had to be
        /// killed because it did not end in time.
        #[serde(default)]
        exit_code: Option<i32>,
        duration_ms: u64,
    },
    /// A signal (or Ctrl-C typed at a fleet prompt) stopped the fleet: the operator stopping.
    /// The fleet's end follows, recorded as `interrupted`.
    FleetInterrupted {
        signal: String,
        /// Where the fleet was: at which prompt, during which wave, bake or fleet step.
        at: String,
    },
    /// The operator's decision to run a `scope: fleet` step once for the whole fleet.
    FleetStepStarted {
        step_id: String,
        name: String,
        kind: String,
        decision: String,
        by: String,
        how: String,
    },
    /// How the fleet step ended. Every target's journal names this line as the step's record.
    FleetStepFinished {
        step_id: String,
        /// `passed` or `failed`.
        status: String,
        detail: String,
        /// The step's output (secrets masked), relative to the fleet folder.
        #[serde(default)]
        log: Option<String>,
        duration_ms: u64,
    },
    /// A monitor check sampled on a target of the wave during the bake time before the next.
    BakeSample {
        wave: usize,
        target: String,
        step_id: String,
        check: String,
        value: Option<f64>,
        ok: bool,
        elapsed_ms: u64,
        #[serde(default)]
        detail: Option<String>,
    },
    /// More targets failed than `--max-failures` allows: no new target starts.
    BudgetExceeded {
        failures: usize,
        budget: usize,
    },
    WaveFinished {
        wave: usize,
        succeeded: usize,
        failed: usize,
    },
    /// The end of this pass over the fleet; a resumed fleet ends again with a new root.
    FleetFinished {
        outcome: String,
        exit_code: i32,
        /// Merkle root over the seals of every run recorded so far, in record order.
        root: String,
        runs: usize,
        succeeded: usize,
        failed: usize,
        not_started: usize,
        /// Targets stopped before a fleet step that has not run.
        #[serde(default)]
        awaiting: usize,
        /// Targets whose runs a signal stopped part-way; `fleet resume` continues them.
        #[serde(default, skip_serializing_if = "is_zero")]
        interrupted: usize,
        /// Why the fleet stopped short when the counts do not say it (a bake breach, a failed
        /// fleet step); absent otherwise, so older records read unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        duration_ms: u64,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A line of `fleet.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetEntry {
    pub seq: u64,
    pub ts: String,
    pub prev: String,
    #[serde(flatten)]
    pub event: FleetEvent,
}

/// Open a new fleet record in `dir`.
pub fn create(dir: &Path, redactor: Redactor) -> Result<Journal> {
    Journal::create_file(&dir.join(super::FILE_NAME), redactor)
}

/// Continue the fleet record of `dir`.
pub fn append(dir: &Path, redactor: Redactor) -> Result<Journal> {
    Journal::append_file::<FleetEntry>(&dir.join(super::FILE_NAME), redactor)
}

/// Every complete line of the fleet record; an unreadable one is an error.
pub fn read(dir: &Path) -> Result<Vec<FleetEntry>> {
    let path = dir.join(super::FILE_NAME);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            break; // torn by a crash; `audit verify` reports it
        }
        let entry = serde_json::from_str(&line[..line.len() - 1])
            .map_err(|e| Error::usage(format!("{}:{}: not a fleet event: {e}", path.display(), i + 1)))?;
        out.push(entry);
    }
    Ok(out)
}
