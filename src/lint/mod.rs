//! DDL risk lint, shown by `validate` and `plan`: statements that lock or rewrite big tables,
//! or destroy data without a backup. Each warning names the step and the line, says why it
//! matters and what to do instead.

use std::sync::OnceLock;

use regex::Regex;

use crate::db::Engine;
use crate::exec::step::sql_for;
use crate::load::vars::Vars;
use crate::runbook::{Action, Loaded, PlanKind, Pos, SqlSource};
use crate::sql::{split, Effect};

#[derive(Debug, Clone)]
pub struct Warning {
    pub step_id: String,
    pub pos: Pos,
    pub message: String,
    pub why: String,
    pub instead: String,
}

impl Warning {
    pub fn render(&self, path: &str) -> String {
        format!(
            "warning: {}\n  --> {path}:{}:{} (step `{}`)\n  why: {}\n  instead: {}",
            self.message,
            self.pos.line,
            self.pos.column.max(1),
            self.step_id,
            self.why,
            self.instead
        )
    }
}

fn volatile_default() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\bDEFAULT\s*\(?\s*(random|gen_random_uuid|uuid_generate_v[14]|uuid|clock_timestamp|timeofday|rand|sys_guid)\s*\(")
            .expect("static regex")
    })
}

/// Lint both plans. `engine` is the target's engine when known (`plan`), else `None` (`validate`).
///
/// The statements are judged as they will run, every value in `vars` filled in (secrets too: a
/// value can turn a harmless statement into a DROP); a reference without a value yet stays as
/// written. What a warning shows passes through the redactor, so a secret is never printed.
pub fn lint(loaded: &Loaded, engine: Option<Engine>, vars: &Vars) -> Vec<Warning> {
    // Without --db, a literal `target:` still says which engine the runbook is written for.
    let engine = engine.or_else(|| {
        let t = loaded.doc.target.as_ref()?;
        if t.value.contains("${") {
            return None;
        }
        crate::db::Target::parse(&t.value).ok().map(|t| t.engine)
    });
    // The source's lines, split once: finding each statement's line must not rescan the file
    // (that made `validate` quadratic in the number of steps).
    let lines: Vec<&str> = loaded.source.lines().collect();
    let secret_values = vars.secret_values();
    let hide = crate::redact::Redactor::new(secret_values.clone());
    let mut out = Vec::new();
    for plan in [PlanKind::Plan, PlanKind::Rollback] {
        let mut backup_seen = false;
        // Tables this plan creates: an index on one of them blocks nobody, so needs no
        // CONCURRENTLY (the table is empty and unused until the change is done).
        let mut created: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for step in loaded.steps(plan) {
            let (sql_src, transactional) = match &step.action {
                Action::Backup => {
                    backup_seen = true;
                    continue;
                }
                Action::Sql(a) => (&a.sql, a.transaction),
                _ => continue,
            };
            for (eng, text) in texts(&sql_src.value, engine) {
                let from = engine_entry(&lines, sql_src.pos, &sql_src.value, eng);
                // Shared SQL of unknown engine splits as SQLite does: no backslash escapes.
                let split_as = eng.unwrap_or(Engine::Sqlite);
                let written = split(&text, split_as);
                let running = split(&vars.render_known(&text), split_as);
                // A statement is found in the file by its text as written; when a value adds
                // statements the split differs, and the warning points at the step's SQL.
                let same_split = written.len() == running.len();
                let span = text.lines().count() + 2;
                for (n, stmt) in running.iter().enumerate() {
                    let pos = if same_split { locate(&lines, from, &written[n], span) } else { from };
                    let mut warn = |message: String, why: &str, instead: String| {
                        out.push(Warning {
                            step_id: step.id.clone(),
                            pos,
                            message: hide.text(&message),
                            why: why.into(),
                            instead: hide.text(&instead),
                        })
                    };
                    let effect = hide_names(crate::sql::classify_for(stmt, split_as), &secret_values);
                    match effect.clone() {
                        Effect::CreateIndex { name, table, concurrently: false, .. }
                            if eng == Some(Engine::Postgres) && !created.contains(&table.to_ascii_lowercase()) =>
                        {
                            warn(
                            format!("CREATE INDEX {name} without CONCURRENTLY on PostgreSQL"),
                            "a plain CREATE INDEX blocks every write to the table until the index is built",
                            "CREATE INDEX CONCURRENTLY … in a step with `transaction: false` (it cannot run inside a transaction)".into(),
                        )
                        }
                        Effect::CreateIndex { name, concurrently: true, .. } if transactional.for_engine(Engine::Postgres) && eng == Some(Engine::Postgres) => warn(
                            format!("CREATE INDEX CONCURRENTLY {name} in a step that runs in a transaction"),
                            "PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction block, so the step would fail",
                            "set `transaction: false` on the step, or `transaction: {postgres: false}` (each statement then commits on its own)".into(),
                        ),
                        Effect::AddColumn { table, column, definition } => {
                            let def = definition.to_ascii_uppercase();
                            if def.contains("NOT NULL") && !def.contains("DEFAULT") {
                                warn(
                                    format!("ADD COLUMN {table}.{column} NOT NULL without a DEFAULT"),
                                    "it fails on a table with rows, or forces every existing row to be rewritten",
                                    "add the column nullable (or with a constant DEFAULT), backfill, then add NOT NULL".into(),
                                );
                            }
                            if volatile_default().is_match(&definition) {
                                warn(
                                    format!("ADD COLUMN {table}.{column} with a volatile DEFAULT"),
                                    "a volatile default is computed per row, so the whole table is rewritten under an exclusive lock",
                                    "add the column without a default, then backfill in batches".into(),
                                );
                            }
                        }
                        Effect::AlterColumnType { table, column } => warn(
                            format!("column type change on {table}.{column}"),
                            "changing a column's type usually rewrites the table and its indexes under an exclusive lock",
                            "add a new column, backfill it in batches, switch the application, then drop the old one".into(),
                        ),
                        _ => {}
                    }
                    // The backup guard's own question, asked before the run: every statement it
                    // would refuse for want of a verified backup is a warning here, not a surprise
                    // at step N of a change window.
                    if let Some(reason) = crate::sql::needs_backup(stmt, split_as).filter(|_| !backup_seen) {
                        let (what, why) = match (&effect, reason) {
                            (Effect::DropColumn { table, column }, _) => {
                                (format!("DROP COLUMN {table}.{column}"), "the column's data is gone once the statement commits")
                            }
                            (Effect::DropTable { table }, _) => (format!("DROP TABLE {table}"), "the table's data is gone once the statement commits"),
                            (Effect::DropObject { what, name }, _) => (format!("DROP {what} {name}"), "what it holds is gone once the statement commits"),
                            (_, crate::sql::Reason::Destructive) => (
                                shown_statement(&hide, stmt),
                                "it changes or removes existing data, and the backup guard refuses it at run time without a verified backup",
                            ),
                            (_, crate::sql::Reason::Unclassified) => (
                                shown_statement(&hide, stmt),
                                "what it writes cannot be read from the statement, so the backup guard treats it as destructive and refuses it at run time without a verified backup",
                            ),
                        };
                        warn(
                            format!("{what} with no earlier backup step in the {}", plan.label()),
                            why,
                            "add a `kind: backup` step before this one".into(),
                        );
                    }
                    for ch in crate::sql::objects::changes(stmt) {
                        if let crate::sql::objects::Object::Table(t) = ch.object {
                            match ch.verb {
                                crate::sql::objects::Verb::Create => created.insert(t),
                                crate::sql::objects::Verb::Drop => created.remove(&t),
                            };
                        }
                    }
                }
            }
        }
    }
    out
}

/// A statement named in a warning: its first line, cut to 80 characters, every piece of a secret
/// hidden.
fn shown_statement(hide: &crate::redact::Redactor, stmt: &str) -> String {
    // Hidden before it is cut: a cut must never leave a fragment the redactor cannot recognise.
    let hidden = hide.pieces(stmt);
    let line = hidden.lines().next().unwrap_or("").trim();
    let cut: String = line.chars().take(80).collect();
    if cut.len() < line.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

/// The effect with every name that is part of a secret value shown as the mask: a secret that
/// is SQL (`sql: true`) splits into statements, and a name read from one is a piece of the
/// secret that the whole-value redactor cannot recognise.
fn hide_names(effect: Effect, secrets: &[String]) -> Effect {
    let h = |name: String| {
        if secrets.iter().any(|s| s.contains(name.as_str())) {
            crate::load::vars::MASK.to_string()
        } else {
            name
        }
    };
    match effect {
        Effect::AddColumn { table, column, definition } => Effect::AddColumn { table: h(table), column: h(column), definition },
        Effect::DropColumn { table, column } => Effect::DropColumn { table: h(table), column: h(column) },
        Effect::AlterColumnType { table, column } => Effect::AlterColumnType { table: h(table), column: h(column) },
        Effect::CreateIndex { name, table, unique, concurrently } => {
            Effect::CreateIndex { name: h(name), table: h(table), unique, concurrently }
        }
        Effect::DropIndex { name } => Effect::DropIndex { name: h(name) },
        Effect::CreateTable { table } => Effect::CreateTable { table: h(table) },
        Effect::DropTable { table } => Effect::DropTable { table: h(table) },
        Effect::Truncate { table } => Effect::Truncate { table: h(table) },
        Effect::Delete { table, has_where } => Effect::Delete { table: h(table), has_where },
        Effect::Update { table, has_where } => Effect::Update { table: h(table), has_where },
        Effect::DropObject { what, name } => Effect::DropObject { what, name: h(name) },
        Effect::Other => Effect::Other,
    }
}

/// The SQL texts to lint, each with the engine it is for (`None`: unknown).
fn texts(src: &SqlSource, engine: Option<Engine>) -> Vec<(Option<Engine>, String)> {
    match (src, engine) {
        (_, Some(e)) => sql_for(src, e).map(|t| vec![(Some(e), t)]).unwrap_or_default(),
        (SqlSource::PerEngine(p), None) => {
            [(Some(Engine::Sqlite), &p.sqlite), (Some(Engine::Postgres), &p.postgres), (Some(Engine::Mysql), &p.mysql), (None, &p.default)]
                .into_iter()
                .filter_map(|(e, t)| t.clone().map(|t| (e, t)))
                .collect()
        }
        (other, None) => sql_for(other, Engine::Sqlite).map(|t| vec![(None, t)]).unwrap_or_default(),
    }
}

/// Where the text for `engine` starts: the `postgres:` (…) key under a per-engine `sql:`,
/// so a statement spelled the same for several engines is reported at the right line.
fn engine_entry(lines: &[&str], from: Pos, src: &SqlSource, engine: Option<Engine>) -> Pos {
    let SqlSource::PerEngine(p) = src else { return from };
    if !from.is_known() {
        return from;
    }
    let key = match engine {
        Some(Engine::Sqlite) if p.sqlite.is_some() => "sqlite:",
        Some(Engine::Postgres) if p.postgres.is_some() => "postgres:",
        Some(Engine::Mysql) if p.mysql.is_some() => "mysql:",
        _ => "default:",
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let start = from.line.saturating_sub(1);
    let base = lines.get(start).map(|l| indent(l)).unwrap_or(0);
    for (i, line) in lines.iter().enumerate().skip(start) {
        if line.trim_start().starts_with(key) {
            return Pos { line: i + 1, column: indent(line) + 1 };
        }
        if i > start && !line.trim().is_empty() && indent(line) < base {
            break;
        }
    }
    from
}

/// The line where a statement is written, searching the `span` lines from the step's `sql:`
/// position (the step's SQL cannot be written further down).
fn locate(lines: &[&str], from: Pos, stmt: &str, span: usize) -> Pos {
    let needle: String = stmt.lines().next().unwrap_or("").trim().chars().take(40).collect();
    if needle.is_empty() || !from.is_known() {
        return from;
    }
    for (i, line) in lines.iter().enumerate().skip(from.line.saturating_sub(1)).take(span) {
        if let Some(b) = line.find(&needle) {
            return Pos { line: i + 1, column: line[..b].chars().count() + 1 };
        }
    }
    from
}
