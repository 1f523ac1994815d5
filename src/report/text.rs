//! The text report and the ticket note, built once as a [`Doc`] from the run record; Markdown
//! and Textile are two renderings of the same document ([`super::markup::render`]).

use super::doc::{b, c, heads, t, Block, Doc, Line};
use super::markup::{render, Markup};
use super::{Evidence, RunRecord};
use crate::journal::Mode;
use crate::runbook::duration::human;
use crate::runbook::PlanKind;

/// The full report in the format `m`.
pub fn report(r: &RunRecord, m: &dyn Markup) -> String {
    render(&report_doc(r), m)
}

/// The note posted to the change ticket in the format `m`.
pub fn note(r: &RunRecord, attachments: &[&'static str], m: &dyn Markup) -> String {
    render(&note_doc(r, attachments), m)
}

/// The full report: header, approvals, attempts, summary, evidence per step, notes, seal.
pub fn report_doc(r: &RunRecord) -> Doc {
    let mut d = Doc::default();
    let mode = if r.mode == Mode::Rehearsal { " — REHEARSAL" } else { "" };
    d.heading(1, vec![t(format!("Runbook report: {}{mode}", r.title))]);
    if let Some(tk) = &r.ticket {
        let fields = tk.fields();
        if !fields.is_empty() {
            let rows = fields.into_iter().map(|(k, v)| vec![vec![t(k)], vec![t(v)]]).collect();
            d.push(Block::Table { head: heads(&["Ticket field", "Value"]), rows });
        }
    }
    d.para(outcome_line(r));
    let kv = |k: &str, v: Line| vec![vec![t(k)], v];
    let rows = vec![
        kv("Run id", vec![c(&r.run_id)]),
        kv("Runbook", vec![t(format!("{} (", r.runbook_path)), c(&r.runbook_id), t(")")]),
        kv("Runbook sha256", vec![c(&r.runbook_sha256)]),
        kv("Plan", vec![t(r.plans_label())]),
        kv("Operator", vec![t(&r.operator)]),
        kv("Host", vec![t(&r.host)]),
        kv("Target", vec![c(&r.target), t(format!(" ({})", r.db_version))]),
        kv("Confirmation", vec![t(&r.confirmation)]),
        kv("Started", vec![t(&r.started)]),
        kv("Finished", vec![t(r.finished.as_deref().unwrap_or("–"))]),
        kv("Duration", vec![t(duration_words(r))]),
        kv("Tool", vec![t(format!("runbook {}", r.tool_version))]),
    ];
    d.push(Block::Table { head: heads(&["Run", ""]), rows });

    let approvals = r.approval_lines();
    if !approvals.is_empty() {
        d.heading(2, vec![t("Approvals")]);
        d.list(approvals.into_iter().map(|a| vec![t(a)]).collect());
    }
    if r.attempts.len() > 1 {
        d.heading(2, vec![t("Attempts")]);
        attempts(&mut d, r);
    }
    d.heading(2, vec![t("Summary")]);
    d.push(summary(r));

    d.heading(2, vec![t("Evidence")]);
    for (i, s) in r.steps.iter().enumerate() {
        if s.status.is_none() && s.evidence.is_empty() {
            continue;
        }
        d.heading(3, vec![t(format!("{}. {} (", i + 1, s.name)), c(&s.id), t(format!(", {})", s.kind))]);
        d.list(s.earlier_runs.iter().map(|run| vec![t(earlier_run(run))]).collect());
        if let Some(e) = &s.error {
            d.para(vec![b("Failed:"), t(format!(" {e}"))]);
        }
        evidence(&mut d, &s.evidence);
    }
    if !r.notes.is_empty() {
        d.heading(2, vec![t("Notes")]);
        d.list(r.notes.iter().map(|n| vec![t(n)]).collect());
    }
    d.push(Block::Rule);
    d.para(vec![
        t(format!("Journal seal (sha256 of its last line, {} lines, chain {}): ", r.journal_lines, super::chain_words(r))),
        c(&r.seal),
    ]);
    d.para(vec![t("Check it with "), c(format!("runbook audit verify RUN_DIR --seal {}", r.seal)), t(".")]);
    d
}

/// The ticket note: outcome, step summary and seal. The marker in its first line is how a
/// second post of the same run recognises the first.
pub fn note_doc(r: &RunRecord, attachments: &[&'static str]) -> Doc {
    let mut d = Doc::default();
    let mode = if r.mode == Mode::Rehearsal { " (rehearsal)" } else { "" };
    d.para(vec![b(format!("Runbook evidence{mode}")), t(" for runbook "), c(&r.runbook_id), t(": run "), c(&r.run_id)]);
    d.para(outcome_line(r));
    d.para(vec![
        t(format!("{} · operator {} · target ", r.title, r.operator)),
        c(&r.target),
        t(format!(" · started {} · duration {}", r.started, duration_words(r))),
    ]);
    if r.attempts.len() > 1 {
        attempts(&mut d, r);
    }
    d.push(summary(r));
    d.list(r.approval_lines().into_iter().map(|a| vec![t(a)]).collect());
    d.para(vec![t(format!("Journal seal ({} lines, chain {}): ", r.journal_lines, super::chain_words(r))), c(&r.seal)]);
    if !attachments.is_empty() {
        let mut line = vec![t("Attached: ")];
        for (i, a) in attachments.iter().enumerate() {
            if i > 0 {
                line.push(t(", "));
            }
            line.push(super::doc::Span::Attachment(a));
        }
        line.extend([
            t(". To check them: "),
            c(format!("runbook audit verify DIR --seal {}", r.seal)),
            t(" on a folder holding journal.jsonl."),
        ]);
        d.para(line);
    }
    d
}

fn outcome_line(r: &RunRecord) -> Line {
    let outcome = r.outcome.map(|x| x.as_str()).unwrap_or("incomplete (the run did not finish)");
    vec![b(format!("Outcome: {outcome}")), t(format!(" (exit code {})", r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into())))]
}

fn dur(ms: Option<u64>) -> String {
    ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into())
}

/// The run's duration; for a resumed run, also its wall-clock span and how many attempts.
pub fn duration_words(r: &RunRecord) -> String {
    match (r.duration_ms, r.span_ms) {
        (Some(d), Some(s)) if r.attempts.len() > 1 => {
            format!("{} in {} attempts ({} from first start to last end)", dur(Some(d)), r.attempts.len(), dur(Some(s)))
        }
        (d, _) => dur(d),
    }
}

/// An earlier run of a step, cut short when its attempt stopped, in words.
pub fn earlier_run(run: &super::StepRun) -> String {
    match run.status {
        Some(st) => {
            format!("Earlier run in attempt {}: started {}, {} after {}", run.attempt, run.started, st.as_str(), dur(run.duration_ms))
        }
        None => format!("Earlier run in attempt {}: started {}, cut off when the attempt was killed", run.attempt, run.started),
    }
}

/// One row per attempt: when it started and stopped, how long, how it ended.
fn attempts(d: &mut Doc, r: &RunRecord) {
    let rows = r
        .attempts
        .iter()
        .map(|a| {
            let who = a.resumed_by.as_deref().map(|w| format!("resume by {w}")).unwrap_or_else(|| "run".into());
            vec![
                vec![t(a.number.to_string())],
                vec![t(who)],
                vec![t(&a.started)],
                vec![t(&a.stopped)],
                vec![t(dur(Some(a.duration_ms)))],
                vec![t(&a.ended)],
            ]
        })
        .collect();
    d.push(Block::Table { head: heads(&["Attempt", "Started by", "Started", "Stopped", "Duration", "How it ended"]), rows });
}

/// The step summary table.
fn summary(r: &RunRecord) -> Block {
    let rows = r
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let plan = if s.plan == PlanKind::Rollback { "rollback: " } else { "" };
            vec![
                vec![t((i + 1).to_string())],
                vec![t(format!("{plan}{}", s.name))],
                vec![t(s.kind.to_string())],
                vec![t(match s.status.map(|x| x.ended()) {
                    Some(Some(x)) => status_mark(x.as_str()),
                    Some(None) => format!("⛔ {}", super::CUT_OFF),
                    None => "not run".into(),
                })],
                vec![t(s.started.as_deref().map(short_time).unwrap_or("–"))],
                vec![t(dur(s.duration_ms))],
                vec![t(s.confirmed_by.as_deref().unwrap_or("–"))],
            ]
        })
        .collect();
    Block::Table { head: heads(&["#", "Step", "Kind", "Status", "Started", "Duration", "Confirmed by"]), rows }
}

/// A step's evidence: short items gather into one list, code and tables stand alone.
fn evidence(d: &mut Doc, evidence: &[Evidence]) {
    let mut items: Vec<Line> = Vec::new();
    let mut checks: Vec<(bool, Line)> = Vec::new();
    let flush = |d: &mut Doc, items: &mut Vec<Line>, checks: &mut Vec<(bool, Line)>| {
        d.list(std::mem::take(items));
        if !checks.is_empty() {
            d.push(Block::Checklist(std::mem::take(checks)));
        }
    };
    for ev in evidence {
        match ev {
            Evidence::Statement { sql, rows_affected, kind, duration_ms } => {
                flush(d, &mut items, &mut checks);
                d.push(Block::Code { lang: "sql", text: sql.clone() });
                d.para(vec![t(format!("{} ({duration_ms} ms)", super::outcome(*kind, *rows_affected)))]);
            }
            Evidence::Assertion { check, expected, actual, passed } => items.push(vec![
                t(format!("{} {check}: expected ", if *passed { "✅" } else { "❌" })),
                c(expected),
                t(", actual "),
                c(actual),
            ]),
            Evidence::Backup { backup: bk } => {
                items.push(vec![t("Backup: "), c(&bk.path)]);
                items.push(vec![t(format!("Size: {} bytes", bk.size))]);
                items.push(vec![t("sha256: "), c(&bk.sha256)]);
                items.push(vec![t(format!("Method: {}; verified: {}", bk.method, bk.verified))]);
                if !bk.tables.is_empty() {
                    let tables: Vec<String> = bk.tables.iter().map(|(n, c)| format!("{n}: {c} rows")).collect();
                    items.push(vec![t(format!("Tables in the backup: {}", tables.join(", ")))]);
                }
            }
            Evidence::Command { command, exit_code, stdout, stderr, truncated } => {
                items.push(vec![t("Command: "), c(command)]);
                items.push(vec![t(format!(
                    "Exit code: {}{}",
                    exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none (killed)".into()),
                    if *truncated { " (output truncated)" } else { "" }
                ))]);
                if !stdout.trim().is_empty() || !stderr.trim().is_empty() {
                    flush(d, &mut items, &mut checks);
                }
                if !stdout.trim().is_empty() {
                    d.push(Block::Code { lang: "text", text: stdout.trim_end().to_string() });
                }
                if !stderr.trim().is_empty() {
                    d.para(vec![t("stderr:")]);
                    d.push(Block::Code { lang: "text", text: stderr.trim_end().to_string() });
                }
            }
            Evidence::Http { method, url, status, body_excerpt } => {
                items.push(vec![t(format!("{method} ")), c(url), t(format!(": HTTP {status}"))]);
                if !body_excerpt.is_empty() {
                    flush(d, &mut items, &mut checks);
                    d.push(Block::Code { lang: "json", text: body_excerpt.clone() });
                }
            }
            Evidence::Checklist { item, confirmed, by, how } => {
                checks.push((*confirmed, vec![t(format!("{item} — {}", super::by_how(by, how)))]))
            }
            Evidence::Note { by, text } => items.push(vec![t(format!("Note by {by}: {text}"))]),
            Evidence::Sample { check, value, min, max, ok, elapsed_ms, detail, attempt } => items.push(vec![t(format!(
                "{} {}t+{:.1}s {check}: {} (threshold {}){}",
                if *ok { "✅" } else { "❌" },
                if *attempt > 1 { format!("attempt {attempt}, ") } else { String::new() },
                *elapsed_ms as f64 / 1000.0,
                value.map(|v| v.to_string()).unwrap_or_else(|| "–".into()),
                super::threshold(*min, *max),
                detail.as_deref().map(|d| format!(" — {d}")).unwrap_or_default()
            ))]),
            Evidence::Decision { decision, by, how, reason } => items.push(vec![
                t("Decision: "),
                b(decision.as_str()),
                t(format!(" by {}{}", super::by_how(by, how), reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())),
            ]),
            Evidence::QueryResult { name, result } => {
                flush(d, &mut items, &mut checks);
                query_table(d, name, result);
            }
            Evidence::Info { message } => items.push(vec![t(message)]),
        }
    }
    flush(d, &mut items, &mut checks);
}

/// A report query's rows as a small table, saying when rows were left out.
fn query_table(d: &mut Doc, name: &str, q: &crate::db::QueryRows) {
    let shown = if q.truncated() { format!("first {} of {} rows", q.rows.len(), q.total) } else { format!("{} row(s)", q.total) };
    d.para(vec![t(format!("Report query \"{name}\" returned ({shown}):"))]);
    if q.rows.is_empty() {
        return;
    }
    let width = q.columns.len().max(q.rows.iter().map(|r| r.len()).max().unwrap_or(0));
    let head: Vec<String> = (0..width).map(|i| q.columns.get(i).cloned().unwrap_or_default()).collect();
    // Values as code, so leading and trailing spaces show; SQL NULL as the word, outside code.
    let rows = q
        .rows
        .iter()
        .map(|r| {
            (0..width)
                .map(|i| match r.get(i) {
                    Some(Some(v)) => vec![c(v)],
                    _ => vec![t("NULL")],
                })
                .collect()
        })
        .collect();
    d.push(Block::Table { head, rows });
}

fn status_mark(s: &str) -> String {
    match s {
        "passed" => "✅ passed".into(),
        "failed" => "❌ failed".into(),
        "skipped" => "⏭ skipped".into(),
        other => format!("⛔ {other}"),
    }
}

/// `HH:MM:SS` of an RFC 3339 time.
pub fn short_time(ts: &str) -> &str {
    ts.get(11..19).unwrap_or(ts)
}
