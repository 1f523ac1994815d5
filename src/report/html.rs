//! The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
//! with a timeline of the steps and attempts and a chart of every monitor check against its
//! threshold. It prints well, for a paper or PDF copy on the change record.
//!
//! The page is a maud template: every value spliced into it is escaped as HTML by the template
//! engine, so no call site can forget to; the only unescaped text is the tool's own stylesheet.
//! A Content-Security-Policy that forbids scripts and fetches is a second line of defence.

use chrono::{DateTime, FixedOffset};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::attempts::Attempt;
use super::markup::block;
use super::text::{duration_words, short_time};
use super::{Evidence, RunRecord, StepRecord};
use crate::journal::{Mode, StepStatus};
use crate::runbook::duration::human;
use crate::runbook::PlanKind;

const CSS: &str = include_str!("report.css");

/// A value as the page shows it: line endings made LF and control characters visible; the
/// template escapes the rest.
fn v(s: &str) -> String {
    block(s)
}

/// A step killed while it ran is drawn like an interrupted one: it started and never ended.
fn status_class(s: &StepRecord) -> &'static str {
    match s.status.map(|x| x.ended()) {
        Some(Some(x)) => x.as_str(),
        Some(None) => "interrupted",
        None => "notrun",
    }
}

fn status_label(s: &StepRecord) -> &'static str {
    s.state()
}

fn dur(ms: Option<u64>) -> String {
    ms.map(|d| human(std::time::Duration::from_millis(d))).unwrap_or_else(|| "–".into())
}

fn parse_ts(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// A sentence of the tool's own whose commands are marked with backticks: each marked part
/// becomes `<code>`, no backtick shown.
fn prose(s: &str) -> Markup {
    html! {
        @for (i, part) in s.split('`').enumerate() {
            @if i % 2 == 1 { code { (v(part)) } } @else { (v(part)) }
        }
    }
}

pub fn render(r: &RunRecord) -> String {
    let rehearsal = if r.mode == Mode::Rehearsal { " — REHEARSAL" } else { "" };
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            "\n"
            head {
                "\n" meta charset="utf-8";
                "\n" meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                "\n" meta name="viewport" content="width=device-width, initial-scale=1";
                "\n" meta name="generator" content=(format!("runbook {}", v(&r.tool_version)));
                "\n" title { "Runbook report: " (v(&r.title)) (rehearsal) }
                "\n" style { (PreEscaped(CSS)) }
                "\n"
            }
            "\n"
            body {
                "\n"
                main {
                    "\n"
                    (header(r))
                    @let approvals = r.approval_lines();
                    @if !approvals.is_empty() {
                        h2 { "Approvals" } "\n"
                        ul { @for a in &approvals { li { (prose(a)) } "\n" } } "\n"
                    }
                    (timeline(r))
                    @if r.attempts.len() > 1 { (attempts(r)) }
                    (summary(r))
                    h2 { "Evidence" } "\n"
                    @for (i, s) in r.steps.iter().enumerate() { (step(i + 1, s)) }
                    @if !r.notes.is_empty() {
                        h2 { "Notes" } "\n"
                        ul { @for n in &r.notes { li { (v(n)) } "\n" } } "\n"
                    }
                    (footer(r))
                }
                "\n"
            }
            "\n"
        }
        "\n"
    };
    page.into_string()
}

fn header(r: &RunRecord) -> Markup {
    let rehearsal = if r.mode == Mode::Rehearsal { " — rehearsal" } else { "" };
    let (class, text) = match r.outcome {
        Some(crate::journal::Outcome::Succeeded) => ("ok", "succeeded"),
        Some(x) => ("fail", x.as_str()),
        None => ("open", "incomplete: the run did not finish"),
    };
    let passed = r.steps.iter().filter(|s| s.status == Some(super::StepState::Passed)).count();
    let run_rows: Vec<(&str, Markup)> = vec![
        ("Run id", html! { code { (v(&r.run_id)) } }),
        ("Runbook", html! { (v(&r.runbook_path)) " (" code { (v(&r.runbook_id)) } ")" }),
        ("Runbook sha256", html! { code { (v(&r.runbook_sha256)) } }),
        ("Operator", html! { (v(&r.operator)) }),
        ("Host", html! { (v(&r.host)) }),
        ("Target", html! { code { (v(&r.target)) } " (" (v(&r.db_version)) ")" }),
        ("Confirmation", html! { (v(&r.confirmation)) }),
        ("Started", html! { (v(&r.started)) }),
        ("Finished", html! { (v(r.finished.as_deref().unwrap_or("–"))) }),
        ("Duration", html! { (duration_words(r)) }),
        ("Tool", html! { "runbook " (v(&r.tool_version)) }),
    ];
    html! {
        h1 { (v(&r.title)) } "\n"
        p.sub { "Runbook report" (rehearsal) " · run " code { (v(&r.run_id)) } " · " (r.plans_label()) } "\n"
        div class=(format!("banner {class}")) {
            span.big { (capitalise(text)) }
            span.meta {
                "exit code " (r.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".into()))
                " · " (passed) " of " (r.steps.len()) " step(s) passed · " (duration_words(r)) " · operator " (v(&r.operator))
            }
        } "\n"
        div.grid {
            "\n"
            @if let Some(fields) = r.ticket.as_ref().map(|t| t.fields()).filter(|f| !f.is_empty()) {
                div.card {
                    h4 { "Change ticket" }
                    table.kv { "\n" @for (k, val) in &fields { tr { th { (k) } td { (v(val)) } } "\n" } }
                } "\n"
            }
            div.card {
                h4 { "Run" }
                table.kv { "\n" @for (k, val) in &run_rows { tr { th { (k) } td { (val) } } "\n" } }
            } "\n"
        } "\n"
    }
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

/// A number for an SVG attribute, one decimal.
fn n1(x: f64) -> String {
    format!("{x:.1}")
}

/// A bar per step on the run's time axis; for a resumed run, a band per attempt behind the bars,
/// labelled with how the attempt ended.
fn timeline(r: &RunRecord) -> Markup {
    let Some(start) = parse_ts(&r.started) else { return html! {} };
    let secs = |ts: &str| parse_ts(ts).map(|t| ((t - start).num_milliseconds() as f64 / 1000.0).max(0.0));
    let spans: Vec<Option<(f64, f64)>> = r
        .steps
        .iter()
        .map(|s| {
            let a = secs(s.started.as_deref()?)?;
            Some((a, a + s.duration_ms.unwrap_or(0) as f64 / 1000.0))
        })
        .collect();
    let end_of_steps = spans.iter().flatten().map(|x| x.1).fold(0.0f64, f64::max);
    let end_of_attempts = r.attempts.iter().filter_map(|a| secs(&a.stopped)).fold(0.0f64, f64::max);
    let total = r.span_ms.or(r.duration_ms).map(|d| d as f64 / 1000.0).unwrap_or(0.0).max(end_of_steps).max(end_of_attempts).max(0.001);
    let banded = r.attempts.len() > 1;
    let (label_w, chart_w, row_h) = (250.0, 690.0, 24.0);
    let top = if banded { 44.0 } else { 26.0 };
    let width = label_w + chart_w + 20.0;
    let height = top + row_h * r.steps.len() as f64 + 12.0;
    let x = |t: f64| label_w + t / total * chart_w;
    let step = tick_step(total, 8.0);
    let ticks: Vec<f64> = (0..).map(|i| i as f64 * step).take_while(|t| *t <= total + 1e-9).collect();
    html! {
        h2 { "Timeline" } "\n"
        div.chart {
            svg role="img" aria-label="Timeline of the steps" viewBox=(format!("0 0 {width:.0} {height:.0}")) width=(format!("{width:.0}")) height=(format!("{height:.0}")) xmlns="http://www.w3.org/2000/svg" {
                "\n"
                @if banded {
                    @for a in &r.attempts { (attempt_band(a, &secs, &x, top, height)) }
                }
                @for t in &ticks {
                    line x1=(n1(x(*t))) y1=(n1(top - 6.0)) x2=(n1(x(*t))) y2=(n1(height - 8.0)) stroke="#eaeef2" {}
                    text x=(n1(x(*t))) y="14" font-size="11" fill="#59636e" text-anchor="middle" { (fmt_secs(*t)) } "\n"
                }
                @for (i, (s, span)) in r.steps.iter().zip(&spans).enumerate() {
                    (timeline_row(i, s, *span, top + row_h * i as f64, row_h, width, label_w, &x))
                    @for run in &s.earlier_runs { (earlier_bar(r, run, &secs, &x, top + row_h * i as f64)) }
                }
            } "\n"
            div.legend {
                span { i style="background:#1a7f37" {} "passed" }
                span { i style="background:#cf222e" {} "failed or aborted" }
                span { i style="background:#8c959f" {} "skipped" }
                span { "↩ rollback plan" }
                @if banded { span { i style="background:#ddf4ff" {} "attempt (run, then each resume)" } }
            }
        } "\n"
    }
}

/// The band of one attempt on the timeline, with its number and how it ended.
fn attempt_band(a: &Attempt, secs: &dyn Fn(&str) -> Option<f64>, x: &dyn Fn(f64) -> f64, top: f64, height: f64) -> Markup {
    let (Some(s0), Some(s1)) = (secs(&a.started), secs(&a.stopped)) else { return html! {} };
    let (x0, x1) = (x(s0), x(s1).max(x(s0) + 2.0));
    let fill = if a.number % 2 == 1 { "#ddf4ff" } else { "#eef6ff" };
    let end_colour = if a.outcome == Some(crate::journal::Outcome::Succeeded) { "#1a7f37" } else { "#cf222e" };
    html! {
        rect x=(n1(x0)) y=(n1(top - 22.0)) width=(n1(x1 - x0)) height=(n1(height - top + 14.0)) fill=(fill) {
            title { (format!("attempt {}: {} → {} ({}), {}", a.number, a.started, a.stopped, dur(Some(a.duration_ms)), v(&a.ended))) }
        }
        line x1=(n1(x1)) y1=(n1(top - 22.0)) x2=(n1(x1)) y2=(n1(height - 8.0)) stroke=(end_colour) stroke-width="1.5" stroke-dasharray="3 3" {}
        text x=(n1(x0 + 3.0)) y=(n1(top - 10.0)) font-size="10" fill="#0969da" { (format!("attempt {}", a.number)) } "\n"
    }
}

/// A paler bar for an earlier run of a step, cut short when its attempt stopped; a run killed
/// outright lasts until the last line its attempt journaled.
fn earlier_bar(r: &RunRecord, run: &super::StepRun, secs: &dyn Fn(&str) -> Option<f64>, x: &dyn Fn(f64) -> f64, y: f64) -> Markup {
    let Some(a) = secs(&run.started) else { return html! {} };
    let end = match run.duration_ms {
        Some(ms) => Some(a + ms as f64 / 1000.0),
        None => r.attempts.iter().find(|t| t.number == run.attempt).and_then(|t| secs(&t.stopped)),
    };
    let b = end.unwrap_or(a);
    let colour = if run.status.is_some() { bar_colour(run.status) } else { "#cf222e" };
    html! {
        rect x=(n1(x(a))) y=(n1(y + 5.0)) width=(n1((x(b) - x(a)).max(3.0))) height="14" rx="3" fill=(colour) fill-opacity="0.45" stroke=(colour) stroke-dasharray="3 2" {
            title { (v(&super::text::earlier_run(run))) }
        } "\n"
    }
}

#[allow(clippy::too_many_arguments)]
fn timeline_row(
    i: usize,
    s: &StepRecord,
    span: Option<(f64, f64)>,
    y: f64,
    row_h: f64,
    width: f64,
    label_w: f64,
    x: &dyn Fn(f64) -> f64,
) -> Markup {
    let prefix = if s.plan == PlanKind::Rollback { "↩ " } else { "" };
    let name: String = s.name.chars().take(34).collect();
    let name = if s.name.chars().count() > 34 { format!("{name}…") } else { name };
    html! {
        @if i % 2 == 1 { rect x="0" y=(n1(y)) width=(format!("{width:.0}")) height=(row_h) fill="#f6f8fa" fill-opacity="0.6" {} }
        text x="6" y=(n1(y + 16.0)) font-size="12" fill="#1f2328" { (i + 1) ". " (prefix) (v(&name)) } "\n"
        @match span {
            Some((a, b)) => {
                @let w = (x(b) - x(a)).max(3.0);
                @let label = format!("{} · {}", status_label(s), dur(s.duration_ms));
                // The label goes after the bar, or inside it near the end of the axis.
                @let (lx, anchor, fill) = if x(a) + w + 150.0 < width {
                    (x(a) + w + 5.0, "start", "#59636e")
                } else if w > 130.0 {
                    (x(a) + w - 5.0, "end", "#ffffff")
                } else {
                    (x(a) - 5.0, "end", "#59636e")
                };
                rect x=(n1(x(a))) y=(n1(y + 5.0)) width=(n1(w)) height="14" rx="3" fill=(bar_colour(s.status.and_then(super::StepState::ended))) {
                    title { (v(&s.name)) ": " (label) }
                }
                text x=(n1(lx)) y=(n1(y + 16.0)) font-size="11" fill=(fill) text-anchor=(anchor) { (label) } "\n"
            }
            None => {
                text x=(n1(label_w + 4.0)) y=(n1(y + 16.0)) font-size="11" fill="#8c959f" { "not run" } "\n"
            }
        }
    }
}

/// The attempts of a resumed run: when each started and stopped, and how it ended.
fn attempts(r: &RunRecord) -> Markup {
    html! {
        h2 { "Attempts" } "\n"
        table.steps {
            tr { th { "Attempt" } th { "Started by" } th { "Started" } th { "Stopped" } th { "Duration" } th { "How it ended" } } "\n"
            @for a in &r.attempts {
                tr {
                    td { (a.number) }
                    td { @match &a.resumed_by { Some(w) => { "resume by " (v(w)) }, None => "run" } }
                    td { (v(&a.started)) }
                    td { (v(&a.stopped)) }
                    td { (dur(Some(a.duration_ms))) }
                    td { (prose(&a.ended)) }
                } "\n"
            }
        } "\n"
    }
}

fn summary(r: &RunRecord) -> Markup {
    html! {
        h2 { "Summary" } "\n"
        table.steps {
            tr { th { "#" } th { "Step" } th { "Kind" } th { "Status" } th { "Started" } th { "Duration" } th { "Confirmed by" } } "\n"
            @for (i, s) in r.steps.iter().enumerate() {
                tr {
                    td { (i + 1) }
                    td {
                        @if s.plan == PlanKind::Rollback { span.rollback-tag { "rollback" } " " }
                        a href=(format!("#step-{}", i + 1)) { (v(&s.name)) }
                    }
                    td { span.kind { (s.kind) } }
                    td { span class=(format!("pill {}", status_class(s))) { (status_label(s)) } }
                    td { (v(s.started.as_deref().map(short_time).unwrap_or("–"))) }
                    td { (dur(s.duration_ms)) }
                    td { (v(s.confirmed_by.as_deref().unwrap_or("–"))) }
                } "\n"
            }
        } "\n"
    }
}

/// Evidence items that are short enough to be list items.
fn listed(ev: &Evidence) -> bool {
    !matches!(
        ev,
        Evidence::Statement { .. }
            | Evidence::Command { .. }
            | Evidence::Http { .. }
            | Evidence::Note { .. }
            | Evidence::QueryResult { .. }
    )
}

fn step(n: usize, s: &StepRecord) -> Markup {
    // Consecutive list items share one list; blocks stand alone; samples become charts.
    let mut groups: Vec<Vec<&Evidence>> = Vec::new();
    for ev in s.evidence.iter().filter(|e| !matches!(e, Evidence::Sample { .. })) {
        match groups.last_mut() {
            Some(g) if listed(ev) && g.first().is_some_and(|f| listed(f)) => g.push(ev),
            _ => groups.push(vec![ev]),
        }
    }
    let samples: Vec<&Evidence> = s.evidence.iter().filter(|e| matches!(e, Evidence::Sample { .. })).collect();
    html! {
        section class=(format!("step {}", status_class(s))) id=(format!("step-{n}")) {
            "\n"
            h3 {
                span { (n) ". " (v(&s.name)) } " "
                span.kind { (s.kind) } " "
                span class=(format!("pill {}", status_class(s))) { (status_label(s)) }
                @if s.plan == PlanKind::Rollback { " " span.rollback-tag { "rollback plan" } }
                " " code { (v(&s.id)) }
            } "\n"
            @if !s.action.trim().is_empty() { pre.action { (v(s.action.trim_end())) } "\n" }
            @if !s.earlier_runs.is_empty() {
                ul { @for run in &s.earlier_runs { li { (v(&super::text::earlier_run(run))) } "\n" } } "\n"
            }
            @if let Some(e) = &s.error { p.err { "Failed: " (v(e)) } "\n" }
            @for g in &groups {
                @if listed(g[0]) {
                    ul { "\n" @for ev in g { (evidence(ev)) "\n" } } "\n"
                } @else {
                    (evidence(g[0])) "\n"
                }
            }
            @if !samples.is_empty() { (monitor_charts(&samples)) }
        } "\n"
    }
}

fn mark(ok: bool) -> Markup {
    html! { @if ok { span.yes { "✓" } } @else { span.no { "✗" } } }
}

fn evidence(ev: &Evidence) -> Markup {
    match ev {
        Evidence::Statement { sql, rows_affected, kind, duration_ms } => html! {
            pre { code { (v(sql)) } } p { (super::outcome(*kind, *rows_affected)) " · " (duration_ms) " ms" }
        },
        Evidence::Assertion { check, expected, actual, passed } => html! {
            li { (mark(*passed)) " " (v(check)) ": expected " code { (v(expected)) } ", actual " code { (v(actual)) } }
        },
        Evidence::Backup { backup: b } => html! {
            li { "Backup " code { (v(&b.path)) } ": " (b.size) " bytes, sha256 " code { (v(&b.sha256)) } "; " (v(&b.method)) "; verified: " (v(&b.verified)) }
            @if !b.tables.is_empty() {
                "\n" li { "Tables in the backup: " (v(&b.tables.iter().map(|(n, c)| format!("{n}: {c} rows")).collect::<Vec<_>>().join(", "))) }
            }
        },
        Evidence::Command { command, exit_code, stdout, stderr, truncated } => html! {
            p {
                "Command " code { (v(command)) } " → exit code " (exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none (killed)".into()))
                @if *truncated { " (output truncated)" }
            }
            @if !stdout.trim().is_empty() { pre { (v(stdout.trim_end())) } }
            @if !stderr.trim().is_empty() { p { "stderr:" } pre { (v(stderr.trim_end())) } }
        },
        Evidence::Http { method, url, status, body_excerpt } => html! {
            p { (v(method)) " " code { (v(url)) } " → HTTP " (status) }
            @if !body_excerpt.is_empty() { pre { (v(body_excerpt)) } }
        },
        Evidence::Checklist { item, confirmed, by, how } => html! {
            li { (if *confirmed { "☑" } else { "☐" }) " " (v(item)) " — " (v(&super::by_how(by, how))) }
        },
        Evidence::Note { by, text } => html! {
            div.note { strong { "Note by " (v(by)) ":" } " " (v(text)) }
        },
        Evidence::Sample { .. } => html! {},
        Evidence::Decision { decision, by, how, reason } => html! {
            li { "Decision: " strong { (decision.as_str()) } " by " (v(&super::by_how(by, how))) @if let Some(r) = reason { ": " (v(r)) } }
        },
        Evidence::QueryResult { name, result } => query_table(name, result),
        Evidence::Info { message } => html! { li { (v(message)) } },
    }
}

/// A report query's first rows as a table; SQL NULL shown as the word, apart from the values.
fn query_table(name: &str, q: &crate::db::QueryRows) -> Markup {
    let width = q.columns.len().max(q.rows.iter().map(|r| r.len()).max().unwrap_or(0));
    let shown = if q.truncated() { format!("first {} of {} rows", q.rows.len(), q.total) } else { format!("{} row(s)", q.total) };
    html! {
        p { "Report query " strong { (v(name)) } " returned (" (shown) "):" }
        @if !q.rows.is_empty() {
            "\n"
            table.rows {
                tr { @for i in 0..width { th { (v(q.columns.get(i).map(String::as_str).unwrap_or(""))) } } } "\n"
                @for row in &q.rows {
                    tr {
                        @for i in 0..width {
                            @match row.get(i) {
                                Some(Some(val)) => td { code { (v(val)) } },
                                _ => td.null { "NULL" },
                            }
                        }
                    } "\n"
                }
            }
        }
    }
}

/// One monitor sample as charted: elapsed ms, value, passed, min, max.
type Point = (u64, Option<f64>, bool, Option<f64>, Option<f64>);

/// One chart per monitor check and attempt: the samples over time, and the threshold(s) as
/// dashed lines. A monitor resumed after an interruption starts over, so each attempt's samples
/// get their own time axis instead of being drawn over each other.
fn monitor_charts(samples: &[&Evidence]) -> Markup {
    let mut checks: Vec<((&str, usize), Vec<Point>)> = Vec::new();
    for ev in samples {
        if let Evidence::Sample { check, value, min, max, ok, elapsed_ms, attempt, .. } = ev {
            let key = (check.as_str(), *attempt);
            let p = (*elapsed_ms, *value, *ok, *min, *max);
            match checks.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(p),
                None => checks.push((key, vec![p])),
            }
        }
    }
    let several = checks.iter().map(|((_, a), _)| *a).collect::<std::collections::BTreeSet<_>>().len() > 1;
    html! {
        @for ((name, attempt), pts) in &checks {
            (chart(name, several.then_some(*attempt), pts))
        }
    }
}

fn chart(name: &str, attempt: Option<usize>, pts: &[Point]) -> Markup {
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
    let y = |val: f64| top + (1.0 - (val - lo) / (hi - lo)) * ph;
    let bounds = match (min, max) {
        (Some(a), Some(b)) if a == b => format!("must equal {a}"),
        (Some(a), Some(b)) => format!("must stay within {a}…{b}"),
        (Some(a), None) => format!("must stay ≥ {a}"),
        (None, Some(b)) => format!("must stay ≤ {b}"),
        _ => "no threshold".into(),
    };
    let verdict = if bad == 0 { "all samples within the threshold".to_string() } else { format!("{bad} sample(s) crossed the threshold") };
    let ystep = tick_step(hi - lo, 4.0);
    let yticks: Vec<f64> = (0..).map(|i| (lo / ystep).ceil() * ystep + i as f64 * ystep).take_while(|t| *t <= hi + 1e-9).collect();
    let xstep = tick_step(t_end, 6.0);
    let xticks: Vec<f64> = (0..).map(|i| i as f64 * xstep).take_while(|t| *t <= t_end + 1e-9).collect();
    let line: Vec<String> = pts.iter().filter_map(|p| p.1.map(|val| format!("{:.1},{:.1}", x(p.0), y(val)))).collect();
    let when = attempt.map(|a| format!(" (attempt {a})")).unwrap_or_default();
    html! {
        div.chart {
            p { strong { (v(name)) } (when) " — " (pts.len()) " sample(s), " (bounds) "; " (verdict) } "\n"
            svg role="img" aria-label=(format!("Samples of {}{when}", v(name))) viewBox=(format!("0 0 {w} {hgt}")) width=(w) height=(hgt) xmlns="http://www.w3.org/2000/svg" {
                rect x=(left) y=(top) width=(pw) height=(ph) fill="#fbfcfd" stroke="#d1d9e0" {} "\n"
                @for t in &yticks {
                    line x1=(left) x2=(n1(left + pw)) y1=(n1(y(*t))) y2=(n1(y(*t))) stroke="#eaeef2" {}
                    text x=(n1(left - 6.0)) y=(n1(y(*t) + 4.0)) font-size="11" fill="#59636e" text-anchor="end" { (trim_num(*t)) } "\n"
                }
                @for t in &xticks {
                    text x=(n1(left + t / t_end * pw)) y=(n1(hgt - 10.0)) font-size="11" fill="#59636e" text-anchor="middle" { "t+" (fmt_secs(*t)) } "\n"
                }
                @if line.len() > 1 {
                    polyline points=(line.join(" ")) fill="none" stroke="#0969da" stroke-width="2" {} "\n"
                }
                @for (label, th) in [("max", max), ("min", min)] {
                    @if let Some(th) = th {
                        line x1=(left) x2=(n1(left + pw)) y1=(n1(y(th))) y2=(n1(y(th))) stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4" {}
                        text x=(n1(left + pw - 4.0)) y=(n1(y(th) - 4.0)) font-size="11" fill="#cf222e" text-anchor="end" { (label) " " (trim_num(th)) } "\n"
                    }
                }
                @for p in pts {
                    @let (cy, fill) = match p.1 {
                        Some(val) => (y(val), if p.2 { "#0969da" } else { "#cf222e" }),
                        None => (top + ph, "#cf222e"),
                    };
                    circle cx=(n1(x(p.0))) cy=(n1(cy)) r="3.5" fill=(fill) {
                        title { (format!("t+{:.1}s: {}", p.0 as f64 / 1000.0, p.1.map(trim_num).unwrap_or_else(|| "error".into()))) }
                    } "\n"
                }
            } "\n"
            div.legend {
                span { i style="background:#0969da" {} "sample" }
                span { i style="background:#cf222e" {} "threshold / sample outside it" }
            }
        } "\n"
    }
}

fn trim_num(val: f64) -> String {
    if (val - val.round()).abs() < 1e-9 {
        format!("{}", val.round() as i64)
    } else {
        format!("{val:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn footer(r: &RunRecord) -> Markup {
    let class = if r.chain.status == super::ChainStatus::Broken { "chain-bad" } else { "chain-ok" };
    html! {
        footer {
            p { strong { "Journal seal" } " (sha256 of the journal's last line, " (r.journal_lines) " lines): " code.seal { (v(&r.seal)) } } "\n"
            p {
                "Hash chain when this report was made: " span class=(class) { (r.chain.status.as_str()) }
                @if !r.chain.detail.is_empty() { " — " (v(&r.chain.detail)) }
            } "\n"
            p { "To check a copy of " code { "journal.jsonl" } " against this report: " code { "runbook audit verify DIR --seal " (v(&r.seal)) } }
        } "\n"
    }
}
