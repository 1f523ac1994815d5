//! The Textile report, for Redmine installations whose text format is still Textile.
//!
//! Everything that comes from the journal is written as numeric entities where Textile would
//! read it as markup, so a step name like `*_drop_*` or an operator note with `<script>` shows
//! as typed. Code goes into `<code>` and `<pre><code>`, whose text Redmine shows verbatim.

use std::fmt::Write;

use super::markdown::{short_time, status_mark};
use super::{Evidence, RunRecord};
use crate::journal::Mode;
use crate::runbook::duration::human;

pub fn render(r: &RunRecord) -> String {
    let mut o = String::new();
    let mode = if r.mode == Mode::Rehearsal { " — REHEARSAL" } else { "" };
    let _ = writeln!(o, "h1. Runbook report: {}{mode}\n", esc(&r.title));
    if let Some(t) = &r.ticket {
        let fields = t.fields();
        if !fields.is_empty() {
            o.push_str("|_. Ticket field |_. Value |\n");
            for (k, v) in fields {
                let _ = writeln!(o, "| {k} | {} |", esc(&v));
            }
            o.push('\n');
        }
    }
    let _ = writeln!(o, "*Outcome: {}* (exit code {})\n", esc(outcome(r)), exit(r));
    o.push_str("|_. Run |_. |\n");
    for (k, v) in [
        ("Run id", esc(&r.run_id)),
        ("Runbook", format!("{} ({})", esc(&r.runbook_path), esc(&r.runbook_id))),
        ("Runbook sha256", esc(&r.runbook_sha256)),
        ("Plan", r.plans_label()),
        ("Operator", esc(&r.operator)),
        ("Host", esc(&r.host)),
        ("Target", format!("{} ({})", esc(&r.target), esc(&r.db_version))),
        ("Confirmation", esc(&r.confirmation)),
        ("Started", esc(&r.started)),
        ("Finished", esc(r.finished.as_deref().unwrap_or("–"))),
        ("Duration", duration(r.duration_ms)),
        ("Tool", format!("runbook {}", esc(&r.tool_version))),
    ] {
        let _ = writeln!(o, "| {k} | {v} |");
    }
    o.push('\n');

    let approvals = r.approval_lines();
    if !approvals.is_empty() {
        o.push_str("h2. Approvals\n\n");
        for a in approvals {
            let _ = writeln!(o, "* {}", esc(&a));
        }
        o.push('\n');
    }
    o.push_str("h2. Summary\n\n");
    summary(&mut o, r);
    o.push('\n');

    o.push_str("h2. Evidence\n\n");
    for (i, s) in r.steps.iter().enumerate() {
        if s.status.is_none() && s.evidence.is_empty() {
            continue;
        }
        let _ = writeln!(o, "h3. {}. {} ({}, {})\n", i + 1, esc(&s.name), code(&s.id), s.kind);
        if let Some(e) = &s.error {
            let _ = writeln!(o, "*Failed:* {}\n", esc(e));
        }
        let mut list = false;
        for ev in &s.evidence {
            list = evidence(&mut o, ev, list);
        }
        o.push('\n');
    }
    if !r.notes.is_empty() {
        o.push_str("h2. Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(o, "* {}", esc(n));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "Journal seal (sha256 of its last line, {} lines, chain {}): {}\nCheck it with {}.",
        r.journal_lines,
        esc(&super::chain_words(r)),
        code(&r.seal),
        code(&format!("runbook audit verify RUN_DIR --seal {}", r.seal))
    );
    o
}

/// The note posted to a Textile Redmine: outcome, step summary and seal.
pub fn note(r: &RunRecord, attachments: &[&str]) -> String {
    let mut o = String::new();
    let mode = if r.mode == Mode::Rehearsal { " (rehearsal)" } else { "" };
    let _ = writeln!(o, "*Runbook evidence{mode}* for {}: run {}\n", esc(&super::note_marker(r)), code(&r.run_id));
    let _ = writeln!(o, "*Outcome: {}* (exit code {})\n", esc(outcome(r)), exit(r));
    let _ = writeln!(
        o,
        "{} · operator {} · target {} · started {} · duration {}\n",
        esc(&r.title),
        esc(&r.operator),
        code(&r.target),
        esc(&r.started),
        duration(r.duration_ms)
    );
    summary(&mut o, r);
    o.push('\n');
    let approvals = r.approval_lines();
    for a in &approvals {
        let _ = writeln!(o, "* {}", esc(a));
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

fn summary(o: &mut String, r: &RunRecord) {
    o.push_str("|_. # |_. Step |_. Kind |_. Status |_. Started |_. Duration |_. Confirmed by |\n");
    for (i, s) in r.steps.iter().enumerate() {
        let plan = if s.plan == crate::runbook::PlanKind::Rollback { "rollback: " } else { "" };
        let _ = writeln!(
            o,
            "| {} | {plan}{} | {} | {} | {} | {} | {} |",
            i + 1,
            esc(&s.name),
            s.kind,
            esc(&s.status.map(|x| status_mark(x.as_str())).unwrap_or_else(|| "not run".into())),
            s.started.as_deref().map(short_time).unwrap_or("–"),
            duration(s.duration_ms),
            esc(s.confirmed_by.as_deref().unwrap_or("–")),
        );
    }
}

fn outcome(r: &RunRecord) -> &'static str {
    r.outcome.map(|x| x.as_str()).unwrap_or("incomplete (the run did not finish)")
}

fn exit(r: &RunRecord) -> String {
    r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into())
}

fn duration(ms: Option<u64>) -> String {
    ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into())
}

/// Write one piece of evidence; `list` says whether a bullet list is open, and the return
/// value whether one is open after it (Textile needs a blank line around block elements).
fn evidence(o: &mut String, ev: &Evidence, list: bool) -> bool {
    let block = |o: &mut String, list: bool| {
        if list {
            o.push('\n');
        }
    };
    match ev {
        Evidence::Statement { sql, rows_affected, kind, duration_ms } => {
            block(o, list);
            let _ = writeln!(o, "{}\n\n{} ({duration_ms} ms)\n", pre("sql", sql), super::outcome(*kind, *rows_affected));
            false
        }
        Evidence::Assertion { check, expected, actual, passed } => {
            let _ =
                writeln!(o, "* {} {}: expected {}, actual {}", if *passed { "✅" } else { "❌" }, esc(check), code(expected), code(actual));
            true
        }
        Evidence::QueryResult { .. } => list,
        Evidence::Backup { backup: b } => {
            let _ = writeln!(
                o,
                "* Backup: {}\n* Size: {} bytes\n* sha256: {}\n* Method: {}; verified: {}",
                code(&b.path),
                b.size,
                code(&b.sha256),
                esc(&b.method),
                esc(&b.verified)
            );
            if !b.tables.is_empty() {
                let t: Vec<String> = b.tables.iter().map(|(n, c)| format!("{n}: {c} rows")).collect();
                let _ = writeln!(o, "* Tables in the backup: {}", esc(&t.join(", ")));
            }
            true
        }
        Evidence::Command { command, exit_code, stdout, stderr, truncated } => {
            let _ = writeln!(
                o,
                "* Command: {}\n* Exit code: {}{}",
                code(command),
                exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none (killed)".into()),
                if *truncated { " (output truncated)" } else { "" }
            );
            let mut open = true;
            if !stdout.trim().is_empty() {
                let _ = writeln!(o, "\n{}\n", pre("text", stdout.trim_end()));
                open = false;
            }
            if !stderr.trim().is_empty() {
                let _ = writeln!(o, "{}stderr:\n\n{}\n", if open { "\n" } else { "" }, pre("text", stderr.trim_end()));
                open = false;
            }
            open
        }
        Evidence::Http { method, url, status, body_excerpt } => {
            let _ = writeln!(o, "* {} {}: HTTP {status}", esc(method), code(url));
            if !body_excerpt.is_empty() {
                let _ = writeln!(o, "\n{}\n", pre("json", body_excerpt));
                return false;
            }
            true
        }
        Evidence::Checklist { item, confirmed, by, how } => {
            let _ = writeln!(o, "* {} {} — {}", if *confirmed { "☑" } else { "☐" }, esc(item), esc(&super::by_how(by, how)));
            true
        }
        Evidence::Note { by, text } => {
            let _ = writeln!(o, "* Note by {}: {}", esc(by), esc(text));
            true
        }
        Evidence::Sample { check, value, min, max, ok, elapsed_ms, detail, .. } => {
            let bound = super::threshold(*min, *max);
            let _ = writeln!(
                o,
                "* {} t+{:.1}s {}: {} (threshold {}){}",
                if *ok { "✅" } else { "❌" },
                *elapsed_ms as f64 / 1000.0,
                esc(check),
                value.map(|v| v.to_string()).unwrap_or_else(|| "–".into()),
                esc(&bound),
                detail.as_deref().map(|d| format!(" — {}", esc(d))).unwrap_or_default()
            );
            true
        }
        Evidence::Decision { decision, by, how, reason } => {
            let _ = writeln!(
                o,
                "* Decision: *{}* by {}{}",
                esc(decision.as_str()),
                esc(&super::by_how(by, how)),
                reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default()
            );
            true
        }
        Evidence::Info { message } => {
            let _ = writeln!(o, "* {}", esc(message));
            true
        }
    }
}

use super::markup::{Markup, Textile};

/// Escape text so that Textile shows it literally (see [`Textile`]).
pub fn esc(s: &str) -> String {
    Textile.text(s)
}

fn code(s: &str) -> String {
    Textile.code(s)
}

fn pre(lang: &str, body: &str) -> String {
    Textile.code_block(lang, body)
}
