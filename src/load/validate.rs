//! Semantic checks on a parsed runbook, and the conversion of raw steps into typed ones.
//!
//! Everything here reports through positioned diagnostics: duplicate ids, empty plans,
//! fields that belong to another kind, missing required fields, bad durations and
//! undefined `${variables}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::{Diagnostic, Error, Result};
use crate::runbook::*;

use super::vars::{self, BUILTINS};

struct Checker<'a> {
    name: &'a str,
    source: &'a Arc<str>,
    lines: Vec<&'a str>,
    out: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn push(&mut self, pos: Pos, message: impl Into<String>, help: Option<String>) {
        self.out.push(Diagnostic {
            path: self.name.to_string(),
            source: self.source.clone(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
            label: None,
            help,
        });
    }

    /// Where a `key:` of the step that starts near `at` is written.
    fn key_pos(&self, at: Pos, key: &str) -> Pos {
        if !at.is_known() {
            return at;
        }
        let idx = at.line.saturating_sub(1).min(self.lines.len().saturating_sub(1));
        // The step's mapping starts at the nearest preceding "- " item marker.
        let mut start = idx;
        while start > 0 && !self.lines[start].trim_start().starts_with("- ") {
            start -= 1;
        }
        let indent = self.lines[start].len() - self.lines[start].trim_start().len();
        for (i, line) in self.lines.iter().enumerate().skip(start) {
            let t = line.trim_start();
            let ind = line.len() - t.len();
            if i > start && t.starts_with("- ") && ind <= indent {
                break;
            }
            let t2 = t.strip_prefix("- ").unwrap_or(t);
            if t2.starts_with(&format!("{key}:")) {
                let col = line[..line.len() - t2.len()].chars().count() + 1;
                return Pos { line: i + 1, column: col };
            }
        }
        at
    }

    /// Where `${name}` is first written outside a comment.
    fn var_pos(&self, name: &str) -> Pos {
        let needle = format!("${{{name}}}");
        for (i, line) in self.lines.iter().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(b) = line.find(&needle) {
                return Pos { line: i + 1, column: line[..b].chars().count() + 1 };
            }
        }
        Pos::UNKNOWN
    }
}

/// Check `doc` and type its steps; all problems are returned together.
pub fn validate(name: &str, source: &Arc<str>, doc: &Runbook) -> Result<(Vec<Step>, Vec<Step>)> {
    let mut c = Checker { name, source, lines: source.lines().collect(), out: Vec::new() };

    if *doc.version != 1 {
        c.push(doc.version.pos, format!("unsupported format version {}; this runbook supports version 1", *doc.version), None);
    }
    if doc.id.trim().is_empty() || !doc.id.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)) {
        c.push(doc.id.pos, format!("runbook id `{}` must be non-empty and use only letters, digits, `-`, `_` and `.`", *doc.id), None);
    }
    if doc.plan.is_empty() {
        c.push(doc.plan.pos, "the change plan is empty", Some("add at least one step under `plan:`".into()));
    }
    for name in doc.vars.keys() {
        if BUILTINS.contains(&name.as_str()) {
            let pos = c.var_decl_pos(name);
            c.push(pos, format!("`{name}` is a built-in variable and cannot be declared"), None);
        }
    }

    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut typed = [Vec::new(), Vec::new()];
    for (which, steps) in [(0, &doc.plan.value), (1, &doc.rollback)] {
        for raw in steps.iter() {
            if let Some(first) = seen.get(&raw.id.value) {
                let first = *first;
                c.push(
                    raw.id.pos,
                    format!("duplicate step id `{}`", *raw.id),
                    Some(format!("step ids must be unique across plan and rollback; `{}` is first used at line {}", *raw.id, first.line)),
                );
            } else {
                seen.insert(raw.id.value.clone(), raw.id.pos);
            }
            if raw.id.trim().is_empty() {
                c.push(raw.id.pos, "a step id must not be empty", None);
            } else if !is_step_id(&raw.id) {
                // Ids are typed on the command line (`--skip ID`) and named in `undo:`: one
                // spelling, no quoting, no case to get wrong.
                c.push(
                    raw.id.pos,
                    format!("step id `{}` must match [a-z0-9][a-z0-9._-]*", *raw.id),
                    Some(format!("lower-case letters, digits, `.`, `_` and `-`, e.g. `{}`", step_id_like(&raw.id))),
                );
            }
            if let (0, Some(w)) = (which, &raw.when) {
                let pos = c.key_pos(raw.id.pos, "when");
                let pos = if w.pos.is_known() { w.pos } else { pos };
                c.push(
                    pos,
                    format!("`when` belongs to rollback steps; `{}` is a change-plan step", *raw.id),
                    Some("a rollback step's `when` says whether there is anything to undo".into()),
                );
            }
            check_scope(&mut c, raw, which == 1);
            if let Some(step) = type_step(&mut c, raw) {
                typed[which].push(step);
            }
        }
    }

    for p in crate::runbook::check(doc) {
        c.push(p.pos, p.message, p.help);
    }
    check_vars(&mut c, doc);

    if c.out.is_empty() {
        let [plan, rollback] = typed;
        Ok((plan, rollback))
    } else {
        c.out.sort_by_key(|d| (d.line, d.column));
        Err(Error::Invalid { diagnostics: c.out })
    }
}

/// Whether `id` matches `[a-z0-9][a-z0-9._-]*`.
pub fn is_step_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// A valid id close to `id`, for the help line.
fn step_id_like(id: &str) -> String {
    let mut out = String::new();
    for c in id.trim().to_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || "._".contains(c) { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_start_matches(['-', '.', '_']).trim_end_matches('-').to_string();
    if out.is_empty() {
        "step-1".into()
    } else {
        out
    }
}

impl Checker<'_> {
    fn var_decl_pos(&self, name: &str) -> Pos {
        let key = format!("{name}:");
        let mut in_vars = false;
        for (i, line) in self.lines.iter().enumerate() {
            if line.starts_with("vars:") {
                in_vars = true;
                continue;
            }
            if in_vars && line.trim_start().starts_with(&key) {
                let col = line.len() - line.trim_start().len() + 1;
                return Pos { line: i + 1, column: col };
            }
        }
        Pos::UNKNOWN
    }
}

/// Every field name set on a raw step.
fn set_fields(raw: &RawStep) -> Vec<String> {
    match serde_json::to_value(raw) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

const COMMON: &[&str] = &["id", "name", "description", "kind", "timeout", "on_failure", "undo", "when", "scope"];

fn type_step(c: &mut Checker, raw: &RawStep) -> Option<Step> {
    let kind = raw.kind.value;
    let before = c.out.len();
    for field in set_fields(raw) {
        if COMMON.contains(&field.as_str()) || kind.fields().contains(&field.as_str()) {
            continue;
        }
        let owner = [Kind::Backup, Kind::Sql, Kind::Verify, Kind::Command, Kind::Manual, Kind::Validate, Kind::Http, Kind::Monitor]
            .into_iter()
            .filter(|k| k.fields().contains(&field.as_str()))
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let pos = c.key_pos(raw.id.pos, &field);
        c.push(
            pos,
            format!("field `{field}` does not belong to a `{kind}` step (step `{}`)", *raw.id),
            Some(format!("`{field}` is a field of {owner} steps; a {kind} step takes: {}", fields_list(kind))),
        );
    }
    let require = |c: &mut Checker, ok: bool, what: &str| {
        if !ok {
            c.push(raw.kind.pos, format!("a `{kind}` step needs {what} (step `{}`)", *raw.id), None);
        }
    };
    if let Some(t) = &raw.timeout {
        check_duration(c, t, "timeout");
    }
    let action = match kind {
        Kind::Backup => Action::Backup,
        Kind::Sql => {
            require(c, raw.sql.is_some(), "`sql:` with the statements to run");
            if let Some(sql) = &raw.sql {
                let texts: Vec<&String> = match &sql.value {
                    SqlSource::Text(t) => vec![t],
                    SqlSource::List(l) if l.is_empty() => vec![],
                    SqlSource::List(l) => l.iter().collect(),
                    SqlSource::PerEngine(p) => [&p.sqlite, &p.postgres, &p.mysql, &p.default].into_iter().flatten().collect(),
                };
                let empty = |t: &&String| crate::sql::split(t, crate::db::Engine::Sqlite).is_empty();
                if texts.is_empty() || texts.iter().any(empty) {
                    let pos = c.key_pos(raw.id.pos, "sql");
                    c.push(pos, "`sql:` holds no statement", Some("write the statements to run, separated by `;`".into()));
                }
            }
            for t in [&raw.lock_timeout, &raw.statement_timeout].into_iter().flatten() {
                check_duration(c, t, "timeout");
            }
            Action::Sql(SqlAction {
                sql: raw.sql.clone().unwrap_or_else(|| Sp::new(SqlSource::List(vec![]))),
                transaction: raw.transaction.unwrap_or(Transaction::All(true)),
                lock_timeout: raw.lock_timeout.clone(),
                statement_timeout: raw.statement_timeout.clone(),
                lock_retries: raw.lock_retries.unwrap_or(DEFAULT_LOCK_RETRIES),
            })
        }
        Kind::Verify => {
            let schema = raw.schema.clone().unwrap_or_default();
            let queries = raw.queries.clone().unwrap_or_default();
            require(
                c,
                !schema.is_empty() || !queries.is_empty() || raw.schema_unchanged_since.is_some(),
                "at least one of `schema:`, `queries:` or `schema_unchanged_since:`",
            );
            for s in &schema {
                check_schema_check(c, raw, s);
            }
            Action::Verify(VerifyAction {
                schema,
                queries,
                unchanged_since: raw.schema_unchanged_since,
                checklist: raw.checklist.clone().unwrap_or_default(),
            })
        }
        Kind::Command => {
            require(c, raw.command.is_some(), "`command:` (a list: program and arguments, or a string with `shell: true`)");
            let shell = raw.shell.unwrap_or(false);
            if let Some(cmd) = &raw.command {
                match &cmd.value {
                    CommandLine::Line(_) if !shell => c.push(
                        cmd.pos,
                        "a command given as one string needs `shell: true`",
                        Some("write it as a list, e.g. [\"./sync.sh\", \"--dry-run\"], to run it without a shell".into()),
                    ),
                    CommandLine::Argv(v) if v.is_empty() => c.push(cmd.pos, "the command list is empty", None),
                    _ => {}
                }
            }
            Action::Command(CommandAction {
                command: raw.command.clone().unwrap_or_else(|| Sp::new(CommandLine::Argv(vec![]))),
                queries: raw.queries.clone().unwrap_or_default(),
                shell,
                env: raw.env.clone().unwrap_or_default(),
                workdir: raw.workdir.clone(),
            })
        }
        Kind::Manual => {
            require(
                c,
                raw.instructions.is_some() || raw.checklist.as_ref().is_some_and(|l| !l.is_empty()),
                "`instructions:` or a non-empty `checklist:`",
            );
            Action::Manual(ManualAction { instructions: raw.instructions.clone(), checklist: raw.checklist.clone().unwrap_or_default() })
        }
        Kind::Validate => {
            require(c, raw.tables.is_some() || raw.report_queries.is_some(), "`tables:` to fingerprint or `report_queries:`");
            let tables = raw.tables.clone().unwrap_or_default();
            for b in raw.backfill.iter().flatten() {
                if !tables.iter().any(|t| t == &b.table) {
                    let pos = c.key_pos(raw.id.pos, "backfill");
                    c.push(
                        pos,
                        format!("backfill of `{}`, which is not among the step's `tables`", b.table),
                        Some("add the table to `tables:`".into()),
                    );
                }
                if b.columns.is_empty() {
                    let pos = c.key_pos(raw.id.pos, "backfill");
                    c.push(
                        pos,
                        format!("backfill of `{}` names no columns", b.table),
                        Some("list the columns it writes: `columns: [status]`".into()),
                    );
                }
            }
            Action::Validate(ValidateAction {
                tables,
                report_queries: raw.report_queries.clone().unwrap_or_default(),
                backfill: raw.backfill.clone().unwrap_or_default(),
            })
        }
        Kind::Http => {
            require(c, raw.url.is_some(), "`url:`");
            if let Some(m) = &raw.method {
                if m.is_empty() || !m.chars().all(|ch| ch.is_ascii_alphabetic()) {
                    let pos = c.key_pos(raw.id.pos, "method");
                    c.push(pos, format!("`{m}` is not an HTTP method"), Some("write GET, POST, PUT, PATCH, DELETE or HEAD".into()));
                }
            }
            for e in raw.expect_json.iter().flatten() {
                if let Some(why) = e.matches.as_deref().and_then(bad_regex) {
                    let pos = c.key_pos(raw.id.pos, "expect_json");
                    c.push(pos, format!("`matches` of {} is not a regular expression: {why}", e.pointer), None);
                }
            }
            Action::Http(HttpAction {
                method: raw.method.clone().unwrap_or_else(|| "GET".into()).to_ascii_uppercase(),
                url: raw.url.clone().unwrap_or_default(),
                headers: raw.headers.clone().unwrap_or_default(),
                body: raw.body.clone(),
                expect_status: raw.expect_status.unwrap_or(200),
                expect_json: raw.expect_json.clone().unwrap_or_default(),
            })
        }
        Kind::Monitor => {
            require(c, raw.duration.is_some(), "`duration:` (how long to watch)");
            require(c, raw.checks.as_ref().is_some_and(|v| !v.is_empty()), "a non-empty `checks:` list");
            for d in [&raw.duration, &raw.interval].into_iter().flatten() {
                check_duration(c, d, "duration");
            }
            for check in raw.checks.iter().flatten() {
                let n = [check.query.is_some(), check.http.is_some(), check.log.is_some()].iter().filter(|b| **b).count();
                if n != 1 {
                    let pos = c.key_pos(raw.id.pos, "checks");
                    c.push(pos, format!("monitor check `{}` must have exactly one of `query`, `http` or `log`", check.name), None);
                }
                if let Some(why) = check.pattern.as_deref().and_then(bad_regex) {
                    let pos = c.key_pos(raw.id.pos, "checks");
                    c.push(pos, format!("monitor check `{}`: `pattern` is not a regular expression: {why}", check.name), None);
                }
                if check.log.is_some() && check.pattern.is_none() {
                    let pos = c.key_pos(raw.id.pos, "checks");
                    c.push(pos, format!("monitor check `{}` reads a log and needs a `pattern`", check.name), None);
                }
                if (check.query.is_some() || check.log.is_some()) && check.max.is_none() && check.min.is_none() {
                    let pos = c.key_pos(raw.id.pos, "checks");
                    c.push(pos, format!("monitor check `{}` needs a threshold: `max` or `min`", check.name), None);
                }
            }
            Action::Monitor(MonitorAction {
                interval: raw.interval.clone().unwrap_or_else(|| Sp::new("10s".into())),
                duration: raw.duration.clone().unwrap_or_default(),
                checks: raw.checks.clone().unwrap_or_default(),
            })
        }
    };
    if let Some(w) = &raw.when {
        let pos = if w.pos.is_known() { w.pos } else { c.key_pos(raw.id.pos, "when") };
        for p in w.problems() {
            c.push(pos, format!("{p} (step `{}`)", *raw.id), None);
        }
    }
    check_rehearse(c, raw);
    if c.out.len() > before {
        return None;
    }
    Some(Step {
        id: raw.id.value.clone(),
        name: raw.name.value.clone(),
        description: raw.description.clone(),
        kind,
        timeout: raw.timeout.clone(),
        on_failure: raw.on_failure.unwrap_or_default(),
        scope: raw.scope.as_ref().map(|s| s.value).unwrap_or_default(),
        action,
        pos: raw.id.pos,
        rehearse: rehearse::policy(raw, raw.shell.unwrap_or(false)),
        when: raw.when.as_ref().map(|w| w.value.clone()),
    })
}

/// An alternate for the rehearsal must be of the step's own sort: a URL for `http`, a
/// non-empty command for `command`.
fn check_rehearse(c: &mut Checker, raw: &RawStep) {
    use crate::runbook::rehearse::{Alternate, RehearseSpec};
    let Some(r) = &raw.rehearse else { return };
    let pos = if r.pos.is_known() { r.pos } else { c.key_pos(raw.id.pos, "rehearse") };
    match (&r.value, raw.kind.value) {
        (RehearseSpec::Instead(Alternate::Argv(_)), Kind::Http) => {
            c.push(pos, format!("`rehearse` of http step `{}` is a list; write `run`, `skip` or the URL to call instead", *raw.id), None)
        }
        (RehearseSpec::Instead(Alternate::Text(t)), Kind::Http)
            if !(t.starts_with("http://") || t.starts_with("https://") || t.starts_with("${")) =>
        {
            c.push(
                pos,
                format!("`rehearse: {t}` of http step `{}` is neither `run`, `skip` nor a URL", *raw.id),
                Some("write `rehearse: run`, `rehearse: skip`, or an http:// or https:// URL to call instead".into()),
            )
        }
        (RehearseSpec::Instead(Alternate::Argv(v)), _) if v.is_empty() => {
            c.push(pos, format!("`rehearse` of step `{}` is an empty command", *raw.id), None)
        }
        (RehearseSpec::Instead(Alternate::Text(t)), Kind::Command) if t.trim().is_empty() => {
            c.push(pos, format!("`rehearse` of step `{}` is an empty command", *raw.id), None)
        }
        _ => {}
    }
}

/// `scope: fleet` is for a step that does not touch a target's database (it runs once, with
/// no database), and only in the change plan: a rollback runs per target, after a failure.
fn check_scope(c: &mut Checker, raw: &RawStep, in_rollback: bool) {
    let Some(scope) = &raw.scope else { return };
    if scope.value != crate::runbook::Scope::Fleet {
        return;
    }
    let pos = c.key_pos(raw.id.pos, "scope");
    if in_rollback {
        c.push(pos, "`scope: fleet` is for change-plan steps; a rollback plan runs on each target that needs it", None);
    } else if !matches!(raw.kind.value, Kind::Command | Kind::Manual) {
        c.push(
            pos,
            format!("a `{}` step works on the target's database and cannot have `scope: fleet`", raw.kind.value),
            Some("a fleet step runs once for the whole fleet, without a database: use it for `command` and `manual` steps".into()),
        );
    } else if raw.queries.as_ref().is_some_and(|q| !q.is_empty()) {
        c.push(pos, "a fleet step has no database to run `queries` against; move them to a step of their own", None);
    }
}

fn fields_list(kind: Kind) -> String {
    let own = kind.fields();
    if own.is_empty() {
        "no fields beyond the common ones".into()
    } else {
        own.join(", ")
    }
}

/// A duration with no `${var}` in it must parse now; one with vars is checked when resolved.
/// Why `pattern` is not a regular expression; `None` when it is, or when it takes a variable
/// (checked once the value is known).
fn bad_regex(pattern: &str) -> Option<String> {
    if pattern.contains("${") {
        return None;
    }
    regex::Regex::new(pattern).err().map(|e| e.to_string().lines().last().unwrap_or("").trim().trim_start_matches("error: ").to_string())
}

fn check_duration(c: &mut Checker, d: &Sp<String>, what: &str) {
    if d.contains("${") {
        return;
    }
    if let Err(e) = duration::parse(d) {
        c.push(d.pos, format!("invalid {what}: {e}"), None);
    }
}

fn check_schema_check(c: &mut Checker, raw: &RawStep, s: &SchemaCheck) {
    let objects =
        [s.index.is_some(), s.view.is_some(), s.trigger.is_some(), s.column.is_some(), s.function.is_some(), s.constraint.is_some()];
    let n = objects.iter().filter(|b| **b).count();
    let pos = c.key_pos(raw.id.pos, "schema");
    let id = &*raw.id;
    let mut bad = |why: String| c.push(pos, format!("{why} (step `{id}`)"), None);
    if n > 1 {
        bad("a schema check names one object: column, index, view, trigger, function or constraint".into());
    } else if n == 0 && s.table.is_none() {
        bad("a schema check needs `table`, `column` (with `table`), `index`, `view`, `trigger`, `function` or `constraint`".into());
    }
    if s.column.is_some() && s.table.is_none() {
        bad("a column check needs its `table`".into());
    }
    if s.type_.is_some() && s.column.is_none() && s.constraint.is_none() {
        bad("`type` applies to a column or constraint check".into());
    }
    if s.nullable.is_some() && s.column.is_none() {
        bad("`nullable` applies to a column check".into());
    }
    if s.no_dependents_except.is_some() && (s.column.is_none() || s.table.is_none()) {
        bad("`no_dependents_except` applies to a column check with `table`".into());
    }
    if s.unique.is_some() && s.index.is_none() {
        bad("`unique` applies to an index check".into());
    }
    if (s.timing.is_some() || s.events.is_some()) && s.trigger.is_none() {
        bad("`timing` and `events` apply to a trigger check".into());
    }
    if let Some(t) = &s.timing {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        if !["BEFORE", "AFTER", "INSTEAD OF"].contains(&t.as_str()) {
            bad(format!("`timing` is BEFORE, AFTER or INSTEAD OF, not `{t}`"));
        }
    }
    if s.contains.is_some()
        && ![s.index.is_some(), s.view.is_some(), s.trigger.is_some(), s.function.is_some(), s.constraint.is_some()].contains(&true)
    {
        bad("`contains` applies to an index, view, trigger, function or constraint check".into());
    }
    let on_object = s.column.is_none() && (s.table.is_some() || s.view.is_some() || s.function.is_some());
    match (&s.grantee, &s.privileges) {
        (Some(_), Some(p)) if !p.is_empty() && on_object && s.index.is_none() && s.trigger.is_none() && s.constraint.is_none() => {}
        (None, None) => {}
        _ => bad("`grantee` and `privileges` go together, on a `table`, `view` or `function` check".into()),
    }
}

/// Every `${name}` anywhere in the runbook must name a declared or built-in variable.
fn check_vars(c: &mut Checker, doc: &Runbook) {
    let declared: BTreeSet<&str> = doc.vars.keys().map(String::as_str).chain(BUILTINS.iter().copied()).collect();
    let mut strings = Vec::new();
    if let Ok(v) = serde_json::to_value(doc) {
        collect_strings(&v, &mut strings);
    }
    let mut reported = BTreeSet::new();
    for s in strings {
        match vars::references(&s) {
            Ok(refs) => {
                for r in refs {
                    if !declared.contains(r.name.as_str()) && reported.insert(r.name.clone()) {
                        let pos = c.var_pos(&r.name);
                        let known = doc.vars.keys().cloned().collect::<Vec<_>>();
                        c.push(
                            pos,
                            format!("undefined variable `${{{}}}`", r.name),
                            Some(format!(
                                "declare it under `vars:`; declared: {}; built-in: {}",
                                if known.is_empty() { "none".into() } else { known.join(", ") },
                                BUILTINS.join(", ")
                            )),
                        );
                    }
                }
            }
            Err(bad) => {
                let snippet: String = s[bad.offset..].chars().take(12).collect();
                if reported.insert(snippet.clone()) {
                    let pos = c
                        .lines
                        .iter()
                        .enumerate()
                        .find_map(|(i, l)| l.find(&snippet).map(|b| Pos { line: i + 1, column: l[..b].chars().count() + 1 }))
                        .unwrap_or(Pos::UNKNOWN);
                    c.push(pos, bad.message, Some("write `$${` for a literal `${`".into()));
                }
            }
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.contains('$') => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| {
            if k.contains('$') {
                out.push(k.clone());
            }
            collect_strings(x, out)
        }),
        _ => {}
    }
}
