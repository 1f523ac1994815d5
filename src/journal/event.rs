//! The events a run records, one JSON object per journal line.
//!
//! This is the evidence model: reports are rebuilt from these events alone, so anything an
//! auditor may ask about a run must be recorded here when it happens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::{BackupInfo, Fingerprint, Schema};
use crate::runbook::{Kind, PlanKind, Ticket};

/// A step as listed at the start of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepOutline {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub plan: PlanKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
    Aborted,
    Interrupted,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Aborted => "aborted",
            StepStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Aborted,
    Interrupted,
    RolledBack,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted by the operator",
            Outcome::Interrupted => "interrupted",
            Outcome::RolledBack => "failed, rolled back",
        }
    }
}

// An event lives only from its creation to its journal line, one at a time, so the size of the
// rare large variant costs nothing worth a Box in every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        runbook_id: String,
        title: String,
        runbook_path: String,
        runbook_sha256: String,
        plan: PlanKind,
        mode: String,
        operator: String,
        host: String,
        target: String,
        engine: String,
        db_version: String,
        tool_version: String,
        confirmation: String,
        #[serde(default)]
        ticket: Option<Ticket>,
        /// Engine, host and database (or file) without credentials: resume checks it.
        #[serde(default)]
        target_id: String,
        /// The rollback plan follows the change plan in this run (`--then-rollback`).
        #[serde(default)]
        then_rollback: bool,
        vars: BTreeMap<String, String>,
        steps: Vec<StepOutline>,
        /// The signed approvals the run was allowed by (manifest and signature included).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        approvals: Vec<crate::approval::ApprovalRecord>,
        /// `--emergency REASON`: run without approvals, awaiting retro-approval.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        emergency: Option<String>,
        /// sha256 of the run's change manifest (what `runbook approve` would sign for it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        change_sha256: Option<String>,
        /// Fingerprint of the `--sign-key` that signs the final seal into `seal.sig`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seal_key: Option<String>,
        /// Where that key is, so that `resume` signs the seal of the run it finishes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seal_key_path: Option<String>,
    },
    LockAcquired {
        target: String,
    },
    SchemaSnapshot {
        label: String,
        schema: Schema,
    },
    FingerprintBaseline {
        fingerprints: Vec<Fingerprint>,
    },
    PlanStarted {
        plan: PlanKind,
        reason: String,
        #[serde(default)]
        steps: Vec<StepOutline>,
    },
    StepStarted {
        step_id: String,
        plan: PlanKind,
        index: usize,
        total: usize,
        name: String,
        kind: Kind,
        action: String,
    },
    StepDecision {
        step_id: String,
        decision: String,
        by: String,
        how: String,
        #[serde(default)]
        reason: Option<String>,
    },
    Statement {
        step_id: String,
        sql: String,
        rows_affected: u64,
        duration_ms: u64,
    },
    Assertion {
        step_id: String,
        check: String,
        expected: String,
        actual: String,
        passed: bool,
    },
    Backup {
        step_id: String,
        backup: BackupInfo,
    },
    Command {
        step_id: String,
        command: String,
        exit_code: Option<i32>,
        stdout: String,
        stderr: String,
        truncated: bool,
        duration_ms: u64,
    },
    Http {
        step_id: String,
        method: String,
        url: String,
        status: u16,
        duration_ms: u64,
        body_excerpt: String,
    },
    ChecklistItem {
        step_id: String,
        item: String,
        confirmed: bool,
        by: String,
        how: String,
    },
    Note {
        step_id: String,
        by: String,
        text: String,
    },
    Sample {
        step_id: String,
        check: String,
        value: Option<f64>,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        ok: bool,
        elapsed_ms: u64,
        #[serde(default)]
        detail: Option<String>,
    },
    Info {
        step_id: Option<String>,
        message: String,
    },
    StepFinished {
        step_id: String,
        status: StepStatus,
        #[serde(default)]
        error: Option<String>,
        duration_ms: u64,
    },
    RollbackDecision {
        accepted: bool,
        by: String,
        how: String,
    },
    LockReleased {
        target: String,
    },
    /// The run was continued by `runbook resume`.
    RunResumed {
        by: String,
        how: String,
        /// The step that was in flight when the run stopped, and what was decided about it.
        #[serde(default)]
        in_flight: Option<String>,
        #[serde(default)]
        decision: Option<String>,
    },
    /// Ctrl-C (or SIGTERM) arrived while a step ran.
    Interrupted {
        #[serde(default)]
        step_id: Option<String>,
        signal: String,
    },
    /// The end result of a rehearsal: whether the copy came back to where it started.
    RehearsalVerdict {
        schema_equal: bool,
        data_equal: bool,
        differences: Vec<String>,
        copy_method: String,
    },
    RunFinished {
        outcome: Outcome,
        exit_code: i32,
        duration_ms: u64,
    },
}

/// A journal line: the event with its sequence number, time and the hash of the line before.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: String,
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}
