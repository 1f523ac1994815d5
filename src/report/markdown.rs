//! The CommonMark report, for pasting into the change ticket.

use std::fmt::Write;

use super::{Evidence, RunRecord};
use crate::journal::Mode;
use crate::runbook::duration::human;

pub fn render(r: &RunRecord) -> String {
    let mut o = String::new();
    let mode = if r.mode == Mode::Rehearsal { " — REHEARSAL" } else { "" };
    let _ = writeln!(o, "# Runbook report: {}{mode}\n", esc(&r.title));
    if let Some(t) = &r.ticket {
        let fields = t.fields();
        if !fields.is_empty() {
            o.push_str("| Ticket field | Value |\n|---|---|\n");
            for (k, v) in fields {
                let _ = writeln!(o, "| {k} | {} |", cell(&v));
            }
            o.push('\n');
        }
    }
    let outcome = r.outcome.map(|x| x.as_str()).unwrap_or("incomplete (the run did not finish)");
    let _ = writeln!(o, "**Outcome: {}** (exit code {})\n", outcome, r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into()));
    o.push_str("| Run | |\n|---|---|\n");
    // Values are Markdown already: text escaped, identifiers as code spans.
    for (k, v) in [
        ("Run id", code(&r.run_id)),
        ("Runbook", format!("{} ({})", esc(&r.runbook_path), code(&r.runbook_id))),
        ("Runbook sha256", code(&r.runbook_sha256)),
        ("Plan", esc(&r.plans_label())),
        ("Operator", esc(&r.operator)),
        ("Host", esc(&r.host)),
        ("Target", format!("{} ({})", code(&r.target), esc(&r.db_version))),
        ("Confirmation", esc(&r.confirmation)),
        ("Started", esc(&r.started)),
        ("Finished", esc(r.finished.as_deref().unwrap_or("–"))),
        ("Duration", esc(&r.duration_ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into()))),
        ("Tool", esc(&format!("runbook {}", r.tool_version))),
    ] {
        let _ = writeln!(o, "| {k} | {v} |");
    }
    o.push('\n');

    let approvals = r.approval_lines();
    if !approvals.is_empty() {
        o.push_str("## Approvals\n\n");
        for a in approvals {
            let _ = writeln!(o, "- {}", esc(&a));
        }
        o.push('\n');
    }
    o.push_str("## Summary\n\n");
    summary(&mut o, r);
    o.push('\n');

    o.push_str("## Evidence\n\n");
    for (i, s) in r.steps.iter().enumerate() {
        if s.status.is_none() && s.evidence.is_empty() {
            continue;
        }
        let _ = writeln!(o, "### {}. {} ({}, {})\n", i + 1, esc(&s.name), code(&s.id), s.kind);
        if let Some(e) = &s.error {
            let _ = writeln!(o, "**Failed:** {}\n", esc(e));
        }
        for ev in &s.evidence {
            evidence(&mut o, ev);
        }
        o.push('\n');
    }
    if !r.notes.is_empty() {
        o.push_str("## Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(o, "- {}", esc(n));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "---\nJournal seal (sha256 of its last line, {} lines, chain {}): {}  \nCheck it with {}.",
        r.journal_lines,
        esc(&super::chain_words(r)),
        code(&r.seal),
        code(&format!("runbook audit verify RUN_DIR --seal {}", r.seal))
    );
    o
}

/// The step summary table.
fn summary(o: &mut String, r: &RunRecord) {
    o.push_str("| # | Step | Kind | Status | Started | Duration | Confirmed by |\n|---|---|---|---|---|---|---|\n");
    for (i, s) in r.steps.iter().enumerate() {
        let plan = if s.plan == crate::runbook::PlanKind::Rollback { "rollback: " } else { "" };
        let _ = writeln!(
            o,
            "| {} | {plan}{} | {} | {} | {} | {} | {} |",
            i + 1,
            cell(&s.name),
            s.kind,
            s.status.map(|x| status_mark(x.as_str())).unwrap_or_else(|| "not run".into()),
            s.started.as_deref().map(short_time).unwrap_or("–"),
            s.duration_ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into()),
            cell(s.confirmed_by.as_deref().unwrap_or("–")),
        );
    }
}

/// The note posted to the change ticket: outcome, step summary and seal. The run id in its
/// first line is how a second post of the same run recognises the first.
pub fn note(r: &RunRecord, attachments: &[&str]) -> String {
    let mut o = String::new();
    let mode = if r.mode == Mode::Rehearsal { " (rehearsal)" } else { "" };
    let _ = writeln!(o, "**Runbook evidence{mode}** for {}: run {}\n", super::note_marker(r), code(&r.run_id));
    let outcome = r.outcome.map(|x| x.as_str()).unwrap_or("incomplete (the run did not finish)");
    let _ = writeln!(o, "**Outcome: {}** (exit code {})\n", outcome, r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into()));
    let _ = writeln!(
        o,
        "{} · operator {} · target {} · started {} · duration {}\n",
        esc(&r.title),
        esc(&r.operator),
        code(&r.target),
        esc(&r.started),
        r.duration_ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into())
    );
    summary(&mut o, r);
    o.push('\n');
    let approvals = r.approval_lines();
    for a in &approvals {
        let _ = writeln!(o, "- {}", esc(a));
    }
    if !approvals.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(o, "Journal seal ({} lines, chain {}): {}\n", r.journal_lines, esc(&super::chain_words(r)), code(&r.seal));
    if !attachments.is_empty() {
        let list: Vec<String> = attachments.iter().map(|a| format!("attachment:{a}")).collect();
        let _ = writeln!(
            o,
            "Attached: {}. To check them: {} on a folder holding journal.jsonl.",
            list.join(", "),
            code(&format!("runbook audit verify DIR --seal {}", r.seal))
        );
    }
    o
}

fn evidence(o: &mut String, ev: &Evidence) {
    match ev {
        Evidence::Statement { sql, rows_affected, kind, duration_ms } => {
            let _ = writeln!(o, "{}\n\n{} ({duration_ms} ms)\n", fence("sql", sql), super::outcome(*kind, *rows_affected));
        }
        Evidence::Assertion { check, expected, actual, passed } => {
            let _ =
                writeln!(o, "- {} {}: expected {}, actual {}", if *passed { "✅" } else { "❌" }, esc(check), code(expected), code(actual));
        }
        Evidence::QueryResult { .. } => {}
        Evidence::Backup { backup: b } => {
            let _ = writeln!(
                o,
                "- Backup: {}\n- Size: {} bytes\n- sha256: {}\n- Method: {}; verified: {}",
                code(&b.path),
                b.size,
                code(&b.sha256),
                esc(&b.method),
                esc(&b.verified)
            );
            if !b.tables.is_empty() {
                let t: Vec<String> = b.tables.iter().map(|(n, c)| format!("{n}: {c} rows")).collect();
                let _ = writeln!(o, "- Tables in the backup: {}", esc(&t.join(", ")));
            }
        }
        Evidence::Command { command, exit_code, stdout, stderr, truncated } => {
            let _ = writeln!(
                o,
                "- Command: {}\n- Exit code: {}{}",
                code(command),
                exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none (killed)".into()),
                if *truncated { " (output truncated)" } else { "" }
            );
            if !stdout.trim().is_empty() {
                let _ = writeln!(o, "\n{}", fence("text", stdout.trim_end()));
            }
            if !stderr.trim().is_empty() {
                let _ = writeln!(o, "\nstderr:\n\n{}", fence("text", stderr.trim_end()));
            }
        }
        Evidence::Http { method, url, status, body_excerpt } => {
            let _ = writeln!(o, "- {} {}: HTTP {status}", esc(method), code(url));
            if !body_excerpt.is_empty() {
                let _ = writeln!(o, "\n{}", fence("json", body_excerpt));
            }
        }
        Evidence::Checklist { item, confirmed, by, how } => {
            let _ = writeln!(o, "- [{}] {} — {}", if *confirmed { "x" } else { " " }, esc(item), esc(&super::by_how(by, how)));
        }
        Evidence::Note { by, text } => {
            let _ = writeln!(o, "- Note by {}: {}", esc(by), esc(text));
        }
        Evidence::Sample { check, value, min, max, ok, elapsed_ms, detail, .. } => {
            let bound = super::threshold(*min, *max);
            let _ = writeln!(
                o,
                "- {} t+{:.1}s {}: {} (threshold {}){}",
                if *ok { "✅" } else { "❌" },
                *elapsed_ms as f64 / 1000.0,
                esc(check),
                value.map(|v| v.to_string()).unwrap_or_else(|| "–".into()),
                bound,
                detail.as_deref().map(|d| format!(" — {}", esc(d))).unwrap_or_default()
            );
        }
        Evidence::Decision { decision, by, how, reason } => {
            let _ = writeln!(
                o,
                "- Decision: **{decision}** by {}{}",
                esc(&super::by_how(by, how)),
                reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default()
            );
        }
        Evidence::Info { message } => {
            let _ = writeln!(o, "- {}", esc(message));
        }
    }
}

pub(super) fn status_mark(s: &str) -> String {
    match s {
        "passed" => "✅ passed".into(),
        "failed" => "❌ failed".into(),
        "skipped" => "⏭ skipped".into(),
        other => format!("⛔ {other}"),
    }
}

pub(super) fn short_time(ts: &str) -> &str {
    ts.get(11..19).unwrap_or(ts)
}

use super::markup::{Markdown, Markup};

/// Escape text so that it renders literally (no HTML, no Markdown structure).
pub fn esc(s: &str) -> String {
    Markdown.text(s)
}

fn cell(s: &str) -> String {
    Markdown.text(s)
}

fn code(s: &str) -> String {
    Markdown.code(s)
}

fn fence(lang: &str, body: &str) -> String {
    Markdown.code_block(lang, body)
}
