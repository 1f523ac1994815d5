//! `runbook demo`: the seed ticket's runbook end to end on a throwaway SQLite database, with
//! demo stand-ins for the PCC API and the application's sync job, through the same code path
//! as `runbook run` and `runbook rollback`. Also the hidden `runbook demo-stand-in` command.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::{opts::OnFailureArg, Confirmation, ConnectOpts, RunOpts, VarOpts};
use crate::demo::{self, data, pcc_api::PccApi, sh_quote, sync_job};
use crate::error::{Error, Result, EXIT_OK};
use crate::runbook::PlanKind;
use crate::ui::{self, panel};

pub async fn run(dir: Option<PathBuf>, interactive: bool, with_rollback: bool, users: u32) -> Result<i32> {
    if users == 0 {
        return Err(Error::usage("--users must be at least 1"));
    }
    if interactive && !ui::interactive_terminal() {
        return Err(Error::usage("--interactive needs a terminal to ask on; without it the demo confirms every step itself (as --yes)"));
    }
    let dir = prepare_dir(dir)?;
    let runbook = dir.join(demo::SEED_RUNBOOK_FILE);
    let db = dir.join(demo::DB_FILE);
    let log = dir.join(demo::APP_LOG_FILE);
    let runs = dir.join(demo::RUNS_DIR);
    crate::durable::write_private(&runbook, demo::SEED_RUNBOOK.as_bytes())?;
    data::create_users_db(&db, users).await?;
    demo::applog::append(&log, "INFO", "ddxrx-app (demo stand-in)", "application log opened");
    let (no_name, non_ascii) = name_counts(&db).await?;
    let fixture = data::pcc_fixture(&db).await?;
    let known = fixture.iter().filter(|u| !u.email.ends_with("@pcc-only.example")).count();

    ui::out("runbook demo — the seed ticket on a throwaway SQLite database");
    ui::out(format!("  folder:    {}", dir.display()));
    ui::out(format!("  runbook:   {} (the seed runbook runbooks/{})", runbook.display(), demo::SEED_RUNBOOK_FILE));
    ui::out(format!(
        "  database:  {} — all_users with {users} users ({no_name} without a name, {non_ascii} with non-ASCII names)",
        db.display()
    ));
    ui::out(format!("  app log:   {} (watched by the monitor steps)", log.display()));
    let api = PccApi::start(fixture.clone(), 0, Some(log.clone()))?;
    panel::warn(format!(
        "demo stand-in: PCC API started at {} — {} fixture users, PCC UUIDs for {known} of the {users} local users, matched by e-mail; not the real PointClickCare API",
        api.url,
        fixture.len()
    ));
    panel::warn("demo stand-in: the application's sync job is `runbook demo-stand-in sync-job`, run by the Data Sync Test step through the sync_command var");
    ui::out(format!(
        "  monitoring: {} per monitor step, a sample every {} (the runbook's default is 15m)",
        demo::MONITOR_DURATION,
        demo::MONITOR_INTERVAL
    ));

    let exe = std::env::current_exe().map_err(|e| Error::failed(format!("cannot find the runbook binary: {e}")))?;
    let sync_command = format!(
        "{} demo-stand-in sync-job --db {} --api {} --log {}",
        sh_quote(&exe.display().to_string()),
        sh_quote(&db.display().to_string()),
        sh_quote(&api.url),
        sh_quote(&log.display().to_string())
    );
    let vars = VarOpts {
        vars: vec![
            ("sync_command".into(), sync_command),
            ("app_log".into(), log.display().to_string()),
            ("monitor_duration".into(), demo::MONITOR_DURATION.into()),
            ("monitor_interval".into(), demo::MONITOR_INTERVAL.into()),
        ],
    };
    let connect = ConnectOpts { db: Some(format!("sqlite://{}", db.display())) };
    let confirm = Confirmation { yes: !interactive, ..Default::default() };
    // With --with-rollback the rollback plan follows in the same run, so that one journal and
    // one report hold all 14 steps of the ticket.
    let opts = RunOpts {
        skip: Vec::new(),
        operator: None,
        runs_dir: runs.clone(),
        on_failure: OnFailureArg::Stop,
        allow_no_backup: false,
        baseline: None,
        then_rollback: with_rollback,
        approval: Default::default(),
    };

    let code = super::run::run(&runbook, PlanKind::Plan, &connect, &vars, &confirm, &opts).await?;
    let run_dir = newest_run(&runs, None);
    let synced = run_dir.as_deref().and_then(synced_users);
    drop(api);

    ui::out("");
    ui::out("━━ Demo finished ━━");
    report_line(if with_rollback { "change plan and rollback plan" } else { "change plan" }, code, run_dir.as_deref());
    if let Some(n) = synced {
        ui::out(format!("  data sync: {n} of {users} users got a pcc_user_uuid from the PCC API stand-in during the change plan"));
    }
    if with_rollback && code == EXIT_OK {
        ui::out("  after the rollback all_users has no pcc_user_uuid column; the rollback's backup still holds the synced values");
    }
    match with_rollback {
        true => {}
        false => ui::out(format!(
            "  rollback not run (add --with-rollback); to run it yourself: runbook rollback {} --db sqlite://{} --var app_log={} --var monitor_duration=3s --var monitor_interval=1s --runs-dir {}{}",
            runbook.display(),
            db.display(),
            log.display(),
            runs.display(),
            if interactive { "" } else { " --yes" }
        )),
    }
    if let Some(d) = &run_dir {
        ui::out(format!(
            "  render a report again: runbook report {}   check its audit trail: runbook audit verify {}",
            d.display(),
            d.display()
        ));
    }
    ui::out(format!("  the demo stand-ins are stopped; {} is yours to inspect or delete", dir.display()));
    Ok(code)
}

/// The demo folder: the one given (new or empty) or a new one under the temporary folder.
fn prepare_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("runbook-demo-{}", crate::exec::new_run_id())));
    if dir.exists() {
        let mut entries = std::fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))?;
        if entries.next().is_some() {
            return Err(Error::usage(format!(
                "{} is not empty: the demo creates a fresh database and runs there; pass --dir with a new or empty folder",
                dir.display()
            )));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
    // Absolute, because the paths go into the sync command and the database URL.
    std::fs::canonicalize(&dir).map_err(|e| Error::read(&dir, e))
}

fn report_line(label: &str, code: i32, run_dir: Option<&Path>) {
    let report = run_dir.map(|d| d.join("report.md").display().to_string()).unwrap_or_else(|| "(no run folder)".into());
    if code == EXIT_OK {
        panel::ok(format!("{label} succeeded — report: {report}"));
    } else {
        panel::fail(format!("{label} ended with exit code {code} — report: {report}"));
    }
}

/// The newest run folder under `runs`, other than `not`.
fn newest_run(runs: &Path, not: Option<&Path>) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(runs).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir() && Some(p.as_path()) != not).collect();
    dirs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    dirs.pop()
}

async fn name_counts(db: &Path) -> Result<(i64, i64)> {
    use sqlx::Connection;
    let mut c = data::open(db, false).await?;
    let nulls: i64 = sqlx::query_scalar("SELECT count(*) FROM all_users WHERE name IS NULL").fetch_one(&mut c).await?;
    let non_ascii: i64 = sqlx::query_scalar("SELECT count(*) FROM all_users WHERE name GLOB '*[^ -~]*'").fetch_one(&mut c).await?;
    c.close().await.ok();
    Ok((nulls, non_ascii))
}

/// Users with a `pcc_user_uuid` now, if the column exists.
/// How many users the sync job linked, as the Data Sync Test's assertion recorded it (the
/// column itself may be gone again after the rollback).
fn synced_users(run_dir: &Path) -> Option<i64> {
    let (entries, _) = crate::journal::read(run_dir).ok()?;
    entries.into_iter().find_map(|e| match e.event {
        crate::journal::Event::Assertion { check, actual, .. } if check == "pcc_user_uuid is populated for synced users" => {
            actual.parse().ok()
        }
        _ => None,
    })
}

/// `runbook demo-stand-in …`: the stand-ins as separate processes.
#[derive(Debug, Parser)]
#[command(name = "runbook demo-stand-in", about = "Demo stand-ins used by `runbook demo` (not the real services)")]
struct StandIn {
    #[command(subcommand)]
    what: StandInCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StandInCommand {
    /// The application's PCC sync job (demo stand-in): reads users from the PCC API and writes
    /// all_users.pcc_user_uuid, matching by e-mail
    SyncJob {
        /// The SQLite database
        #[arg(long)]
        db: PathBuf,
        /// Base URL of the PCC API (stand-in)
        #[arg(long)]
        api: String,
        /// The application log to append to
        #[arg(long)]
        log: PathBuf,
        #[arg(long, default_value_t = 250)]
        page_size: usize,
        /// Misbehave like a faulty release, to see the runbook's checks catch it
        #[arg(long, value_enum)]
        bug: Option<sync_job::Bug>,
    },
    /// The PCC API (demo stand-in) for the users in a database, on 127.0.0.1 until stopped
    PccApi {
        #[arg(long)]
        db: PathBuf,
        /// Port (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The application log to append to
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Create a demo database with an all_users table
    MakeDb {
        /// The new SQLite file (must not exist)
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 5000)]
        users: u32,
    },
}

/// The hidden `demo-stand-in` command.
pub async fn stand_in(args: &[String]) -> Result<i32> {
    let parsed = StandIn::try_parse_from(std::iter::once("runbook demo-stand-in".to_string()).chain(args.iter().cloned()));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            ui::out(e.to_string().trim_end());
            return Ok(EXIT_OK);
        }
        Err(e) => {
            let msg = e.to_string();
            return Err(Error::usage(msg.trim().strip_prefix("error: ").unwrap_or(msg.trim()).to_string()));
        }
    };
    match cli.what {
        StandInCommand::SyncJob { db, api, log, page_size, bug } => {
            ui::out(format!("demo stand-in: PCC sync job (not the real application) — reading users from {api}"));
            let s = sync_job::run(&sync_job::Job { db, api, log, page_size, bug }).await?;
            ui::out(format!(
                "demo stand-in: read {} PCC user record(s) in {} page(s); linked {} local user(s) by e-mail ({} already linked)",
                s.records, s.pages, s.linked, s.already_linked
            ));
            ui::out(format!("demo stand-in: {} PCC user(s) have no local account and were skipped", s.unmatched));
            if let Some(b) = s.bug {
                ui::out(format!("demo stand-in: {b}"));
            }
            Ok(EXIT_OK)
        }
        StandInCommand::PccApi { db, port, log } => {
            let users = data::pcc_fixture(&db).await?;
            let n = users.len();
            let api = PccApi::start(users, port, log)?;
            ui::out(format!(
                "demo stand-in: PCC API at {} serving {n} fixture users (not the real PointClickCare API); stop with Ctrl-C",
                api.url
            ));
            tokio::task::block_in_place(|| api.wait());
            Ok(EXIT_OK)
        }
        StandInCommand::MakeDb { out, users } => {
            data::create_users_db(&out, users).await?;
            ui::out(format!("demo stand-in: created {} with {users} users in all_users", out.display()));
            Ok(EXIT_OK)
        }
    }
}
