//! The runbook model: what a YAML runbook says, as typed Rust values.
//!
//! `Runbook` and `RawStep` are what the YAML deserialises into (and what `runbook schema`
//! describes). The loader then turns every `RawStep` into a typed [`Step`] whose [`Action`]
//! holds exactly the fields of its kind.

pub mod duration;
pub mod expect;
pub mod rehearse;
pub mod scalar;
pub mod selection;
pub mod span;
pub mod step;
pub mod undo;
pub mod when;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use scalar::Scalar;
pub use span::{Pos, Sp};
pub use step::*;

/// A problem found by the model's own rules (undo pairing, expectations), reported by the
/// loader with the other diagnostics.
#[derive(Debug, Clone)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
}

/// The model's own rules over a parsed runbook; the loader adds these to its diagnostics.
pub fn check(doc: &Runbook) -> Vec<Problem> {
    let mut out = undo::check(doc);
    out.extend(expect::check(doc));
    for raw in doc.plan.iter().chain(&doc.rollback) {
        for c in raw.checks.iter().flatten() {
            if c.headers.is_some() && c.http.is_none() {
                out.push(Problem {
                    pos: raw.id.pos,
                    message: format!("monitor check `{}` of step `{}` has `headers` but no `http` URL", c.name, *raw.id),
                    help: Some("headers are sent with an `http` check's request".into()),
                });
            }
        }
    }
    out
}

/// A runbook file, format version 1.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Format version; must be 1.
    pub version: Sp<u32>,
    /// Stable identifier of this runbook, used in run ids, locks and reports.
    pub id: Sp<String>,
    /// One-line title, usually the ticket's subject.
    #[serde(default)]
    pub title: Option<String>,
    /// Free text shown at the top of plans and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The change ticket this runbook carries out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    /// Database URL (`sqlite://…`, `postgres://…`, `mysql://…`, `mariadb://…`); may use `${vars}`.
    /// `--db` overrides it; `DATABASE_URL` is the fallback when neither is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Sp<String>>,
    /// Variables, referenced as `${name}` in any string.
    #[serde(default)]
    pub vars: BTreeMap<String, VarDef>,
    /// The change plan, run by `runbook run`.
    pub plan: Sp<Vec<RawStep>>,
    /// The rollback plan, run by `runbook rollback` or after a failure.
    #[serde(default)]
    pub rollback: Vec<RawStep>,
    /// Signed approvals that `run` and `rollback` require (see `runbook approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<crate::approval::policy::Policy>,
    /// The change window: `run` and `rollback` refuse outside it unless `--emergency` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::approval::window::Window>,
}

/// The change ticket's metadata, copied into every report.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    pub id: Option<Scalar>,
    pub url: Option<Scalar>,
    pub tracker: Option<Scalar>,
    pub subject: Option<Scalar>,
    pub system: Option<Scalar>,
    pub change_type: Option<Scalar>,
    pub risk: Option<Scalar>,
    pub impact: Option<Scalar>,
    pub estimate: Option<Scalar>,
    pub owner: Option<Scalar>,
    pub status: Option<Scalar>,
    pub priority: Option<Scalar>,
    pub start_date: Option<Scalar>,
    pub due_date: Option<Scalar>,
}

impl Ticket {
    /// The fields that are set, in display order, for report headers.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("Ticket", &self.id),
            ("URL", &self.url),
            ("Tracker", &self.tracker),
            ("Subject", &self.subject),
            ("System", &self.system),
            ("Change type", &self.change_type),
            ("Risk level", &self.risk),
            ("Impact", &self.impact),
            ("Estimated time", &self.estimate),
            ("Owner", &self.owner),
            ("Status", &self.status),
            ("Priority", &self.priority),
            ("Start date", &self.start_date),
            ("Due date", &self.due_date),
        ];
        all.into_iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v.0.clone()))).collect()
    }
}

/// A variable's definition.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VarDef {
    /// Value used when neither `--var` nor `env` provides one. Without it the var is required.
    #[serde(default)]
    pub default: Option<Scalar>,
    /// A secret is masked in every output, journal and report.
    #[serde(default)]
    pub secret: bool,
    /// The value is SQL text, not a value: a secret one may change a statement's shape (add
    /// quotes, keywords, statements). Without it, such a secret value is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sql: bool,
    /// Read the value from this environment variable when `--var` does not set it.
    #[serde(default)]
    pub env: Option<String>,
    /// What the variable is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// Which plan of a runbook a run executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Plan,
    Rollback,
}

impl PlanKind {
    pub fn label(self) -> &'static str {
        match self {
            PlanKind::Plan => "change plan",
            PlanKind::Rollback => "rollback plan",
        }
    }
}

/// A runbook after loading: metadata plus typed steps.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: String,
    /// The absolute folder of the runbook file, resolved once at load time: `${runbook_dir}`,
    /// the default working folder of commands and the base of a relative `workdir`. Resolving
    /// the path as typed (`..`) again from another folder would apply it twice.
    pub dir: std::path::PathBuf,
    pub source: std::sync::Arc<str>,
    pub sha256: String,
    pub doc: Runbook,
    pub plan: Vec<Step>,
    pub rollback: Vec<Step>,
    /// How each change-plan step is undone, by step id (see [`undo`]).
    pub undo: BTreeMap<String, undo::Undo>,
}

impl Loaded {
    pub fn steps(&self, which: PlanKind) -> &[Step] {
        match which {
            PlanKind::Plan => &self.plan,
            PlanKind::Rollback => &self.rollback,
        }
    }
    /// How the change-plan step `id` is undone; `NotNeeded` for an id that is not a change step.
    pub fn undo_of(&self, id: &str) -> &undo::Undo {
        self.undo.get(id).unwrap_or(&undo::Undo::NotNeeded)
    }
    /// The change-plan steps that the rollback step `id` undoes, in change-plan order.
    pub fn undoes(&self, rollback_id: &str) -> Vec<&Step> {
        self.plan
            .iter()
            .filter(|s| matches!(self.undo_of(&s.id), undo::Undo::By(refs) if refs.iter().any(|r| r.id == rollback_id)))
            .collect()
    }
    pub fn title(&self) -> String {
        self.doc.title.clone().unwrap_or_else(|| self.doc.id.value.clone())
    }
}
