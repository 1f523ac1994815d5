//! What an `http` or `command` step does in a rehearsal: `rehearse: run`, `rehearse: skip`, or
//! an alternate (a URL for `http`, a command for `command`).
//!
//! A rehearsal writes only to a scratch copy of the database, but an `http` or `command` step
//! reaches beyond it: a POST to a ticket system creates a real ticket whether or not the run is
//! a rehearsal. So the side effect is a decision the runbook states. Without `rehearse:`, the
//! step runs only when it cannot change anything (an `http` GET or HEAD, or a step marked
//! `read_only: true`); anything else is skipped, and the rehearsal says so and why.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CommandLine, Kind, RawStep};

/// `rehearse:` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RehearseSpec {
    Run,
    Skip,
    /// For `http`: the URL to call instead. For `command`: the command to run instead (a list is
    /// an argument vector; a string follows the step's `shell:` setting).
    Instead(Alternate),
}

/// An alternate for the rehearsal, as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Alternate {
    Text(String),
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for RehearseSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Alternate::deserialize(d)? {
            Alternate::Text(t) if t == "run" => RehearseSpec::Run,
            Alternate::Text(t) if t == "skip" => RehearseSpec::Skip,
            other => RehearseSpec::Instead(other),
        })
    }
}

impl Serialize for RehearseSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RehearseSpec::Run => s.serialize_str("run"),
            RehearseSpec::Skip => s.serialize_str("skip"),
            RehearseSpec::Instead(a) => a.serialize(s),
        }
    }
}

impl JsonSchema for RehearseSpec {
    fn schema_name() -> String {
        "Rehearse".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        // `run`, `skip`, or an alternate: all strings or a list of strings.
        Alternate::json_schema(gen)
    }
}

/// What the step does in a rehearsal, decided once when the runbook is loaded.
#[derive(Debug, Clone)]
pub enum Rehearse {
    /// It runs as written; `why` says what makes that safe (for `plan` and the journal).
    Run { why: String },
    /// It does not run; `why` is journaled as the skip's reason.
    Skip { why: String },
    /// An `http` step calls this URL instead.
    Url(String),
    /// A `command` step runs this instead.
    Command(CommandLine),
}

impl Rehearse {
    /// One line for `plan` and the panel.
    pub fn describe(&self) -> String {
        match self {
            Rehearse::Run { why } => format!("in a rehearsal: runs ({why})"),
            Rehearse::Skip { why } => format!("in a rehearsal: skipped ({why})"),
            Rehearse::Url(u) => format!("in a rehearsal: calls {u} instead"),
            Rehearse::Command(CommandLine::Argv(v)) => format!("in a rehearsal: runs {} instead", v.join(" ")),
            Rehearse::Command(CommandLine::Line(l)) => format!("in a rehearsal: runs `{l}` instead"),
        }
    }
}

/// Methods that only read: they run in a rehearsal unless the runbook says otherwise.
const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// The rehearsal policy of `raw`; `None` for kinds that never leave the database (their
/// writes land in the scratch copy) or that a rehearsal already handles (manual, monitor).
pub fn policy(raw: &RawStep, shell: bool) -> Option<Rehearse> {
    let kind = raw.kind.value;
    if !matches!(kind, Kind::Http | Kind::Command) {
        return None;
    }
    let read_only = raw.read_only == Some(true);
    Some(match raw.rehearse.as_ref().map(|r| &r.value) {
        Some(RehearseSpec::Run) => Rehearse::Run { why: "rehearse: run".into() },
        Some(RehearseSpec::Skip) => Rehearse::Skip { why: "rehearse: skip".into() },
        Some(RehearseSpec::Instead(Alternate::Text(t))) if kind == Kind::Http => Rehearse::Url(t.clone()),
        Some(RehearseSpec::Instead(Alternate::Argv(v))) => Rehearse::Command(CommandLine::Argv(v.clone())),
        Some(RehearseSpec::Instead(Alternate::Text(t))) if shell => Rehearse::Command(CommandLine::Line(t.clone())),
        // A string without a shell: the program and its arguments, separated by spaces.
        Some(RehearseSpec::Instead(Alternate::Text(t))) => {
            Rehearse::Command(CommandLine::Argv(t.split_whitespace().map(str::to_string).collect()))
        }
        None if read_only => Rehearse::Run { why: "read_only: true".into() },
        None if kind == Kind::Http => {
            let method = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
            if SAFE_METHODS.contains(&method.as_str()) {
                Rehearse::Run { why: format!("{method} only reads") }
            } else {
                Rehearse::Skip {
                    why: format!(
                        "{method} may change something outside the database; declare `rehearse: run`, `read_only: true` or an alternate URL to rehearse it"
                    ),
                }
            }
        }
        None => Rehearse::Skip {
            why: "a command may change something outside the database; declare `rehearse: run`, `read_only: true` or an alternate command to rehearse it".into(),
        },
    })
}
