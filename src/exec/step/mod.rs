//! Step kinds: one file each. Every kind can describe its exact action (for the panel and for
//! `plan`), run itself against a [`Runner`], and say what it expects of the target before the run.

pub mod backup;
pub mod command;
pub mod http;
pub mod manual;
pub mod monitor;
pub mod question;
pub mod sql;
pub mod validate;
pub mod verify;

use crate::db::{Database, Engine, Schema};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::load::vars::Vars;
use crate::runbook::{Action, SqlSource, Step};

/// The exact action of a step, variables resolved and secrets masked.
/// What `step` will do, as the panel and the journal show it. `run_dir` is the run's folder
/// when there is one (a run, not a plan), so that a backup names the file it will write.
pub fn describe(step: &Step, vars: &Vars, engine: Engine, run_dir: Option<&std::path::Path>) -> String {
    match &step.action {
        Action::Backup => backup::describe(engine, run_dir.map(|d| d.join(format!("backup-{}", step.id)))),
        Action::Sql(a) => sql::describe(a, vars, engine),
        Action::Verify(a) => verify::describe(a, vars, engine),
        Action::Command(a) => command::describe(a, vars),
        Action::Manual(a) => manual::describe(a, vars),
        Action::Validate(a) => validate::describe(a, vars, engine),
        Action::Http(a) => http::describe(a, vars),
        Action::Monitor(a) => monitor::describe(a, vars, engine),
    }
}

/// How the change step `step` is undone, with each undoing rollback step's action, for its
/// panel; `None` for a step of the rollback plan.
pub fn undo_view<'a>(
    loaded: &'a crate::runbook::Loaded,
    step: &Step,
    plan: crate::runbook::PlanKind,
    vars: &Vars,
    engine: Engine,
    run_dir: Option<&std::path::Path>,
) -> Option<crate::ui::UndoView<'a>> {
    if plan != crate::runbook::PlanKind::Plan {
        return None;
    }
    let undo = loaded.undo_of(&step.id);
    let actions = match undo {
        crate::runbook::undo::Undo::By(refs) => refs
            .iter()
            .map(|r| loaded.rollback.iter().find(|s| s.id == r.id).map(|s| describe(s, vars, engine, run_dir)).unwrap_or_default())
            .collect(),
        _ => Vec::new(),
    };
    Some(crate::ui::UndoView { undo, actions })
}

/// Run a step; `Err` means the step failed (or, for `Error::Stopped`, the operator stopped it).
pub async fn run(r: &mut Runner, step: &Step) -> Result<()> {
    match &step.action {
        Action::Backup => backup::run(r, step).await,
        Action::Sql(a) => sql::run(r, step, a).await,
        Action::Verify(a) => verify::run(r, step, a).await,
        Action::Command(a) => command::run(r, step, a).await,
        Action::Manual(a) => manual::run(r, step, a).await,
        Action::Validate(a) => validate::run(r, step, a).await,
        Action::Http(a) => http::run(r, step, a).await,
        Action::Monitor(a) => monitor::run(r, step, a).await,
    }
}

/// Read-only expectations for `plan`: what the step will find and do.
///
/// `schema` is the target's schema now; `simulated` is that schema as the earlier steps of the
/// plan leave it, which `sql` steps read and update (see [`sql::precheck`]).
pub async fn precheck(
    db: &mut dyn Database,
    schema: &Schema,
    simulated: &mut Schema,
    step: &Step,
    index: usize,
    vars: &Vars,
) -> Vec<String> {
    match &step.action {
        Action::Sql(a) => sql::precheck(simulated, a, index, vars, db.engine()),
        Action::Verify(a) => verify::precheck(schema, a),
        Action::Validate(a) => validate::precheck(db, schema, a).await,
        Action::Backup => backup::precheck(db).await,
        _ => Vec::new(),
    }
}

/// The SQL text of `src` for `engine`.
pub fn sql_for(src: &SqlSource, engine: Engine) -> Option<String> {
    match src {
        SqlSource::Text(t) => Some(t.clone()),
        SqlSource::List(l) => Some(l.join(";\n")),
        SqlSource::PerEngine(p) => match engine {
            Engine::Sqlite => p.sqlite.clone(),
            Engine::Postgres => p.postgres.clone(),
            Engine::Mysql => p.mysql.clone(),
        }
        .or_else(|| p.default.clone()),
    }
}

/// The statements of `src` as written, `${…}` still in them: the list's items, or the text
/// split as `engine` reads it.
pub fn raw_statements(src: &SqlSource, engine: Engine) -> Result<Vec<String>> {
    let text = sql_for(src, engine)
        .ok_or_else(|| Error::failed(format!("no SQL is given for {engine} (add a `{engine}:` or `default:` entry)")))?;
    Ok(match src {
        SqlSource::List(l) => l.clone(),
        _ => crate::sql::split(&text, engine),
    })
}

/// The statements as they are sent, lone literal variables bound ([`crate::sql::bind`]), and
/// each as it is shown (secrets masked), one for one.
pub fn to_send(src: &SqlSource, engine: Engine, vars: &Vars) -> Result<(Vec<crate::sql::bind::Statement>, Vec<String>)> {
    let raw = raw_statements(src, engine)?;
    if let Some(bound) = crate::sql::bind::bind_all(&raw, engine, vars)? {
        let shown = raw.iter().map(|s| vars.mask(s)).collect();
        return Ok((bound, shown));
    }
    let sent: Vec<_> = statements(src, engine, vars, false)?.into_iter().map(crate::sql::bind::Statement::text).collect();
    let shown = statements(src, engine, vars, true)?;
    if shown.len() == sent.len() {
        return Ok((sent, shown));
    }
    // A `sql: true` value holds statement boundaries of its own, so the masked text splits
    // differently and no shown statement stands for a sent one: each is shown as sent, with
    // every piece of a secret hidden (a whole-value match cannot see a value cut apart).
    let hide = crate::redact::Redactor::new(vars.secret_values());
    let shown = sent.iter().map(|s| hide.pieces(&s.sql)).collect();
    Ok((sent, shown))
}

/// Statements of `src` for `engine`, rendered with real values (`masked` false) or for display.
pub fn statements(src: &SqlSource, engine: Engine, vars: &Vars, masked: bool) -> Result<Vec<String>> {
    let text = sql_for(src, engine)
        .ok_or_else(|| Error::failed(format!("no SQL is given for {engine} (add a `{engine}:` or `default:` entry)")))?;
    match src {
        SqlSource::List(l) => l.iter().map(|s| if masked { Ok(vars.mask(s)) } else { vars.render(s) }).collect(),
        _ => {
            let rendered = if masked { vars.mask(&text) } else { vars.render(&text)? };
            Ok(crate::sql::split(&rendered, engine))
        }
    }
}
