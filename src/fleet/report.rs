//! `runbook report FLEET_DIR`: one document for the ticket — the targets × steps matrix with
//! statuses and durations, the waves on a timeline, the failures with their first error, and
//! the totals — built from `fleet.jsonl` and each target's latest run journal, one at a time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::state::{FleetState, Status};
use crate::error::{Error, Result};
use crate::journal::{self, Event, StepStatus};
use crate::report::markdown::Markdown;
use crate::report::markup::Markup;
use crate::report::textile::Textile;
use crate::report::Format;

#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub fleet_id: String,
    pub mode: String,
    pub title: String,
    pub runbook_id: String,
    pub runbook_sha256: String,
    pub operator: String,
    pub started: String,
    pub outcome: String,
    pub root: Option<String>,
    pub steps: Vec<String>,
    pub waves: Vec<WaveRow>,
    /// `scope: fleet` steps, each run once for the whole fleet.
    pub fleet_steps: Vec<FleetStepRow>,
    pub targets: Vec<TargetRow>,
    pub totals: Totals,
    /// The bake after each wave that had one, from the `bake_sample` lines; absent when no
    /// wave was baked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bake: Vec<BakeWave>,
}

/// What the bake after one wave sampled.
#[derive(Debug, Serialize)]
pub struct BakeWave {
    pub wave: usize,
    /// Time from the bake's start to its last sample.
    pub duration_ms: u64,
    pub checks: Vec<BakeCheck>,
}

/// One check of one monitor step on one target, over the bake.
#[derive(Debug, Serialize)]
pub struct BakeCheck {
    pub target: String,
    pub step_id: String,
    pub check: String,
    pub samples: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The first sample outside its thresholds (or unreadable), if any.
    pub breach: Option<String>,
}

/// Summarise the `bake_sample` lines per wave, and per target and check within a wave, in the
/// order they were first sampled.
fn bake(entries: &[super::journal::FleetEntry]) -> Vec<BakeWave> {
    let mut waves: Vec<BakeWave> = Vec::new();
    for e in entries {
        let super::journal::FleetEvent::BakeSample { wave, target, step_id, check, value, ok, elapsed_ms, detail } = &e.event else {
            continue;
        };
        if waves.last().is_none_or(|w| w.wave != *wave) {
            waves.push(BakeWave { wave: *wave, duration_ms: 0, checks: Vec::new() });
        }
        let w = waves.last_mut().expect("pushed above");
        w.duration_ms = w.duration_ms.max(*elapsed_ms);
        let at = match w.checks.iter().position(|c| c.target == *target && c.step_id == *step_id && c.check == *check) {
            Some(i) => i,
            None => {
                w.checks.push(BakeCheck {
                    target: target.clone(),
                    step_id: step_id.clone(),
                    check: check.clone(),
                    samples: 0,
                    min: None,
                    max: None,
                    breach: None,
                });
                w.checks.len() - 1
            }
        };
        let c = &mut w.checks[at];
        c.samples += 1;
        if let Some(v) = value {
            c.min = Some(c.min.map_or(*v, |m| m.min(*v)));
            c.max = Some(c.max.map_or(*v, |m| m.max(*v)));
        }
        if !ok && c.breach.is_none() {
            let read = value.map(|v| v.to_string()).unwrap_or_else(|| "error".into());
            let why = detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
            c.breach = Some(format!("{read} at t+{:.1}s{why}", *elapsed_ms as f64 / 1000.0));
        }
    }
    waves
}

/// A sampled value as the bake table shows it.
fn value(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

#[derive(Debug, Serialize)]
pub struct FleetStepRow {
    pub step_id: String,
    pub status: String,
    pub detail: String,
    pub duration_ms: u64,
    pub log: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WaveRow {
    pub wave: usize,
    pub targets: Vec<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Cell {
    pub status: String,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct TargetRow {
    pub name: String,
    pub target: String,
    pub wave: usize,
    pub status: String,
    pub attempts: u32,
    pub run_dir: Option<String>,
    pub seal: Option<String>,
    pub first_error: Option<String>,
    pub duration_ms: u64,
    /// Step id → what happened to it in the latest run.
    pub steps: BTreeMap<String, Cell>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub targets: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub not_started: usize,
    /// Started and not ended: a signal stopped the fleet while their runs ran (or it died);
    /// `fleet resume` continues them. Absent when none, so older reports read unchanged.
    #[serde(skip_serializing_if = "is_zero")]
    pub in_flight: usize,
    pub runs: usize,
    pub retries: usize,
    pub prompts: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The totals' mention of targets in flight, when there are any.
fn in_flight(t: &Totals) -> String {
    if t.in_flight > 0 {
        format!(", {} in flight", t.in_flight)
    } else {
        String::new()
    }
}

pub fn build(dir: &Path) -> Result<FleetReport> {
    let entries = super::journal::read(dir)?;
    let state = FleetState::from_entries(&entries)?;
    let fleet_steps = entries
        .iter()
        .filter_map(|e| match &e.event {
            super::journal::FleetEvent::FleetStepFinished { step_id, status, detail, log, duration_ms } => Some(FleetStepRow {
                step_id: step_id.clone(),
                status: status.clone(),
                detail: detail.clone(),
                duration_ms: *duration_ms,
                log: log.clone(),
            }),
            _ => None,
        })
        .collect();
    let latest = state.latest();
    let mut steps: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for t in &state.targets {
        let run = latest.get(t.name.as_str());
        let status = match state.status.get(&t.name) {
            Some(Status::Finished { outcome, .. }) => outcome.clone(),
            Some(Status::InFlight { .. }) => "in flight".into(),
            Some(Status::Awaiting { step_id, .. }) => format!("waiting for fleet step {step_id}"),
            _ => "not started".into(),
        };
        let mut cells = BTreeMap::new();
        let mut by_fleet = std::collections::BTreeSet::new();
        if let Some(rd) = run.and_then(|r| r.run_dir.as_ref()) {
            let (entries, _) = journal::read(&dir.join(rd))?;
            for e in entries {
                match e.event {
                    Event::RunStarted(crate::journal::RunHeader { steps: outline, .. }) => {
                        for s in outline {
                            if !steps.contains(&s.id) {
                                steps.push(s.id);
                            }
                        }
                    }
                    Event::StepFinished { step_id, status, duration_ms, .. } => {
                        let status = if by_fleet.contains(&step_id) { FLEET.to_string() } else { status.as_str().to_string() };
                        cells.insert(step_id, Cell { status, duration_ms });
                    }
                    Event::FleetStep { step_id, reference: Some(_) } => {
                        by_fleet.insert(step_id);
                    }
                    _ => {}
                }
            }
        }
        rows.push(TargetRow {
            name: t.name.clone(),
            target: t.target.clone(),
            wave: state.wave_of(&t.name),
            status,
            attempts: state.runs.iter().filter(|r| r.target == t.name).count() as u32,
            run_dir: run.and_then(|r| r.run_dir.clone()),
            seal: run.and_then(|r| r.seal.clone()),
            first_error: run.filter(|r| !r.succeeded()).and_then(|r| r.first_error.clone()),
            duration_ms: run.map(|r| r.duration_ms).unwrap_or(0),
            steps: cells,
        });
    }
    let succeeded = state.status.values().filter(|s| matches!(s, Status::Finished { exit_code: 0, .. })).count();
    let failed = state.failures();
    let in_flight = state.status.values().filter(|s| matches!(s, Status::InFlight { .. })).count();
    Ok(FleetReport {
        fleet_id: state.fleet_id.clone(),
        mode: state.mode.clone(),
        title: state.title.clone(),
        runbook_id: state.runbook_id.clone(),
        runbook_sha256: state.runbook_sha256.clone(),
        operator: state.operator.clone(),
        started: state.started.clone(),
        outcome: state.finished.as_ref().map(|f| f.2.clone()).unwrap_or_else(|| "in progress (or killed)".into()),
        root: state.finished.as_ref().map(|f| f.0.clone()),
        steps,
        waves: state
            .waves
            .iter()
            .enumerate()
            .map(|(i, w)| WaveRow {
                wave: i + 1,
                targets: w.targets.clone(),
                started: w.started.first().cloned(),
                finished: w.finished.last().cloned(),
            })
            .collect(),
        fleet_steps,
        totals: Totals {
            targets: state.targets.len(),
            succeeded,
            failed,
            not_started: state.targets.len() - succeeded - failed - in_flight,
            in_flight,
            runs: state.runs.len(),
            retries: state.runs.iter().filter(|r| r.attempt > 1).count(),
            prompts: state.prompts,
        },
        targets: rows,
        bake: bake(&entries),
    })
}

pub fn render(r: &FleetReport, format: Format) -> Result<String> {
    match format {
        Format::Markdown => Ok(markdown(r)),
        Format::Html => Ok(html(r)),
        Format::Json => serde_json::to_string_pretty(r).map_err(|e| Error::failed(format!("fleet report: {e}"))),
        Format::Textile => Ok(textile(r)),
    }
}

/// A cell's status when the step was done once for the whole fleet, not in the target's run.
const FLEET: &str = "done by the fleet";

fn cell_text(c: Option<&Cell>) -> String {
    match c {
        None => "–".into(),
        Some(c) => {
            let mark = match c.status.as_str() {
                s if s == StepStatus::Passed.as_str() => "✓",
                s if s == StepStatus::Failed.as_str() => "✗",
                s if s == StepStatus::Skipped.as_str() => "skip",
                FLEET => return "✓ fleet".into(),
                other => other,
            };
            format!("{mark} {}", ms(c.duration_ms))
        }
    }
}

fn ms(d: u64) -> String {
    if d < 1000 {
        format!("{d} ms")
    } else {
        format!("{:.1} s", d as f64 / 1000.0)
    }
}

/// The Markdown and Textile reports are one layout over the reports' [`Markup`] layer: every
/// outside value (target names, URLs, errors, operator) goes through its escaping, and the
/// format alone lays out headings, tables and lists.
fn markdown(r: &FleetReport) -> String {
    text(r, &Markdown)
}

fn textile(r: &FleetReport) -> String {
    text(r, &Textile)
}

fn text(r: &FleetReport, m: &dyn Markup) -> String {
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut blocks = vec![m.heading(1, &m.text(&format!("Fleet {}: {}", r.fleet_id, r.title)))];
    blocks.push(format!(
        "Runbook {} (sha256 {}) · {} · operator {} · started {}",
        m.code(&r.runbook_id),
        m.code(&r.runbook_sha256),
        m.text(&r.mode),
        m.text(&r.operator),
        m.text(&r.started)
    ));
    let t = &r.totals;
    blocks.push(format!(
        "{} — {} targets: {} succeeded, {} failed, {} not started{}; {} runs ({} retries); {} prompt(s).",
        m.strong(&m.text(&format!("Outcome: {}", r.outcome))),
        t.targets,
        t.succeeded,
        t.failed,
        t.not_started,
        in_flight(t),
        t.runs,
        t.retries,
        t.prompts
    ));
    if let Some(root) = &r.root {
        blocks.push(format!("Fleet root (Merkle root over the target seals): {}", m.code(root)));
    }
    blocks.push(m.heading(2, "Waves"));
    let rows: Vec<Vec<String>> = r
        .waves
        .iter()
        .map(|w| {
            vec![
                w.wave.to_string(),
                format!("{} ({})", w.targets.len(), m.text(&w.targets.join(", "))),
                m.text(w.started.as_deref().unwrap_or("–")),
                m.text(w.finished.as_deref().unwrap_or("–")),
            ]
        })
        .collect();
    blocks.push(m.table(&strs(&["Wave", "Targets", "Started", "Finished"]), &rows));
    if !r.fleet_steps.is_empty() {
        blocks.push(m.heading(2, "Fleet steps (once for the whole fleet)"));
        let rows: Vec<Vec<String>> =
            r.fleet_steps.iter().map(|s| vec![m.text(&s.step_id), m.text(&s.status), m.text(&s.detail), ms(s.duration_ms)]).collect();
        blocks.push(m.table(&strs(&["Step", "Status", "Detail", "Duration"]), &rows));
    }
    if !r.bake.is_empty() {
        blocks.push(m.heading(2, "Bake"));
        for w in &r.bake {
            blocks.push(format!("Bake after wave {}: {} sampled.", w.wave, ms(w.duration_ms)));
            let rows: Vec<Vec<String>> = w
                .checks
                .iter()
                .map(|c| {
                    vec![
                        m.text(&c.target),
                        m.text(&format!("{} · {}", c.step_id, c.check)),
                        c.samples.to_string(),
                        value(c.min),
                        value(c.max),
                        m.text(c.breach.as_deref().unwrap_or("none")),
                    ]
                })
                .collect();
            blocks.push(m.table(&strs(&["Target", "Check", "Samples", "Min", "Max", "Breach"]), &rows));
        }
    }
    blocks.push(m.heading(2, "Targets × steps"));
    let mut head = strs(&["Target", "Wave", "Outcome", "Attempts"]);
    head.extend(r.steps.iter().map(|s| m.text(s)));
    head.push("Duration".into());
    let rows: Vec<Vec<String>> = r
        .targets
        .iter()
        .map(|row| {
            let mut cells = vec![m.text(&row.name), row.wave.to_string(), m.text(&row.status), row.attempts.to_string()];
            cells.extend(r.steps.iter().map(|s| m.text(&cell_text(row.steps.get(s)))));
            cells.push(ms(row.duration_ms));
            cells
        })
        .collect();
    blocks.push(m.table(&head, &rows));
    let failures: Vec<String> = r
        .targets
        .iter()
        .filter_map(|x| {
            let e = x.first_error.as_deref()?;
            Some(format!("{} (wave {}): {}", m.strong(&m.text(&x.name)), x.wave, m.text(e)))
        })
        .collect();
    if !failures.is_empty() {
        blocks.push(m.heading(2, "Failures"));
        blocks.push(m.list(&failures));
    }
    blocks.push(m.heading(2, "Seals"));
    let rows: Vec<Vec<String>> = r
        .targets
        .iter()
        .map(|row| {
            vec![
                m.text(&row.name),
                m.text(row.run_dir.as_deref().unwrap_or("–")),
                row.seal.as_deref().map(|s| m.code(s)).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    blocks.push(m.table(&strs(&["Target", "Run folder", "Seal"]), &rows));
    let mut o = blocks.join("\n\n");
    o.push('\n');
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(r: &FleetReport) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    o.push_str(&esc(&format!("Fleet {}: {}", r.fleet_id, r.title)));
    o.push_str("</title><style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}.passed{background:#dfd}.failed{background:#fdd}.skipped{background:#eee}.bar{display:inline-block;height:12px;background:#58a}</style></head><body>\n");
    o.push_str(&format!("<h1>{}</h1>\n", esc(&format!("Fleet {}: {}", r.fleet_id, r.title))));
    let t = &r.totals;
    o.push_str(&format!(
        "<p><b>Outcome: {}</b> — {} targets: {} succeeded, {} failed, {} not started{}; {} runs ({} retries).</p>\n",
        esc(&r.outcome),
        t.targets,
        t.succeeded,
        t.failed,
        t.not_started,
        in_flight(t),
        t.runs,
        t.retries
    ));
    if let Some(root) = &r.root {
        o.push_str(&format!("<p>Fleet root: <code>{root}</code></p>\n"));
    }
    o.push_str("<h2>Waves</h2><table><tr><th>Wave</th><th>Targets</th><th>Started</th><th>Finished</th><th>Timeline</th></tr>\n");
    let times: Vec<i64> = r
        .waves
        .iter()
        .flat_map(|w| [w.started.as_deref(), w.finished.as_deref()])
        .flatten()
        .filter_map(|s| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_millis()))
        .collect();
    let (t0, t1) = (times.iter().min().copied().unwrap_or(0), times.iter().max().copied().unwrap_or(1));
    let span = (t1 - t0).max(1) as f64;
    for w in &r.waves {
        let at = |s: Option<&str>| s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|d| d.timestamp_millis());
        let bar = match (at(w.started.as_deref()), at(w.finished.as_deref())) {
            (Some(a), Some(b)) => format!(
                "<span style=\"display:inline-block;width:{:.0}px\"></span><span class=\"bar\" style=\"width:{:.0}px\"></span>",
                (a - t0) as f64 / span * 300.0,
                ((b - a) as f64 / span * 300.0).max(2.0)
            ),
            _ => String::new(),
        };
        o.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"width:320px\">{bar}</td></tr>\n",
            w.wave,
            esc(&w.targets.join(", ")),
            esc(w.started.as_deref().unwrap_or("–")),
            esc(w.finished.as_deref().unwrap_or("–"))
        ));
    }
    if !r.fleet_steps.is_empty() {
        o.push_str("</table>\n<h2>Fleet steps (once for the whole fleet)</h2><table><tr><th>Step</th><th>Status</th><th>Detail</th><th>Duration</th></tr>\n");
        for s in &r.fleet_steps {
            o.push_str(&format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>\n",
                esc(&s.step_id),
                esc(&s.status),
                esc(&s.status),
                esc(&s.detail),
                ms(s.duration_ms)
            ));
        }
    }
    if !r.bake.is_empty() {
        o.push_str("</table>\n<h2>Bake</h2>\n");
        for (i, w) in r.bake.iter().enumerate() {
            if i > 0 {
                o.push_str("</table>\n");
            }
            o.push_str(&format!(
                "<p>Bake after wave {}: {} sampled.</p><table><tr><th>Target</th><th>Check</th><th>Samples</th><th>Min</th><th>Max</th><th>Breach</th></tr>\n",
                w.wave,
                ms(w.duration_ms)
            ));
            for c in &w.checks {
                o.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>\n",
                    esc(&c.target),
                    esc(&format!("{} · {}", c.step_id, c.check)),
                    c.samples,
                    value(c.min),
                    value(c.max),
                    if c.breach.is_some() { "failed" } else { "passed" },
                    esc(c.breach.as_deref().unwrap_or("none"))
                ));
            }
        }
    }
    o.push_str("</table>\n<h2>Targets × steps</h2><table><tr><th>Target</th><th>Wave</th><th>Outcome</th>");
    for s in &r.steps {
        o.push_str(&format!("<th>{}</th>", esc(s)));
    }
    o.push_str("<th>Duration</th></tr>\n");
    for row in &r.targets {
        o.push_str(&format!("<tr><td>{}</td><td>{}</td><td>{}</td>", esc(&row.name), row.wave, esc(&row.status)));
        for s in &r.steps {
            let c = row.steps.get(s);
            o.push_str(&format!("<td class=\"{}\">{}</td>", c.map(|c| c.status.as_str()).unwrap_or(""), esc(&cell_text(c))));
        }
        o.push_str(&format!("<td>{}</td></tr>\n", ms(row.duration_ms)));
    }
    o.push_str("</table>\n");
    let failures: Vec<&TargetRow> = r.targets.iter().filter(|t| t.first_error.is_some()).collect();
    if !failures.is_empty() {
        o.push_str("<h2>Failures</h2><ul>\n");
        for f in failures {
            o.push_str(&format!("<li><b>{}</b> (wave {}): {}</li>\n", esc(&f.name), f.wave, esc(f.first_error.as_deref().unwrap_or(""))));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    o
}
