//! The one error type of the crate, and the exit codes it maps to.
//!
//! Exit codes are part of the command-line contract (see `docs/runbook-format.md`):
//! 0 everything passed, 1 a step or the run failed, 2 invalid usage or an invalid runbook,
//! 3 the operator stopped the run.

use std::path::PathBuf;
use std::sync::Arc;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_STOPPED: i32 = 3;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem located in a runbook file, rendered with a snippet and a caret.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub path: String,
    pub source: Arc<str>,
    /// 1-based line and character column; 0 when the position is unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// `file:line:column`, the form editors and terminals turn into links.
    pub fn position(&self) -> String {
        if self.line == 0 {
            self.path.clone()
        } else {
            format!("{}:{}:{}", self.path, self.line, self.column.max(1))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage { message: String },

    #[error("{} problem(s) in the runbook", diagnostics.len())]
    Invalid { diagnostics: Vec<Diagnostic> },

    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },

    #[error("database: {message}")]
    Database { message: String },

    #[error("refusing to run without a terminal: nothing was run. Pass --yes to confirm every step without asking (the audit trail records \"auto-confirmed (--yes)\")")]
    NoTerminal,

    #[error("the target is locked by run {run_id} (operator {operator}, started {started}); only one operator may change it at a time")]
    Locked { run_id: String, operator: String, started: String },

    /// The session holding the run lock died (killed by an administrator, a network cut): the
    /// run stops rather than go on unlocked.
    #[error("the run lock on {target} was lost ({why}); the run stopped so that it does not go on unlocked: another operator may hold the target now. Check who does before `runbook resume` continues this run")]
    LockLost { target: String, why: String },

    #[error("{message}")]
    Failed { message: String },

    #[error("{message}")]
    Stopped { message: String },

    /// A signal (or Ctrl-C typed at a prompt) stopped the run where no step was running: it ends
    /// like any interruption, journaled `interrupted`, exit 3.
    #[error("interrupted by {signal}")]
    Interrupted { signal: String },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage { message: message.into() }
    }
    pub fn db(message: impl std::fmt::Display) -> Self {
        Error::Database { message: message.to_string() }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed { message: message.into() }
    }
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Read { path: path.into(), source }
    }
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write { path: path.into(), source }
    }

    /// The process exit code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage { .. } | Error::Invalid { .. } | Error::Read { .. } | Error::NoTerminal | Error::Locked { .. } => EXIT_USAGE,
            Error::Write { .. } | Error::Database { .. } | Error::Failed { .. } | Error::LockLost { .. } => EXIT_FAILED,
            Error::Stopped { .. } | Error::Interrupted { .. } => EXIT_STOPPED,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::db(sqlx_message(&e))
    }
}

/// A driver error as text, with PostgreSQL's DETAIL and HINT: the useful half of many of its
/// errors ("Key (email)=(…) already exists.") that sqlx's own message leaves out.
pub fn sqlx_message(e: &sqlx::Error) -> String {
    let mut msg = e.to_string();
    if let sqlx::Error::Database(d) = e {
        if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            if let Some(detail) = pg.detail() {
                msg.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = pg.hint() {
                msg.push_str(&format!("; hint: {hint}"));
            }
        }
    }
    msg
}
