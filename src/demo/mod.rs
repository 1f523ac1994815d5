//! What `runbook demo` needs besides the engine: the demo database, and the two demo
//! stand-ins for the systems the seed ticket involves — the PCC API and the application's sync
//! job. They are built into the binary so that the demo runs on a machine with nothing else
//! installed; they are labelled as stand-ins everywhere they appear.

pub mod applog;
pub mod data;
pub mod pcc_api;
pub mod sync_job;

/// The seed ticket's runbook, as shipped in `runbooks/`.
pub const SEED_RUNBOOK: &str = include_str!("../../runbooks/add-pcc-user-uuid.yaml");
pub const SEED_RUNBOOK_FILE: &str = "add-pcc-user-uuid.yaml";

/// Names inside the demo folder.
pub const DB_FILE: &str = "ddxrx.db";
pub const APP_LOG_FILE: &str = "ddxrx-app.log";
pub const RUNS_DIR: &str = "runs";

/// Monitoring in the demo: a few seconds instead of the runbook's 15 minutes.
pub const MONITOR_DURATION: &str = "3s";
pub const MONITOR_INTERVAL: &str = "1s";

/// Quote a word for `sh -c`.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
