//! `sql`: statements run as one step, in one transaction where the engine allows DDL in
//! transactions, with lock and statement timeouts and the backup guard.

use crate::db::{Engine, ExecOptions, Schema, StatementResult};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::{duration, SqlAction, Step};
use crate::sql::count::{counted, Counted};
use crate::sql::objects::{changes, Change, Object, Verb};
use crate::sql::{needs_backup, Reason};
use crate::ui::panel;

pub fn describe(a: &SqlAction, vars: &Vars, engine: Engine) -> String {
    match super::statements(&a.sql, engine, vars, true) {
        Ok(stmts) => {
            let mut s: String = stmts.iter().map(|x| format!("{x};\n")).collect();
            if engine == Engine::Mysql && has_ddl(&stmts, engine) {
                s.push_str("(MariaDB/MySQL commits DDL implicitly: this step cannot be rolled back as a transaction)\n");
            } else if !a.transaction.for_engine(engine) {
                s.push_str("(runs outside a transaction: transaction: false)\n");
            }
            s.trim_end().to_string()
        }
        Err(e) => format!("<{e}>"),
    }
}

fn has_ddl(stmts: &[String], engine: Engine) -> bool {
    stmts.iter().any(|x| counted(x, engine) == Counted::Ddl)
}

/// Whether the step's statements commit one by one as they run, so that a step stopped
/// part-way leaves its first statements applied: `transaction: false`, or DDL on MariaDB/MySQL
/// (which commits implicitly, so the engine runs the whole step without a transaction).
pub fn commits_each(a: &SqlAction, stmts: &[String], engine: Engine) -> bool {
    !a.transaction.for_engine(engine) || (engine == Engine::Mysql && has_ddl(stmts, engine))
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
        first: 0,
        watch: Vec::new(),
    })
}

/// The secret variables of the step's SQL whose values change a statement's shape on `engine`
/// (and are not marked `sql: true`).
pub fn reshaping_secrets(a: &SqlAction, vars: &Vars, engine: Engine) -> Result<Vec<String>> {
    let Some(text) = super::sql_for(&a.sql, engine) else { return Ok(Vec::new()) };
    // A bound value is sent apart from the statement and cannot change it: only the rest of the
    // text is judged.
    let raw = super::raw_statements(&a.sql, engine)?;
    let judged =
        if crate::sql::bind::bind_all(&raw, engine, vars)?.is_some() { crate::sql::bind::unbound_text(&raw, engine, vars) } else { text };
    crate::sql::shape::reshaping_secrets(&judged, vars, engine)
}

fn reshaping_error(step_id: &str, names: &[String]) -> Error {
    Error::usage(format!(
        "step `{step_id}`: the value of secret variable `{}` changes the statement's shape (it is not a single literal: a quote, a semicolon, a comment or a keyword), so what `plan` shows masked is not what would run; nothing was run. Mark the variable `sql: true` if its value is meant to be SQL",
        names.join("`, `")
    ))
}

/// Refuse, before anything runs, a step whose secret values change its statements' shape.
pub fn refuse_reshaping_secrets<'a>(steps: impl Iterator<Item = &'a Step>, vars: &Vars, engine: Engine) -> Result<()> {
    for step in steps {
        if let crate::runbook::Action::Sql(a) = &step.action {
            // A value that cannot be rendered yet is reported by the preflight; the step
            // itself checks again before it runs.
            if let Ok(names) = reshaping_secrets(a, vars, engine) {
                if !names.is_empty() {
                    return Err(reshaping_error(&step.id, &names));
                }
            }
        }
        // The step's read queries: the same refusal, before step 1 rather than at the query.
        for q in super::queries(step) {
            let Some(text) = super::sql_for(q, engine) else { continue };
            if let Ok(names) = super::query_reshaping_secrets(vars, &text, engine) {
                if !names.is_empty() {
                    return Err(Error::usage(format!("step `{}`: {}", step.id, super::query_reshaping_error(vars, &text, &names))));
                }
            }
        }
    }
    Ok(())
}

pub async fn run(r: &mut Runner, step: &Step, a: &SqlAction) -> Result<()> {
    let engine = r.target.engine;
    let reshaping = reshaping_secrets(a, &r.vars, engine)?;
    if !reshaping.is_empty() {
        return Err(reshaping_error(&step.id, &reshaping));
    }
    // Lone literal variables are bound: the statements as sent, and each as shown.
    let (stmts, shown) = super::to_send(&a.sql, engine, &r.vars)?;
    if stmts.is_empty() {
        return Err(Error::failed("the step has no statements"));
    }
    // The guard judges the statements as they will run, every value filled in; it names them
    // as they are shown, secrets masked.
    let guarded = stmts.iter().enumerate().find_map(|(i, s)| needs_backup(&s.sql, engine).map(|why| (i, why)));
    if let Some((i, why)) = guarded.filter(|_| r.backups.is_empty()) {
        let named = shown.get(i).cloned().unwrap_or_else(|| r.journal.redactor().text(&stmts[i].sql));
        let what = match why {
            Reason::Destructive => "is destructive",
            Reason::Unclassified => "cannot be classified, so it is treated as destructive",
        };
        if !r.opts.allow_no_backup {
            return Err(Error::failed(format!(
                "backup guard: `{named}` {what} and this run has no verified backup of the target; add a backup step before it, or pass --allow-no-backup"
            )));
        }
        r.journal.record(Event::Info {
            step_id: Some(step.id.clone()),
            message: format!("backup guard overridden with --allow-no-backup by {} for: {named}", r.opts.operator),
        })?;
        panel::warn("backup guard overridden (--allow-no-backup)");
    }
    let total = stmts.len();
    // A resumed step whose first statements committed in an earlier attempt starts after them.
    let first = r.resume_from.remove(&step.id).unwrap_or(0).min(total);
    if first > 0 {
        let message = if first == total {
            format!("all {total} statement(s) committed in an earlier attempt: nothing left to run")
        } else {
            format!(
                "resumed from statement {} of {total}: statement(s) {} committed in an earlier attempt and are not run again",
                first + 1,
                numbers(0..first)
            )
        };
        panel::info(&message);
        r.journal.record(Event::Info { step_id: Some(step.id.clone()), message })?;
        if first == total {
            return Ok(());
        }
    }
    let opts = ExecOptions { first, watch: watched(r, &stmts), ..options(a, &r.vars, engine)? };
    // Each statement is journaled the moment the database reports it committed: whatever stops
    // the step later (a failed statement, a signal, a lost lock, a kill), the journal shows
    // exactly what is applied, and a resume starts after it.
    let mut committed = Vec::new();
    let result = {
        let journal = &mut r.journal;
        let own = &mut r.own_transactions;
        let shown = &shown;
        let committed = &mut committed;
        let mut on_commit = |i: usize, res: &StatementResult| -> Result<()> {
            let sql = shown.get(i).cloned().unwrap_or_else(|| journal.redactor().text(&res.sql));
            panel::ok(format!("{} — {}", first_line(&sql), res.kind.label(res.rows_affected)));
            journal.record(Event::Statement {
                step_id: step.id.clone(),
                sql,
                rows_affected: res.rows_affected,
                kind: res.kind,
                duration_ms: res.duration_ms,
                index: Some(i as u32),
                txids: res.txids.clone(),
            })?;
            own.statement(&step.id, &res.txids);
            // Where the statement's transaction wrote, read before it committed; journaled so
            // that a resumed run knows it too.
            for (table, ranges) in &res.written {
                own.wrote(table, ranges);
                journal.record(Event::RowVersions { step_id: step.id.clone(), table: table.clone(), ranges: ranges.clone() })?;
            }
            committed.push(i);
            Ok(())
        };
        r.db.execute(&stmts, &opts, &mut on_commit).await
    };
    if !committed.is_empty() {
        r.reached_change();
    }
    if result.is_err() {
        // Counted as unknown whatever committed: a failed attempt is judged by statement
        // analysis alone, as a resumed run judges it from the journal.
        r.own_transactions.lost(&step.id);
    }
    let report = result.map_err(|e| name_committed(e, &committed, total))?;
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
    Ok(())
}

/// A lost run lock stops the step between two statements: the error names the statements that
/// had committed before it (they are journaled), so the operator knows what is applied. The
/// engines' own errors already say how many statements before the failing one stay applied.
fn name_committed(e: Error, committed: &[usize], total: usize) -> Error {
    match e {
        Error::LockLost { target, why } if !committed.is_empty() => Error::LockLost {
            target,
            why: format!("{why}; statement(s) {} of {total} had committed before it and are journaled", numbers(committed.iter().copied())),
        },
        e => e,
    }
}

/// Statement indexes as the operator counts them, from 1: `1, 2, 3`.
fn numbers(indexes: impl IntoIterator<Item = usize>) -> String {
    indexes.into_iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", ")
}

/// The fingerprinted tables whose rows the step's statements can write, for the database to
/// note where they wrote before committing: the application may update those rows again before
/// `validate` runs, and a row's version then names the application although the value the
/// change wrote may still be in it. Every fingerprinted table when a statement may write
/// anywhere, or writes a table with triggers. PostgreSQL only (the others keep no readable
/// row versions); the read costs a scan of each table inside the step's transaction.
fn watched(r: &Runner, stmts: &[crate::db::Statement]) -> Vec<(String, crate::db::localise::KeyLayout)> {
    use crate::sql::touches::writes;
    if r.target.engine != Engine::Postgres {
        return Vec::new();
    }
    let triggers = |t: &str| r.start_schema.triggers.values().any(|tr| tr.table.eq_ignore_ascii_case(t));
    let all: Vec<_> = stmts.iter().flat_map(|s| writes(&s.sql, Engine::Postgres)).collect();
    let everywhere = all.iter().any(|w| w.table().is_none_or(triggers));
    r.baselines
        .iter()
        .filter(|(t, _)| everywhere || all.iter().any(|w| w.table().is_some_and(|u| u.eq_ignore_ascii_case(t))))
        .filter_map(|(t, f)| f.layout.clone().map(|l| (t.clone(), l)))
        .collect()
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.chars().count() > 90 {
        format!("{}…", l.chars().take(90).collect::<String>())
    } else {
        l.to_string()
    }
}

/// What each statement will meet, simulating the run: `schema` is the target's schema as the
/// earlier steps of this plan leave it, and is updated with what this step's statements create
/// and drop, one by one, so that a table created a statement earlier is known.
///
/// `✔` the statement will do what it says; `•` it will do nothing (an `IF [NOT] EXISTS` or
/// `OR REPLACE` guard); `✘` it will fail against the schema as simulated.
pub fn precheck(schema: &mut Schema, a: &SqlAction, index: usize, vars: &Vars, engine: Engine) -> Vec<String> {
    let Ok(shown) = super::statements(&a.sql, engine, vars, true) else {
        return vec![format!("no SQL for {engine}")];
    };
    let mut out = Vec::new();
    match reshaping_secrets(a, vars, engine) {
        Ok(names) if !names.is_empty() => out.push(format!(
            "✘ the value of secret variable `{}` changes the statement's shape: step {index} will be refused (mark it `sql: true` if it is meant to be SQL)",
            names.join("`, `")
        )),
        _ => {}
    }
    // Judged on the statements as they will run; names shown with every secret hidden.
    // Bound values are not part of a statement's text: the statements are read as sent.
    let shown_text = shown.join("\n");
    let stmts = match super::to_send(&a.sql, engine, vars) {
        Ok((sent, _)) => sent.into_iter().map(|s| s.sql).collect(),
        Err(_) => shown,
    };
    let mut hide = crate::redact::Redactor::new(vars.secret_values());
    let start = out.len();
    for s in stmts {
        let changes = changes(&s);
        // A name read out of a statement as sent may be a piece of a `sql: true` secret value,
        // which no whole-value match finds: a name that is such a piece and is not in the
        // statements as shown is hidden too.
        for name in changes.iter().flat_map(|c| c.object.names().into_iter().chain(c.on_table.as_deref())) {
            if !shown_text.contains(name) && hide.pieces(name) != name {
                hide.add(name);
            }
        }
        // CREATE TABLE also creates its columns and inline indexes: one line says it all.
        let shown = match changes.first() {
            Some(Change { verb: Verb::Create, object: Object::Table(_), .. }) => &changes[..1],
            _ => &changes[..],
        };
        for ch in shown {
            if let Some(line) = expect_line(schema, ch, index) {
                out.push(line);
            }
        }
        for ch in &changes {
            schema.apply(ch);
        }
    }
    for line in &mut out[start..] {
        *line = hide.text(line);
    }
    out
}

fn expect_line(schema: &Schema, ch: &Change, n: usize) -> Option<String> {
    let nothing = |what: String, guard: &str| format!("• {what}: step {n} will do nothing ({guard})");
    Some(match (ch.verb, &ch.object) {
        (Verb::Create, Object::Column { table, column }) => match (schema.table(table).is_some(), schema.column(table, column).is_some()) {
            (false, _) => format!("✘ table {table} does not exist: step {n} will fail"),
            (true, true) if ch.guarded => nothing(format!("column {table}.{column} already exists"), "IF NOT EXISTS"),
            (true, true) => format!("✘ column {table}.{column} already exists: step {n} will fail"),
            (true, false) => format!("✔ column {table}.{column} is absent: step {n} will add it"),
        },
        (Verb::Drop, Object::Column { table, column }) => match schema.column(table, column) {
            Some(_) => {
                let deps = schema.dependents(table, column);
                let deps = deps.iter().map(ToString::to_string).collect::<Vec<_>>();
                let deps = if deps.is_empty() { String::new() } else { format!(" (used by {})", deps.join(", ")) };
                format!("✔ column {table}.{column} is present{deps}: step {n} will drop it")
            }
            None if ch.guarded => nothing(format!("column {table}.{column} is absent"), "IF EXISTS"),
            None => format!("✘ column {table}.{column} is absent: step {n} will fail"),
        },
        (Verb::Create, Object::Index(name)) => match (schema.index(name), ch.on_table.as_deref()) {
            (Some(_), _) if ch.guarded => nothing(format!("index {name} already exists"), "IF NOT EXISTS"),
            (Some(_), _) => format!("✘ index {name} already exists: step {n} will fail"),
            (None, Some(table)) if schema.table(table).is_none() => format!("✘ table {table} does not exist: step {n} will fail"),
            (None, Some(table)) => format!("✔ index {name} is absent: step {n} will create it on {table}"),
            (None, None) => format!("✔ index {name} is absent: step {n} will create it"),
        },
        (Verb::Drop, Object::Index(name)) => match schema.index(name) {
            Some(ix) => format!("✔ index {name} is present on {}: step {n} will drop it", ix.table),
            None if ch.guarded => nothing(format!("index {name} is absent"), "IF EXISTS"),
            None => format!("✘ index {name} is absent: step {n} will fail"),
        },
        (verb, Object::Table(name)) => whole_object(verb, "table", name, schema.table(name).is_some(), ch.guarded, n),
        (verb, Object::View(name)) => whole_object(verb, "view", name, schema.view(name).is_some(), ch.guarded, n),
        (verb, Object::Trigger(name)) => whole_object(verb, "trigger", name, schema.trigger(name).is_some(), ch.guarded, n),
        _ => return None,
    })
}

/// The expectation for a statement that creates or drops a whole object by name. A guarded
/// CREATE of a table is a no-op (`IF NOT EXISTS`); of a view or trigger it replaces the
/// object (`OR REPLACE`).
fn whole_object(verb: Verb, kind: &str, name: &str, exists: bool, guarded: bool, n: usize) -> String {
    match (verb, exists) {
        (Verb::Create, true) if guarded && kind == "table" => {
            format!("• {kind} {name} already exists: step {n} will do nothing (IF NOT EXISTS)")
        }
        (Verb::Create, true) if guarded => format!("✔ {kind} {name} exists: step {n} will replace it"),
        (Verb::Create, true) => format!("✘ {kind} {name} already exists: step {n} will fail"),
        (Verb::Create, false) => format!("✔ {kind} {name} is absent: step {n} will create it"),
        (Verb::Drop, true) => format!("✔ {kind} {name} is present: step {n} will drop it"),
        (Verb::Drop, false) if guarded => format!("• {kind} {name} is absent: step {n} will do nothing (IF EXISTS)"),
        (Verb::Drop, false) => format!("✘ {kind} {name} is absent: step {n} will fail"),
    }
}
