//! `backup`: a full, consistent, verified backup of the target into the run folder.

use crate::db::{Database, Engine};
use crate::error::Result;
use crate::exec::Runner;
use crate::journal::Event;
use crate::runbook::Step;
use crate::ui::panel;

/// How the backup is taken and checked; `stem` is the backup's path without its extension
/// when it is known (a run), otherwise the panel names it by its pattern (a plan).
pub fn describe(engine: Engine, stem: Option<std::path::PathBuf>) -> String {
    let file = |ext: &str| match &stem {
        Some(p) => format!("{}.{ext}", p.display()),
        None => format!("<run folder>/backup-<step>.{ext}"),
    };
    match engine {
        Engine::Sqlite => format!("VACUUM INTO {} (mode 0600), then PRAGMA integrity_check", file("sqlite3")),
        Engine::Postgres => format!("pg_dump -Fc into {} (mode 0600), then pg_restore --list", file("dump")),
        Engine::Mysql => {
            format!("mariadb-dump --single-transaction into {} (mode 0600), then check the completion marker", file("sql"))
        }
    }
}

pub async fn precheck(db: &mut dyn Database) -> Vec<String> {
    match db.engine() {
        Engine::Sqlite => vec!["the backup will be written into the run folder and verified before the step passes".into()],
        _ => vec![match db.backup_tool().await {
            Ok(banner) => format!("✔ {}: matches the server", banner.lines().next().unwrap_or("")),
            Err(e) => format!("✘ {e}: the backup step will fail"),
        }],
    }
}

pub async fn run(r: &mut Runner, step: &Step) -> Result<()> {
    let info = r.db.backup(&r.run_dir, &format!("backup-{}", step.id)).await?;
    panel::ok(format!("backup {} ({} bytes, sha256 {})", info.path, info.size, &info.sha256[..16]));
    panel::ok(format!("verified: {}", info.verified));
    r.journal.record(Event::Backup { step_id: step.id.clone(), backup: info.clone() })?;
    r.backups.push(info);
    Ok(())
}
