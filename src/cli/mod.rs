//! Command-line structure (clap derive). Shared flags live in `opts` and are flattened into
//! the commands that take them, so every command spells them the same way.

pub mod opts;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use opts::{ApprovalOpts, Confirmation, ConnectOpts, RunOpts, VarOpts};

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version,
    about = "Run database change tickets as YAML runbooks: preview, guided execution, rollback and an audit report",
    long_about = None,
    after_help = "Exit codes: 0 everything passed, 1 a step failed, 2 invalid usage or runbook, 3 stopped by the operator.\n\
                  Tour: runbook validate FILE → runbook plan FILE --db URL → runbook run FILE --db URL → runbook report RUN_DIR"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a runbook: syntax, fields, step ids, variables and DDL risks
    Validate {
        /// The runbook file
        file: PathBuf,
    },
    /// Dry run: print every step with variables resolved and read-only prechecks; writes nothing
    Plan {
        file: PathBuf,
        /// Preview the rollback plan instead of the change plan
        #[arg(long)]
        rollback: bool,
        #[command(flatten)]
        connect: ConnectOpts,
        #[command(flatten)]
        vars: VarOpts,
    },
    /// Run the change plan, step by step with confirmation
    Run {
        file: PathBuf,
        #[command(flatten)]
        connect: ConnectOpts,
        #[command(flatten)]
        vars: VarOpts,
        #[command(flatten)]
        confirm: Confirmation,
        #[command(flatten)]
        run: RunOpts,
        /// After the change plan succeeds, run the rollback plan in the same run (a staging round
        /// trip: one journal and one report with both plans)
        #[arg(long)]
        then_rollback: bool,
    },
    /// Run the rollback plan
    Rollback {
        file: PathBuf,
        #[command(flatten)]
        connect: ConnectOpts,
        #[command(flatten)]
        vars: VarOpts,
        #[command(flatten)]
        confirm: Confirmation,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Render the report of a run folder from its journal, or post it to a Redmine issue
    Report {
        /// The run folder (holds journal.jsonl)
        run_dir: PathBuf,
        #[arg(long, value_enum, default_value = "markdown")]
        format: crate::report::Format,
        /// Write to this file instead of standard output
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Post the evidence to this Redmine (API key from REDMINE_API_KEY)
        #[arg(long, value_name = "URL", requires = "issue")]
        redmine: Option<String>,
        /// The Redmine issue to post to
        #[arg(long, value_name = "N", requires = "redmine")]
        issue: Option<u64>,
        /// Text format of the Redmine note
        #[arg(long, value_enum, default_value = "markdown")]
        text_format: TextFormat,
    },
    /// Turn a change ticket into a runbook skeleton
    Import {
        /// The text of a Redmine issue page (omit with --redmine)
        ticket: Option<PathBuf>,
        /// Read the issue from this Redmine over its REST API (API key from REDMINE_API_KEY)
        #[arg(long, value_name = "URL", requires = "issue", conflicts_with = "ticket")]
        redmine: Option<String>,
        #[arg(long, value_name = "N", requires = "redmine")]
        issue: Option<u64>,
        /// Where to write the runbook
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Prove the plan and the rollback on a scratch copy of the target; never writes to it
    Rehearse {
        file: PathBuf,
        #[command(flatten)]
        connect: ConnectOpts,
        #[command(flatten)]
        vars: VarOpts,
        /// Folder for run folders
        #[arg(long, value_name = "DIR", default_value = "runbook-runs")]
        runs_dir: PathBuf,
        /// Skip a step (repeatable)
        #[arg(long, value_name = "STEP_ID")]
        skip: Vec<String>,
    },
    /// Continue a run that was killed or stopped; completed steps are never run again
    Resume {
        run_dir: PathBuf,
        #[command(flatten)]
        connect: ConnectOpts,
        #[command(flatten)]
        vars: VarOpts,
        #[command(flatten)]
        confirm: Confirmation,
        /// With --yes: run a step again that was in flight when the run died
        #[arg(long)]
        rerun_in_flight: bool,
        #[arg(long)]
        operator: Option<String>,
        /// Let destructive statements run without a verified backup in this run (recorded)
        #[arg(long)]
        allow_no_backup: bool,
    },
    /// Approve a change: sign a manifest of exactly what a run will do (or, with --retro, an
    /// emergency run's evidence) with an SSH key
    Approve(crate::cmd::approve::ApproveArgs),
    /// Print the JSON Schema of the runbook format
    Schema,
    /// One runbook across a fleet of databases, in waves, with one piece of evidence
    Fleet {
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Audit-trail tools
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
    /// Demo stand-ins (PCC API, sync job), used by `runbook demo`
    // `--help` is passed on, so that the stand-ins' own parser lists their subcommands.
    #[command(hide = true, name = "demo-stand-in", disable_help_flag = true)]
    DemoStandIn {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the seed ticket's runbook end to end on a throwaway SQLite database
    Demo {
        /// Where to put the demo database and runs (default: a new temporary folder)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Ask at every step instead of auto-confirming
        #[arg(long)]
        interactive: bool,
        /// Also run the rollback plan afterwards
        #[arg(long)]
        with_rollback: bool,
        /// Number of users in the demo table
        #[arg(long, default_value_t = 5000)]
        users: u32,
    },
}

/// Where a fleet posts its evidence when it ends.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetRedmine {
    /// Post the fleet's note and evidence to this Redmine once the fleet ends (API key from
    /// REDMINE_API_KEY)
    #[arg(long, value_name = "URL", requires = "issue")]
    pub redmine: Option<String>,
    /// The Redmine issue to post to
    #[arg(long, value_name = "N", requires = "redmine")]
    pub issue: Option<u64>,
    /// Text format of the Redmine note
    #[arg(long, value_enum, default_value = "markdown")]
    pub text_format: TextFormat,
}

/// Text format of a note posted to a tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextFormat {
    Markdown,
    Textile,
}

// Parsed once per process: the size of its largest variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Run the change plan on every target of TARGETS.yaml, wave after wave
    Run {
        file: PathBuf,
        /// The targets file (name, db, vars, labels per target)
        #[arg(long, value_name = "TARGETS.yaml")]
        targets: PathBuf,
        /// Only the targets with this label (repeatable; all must match)
        #[arg(long, value_name = "LABEL=VALUE")]
        select: Vec<String>,
        /// Cumulative wave sizes: the canary, then up to a share of the fleet, then all of it
        #[arg(long, value_name = "N|P%,…", default_value = "1,100%")]
        waves: String,
        /// Targets in flight at once within a wave
        #[arg(long, value_name = "N", default_value_t = 1)]
        parallel: usize,
        /// The failure budget: once more targets than this failed, no new target starts
        #[arg(long, value_name = "N|P%", default_value = "0")]
        max_failures: String,
        /// What a failed target does: stay as it failed, or run its rollback plan
        #[arg(long, value_enum, default_value = "stop")]
        on_target_failure: opts::OnFailureArg,
        /// Bake time between waves
        #[arg(long, value_name = "DURATION")]
        pause_between_waves: Option<String>,
        #[command(flatten)]
        vars: VarOpts,
        #[command(flatten)]
        confirm: Confirmation,
        /// Skip a step on every target, recorded in each journal (repeatable)
        #[arg(long, value_name = "STEP_ID[=REASON]")]
        skip: Vec<String>,
        /// Folder for fleet folders
        #[arg(long, value_name = "DIR", default_value = "runbook-runs")]
        runs_dir: PathBuf,
        #[arg(long)]
        operator: Option<String>,
        #[command(flatten)]
        redmine: FleetRedmine,
    },
    /// Continue a fleet after a crash or a fixed failure: finished targets are never touched
    Resume {
        fleet_dir: PathBuf,
        /// Confirm every wave without asking
        #[arg(long, short = 'y')]
        yes: bool,
        /// Run a step again that was in flight in a target when the fleet died
        #[arg(long)]
        rerun_in_flight: bool,
        #[arg(long)]
        operator: Option<String>,
        #[command(flatten)]
        redmine: FleetRedmine,
    },
    /// Build fleet evidence from run folders made elsewhere (CI jobs, Kubernetes, Ansible)
    Collect {
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// The new fleet folder
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        operator: Option<String>,
    },
    /// Print the proof that a target's journal seal is part of the fleet root
    Proof { fleet_dir: PathBuf, target: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute a run's journal hash chain; exit 0 when intact, 1 when not
    Verify {
        run_dir: PathBuf,
        /// Also require the journal to end with this seal (from a report on the ticket)
        #[arg(long)]
        seal: Option<String>,
        /// OpenSSH allowed_signers file: also check the seal signature (seal.sig) and every
        /// approval and retro-approval of the run
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
    },
}
