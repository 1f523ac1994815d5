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
    let engine = db.engine();
    // A query whose secret changes its shape is refused before step 1 (see [`query`]); plan
    // says so, as it does for a `sql` step's statements.
    let mut out: Vec<String> = queries(step)
        .into_iter()
        .filter_map(|q| sql_for(q, engine))
        .filter_map(|text| match query_reshaping_secrets(vars, &text, engine) {
            Ok(names) if !names.is_empty() => Some(format!(
                "✘ the value of secret variable `{}` changes the shape of a query: step {index} will be refused (mark it `sql: true` if it is meant to be SQL)",
                names.join("`, `")
            )),
            _ => None,
        })
        .collect();
    out.extend(match &step.action {
        Action::Sql(a) => sql::precheck(simulated, a, index, vars, engine),
        Action::Verify(a) => verify::precheck(schema, a),
        Action::Validate(a) => validate::precheck(db, schema, a).await,
        Action::Backup => backup::precheck(db).await,
        _ => Vec::new(),
    });
    out
}

/// Every query a step sends to read the target (verify and command assertions, validate's
/// report queries, monitor query checks), as written. A `sql` step's own statements are not
/// here: they are judged, and bound, by [`sql`].
pub fn queries(step: &Step) -> Vec<&SqlSource> {
    match &step.action {
        Action::Verify(a) => a.queries.iter().map(|q| &q.sql.value).collect(),
        Action::Command(a) => a.queries.iter().map(|q| &q.sql.value).collect(),
        Action::Validate(a) => a.report_queries.iter().map(|q| &q.sql.value).collect(),
        Action::Monitor(a) => a.checks.iter().filter_map(|c| c.query.as_ref()).map(|q| &q.value).collect(),
        _ => Vec::new(),
    }
}

/// A runbook's read query as it is sent: the one way every query a step reads the target with
/// (verify and command assertions, validate's report queries, monitor checks, the fleet's bake)
/// is built. It is refused when a secret value changes its shape (and is not marked
/// `sql: true`), since a query is shown masked. A lone quoted variable (`'${name}'`) is bound as
/// a `sql` step binds it ([`crate::sql::bind`]): a value like `x' OR 'a'='a` stays one value, so
/// the query reads the rows its text says. A query with no such variable is plain text.
pub fn query(vars: &Vars, sql: &str, engine: Engine) -> Result<crate::sql::bind::Statement> {
    let names = query_reshaping_secrets(vars, sql, engine)?;
    if !names.is_empty() {
        return Err(query_reshaping_error(vars, sql, &names));
    }
    if let [one] = crate::sql::split(sql, engine).as_slice() {
        if let Some(mut bound) = crate::sql::bind::bind_all(std::slice::from_ref(one), engine, vars)? {
            return Ok(bound.remove(0));
        }
    }
    Ok(crate::sql::bind::Statement::text(vars.render(sql)?))
}

/// The secret variables whose values change the shape of the query `sql` on `engine` (and are
/// not marked `sql: true`). A value [`query`] binds is sent apart from the text and cannot:
/// only the rest is judged, as for a `sql` step.
pub fn query_reshaping_secrets(vars: &Vars, sql: &str, engine: Engine) -> Result<Vec<String>> {
    let raw = crate::sql::split(sql, engine);
    let judged = match raw.as_slice() {
        [_] if crate::sql::bind::bind_all(&raw, engine, vars)?.is_some() => crate::sql::bind::unbound_text(&raw, engine, vars),
        _ => sql.to_string(),
    };
    crate::sql::shape::reshaping_secrets(&judged, vars, engine)
}

/// The refusal of a query whose secret values (`names`) change its shape.
pub fn query_reshaping_error(vars: &Vars, sql: &str, names: &[String]) -> Error {
    Error::usage(format!(
        "the value of secret variable `{}` changes the shape of the query `{}` (it is not a single literal: a quote, a semicolon, a comment or a keyword), so what is shown masked is not what would run; nothing was run. Mark the variable `sql: true` if its value is meant to be SQL",
        names.join("`, `"),
        vars.mask(sql).trim()
    ))
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
        let shown = raw.iter().map(|s| crate::sql::bind::shown(s, engine, vars)).collect();
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
        SqlSource::List(l) => {
            l.iter().map(|s| if masked { Ok(crate::sql::bind::shown(s, engine, vars)) } else { vars.render(s) }).collect()
        }
        _ if masked => {
            let split = crate::sql::split(&vars.mask(&text), engine);
            // Each statement as it is shown, bound values as literals; a `sql: true` value
            // holding statement boundaries of its own splits differently, and is shown as masked.
            let raw = crate::sql::split(&text, engine);
            Ok(if raw.len() == split.len() { raw.iter().map(|s| crate::sql::bind::shown(s, engine, vars)).collect() } else { split })
        }
        _ => Ok(crate::sql::split(&vars.render(&text)?, engine)),
    }
}
