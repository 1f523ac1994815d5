//! `runbook` runs database change tickets as YAML runbooks: it previews them, runs them step by
//! step with confirmation, rehearses the rollback and leaves a tamper-evident audit trail.
//!
//! `run` is the single entry point used by the binary; it is also the one place where errors
//! are printed and turned into exit codes.

pub mod approval;
pub mod cli;
pub mod cmd;
pub mod db;
pub mod demo;
pub mod durable;
pub mod error;
pub mod exec;
pub mod fleet;
pub mod journal;
pub mod lint;
pub mod load;
pub mod redact;
pub mod redmine;
pub mod report;
pub mod runbook;
pub mod sql;
pub mod ui;

use std::ffi::OsString;

pub use error::{Error, Result};

/// Parse `args`, run the command and return the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match <cli::Cli as clap::Parser>::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap renders help and version requests as "errors" too; only real ones exit 2.
            let _ = e.print();
            return if e.use_stderr() { error::EXIT_USAGE } else { 0 };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return error::EXIT_FAILED;
        }
    };
    ui::init();
    let outcome = runtime.block_on(cmd::dispatch(cli));
    // Whatever way the command ended, the operator gets the cursor back.
    ui::restore_terminal();
    // Blocking tasks (prompts, child processes) must not keep a finished run alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            ui::print_error(&e);
            e.code()
        }
    }
}
