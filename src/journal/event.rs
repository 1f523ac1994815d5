//! The events a run records, one JSON object per journal line.
//!
//! This is the evidence model: reports are rebuilt from these events alone, so anything an
//! auditor may ask about a run must be recorded here when it happens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::{BackupInfo, Fingerprint, Schema};
use crate::runbook::{Kind, PlanKind, Ticket};

/// What kind of run a journal holds. Serialised as the words older journals used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `runbook run`: the change plan.
    Run,
    /// `runbook rollback`: the rollback plan on its own.
    Rollback,
    /// `runbook rehearse`: both plans on a scratch copy.
    Rehearsal,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Rollback => "rollback",
            Mode::Rehearsal => "rehearsal",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operator's (or `--skip`'s, or `--yes`'s) decision about one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Run,
    Skip,
    Abort,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Run => "run",
            Decision::Skip => "skip",
            Decision::Abort => "abort",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the rollback plan of a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackCause {
    /// `--then-rollback`: the change plan succeeded and the rollback follows.
    ThenRollback,
    /// A change-plan step failed and the rollback was asked for.
    StepFailed,
    /// The operator interrupted the change plan and asked for the rollback.
    Interrupted,
    /// A rehearsal always runs both plans.
    Rehearsal,
}

impl RollbackCause {
    /// The reason as the journal and reports show it.
    pub fn reason(self) -> &'static str {
        match self {
            RollbackCause::ThenRollback => "the change plan succeeded and the rollback plan follows (--then-rollback)",
            RollbackCause::StepFailed => "a change-plan step failed",
            RollbackCause::Interrupted => "the run was interrupted",
            RollbackCause::Rehearsal => "rehearsal: the rollback plan follows the change plan",
        }
    }
}

/// A step the run was told to skip, with the reason given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub step_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Where a secret variable's value came from: the journal keeps only this, never the value,
/// and `resume` reads the value again from the same place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum SecretSource {
    /// The environment variable the runbook names for it.
    Env { name: String },
    /// `--var NAME=…` on the command line.
    Option,
    /// The runbook's own default.
    Default,
}

/// The first event of every journal: who ran what, against what, and every choice that decides
/// what the run does. Fields added after the first release default, so older journals still
/// resume and report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunHeader {
    pub run_id: String,
    pub runbook_id: String,
    pub title: String,
    pub runbook_path: String,
    pub runbook_sha256: String,
    pub plan: PlanKind,
    pub mode: Mode,
    pub operator: String,
    pub host: String,
    pub target: String,
    pub engine: String,
    pub db_version: String,
    pub tool_version: String,
    pub confirmation: String,
    #[serde(default)]
    pub ticket: Option<Ticket>,
    /// Engine, host and database (or file) without credentials: resume checks it.
    #[serde(default)]
    pub target_id: String,
    /// The rollback plan follows the change plan in this run (`--then-rollback`).
    #[serde(default)]
    pub then_rollback: bool,
    /// Every variable's value as the run used it; a secret one shows as the mask.
    pub vars: BTreeMap<String, String>,
    /// Where each secret variable's value came from (never the value).
    #[serde(default)]
    pub secret_vars: BTreeMap<String, SecretSource>,
    /// Every `--skip`, with its reason.
    #[serde(default)]
    pub skips: Vec<Skip>,
    /// `--on-failure rollback`.
    #[serde(default)]
    pub on_failure_rollback: bool,
    /// `--allow-no-backup`.
    #[serde(default)]
    pub allow_no_backup: bool,
    /// `--baseline RUN_DIR`: the change run whose start snapshot a rollback compares with.
    #[serde(default)]
    pub baseline: Option<String>,
    /// `false` in journals written before this field existed: nothing is known either way.
    #[serde(default)]
    pub header_complete: bool,
    pub steps: Vec<StepOutline>,
    /// The signed approvals the run was allowed by (manifest and signature included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<crate::approval::ApprovalRecord>,
    /// `--emergency REASON`: run without approvals, awaiting retro-approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<String>,
    /// sha256 of the run's change manifest (what `runbook approve` would sign for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_sha256: Option<String>,
    /// Fingerprint of the `--sign-key` that signs the final seal into `seal.sig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_key: Option<String>,
    /// Where that key is, so that `resume` signs the seal of the run it finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_key_path: Option<String>,
}

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
    /// The run header: everything that decides what the run does. `resume` reads it back and
    /// continues exactly this run.
    RunStarted(RunHeader),
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
        /// Why a rollback plan started, as a type `resume` can read (absent in older journals).
        #[serde(default)]
        cause: Option<RollbackCause>,
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
        decision: Decision,
        by: String,
        how: String,
        #[serde(default)]
        reason: Option<String>,
    },
    Statement {
        step_id: String,
        sql: String,
        /// Rows changed; `null` for a statement whose kind has no row count (see `kind`).
        rows_affected: Option<u64>,
        /// What the statement's kind says about its row count; journals written before it was
        /// recorded hold only counted statements.
        #[serde(default)]
        kind: crate::sql::count::Counted,
        duration_ms: u64,
        /// The statement's place in its step, from 0. Each statement is journaled as it
        /// commits, so the indexes of a step say which of its statements are applied; journals
        /// written before it was recorded hold a step's statements only once all had committed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        /// The transactions the statement wrote in (PostgreSQL, epoch-extended ids), so that
        /// `validate` can tell the run's row versions from other sessions' after a resume too.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        txids: Vec<u64>,
    },
    /// Key ranges of a fingerprinted table holding rows whose version the run's transactions
    /// wrote, read as soon as a `sql` step committed (PostgreSQL): `validate` still knows where
    /// the run wrote after the application has updated those rows again.
    RowVersions {
        step_id: String,
        table: String,
        ranges: Vec<i64>,
    },
    Assertion {
        step_id: String,
        check: String,
        expected: String,
        actual: String,
        passed: bool,
    },
    /// What a `validate` step's report query returned: its first rows, redacted, then capped.
    ReportQuery {
        step_id: String,
        name: String,
        result: crate::db::QueryRows,
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
    /// A `scope: fleet` step in a run started by `runbook fleet`. Without a reference the run
    /// stopped before it, for the fleet to run it once; with one, the fleet ran it, and
    /// `reference` names the line of `fleet.jsonl` that records it.
    FleetStep {
        step_id: String,
        #[serde(default)]
        reference: Option<String>,
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
    /// `resume` was given a variable value that differs from the run header's, and the operator
    /// confirmed using it. A secret variable's values are never recorded, only that it changed.
    VarOverride {
        name: String,
        from: String,
        to: String,
        by: String,
        how: String,
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
