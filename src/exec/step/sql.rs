//! `sql`: statements run as one step, in one transaction where the engine allows DDL in
//! transactions, with lock and statement timeouts and the backup guard.

use crate::db::{Engine, ExecOptions, Schema};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::{duration, SqlAction, Step};
use crate::sql::{classify, Effect};
use crate::ui::panel;

pub fn describe(a: &SqlAction, vars: &Vars, engine: Engine) -> String {
    match super::statements(&a.sql, engine, vars, true) {
        Ok(stmts) => {
            let mut s: String = stmts.iter().map(|x| format!("{x};\n")).collect();
            if engine == Engine::Mysql && stmts.iter().any(|x| is_ddl(x)) {
                s.push_str("(MariaDB/MySQL commits DDL implicitly: this step cannot be rolled back as a transaction)\n");
            } else if !a.transaction.for_engine(engine) {
                s.push_str("(runs outside a transaction: transaction: false)\n");
            }
            s.trim_end().to_string()
        }
        Err(e) => format!("<{e}>"),
    }
}

fn is_ddl(s: &str) -> bool {
    let u = crate::sql::strip_comments(s).to_ascii_uppercase();
    ["CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE"].iter().any(|k| u.starts_with(k))
}

fn options(a: &SqlAction, vars: &Vars, engine: Engine) -> Result<ExecOptions> {
    let d = |t: &Option<crate::runbook::Sp<String>>, default| -> Result<std::time::Duration> {
        match t {
            Some(t) => duration::parse(&vars.render(t)?).map_err(Error::usage),
            None => Ok(default),
        }
    };
    Ok(ExecOptions {
        transaction: a.transaction.for_engine(engine),
        lock_timeout: d(&a.lock_timeout, crate::runbook::DEFAULT_LOCK_TIMEOUT)?,
        statement_timeout: d(&a.statement_timeout, crate::runbook::DEFAULT_STATEMENT_TIMEOUT)?,
        lock_retries: a.lock_retries,
    })
}

pub async fn run(r: &mut Runner, step: &Step, a: &SqlAction) -> Result<()> {
    let engine = r.target.engine;
    let stmts = super::statements(&a.sql, engine, &r.vars, false)?;
    let shown = super::statements(&a.sql, engine, &r.vars, true)?;
    if stmts.is_empty() {
        return Err(Error::failed("the step has no statements"));
    }
    let destructive: Vec<&String> = shown.iter().filter(|s| classify(s).is_destructive()).collect();
    if !destructive.is_empty() && r.backups.is_empty() {
        if !r.opts.allow_no_backup {
            return Err(Error::failed(format!(
                "backup guard: `{}` is destructive and this run has no verified backup of the target; add a backup step before it, or pass --allow-no-backup",
                destructive[0]
            )));
        }
        r.journal.record(Event::Info {
            step_id: Some(step.id.clone()),
            message: format!("backup guard overridden with --allow-no-backup by {} for: {}", r.opts.operator, destructive[0]),
        })?;
        panel::warn("backup guard overridden (--allow-no-backup)");
    }
    let opts = options(a, &r.vars, engine)?;
    let report = r.db.execute(&stmts, &opts).await?;
    if report.lock_retries > 0 {
        r.journal.record(Event::Info {
            step_id: Some(step.id.clone()),
            message: format!(
                "lock timeout ({}) hit {} time(s); retried with backoff",
                duration::human(opts.lock_timeout),
                report.lock_retries
            ),
        })?;
    }
    for (i, res) in report.statements.iter().enumerate() {
        let sql = shown.get(i).cloned().unwrap_or_else(|| r.journal.redactor().text(&res.sql));
        panel::ok(format!("{} — {} row(s) affected", first_line(&sql), res.rows_affected));
        r.journal.record(Event::Statement {
            step_id: step.id.clone(),
            sql,
            rows_affected: res.rows_affected,
            duration_ms: res.duration_ms,
        })?;
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.chars().count() > 90 {
        format!("{}…", l.chars().take(90).collect::<String>())
    } else {
        l.to_string()
    }
}

/// What each statement will meet in the current schema.
pub fn precheck(schema: &Schema, a: &SqlAction, index: usize, vars: &Vars, engine: Engine) -> Vec<String> {
    let Ok(stmts) = super::statements(&a.sql, engine, vars, true) else {
        return vec![format!("no SQL for {engine}")];
    };
    let mut out = Vec::new();
    for s in stmts {
        match classify(&s) {
            Effect::AddColumn { table, column, .. } => {
                out.push(match (schema.table(&table).is_some(), schema.column(&table, &column).is_some()) {
                    (false, _) => format!("✘ table {table} does not exist: step {index} will fail"),
                    (true, true) => format!("✘ column {table}.{column} already exists: step {index} will fail"),
                    (true, false) => format!("✔ column {table}.{column} is absent: step {index} will add it"),
                })
            }
            Effect::DropColumn { table, column } => out.push(match schema.column(&table, &column) {
                Some(_) => {
                    let deps = schema.dependents(&table, &column);
                    let deps = if deps.is_empty() { String::new() } else { format!(" (used by {})", deps.join(", ")) };
                    format!("✔ column {table}.{column} is present{deps}: step {index} will drop it")
                }
                None => format!("✘ column {table}.{column} is absent: step {index} will fail"),
            }),
            Effect::CreateIndex { name, table, .. } => out.push(match (schema.index(&name), schema.table(&table)) {
                (Some(_), _) => format!("✘ index {name} already exists: step {index} will fail"),
                (None, None) => format!("✘ table {table} does not exist: step {index} will fail"),
                (None, Some(_)) => format!("✔ index {name} is absent: step {index} will create it on {table}"),
            }),
            Effect::DropIndex { name } => out.push(match schema.index(&name) {
                Some(ix) => format!("✔ index {name} is present on {}: step {index} will drop it", ix.table),
                None if s.to_ascii_uppercase().contains("IF EXISTS") => {
                    format!("• index {name} is absent: step {index} will do nothing (IF EXISTS)")
                }
                None => format!("✘ index {name} is absent: step {index} will fail"),
            }),
            Effect::CreateTable { table } => out.push(match schema.table(&table) {
                Some(_) => format!("✘ table {table} already exists: step {index} will fail"),
                None => format!("✔ table {table} is absent: step {index} will create it"),
            }),
            Effect::DropTable { table } => out.push(match schema.table(&table) {
                Some(_) => format!("✔ table {table} is present: step {index} will drop it"),
                None => format!("✘ table {table} is absent: step {index} will fail"),
            }),
            _ => {}
        }
    }
    out
}
