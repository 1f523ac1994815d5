//! Flags shared by several commands.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the database is.
#[derive(Debug, Clone, Args, Default)]
pub struct ConnectOpts {
    /// Database URL (sqlite://FILE, postgres://…, mysql://…, mariadb://…); overrides the
    /// runbook's target. DATABASE_URL is the fallback when neither is given.
    #[arg(long, value_name = "URL", env = "RUNBOOK_DB", hide_env_values = true)]
    pub db: Option<String>,
}

/// Variable values.
#[derive(Debug, Clone, Args, Default)]
pub struct VarOpts {
    /// Set a variable (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub vars: Vec<(String, String)>,
}

/// Whether prompts are answered automatically.
#[derive(Debug, Clone, Args, Default)]
pub struct Confirmation {
    /// Confirm every prompt without asking; the audit trail records "auto-confirmed (--yes)"
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Set by `runbook fleet`: the operator's decision for the whole wave, which the journal
    /// records as this run's confirmation instead of a bare --yes
    #[arg(long, value_name = "DECISION", requires = "yes", hide = true)]
    pub fleet_decision: Option<String>,
    /// Set by `runbook fleet` for each `scope: fleet` step: `ID` stops the run before it (the
    /// fleet runs it once for all targets); `ID=REFERENCE` records it as done by the fleet
    #[arg(long, value_name = "ID[=REFERENCE]", requires = "fleet_decision", hide = true)]
    pub fleet_step: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailureArg {
    /// Stop (interactive runs offer the rollback plan)
    Stop,
    /// Run the rollback plan at once
    Rollback,
}

/// Flags of `run` and `rollback`.
#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// Skip a step, recorded in the journal (repeatable); `ID=reason` records a reason
    #[arg(long, value_name = "STEP_ID[=REASON]")]
    pub skip: Vec<String>,
    /// Who runs the change (default: the OS user)
    #[arg(long)]
    pub operator: Option<String>,
    /// Folder for run folders
    #[arg(long, value_name = "DIR", default_value = "runbook-runs")]
    pub runs_dir: PathBuf,
    /// What to do when a plan step fails
    #[arg(long, value_enum, default_value = "stop")]
    pub on_failure: OnFailureArg,
    /// Let destructive statements run without a verified backup in this run (recorded)
    #[arg(long)]
    pub allow_no_backup: bool,
    /// Run folder whose start snapshot is "the schema before the plan" (for rollback verification)
    #[arg(long, value_name = "RUN_DIR")]
    pub baseline: Option<PathBuf>,
    /// Set from `run --then-rollback`; not a flag of `rollback`, where it would mean nothing.
    #[arg(skip)]
    pub then_rollback: bool,
    #[command(flatten)]
    pub approval: ApprovalOpts,
}

/// Approvals, break glass and seal signing for `run` and `rollback`.
#[derive(Debug, Clone, Args, Default)]
pub struct ApprovalOpts {
    /// A signed approval from `runbook approve` (its signature is FILE.sig beside it); repeatable
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// OpenSSH allowed_signers file: who may approve, and whose keys sign seals
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// Break glass: run without approvals and outside the change window; recorded, and every
    /// report marks the change as awaiting retro-approval
    #[arg(long, value_name = "REASON")]
    pub emergency: Option<String>,
    /// Sign the journal's final seal with this SSH key (`seal.sig` in the run folder)
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Fetch the approvals attached to a Redmine issue (`*.approval` and their `.sig`; API key
    /// from REDMINE_API_KEY)
    #[arg(long, value_name = "URL", requires = "issue")]
    pub approvals_from_redmine: Option<String>,
    /// The Redmine issue that carries the approvals
    #[arg(long, value_name = "N", requires = "approvals_from_redmine")]
    pub issue: Option<u64>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

impl RunOpts {
    /// `--skip` values split into id and optional reason.
    pub fn skips(&self) -> Vec<(String, Option<String>)> {
        Self::parse_skips(&self.skip)
    }

    /// `ID` or `ID=reason` values split into id and optional reason.
    pub fn parse_skips(skip: &[String]) -> Vec<(String, Option<String>)> {
        skip.iter()
            .map(|s| match s.split_once('=') {
                Some((id, reason)) => (id.trim().to_string(), Some(reason.trim().to_string())),
                None => (s.trim().to_string(), None),
            })
            .collect()
    }

    pub fn operator(&self) -> String {
        self.operator.clone().unwrap_or_else(whoami::username)
    }
}
