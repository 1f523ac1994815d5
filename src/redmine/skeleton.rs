//! A runbook skeleton from a change ticket: the ticket's metadata, one step per numbered item of
//! its change plan and rollback plan (named as in the ticket), a kind guessed from the wording,
//! every SQL statement of the ticket placed verbatim in its step, and a `TODO` wherever the
//! ticket does not say what a step needs.
//!
//! What is missing becomes a declared variable without a value whose description starts with
//! `TODO:`. The skeleton passes `runbook validate`, and `runbook run` refuses to start until each
//! one is given (`--var`) or written into the file: nothing half-specified can run by accident.

use std::collections::BTreeSet;
use std::fmt::Write;

use regex::Regex;

use super::ticket::{numbered_items, ChangeTicket, PlanItem};
use crate::runbook::Kind;

/// One step of the skeleton.
#[derive(Debug, Clone)]
pub struct SkeletonStep {
    pub id: String,
    pub name: String,
    pub text: String,
    pub kind: Kind,
    pub sql: Vec<String>,
}

/// A variable the skeleton declares; `todo` ones have no value yet.
struct Var {
    name: String,
    description: String,
    default: Option<String>,
}

/// SQL statements in free text, verbatim: from a keyword that starts a statement to its `;`
/// (or the end of the text).
pub fn sql_statements(text: &str) -> Vec<String> {
    let re = Regex::new(
        r"(?is)\b(?:ALTER\s+TABLE|CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)|DROP\s+(?:TABLE|INDEX|VIEW|TRIGGER)|INSERT\s+INTO|UPDATE\s+[\w.`\x22]+\s+SET|DELETE\s+FROM|TRUNCATE\s+TABLE|SELECT\s+[^;]+?\s+FROM)\b[^;]*(?:;|$)",
    )
    .expect("static regex");
    re.find_iter(text).map(|m| m.as_str().trim().to_string()).filter(|s| s.len() > 10).collect()
}

/// The kind a step's wording suggests.
pub fn guess_kind(text: &str, has_sql: bool, only_select: bool) -> Kind {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["backup", "back up", "dump of the database", "snapshot of the database"]) {
        Kind::Backup
    } else if has_sql && !only_select {
        Kind::Sql
    } else if has(&["monitor", "watch the"]) {
        Kind::Monitor
    } else if has(&["verify", "check ", "check that", "validat", "confirm that"]) || (has_sql && only_select) {
        Kind::Verify
    } else if has(&["execute sql", "run sql", "run this sql", "sql to", "alter table", "add the column", "drop the column"]) {
        Kind::Sql
    } else {
        Kind::Manual
    }
}

/// "Backup Database - Take a full backup …" → ("Backup Database", "Take a full backup …");
/// an item without such a name is named by its first clause.
pub fn split_name(text: &str) -> (String, String) {
    let first = text.lines().next().unwrap_or("").trim();
    for sep in [" - ", " – ", " — "] {
        if let Some((name, rest)) = first.split_once(sep) {
            if !name.trim().is_empty() && name.chars().count() <= 60 {
                let mut desc = rest.trim().to_string();
                for l in text.lines().skip(1) {
                    desc.push('\n');
                    desc.push_str(l);
                }
                return (name.trim().to_string(), desc.trim().to_string());
            }
        }
    }
    let clause = first.split([':', ';']).next().unwrap_or(first).trim().trim_end_matches('.').trim();
    let mut name = String::new();
    for w in clause.split_whitespace() {
        if name.chars().count() + w.chars().count() > 90 {
            name.push('…');
            break;
        }
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(w);
    }
    (name, text.trim().to_string())
}

/// An id from a name: lower-case words joined by `-`, cut at a word boundary.
fn slug(s: &str) -> String {
    let lower = s.to_lowercase();
    let words = lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && out.len() + w.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        "step".into()
    } else {
        out.chars().take(60).collect()
    }
}

fn plan_steps(items: &[PlanItem], used: &mut BTreeSet<String>, prefix: &str) -> Vec<SkeletonStep> {
    items
        .iter()
        .map(|item| {
            let (name, text) = split_name(&item.text);
            let sql = sql_statements(&item.text);
            let only_select = !sql.is_empty() && sql.iter().all(|s| s.trim_start().to_uppercase().starts_with("SELECT"));
            let kind = guess_kind(&format!("{name} {text}"), !sql.is_empty(), only_select);
            let mut id = slug(&name);
            if used.contains(&id) {
                id = format!("{prefix}{id}");
            }
            let base = id.clone();
            let mut n = 2;
            while used.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            used.insert(id.clone());
            SkeletonStep { id, name, text, kind, sql }
        })
        .collect()
}

/// A YAML double-quoted string (JSON's escaping is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Every line break of ticket text as LF. A lone CR is a line break to YAML but not to
/// `str::lines`, so text split here must first agree with the parser on where lines end.
pub fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The ticket with every string's line breaks normalised (see [`normalise_newlines`]).
fn normalised(t: &ChangeTicket) -> ChangeTicket {
    let n = |s: &String| normalise_newlines(s);
    let o = |s: &Option<String>| s.as_deref().map(normalise_newlines);
    ChangeTicket {
        id: o(&t.id),
        url: o(&t.url),
        tracker: o(&t.tracker),
        subject: o(&t.subject),
        owner: o(&t.owner),
        status: o(&t.status),
        priority: o(&t.priority),
        start_date: o(&t.start_date),
        due_date: o(&t.due_date),
        estimate: o(&t.estimate),
        system: o(&t.system),
        change_type: o(&t.change_type),
        risk: o(&t.risk),
        impact: o(&t.impact),
        description: n(&t.description),
        reason: n(&t.reason),
        change_plan: n(&t.change_plan),
        rollback_plan: n(&t.rollback_plan),
    }
}

fn var_name(id: &str, suffix: &str) -> String {
    format!("{}_{suffix}", id.replace('-', "_"))
}

/// The skeleton as YAML text; `source` says where the ticket came from (for the header).
///
/// Ticket text reaches the YAML only as a serialized double-quoted scalar (`q`): escaped by
/// construction, whatever line breaks or indentation it holds, so it can never become structure.
pub fn render(t: &ChangeTicket, source: &str) -> String {
    let t = &normalised(t);
    let mut used = BTreeSet::new();
    let plan = plan_steps(&numbered_items(&t.change_plan), &mut used, "");
    let rollback = plan_steps(&numbered_items(&t.rollback_plan), &mut used, "rollback-");

    // Statements written outside the plans (description, reason) go to the first SQL step of the
    // change plan that has none; if there is no such step, they are listed in a comment.
    let placed: BTreeSet<String> = plan.iter().chain(&rollback).flat_map(|s| s.sql.clone()).collect();
    let loose: Vec<String> =
        sql_statements(&format!("{}\n{}", t.description, t.reason)).into_iter().filter(|s| !placed.contains(s)).collect();
    let mut plan = plan;
    let mut unplaced = Vec::new();
    if !loose.is_empty() {
        match plan.iter_mut().find(|s| s.kind == Kind::Sql && s.sql.is_empty()) {
            Some(s) => s.sql = loose,
            None => unplaced = loose,
        }
    }

    let mut vars: Vec<Var> = vec![Var {
        name: "database_url".into(),
        description: "TODO: URL of the database to change, e.g. postgres://user@db.internal/app (or pass --db)".into(),
        default: None,
    }];
    let mut todos = 0usize;
    let mut steps_yaml = String::new();
    for (title, steps) in [("plan", &plan), ("rollback", &rollback)] {
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(steps_yaml, "\n{title}:");
        for s in steps {
            step_yaml(&mut steps_yaml, s, &mut vars, &mut todos);
        }
    }
    if plan.is_empty() {
        todos += 1;
        steps_yaml.push_str(
            "\nplan:\n  # TODO: the ticket has no numbered change plan; write the steps here.\n  - id: change\n    name: Change\n    kind: manual\n    instructions: \"TODO: describe the change\"\n",
        );
    }

    let mut o = String::new();
    let _ = writeln!(o, "# Runbook skeleton imported from {source} by `runbook import`.");
    let _ = writeln!(o, "# Steps follow the ticket's numbered plans, in order and by name; kinds are guessed from the wording.");
    let _ = writeln!(o, "# Each of the {todos} TODO(s) marks something the ticket does not say. `runbook run` refuses to start");
    o.push_str("# while a variable below has no value, so give each one (--var NAME=VALUE) or write it in.\n");
    o.push_str("#   runbook validate FILE  →  runbook plan FILE --db URL  →  runbook run FILE --db URL\n");
    for s in &unplaced {
        let _ = writeln!(o, "# TODO: the ticket also has this SQL, not placed in a step: {}", q(s));
    }
    let subject = t.subject.clone().unwrap_or_else(|| "Imported change ticket".into());
    o.push_str("version: 1\n");
    let _ = writeln!(o, "id: {}", slug(&subject));
    let _ = writeln!(o, "title: {}", q(&subject));
    let mut desc = t.description.trim().to_string();
    if !t.reason.trim().is_empty() {
        desc.push_str("\n\nReason for change: ");
        desc.push_str(t.reason.trim());
    }
    if !desc.trim().is_empty() {
        let _ = writeln!(o, "description: {}", q(&desc));
    }
    o.push_str("ticket:\n");
    for (k, v) in [
        ("id", &t.id),
        ("url", &t.url),
        ("tracker", &t.tracker),
        ("subject", &t.subject),
        ("system", &t.system),
        ("change_type", &t.change_type),
        ("risk", &t.risk),
        ("impact", &t.impact),
        ("estimate", &t.estimate),
        ("owner", &t.owner),
        ("status", &t.status),
        ("priority", &t.priority),
        ("start_date", &t.start_date),
        ("due_date", &t.due_date),
    ] {
        match v {
            Some(v) => {
                let _ = writeln!(o, "  {k}: {}", q(v));
            }
            None if ["system", "change_type", "risk", "impact"].contains(&k) => {
                let _ = writeln!(o, "  # {k}: TODO (not in the ticket)");
            }
            None => {}
        }
    }
    o.push_str("\n# The database to change; --db overrides it.\ntarget: ${database_url}\n\nvars:\n");
    for v in &vars {
        let _ = writeln!(o, "  {}:", v.name);
        if let Some(d) = &v.default {
            let _ = writeln!(o, "    default: {}", q(d));
        }
        let _ = writeln!(o, "    description: {}", q(&v.description));
    }
    o.push_str(&steps_yaml);
    o
}

fn add_var(vars: &mut Vec<Var>, name: &str, description: String, default: Option<&str>) {
    if !vars.iter().any(|v| v.name == name) {
        vars.push(Var { name: name.into(), description, default: default.map(String::from) });
    }
}

fn step_yaml(o: &mut String, s: &SkeletonStep, vars: &mut Vec<Var>, todos: &mut usize) {
    let _ = writeln!(o, "  - id: {}", s.id);
    let _ = writeln!(o, "    name: {}", q(&s.name));
    let _ = writeln!(o, "    description: {}", q(&s.text));
    let _ = writeln!(o, "    kind: {}", s.kind);
    let summary: String = s.text.lines().next().unwrap_or("").chars().take(100).collect();
    match s.kind {
        Kind::Backup => {}
        Kind::Sql => {
            if s.sql.is_empty() {
                *todos += 1;
                let v = var_name(&s.id, "sql");
                let _ = writeln!(o, "    # TODO: the ticket gives no SQL for this step; write it here in place of ${{{v}}}.");
                let _ = writeln!(o, "    sql: ${{{v}}}");
                add_var(vars, &v, format!("TODO: the SQL of step `{}` ({summary})", s.id), None);
            } else {
                let _ = writeln!(o, "    sql: {}", q(&s.sql.join("\n")));
            }
        }
        Kind::Verify => {
            *todos += 1;
            let _ = writeln!(
                o,
                "    # TODO: turn this into schema: or queries: assertions; the query below must return 1 when the step holds."
            );
            o.push_str("    queries:\n");
            let _ = writeln!(o, "      - name: {}", q(&format!("TODO: {summary}")));
            match s.sql.first() {
                Some(sql) => {
                    let _ = writeln!(o, "        sql: {}", q(sql));
                    let _ = writeln!(o, "        # TODO: the value the ticket's query returns when the step holds");
                    let _ = writeln!(o, "        expect: 1");
                }
                None => {
                    let v = var_name(&s.id, "check");
                    let _ = writeln!(o, "        sql: ${{{v}}}");
                    let _ = writeln!(o, "        expect: 1");
                    add_var(vars, &v, format!("TODO: a query that returns 1 when this holds: {summary}"), None);
                }
            }
        }
        Kind::Monitor => {
            *todos += 1;
            add_var(vars, "monitor_duration", "How long each monitoring step watches.".into(), Some("15m"));
            add_var(vars, "monitor_interval", "Time between monitoring samples.".into(), Some("30s"));
            o.push_str("    duration: ${monitor_duration}\n    interval: ${monitor_interval}\n");
            let _ = writeln!(o, "    # TODO: say what to watch and the thresholds.");
            o.push_str("    checks:\n");
            let lower = s.text.to_lowercase();
            if lower.contains("log") {
                add_var(vars, "app_log", "TODO: the application's log file, watched for errors while monitoring".into(), None);
                o.push_str("      - name: errors in the application log\n        log: ${app_log}\n        pattern: \"(ERROR|FATAL)\"\n        max: 0\n");
            }
            if !lower.contains("log") || lower.contains("database") || lower.contains("report") || lower.contains("data") {
                let v = var_name(&s.id, "query");
                add_var(vars, &v, format!("TODO: a query whose value must stay 0 while monitoring: {summary}"), None);
                let _ = writeln!(o, "      - name: {}\n        query: ${{{v}}}\n        max: 0", q(&format!("TODO: {summary}")));
            }
        }
        _ => {
            let _ = writeln!(o, "    instructions: {}", q(&s.text.replace('\n', " ")));
            o.push_str("    checklist:\n");
            let _ = writeln!(o, "      - {}", q(&s.name));
        }
    }
}
