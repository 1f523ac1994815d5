//! One file per command; `dispatch` routes the parsed command line to it.

pub mod approve;
pub mod audit;
pub mod demo;
pub mod fleet;
pub mod import;
pub mod plan;
pub mod rehearse;
pub mod report;
pub mod resume;
pub mod run;
pub mod schema;
pub mod validate;

use crate::cli::{AuditCommand, Cli, Command};
use crate::db::Target;
use crate::error::{Error, Result};
use crate::load::vars::Vars;
use crate::runbook::Loaded;

/// The confirmation label of a run that a fleet started under the operator's wave decision.
static FLEET_DECISION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub async fn dispatch(cli: Cli) -> Result<i32> {
    if let Command::Run { confirm, .. } | Command::Rollback { confirm, .. } | Command::Resume { confirm, .. } = &cli.command {
        if let Some(d) = &confirm.fleet_decision {
            let _ = FLEET_DECISION.set(format!("fleet decision: {d}"));
        }
    }
    match cli.command {
        Command::Validate { file } => validate::run(&file),
        Command::Plan { file, rollback, connect, vars } => plan::run(&file, rollback, &connect, &vars).await,
        Command::Run { file, connect, vars, confirm, run, then_rollback } => {
            let run = crate::cli::RunOpts { then_rollback, ..run };
            run::run(&file, crate::runbook::PlanKind::Plan, &connect, &vars, &confirm, &run).await
        }
        Command::Rollback { file, connect, vars, confirm, run } => {
            run::run(&file, crate::runbook::PlanKind::Rollback, &connect, &vars, &confirm, &run).await
        }
        Command::Report { run_dir, redmine: Some(url), issue: Some(issue), text_format, .. } if crate::fleet::is_fleet_dir(&run_dir) => {
            crate::fleet::post::post_and_tell(&run_dir, &url, issue, text_format).await.map(|_| 0)
        }
        Command::Report { run_dir, format, output, redmine: None, .. } if crate::fleet::is_fleet_dir(&run_dir) => {
            fleet::report(&run_dir, format, output.as_deref())
        }
        Command::Report { run_dir, format, output, redmine, issue, text_format } => match (redmine, issue) {
            (Some(url), Some(issue)) => report::post(&run_dir, &url, issue, text_format).await,
            _ => report::run(&run_dir, format, output.as_deref()),
        },
        Command::Import { ticket, redmine, issue, output } => import::run(ticket.as_deref(), redmine.as_deref(), issue, &output).await,
        Command::Rehearse { file, connect, vars, runs_dir, skip } => rehearse::run(&file, &connect, &vars, &runs_dir, &skip).await,
        Command::Resume { run_dir, connect, vars, confirm, rerun_in_flight, operator, allow_no_backup } => {
            resume::run(&run_dir, &connect, &vars, &confirm, rerun_in_flight, operator, allow_no_backup).await
        }
        Command::DemoStandIn { args } => demo::stand_in(&args).await,
        Command::Approve(args) => approve::run(&args).await,
        Command::Schema => schema::run(),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "runbook", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out).map_err(|e| Error::failed(format!("man page: {e}")))?;
            crate::ui::out(String::from_utf8_lossy(&out).trim_end());
            Ok(0)
        }
        Command::Audit { command: AuditCommand::Verify { run_dir, seal: None, allowed_signers: None } }
            if crate::fleet::is_fleet_dir(&run_dir) =>
        {
            fleet::verify(&run_dir)
        }
        Command::Fleet { command } => fleet::dispatch(command).await,
        Command::Audit { command: AuditCommand::Verify { run_dir, seal, allowed_signers } } => {
            audit::verify(&run_dir, seal.as_deref(), allowed_signers.as_deref())
        }
        Command::Demo { dir, interactive, with_rollback, users } => demo::run(dir, interactive, with_rollback, users).await,
    }
}

/// The target of a command: `--db`, else the runbook's `target` (when its vars have values),
/// else `DATABASE_URL`.
pub fn resolve_target(loaded: &Loaded, db: Option<&str>, vars: &Vars) -> Result<Target> {
    if let Some(url) = db {
        return Target::parse(url);
    }
    let mut unresolved = None;
    if let Some(t) = &loaded.doc.target {
        match vars.render(t) {
            Ok(url) if !url.trim().is_empty() => return Target::parse(&url),
            Ok(_) => {}
            Err(e) => unresolved = Some(e.to_string()),
        }
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.trim().is_empty() {
            return Target::parse(&url);
        }
    }
    Err(Error::usage(format!(
        "no database given: pass --db URL, set the runbook's `target:`, or set DATABASE_URL{}",
        unresolved.map(|e| format!(" (the runbook's target: {e})")).unwrap_or_default()
    )))
}

/// Variables and target for a command that works on a database: `--db` or the runbook's
/// target, with the built-ins that describe them set.
pub fn vars_and_target(loaded: &Loaded, var_opts: &crate::cli::VarOpts, db: Option<&str>) -> Result<(Vars, Target)> {
    let mut vars = Vars::resolve(&loaded.doc, &var_opts.vars)?;
    let target = resolve_target(loaded, db, &vars)?;
    vars.set_shown("db_url", target.url.clone(), target.display());
    vars.set("runbook_dir", loaded.dir.display().to_string());
    Ok((vars, target))
}

/// The prompter for `--yes` or for an operator at a terminal. Without a terminal and without
/// `--yes` nothing may run: that is refused here, before anything touches the target.
pub fn prompter(yes: bool) -> Result<Box<dyn crate::ui::Prompter>> {
    if yes {
        let label = FLEET_DECISION.get().map(String::as_str).unwrap_or("auto-confirmed (--yes)");
        Ok(Box::new(crate::ui::AutoPrompter { label }))
    } else if crate::ui::interactive_terminal() {
        crate::ui::attach_tty();
        Ok(Box::new(crate::ui::InteractivePrompter::default()))
    } else {
        Err(Error::NoTerminal)
    }
}
