//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! with a timeline of the steps and a chart of every monitor check against its threshold.
//! It prints well, for a paper or PDF copy on the change record.
//!
//! Every piece of text from the journal goes through [`h`]; a Content-Security-Policy that
//! forbids scripts and fetches is a second line of defence if something ever slips through.

use std::fmt::Write;

use chrono::{DateTime, FixedOffset};

use super::markdown::short_time;
use super::{Evidence, RunRecord, StepRecord};
use crate::journal::{Mode, StepStatus};
use crate::runbook::duration::human;
use crate::runbook::PlanKind;

const CSS: &str = r#"
:root { --ok: #1a7f37; --fail: #cf222e; --skip: #8c959f; --warn: #bf8700; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1080px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; line-height: 1.25; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.sub { color: var(--muted); margin: 0 0 18px; }
.banner { display: flex; align-items: center; gap: 16px; padding: 14px 18px; border-radius: 8px; margin: 16px 0 20px; border: 1px solid; }
.banner.ok { background: #dafbe1; border-color: #9be9a8; }
.banner.fail { background: #ffebe9; border-color: #ffcecb; }
.banner.open { background: #fff8c5; border-color: #f0d77a; }
.banner .big { font-size: 20px; font-weight: 700; }
.banner .meta { color: var(--muted); }
.grid { display: grid; align-items: start; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); white-space: nowrap; }
table.kv th { width: 34%; }
table.kv, table.steps { font-size: 13px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff; }
.card h4 { margin: 0 0 6px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
code, pre { font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { background: var(--soft); padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; word-break: break-word; margin: 8px 0; }
.pill { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 600; color: #fff; white-space: nowrap; }
.pill.passed { background: var(--ok); } .pill.failed, .pill.aborted, .pill.interrupted { background: var(--fail); }
.pill.skipped { background: var(--skip); } .pill.notrun { background: #fff; color: var(--muted); border: 1px solid var(--line); }
.kind { font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; }
.step { border: 1px solid var(--line); border-left: 4px solid var(--skip); border-radius: 6px; padding: 12px 14px; margin: 12px 0; break-inside: avoid; }
.step.passed { border-left-color: var(--ok); } .step.failed, .step.aborted, .step.interrupted { border-left-color: var(--fail); }
.step .action { color: var(--muted); font-size: 12.5px; }
.step ul { margin: 8px 0; padding-left: 20px; }
.step li { margin: 2px 0; }
.err { color: var(--fail); font-weight: 600; }
.yes { color: var(--ok); font-weight: 700; } .no { color: var(--fail); font-weight: 700; }
.note { background: #ddf4ff; border: 1px solid #b6e3ff; border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
.rollback-tag { color: var(--warn); font-weight: 600; font-size: 12px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; }
.chart { margin: 10px 0; }
.legend { font-size: 12px; color: var(--muted); display: flex; gap: 14px; flex-wrap: wrap; margin: 4px 0 0; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
footer { margin-top: 32px; padding-top: 14px; border-top: 2px solid var(--ink); font-size: 13px; }
footer .seal { font-size: 13px; word-break: break-all; }
.chain-ok { color: var(--ok); font-weight: 700; } .chain-bad { color: var(--fail); font-weight: 700; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  .step, .card, .chart, table.steps tr { break-inside: avoid; }
  .banner, .pill, .step, code, pre { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// A sentence of the tool's own whose commands are marked with backticks (as Markdown writes
/// them): each marked part becomes `<code>`, everything escaped, no backtick shown.
fn prose(s: &str) -> String {
    s.split('`').enumerate().map(|(i, part)| if i % 2 == 1 { format!("<code>{}</code>", h(part)) } else { h(part) }).collect()
}

/// Escape text for HTML element content and attribute values.
pub fn h(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::markup::block(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn status_class(s: Option<StepStatus>) -> &'static str {
    s.map(|x| x.as_str()).unwrap_or("notrun")
}

fn status_label(s: Option<StepStatus>) -> &'static str {
    s.map(|x| x.as_str()).unwrap_or("not run")
}

fn dur(ms: Option<u64>) -> String {
    ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into())
}

fn parse_ts(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

pub fn render(r: &RunRecord) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let rehearsal = if r.mode == Mode::Rehearsal { " — REHEARSAL" } else { "" };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"runbook {}\">\n<title>Runbook report: {}{rehearsal}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        h(&r.tool_version),
        h(&r.title)
    );
    header(&mut o, r);
    let approvals = r.approval_lines();
    if !approvals.is_empty() {
        let _ = writeln!(o, "<h2>Approvals</h2>\n<ul>");
        for a in approvals {
            let _ = writeln!(o, "<li>{}</li>", prose(&a));
        }
        let _ = writeln!(o, "</ul>");
    }
    timeline(&mut o, r);
    summary(&mut o, r);
    let _ = writeln!(o, "<h2>Evidence</h2>");
    for (i, s) in r.steps.iter().enumerate() {
        step(&mut o, i + 1, s);
    }
    if !r.notes.is_empty() {
        let _ = writeln!(o, "<h2>Notes</h2>\n<ul>");
        for n in &r.notes {
            let _ = writeln!(o, "<li>{}</li>", h(n));
        }
        let _ = writeln!(o, "</ul>");
    }
    footer(&mut o, r);
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

fn header(o: &mut String, r: &RunRecord) {
    let rehearsal = if r.mode == Mode::Rehearsal { " — rehearsal" } else { "" };
    let _ = writeln!(o, "<h1>{}</h1>", h(&r.title));
    let _ = writeln!(o, "<p class=\"sub\">Runbook report{rehearsal} · run <code>{}</code> · {}</p>", h(&r.run_id), h(&r.plans_label()));
    let (class, text) = match r.outcome {
        Some(crate::journal::Outcome::Succeeded) => ("ok", r.outcome.map(|x| x.as_str()).unwrap_or_default()),
        Some(x) => ("fail", x.as_str()),
        None => ("open", "incomplete: the run did not finish"),
    };
    let passed = r.steps.iter().filter(|s| s.status == Some(StepStatus::Passed)).count();
    let _ = writeln!(
        o,
        "<div class=\"banner {class}\"><span class=\"big\">{}</span><span class=\"meta\">exit code {} · {passed} of {} step(s) passed · {} · operator {}</span></div>",
        h(&capitalise(text)),
        r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into()),
        r.steps.len(),
        h(&dur(r.duration_ms)),
        h(&r.operator)
    );
    o.push_str("<div class=\"grid\">\n");
    if let Some(t) = &r.ticket {
        let fields = t.fields();
        if !fields.is_empty() {
            o.push_str("<div class=\"card\"><h4>Change ticket</h4><table class=\"kv\">\n");
            for (k, v) in fields {
                let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", h(k), h(&v));
            }
            o.push_str("</table></div>\n");
        }
    }
    o.push_str("<div class=\"card\"><h4>Run</h4><table class=\"kv\">\n");
    for (k, v) in [
        ("Run id", format!("<code>{}</code>", h(&r.run_id))),
        ("Runbook", format!("{} (<code>{}</code>)", h(&r.runbook_path), h(&r.runbook_id))),
        ("Runbook sha256", format!("<code>{}</code>", h(&r.runbook_sha256))),
        ("Operator", h(&r.operator)),
        ("Host", h(&r.host)),
        ("Target", format!("<code>{}</code> ({})", h(&r.target), h(&r.db_version))),
        ("Confirmation", h(&r.confirmation)),
        ("Started", h(&r.started)),
        ("Finished", h(r.finished.as_deref().unwrap_or("–"))),
        ("Duration", h(&dur(r.duration_ms))),
        ("Tool", format!("runbook {}", h(&r.tool_version))),
    ] {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    o.push_str("</table></div>\n</div>\n");
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn bar_colour(s: Option<StepStatus>) -> &'static str {
    match s {
        Some(StepStatus::Passed) => "#1a7f37",
        Some(StepStatus::Failed) | Some(StepStatus::Aborted) | Some(StepStatus::Interrupted) => "#cf222e",
        Some(StepStatus::Skipped) => "#8c959f",
        None => "#d1d9e0",
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `span`.
fn tick_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{}h{:02}m", (s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor())
    } else if s >= 120.0 {
        format!("{}m{:02}s", (s / 60.0).floor(), (s % 60.0).round())
    } else if s.fract().abs() < 1e-9 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A bar per step on the run's time axis.
fn timeline(o: &mut String, r: &RunRecord) {
    let Some(start) = parse_ts(&r.started) else { return };
    let spans: Vec<Option<(f64, f64)>> = r
        .steps
        .iter()
        .map(|s| {
            let t0 = parse_ts(s.started.as_deref()?)?;
            let a = (t0 - start).num_milliseconds() as f64 / 1000.0;
            Some((a.max(0.0), a.max(0.0) + s.duration_ms.unwrap_or(0) as f64 / 1000.0))
        })
        .collect();
    let end_of_steps = spans.iter().flatten().map(|x| x.1).fold(0.0f64, f64::max);
    let total = r.duration_ms.map(|d| d as f64 / 1000.0).unwrap_or(0.0).max(end_of_steps).max(0.001);
    let (label_w, chart_w, row_h, top) = (250.0, 690.0, 24.0, 26.0);
    let width = label_w + chart_w + 20.0;
    let height = top + row_h * r.steps.len() as f64 + 12.0;
    let x = |t: f64| label_w + t / total * chart_w;

    let _ = writeln!(o, "<h2>Timeline</h2>");
    let _ = writeln!(
        o,
        "<div class=\"chart\"><svg role=\"img\" aria-label=\"Timeline of the steps\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let step = tick_step(total, 8.0);
    let mut t = 0.0;
    while t <= total + 1e-9 {
        let _ = writeln!(
            o,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#eaeef2\"/><text x=\"{0:.1}\" y=\"14\" font-size=\"11\" fill=\"#59636e\" text-anchor=\"middle\">{3}</text>",
            x(t),
            top - 6.0,
            height - 8.0,
            h(&fmt_secs(t))
        );
        t += step;
    }
    for (i, (s, span)) in r.steps.iter().zip(&spans).enumerate() {
        let y = top + row_h * i as f64;
        if i % 2 == 1 {
            let _ = writeln!(o, "<rect x=\"0\" y=\"{y:.1}\" width=\"{width:.0}\" height=\"{row_h}\" fill=\"#f6f8fa\"/>");
        }
        let prefix = if s.plan == PlanKind::Rollback { "↩ " } else { "" };
        let name: String = s.name.chars().take(34).collect();
        let name = if s.name.chars().count() > 34 { format!("{name}…") } else { name };
        let _ = writeln!(
            o,
            "<text x=\"6\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f2328\">{}. {}{}</text>",
            y + 16.0,
            i + 1,
            h(prefix),
            h(&name)
        );
        match span {
            Some((a, b)) => {
                let w = (x(*b) - x(*a)).max(3.0);
                let label = format!("{} · {}", status_label(s.status), dur(s.duration_ms));
                let _ = writeln!(
                    o,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"14\" rx=\"3\" fill=\"{}\"><title>{}</title></rect>",
                    x(*a),
                    y + 5.0,
                    bar_colour(s.status),
                    h(&format!("{}: {label}", s.name))
                );
                // The label goes after the bar, or inside it near the end of the axis.
                let (lx, anchor, fill) = if x(*a) + w + 150.0 < width {
                    (x(*a) + w + 5.0, "start", "#59636e")
                } else if w > 130.0 {
                    (x(*a) + w - 5.0, "end", "#ffffff")
                } else {
                    (x(*a) - 5.0, "end", "#59636e")
                };
                let _ = writeln!(
                    o,
                    "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{fill}\" text-anchor=\"{anchor}\">{}</text>",
                    y + 16.0,
                    h(&label)
                );
            }
            None => {
                let _ =
                    writeln!(o, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#8c959f\">not run</text>", label_w + 4.0, y + 16.0);
            }
        }
    }
    o.push_str("</svg>\n<div class=\"legend\"><span><i style=\"background:#1a7f37\"></i>passed</span><span><i style=\"background:#cf222e\"></i>failed or aborted</span><span><i style=\"background:#8c959f\"></i>skipped</span><span>↩ rollback plan</span></div></div>\n");
}

fn summary(o: &mut String, r: &RunRecord) {
    let _ = writeln!(o, "<h2>Summary</h2>\n<table class=\"steps\">\n<tr><th>#</th><th>Step</th><th>Kind</th><th>Status</th><th>Started</th><th>Duration</th><th>Confirmed by</th></tr>");
    for (i, s) in r.steps.iter().enumerate() {
        let rb = if s.plan == PlanKind::Rollback { "<span class=\"rollback-tag\">rollback</span> " } else { "" };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{rb}<a href=\"#step-{}\">{}</a></td><td><span class=\"kind\">{}</span></td><td><span class=\"pill {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            i + 1,
            h(&s.name),
            s.kind,
            status_class(s.status),
            status_label(s.status),
            h(s.started.as_deref().map(short_time).unwrap_or("–")),
            h(&dur(s.duration_ms)),
            h(s.confirmed_by.as_deref().unwrap_or("–"))
        );
    }
    o.push_str("</table>\n");
}

fn step(o: &mut String, n: usize, s: &StepRecord) {
    let _ = writeln!(o, "<section class=\"step {}\" id=\"step-{n}\">", status_class(s.status));
    let rb = if s.plan == PlanKind::Rollback { " <span class=\"rollback-tag\">rollback plan</span>" } else { "" };
    let _ = writeln!(
        o,
        "<h3><span>{n}. {}</span> <span class=\"kind\">{}</span> <span class=\"pill {}\">{}</span>{rb} <code>{}</code></h3>",
        h(&s.name),
        s.kind,
        status_class(s.status),
        status_label(s.status),
        h(&s.id)
    );
    if !s.action.trim().is_empty() {
        let _ = writeln!(o, "<pre class=\"action\">{}</pre>", h(s.action.trim_end()));
    }
    if let Some(e) = &s.error {
        let _ = writeln!(o, "<p class=\"err\">Failed: {}</p>", h(e));
    }
    let mut list_open = false;
    let mut samples: Vec<&Evidence> = Vec::new();
    for ev in &s.evidence {
        if matches!(ev, Evidence::Sample { .. }) {
            samples.push(ev);
            continue;
        }
        let block = matches!(ev, Evidence::Statement { .. } | Evidence::Command { .. } | Evidence::Http { .. } | Evidence::Note { .. });
        if block && list_open {
            o.push_str("</ul>\n");
            list_open = false;
        }
        if !block && !list_open {
            o.push_str("<ul>\n");
            list_open = true;
        }
        evidence(o, ev);
    }
    if list_open {
        o.push_str("</ul>\n");
    }
    if !samples.is_empty() {
        monitor_charts(o, &samples);
    }
    o.push_str("</section>\n");
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "<span class=\"yes\">✓</span>"
    } else {
        "<span class=\"no\">✗</span>"
    }
}

fn evidence(o: &mut String, ev: &Evidence) {
    match ev {
        Evidence::Statement { sql, rows_affected, kind, duration_ms } => {
            let _ = writeln!(o, "<pre><code>{}</code></pre><p>{} · {duration_ms} ms</p>", h(sql), super::outcome(*kind, *rows_affected));
        }
        Evidence::Assertion { check, expected, actual, passed } => {
            let _ = writeln!(
                o,
                "<li>{} {}: expected <code>{}</code>, actual <code>{}</code></li>",
                mark(*passed),
                h(check),
                h(expected),
                h(actual)
            );
        }
        Evidence::Backup { backup: b } => {
            let _ = writeln!(
                o,
                "<li>Backup <code>{}</code>: {} bytes, sha256 <code>{}</code>; {}; verified: {}</li>",
                h(&b.path),
                b.size,
                h(&b.sha256),
                h(&b.method),
                h(&b.verified)
            );
            if !b.tables.is_empty() {
                let t: Vec<String> = b.tables.iter().map(|(n, c)| format!("{n}: {c} rows")).collect();
                let _ = writeln!(o, "<li>Tables in the backup: {}</li>", h(&t.join(", ")));
            }
        }
        Evidence::Command { command, exit_code, stdout, stderr, truncated } => {
            let _ = writeln!(
                o,
                "<p>Command <code>{}</code> → exit code {}{}</p>",
                h(command),
                exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none (killed)".into()),
                if *truncated { " (output truncated)" } else { "" }
            );
            if !stdout.trim().is_empty() {
                let _ = writeln!(o, "<pre>{}</pre>", h(stdout.trim_end()));
            }
            if !stderr.trim().is_empty() {
                let _ = writeln!(o, "<p>stderr:</p><pre>{}</pre>", h(stderr.trim_end()));
            }
        }
        Evidence::Http { method, url, status, body_excerpt } => {
            let _ = writeln!(o, "<p>{} <code>{}</code> → HTTP {status}</p>", h(method), h(url));
            if !body_excerpt.is_empty() {
                let _ = writeln!(o, "<pre>{}</pre>", h(body_excerpt));
            }
        }
        Evidence::Checklist { item, confirmed, by, how } => {
            let _ = writeln!(o, "<li>{} {} — {}</li>", if *confirmed { "☑" } else { "☐" }, h(item), h(&super::by_how(by, how)));
        }
        Evidence::Note { by, text } => {
            let _ = writeln!(o, "<div class=\"note\"><strong>Note by {}:</strong> {}</div>", h(by), h(text));
        }
        Evidence::Sample { .. } | Evidence::QueryResult { .. } => {}
        Evidence::Decision { decision, by, how, reason } => {
            let _ = writeln!(
                o,
                "<li>Decision: <strong>{}</strong> by {}{}</li>",
                h(decision.as_str()),
                h(&super::by_how(by, how)),
                reason.as_deref().map(|r| format!(": {}", h(r))).unwrap_or_default()
            );
        }
        Evidence::Info { message } => {
            let _ = writeln!(o, "<li>{}</li>", h(message));
        }
    }
}

/// One monitor sample as charted: elapsed ms, value, passed, min, max.
type Point = (u64, Option<f64>, bool, Option<f64>, Option<f64>);

/// One chart per monitor check: the samples over time, and the threshold(s) as dashed lines.
fn monitor_charts(o: &mut String, samples: &[&Evidence]) {
    let mut checks: Vec<(&str, Vec<Point>)> = Vec::new();
    for ev in samples {
        if let Evidence::Sample { check, value, min, max, ok, elapsed_ms, .. } = ev {
            match checks.iter_mut().find(|(c, _)| c == check) {
                Some((_, v)) => v.push((*elapsed_ms, *value, *ok, *min, *max)),
                None => checks.push((check.as_str(), vec![(*elapsed_ms, *value, *ok, *min, *max)])),
            }
        }
    }
    for (name, pts) in checks {
        let min = pts.iter().rev().find_map(|p| p.3);
        let max = pts.iter().rev().find_map(|p| p.4);
        let bad = pts.iter().filter(|p| !p.2).count();
        let values: Vec<f64> = pts.iter().filter_map(|p| p.1).chain(min).chain(max).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        let pad = (hi - lo) * 0.15;
        let (lo, hi) = (if lo < 0.0 { lo - pad } else { lo }, hi + pad);
        let t_end = pts.iter().map(|p| p.0).max().unwrap_or(0).max(1) as f64 / 1000.0;
        let (left, right, top, bottom, w, hgt) = (56.0, 16.0, 14.0, 30.0, 960.0, 200.0);
        let pw = w - left - right;
        let ph = hgt - top - bottom;
        let x = |ms: u64| left + (ms as f64 / 1000.0) / t_end * pw;
        let y = |v: f64| top + (1.0 - (v - lo) / (hi - lo)) * ph;

        let bounds = match (min, max) {
            (Some(a), Some(b)) if a == b => format!("must equal {a}"),
            (Some(a), Some(b)) => format!("must stay within {a}…{b}"),
            (Some(a), None) => format!("must stay ≥ {a}"),
            (None, Some(b)) => format!("must stay ≤ {b}"),
            _ => "no threshold".into(),
        };
        let verdict =
            if bad == 0 { "all samples within the threshold".to_string() } else { format!("{bad} sample(s) crossed the threshold") };
        let _ = writeln!(
            o,
            "<div class=\"chart\"><p><strong>{}</strong> — {} sample(s), {}; {}</p>",
            h(name),
            pts.len(),
            h(&bounds),
            h(&verdict)
        );
        let _ = writeln!(
            o,
            "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {hgt}\" width=\"{w}\" height=\"{hgt}\" xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fbfcfd\" stroke=\"#d1d9e0\"/>",
            h(&format!("Samples of {name}"))
        );
        let ystep = tick_step(hi - lo, 4.0);
        let mut v = (lo / ystep).ceil() * ystep;
        while v <= hi + 1e-9 {
            let _ = writeln!(
                o,
                "<line x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#eaeef2\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" fill=\"#59636e\" text-anchor=\"end\">{label}</text>",
                x2 = left + pw,
                yy = y(v),
                tx = left - 6.0,
                ty = y(v) + 4.0,
                label = trim_num(v)
            );
            v += ystep;
        }
        let xstep = tick_step(t_end, 6.0);
        let mut t = 0.0;
        while t <= t_end + 1e-9 {
            let px = left + t / t_end * pw;
            let _ = writeln!(
                o,
                "<text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#59636e\" text-anchor=\"middle\">t+{}</text>",
                hgt - 10.0,
                h(&fmt_secs(t))
            );
            t += xstep;
        }
        let line: Vec<String> = pts.iter().filter_map(|p| p.1.map(|v| format!("{:.1},{:.1}", x(p.0), y(v)))).collect();
        if line.len() > 1 {
            let _ = writeln!(o, "<polyline points=\"{}\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\"/>", line.join(" "));
        }
        for (label, th) in [("max", max), ("min", min)] {
            if let Some(th) = th {
                let _ = writeln!(
                    o,
                    "<line x1=\"{left}\" x2=\"{x2:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#cf222e\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" fill=\"#cf222e\" text-anchor=\"end\">{label} {value}</text>",
                    x2 = left + pw,
                    yy = y(th),
                    tx = left + pw - 4.0,
                    ty = y(th) - 4.0,
                    value = trim_num(th)
                );
            }
        }
        for p in &pts {
            let (cy, fill) = match p.1 {
                Some(v) => (y(v), if p.2 { "#0969da" } else { "#cf222e" }),
                None => (top + ph, "#cf222e"),
            };
            let _ = writeln!(
                o,
                "<circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{fill}\"><title>{}</title></circle>",
                x(p.0),
                h(&format!("t+{:.1}s: {}", p.0 as f64 / 1000.0, p.1.map(trim_num).unwrap_or_else(|| "error".into())))
            );
        }
        o.push_str("</svg>\n<div class=\"legend\"><span><i style=\"background:#0969da\"></i>sample</span><span><i style=\"background:#cf222e\"></i>threshold / sample outside it</span></div></div>\n");
    }
}

fn trim_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn footer(o: &mut String, r: &RunRecord) {
    let class = if r.chain.status == super::ChainStatus::Broken { "chain-bad" } else { "chain-ok" };
    let _ = writeln!(
        o,
        "<footer><p><strong>Journal seal</strong> (sha256 of the journal's last line, {} lines): <code class=\"seal\">{}</code></p>\n\
         <p>Hash chain when this report was made: <span class=\"{class}\">{}</span>{}</p>\n\
         <p>To check a copy of <code>journal.jsonl</code> against this report: <code>runbook audit verify DIR --seal {}</code></p></footer>",
        r.journal_lines,
        h(&r.seal),
        h(r.chain.status.as_str()),
        if r.chain.detail.is_empty() { String::new() } else { format!(" — {}", h(&r.chain.detail)) },
        h(&r.seal)
    );
}
