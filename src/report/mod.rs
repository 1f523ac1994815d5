//! Reports, rebuilt from a run's journal alone so that any copy of the journal can be re-reported.
//!
//! `RunRecord` folds the events into what a reader needs (header, steps with their evidence,
//! outcome, seal). The text formats are one document ([`text`], built as a [`doc::Doc`])
//! rendered through a [`markup::Markup`] per format; the HTML page is a template ([`html`]);
//! the JSON report is the record itself ([`json`]).

pub mod attempts;
pub mod doc;
pub mod html;
pub mod json;
pub mod markdown;
pub mod markup;
pub mod text;
pub mod textile;

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::db::BackupInfo;
use crate::error::Result;
use crate::journal::verify::Verdict;
use crate::journal::{self, Decision, Entry, Event, Mode, Outcome, StepStatus};
use crate::runbook::{Kind, PlanKind, Ticket};

/// Everything a report says about one run, rebuilt from its journal.
///
/// This is also the JSON report (`--format json`): field names and meanings are stable within a
/// `report_format_version` (see `docs/report-json.md`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunRecord {
    /// Version of this structure; bumped when a field is removed or changes meaning.
    pub report_format_version: u32,
    /// Unique id of the run (UTC start time and a random suffix); also the run folder's name.
    pub run_id: String,
    /// The runbook's `id`.
    pub runbook_id: String,
    /// The runbook's title (the ticket's subject).
    pub title: String,
    /// The runbook file as given on the command line.
    pub runbook_path: String,
    /// sha256 of the runbook file's bytes when the run started.
    pub runbook_sha256: String,
    /// `run`, `rollback` or `rehearsal`.
    pub mode: Mode,
    /// Which plan the run started with.
    pub plan: PlanKind,
    /// Who ran it (`--operator`, else the OS user).
    pub operator: String,
    /// The machine it ran on.
    pub host: String,
    /// The database URL, with any password masked.
    pub target: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub engine: String,
    /// The database server's version.
    pub db_version: String,
    /// Version of runbook that made the run.
    pub tool_version: String,
    /// How prompts were answered: `interactive` or `auto-confirmed (--yes)`.
    pub confirmation: String,
    /// The change ticket's metadata, as written in the runbook.
    pub ticket: Option<Ticket>,
    /// Run start (RFC 3339, UTC).
    pub started: String,
    /// Run end (RFC 3339, UTC); absent when the run did not finish.
    pub finished: Option<String>,
    /// How long the run took: the sum of its attempts' durations (a run that was never resumed
    /// has one attempt). Absent when the run did not finish.
    pub duration_ms: Option<u64>,
    /// Wall-clock time from the start of the first attempt to the end of the last, pauses
    /// between attempts included. Absent when the run did not finish.
    #[serde(default)]
    pub span_ms: Option<u64>,
    /// The first `run`, then each `resume`, with how each ended.
    #[serde(default)]
    pub attempts: Vec<attempts::Attempt>,
    /// Absent when the run did not finish (killed, or still running).
    pub outcome: Option<Outcome>,
    pub exit_code: Option<i32>,
    /// Every step listed at the start of the run, then those of a rollback plan started after a failure.
    pub steps: Vec<StepRecord>,
    /// Run-level notes: plan changes and rollback decisions.
    pub notes: Vec<String>,
    /// sha256 of the journal's last complete line: pins the journal this report was made from.
    /// `runbook audit verify RUN_DIR --seal SEAL` checks a journal against it.
    pub seal: String,
    /// Complete lines in the journal.
    pub journal_lines: usize,
    /// The hash chain as checked when the report was made.
    pub chain: Chain,
    /// The signed approvals the run went ahead under; absent when it needed none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalLine>,
    /// `--emergency` reason: the run went ahead without approvals and awaits retro-approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<String>,
}

/// One approval of the run (its manifest and signature are in the journal).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApprovalLine {
    /// The approver, as the allowed signers file names them.
    pub principal: String,
    /// `SHA256:…` of the approver's SSH key.
    pub key_fingerprint: String,
    /// sha256 of the signed manifest.
    pub manifest_sha256: String,
    /// When the approval would have expired (RFC 3339).
    pub expires: String,
}

impl RunRecord {
    /// The approvals section as plain sentences, one a line; empty when the run had neither
    /// approvals nor an emergency. Each renderer escapes and lays them out its own way.
    pub fn approval_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .approvals
            .iter()
            .map(|a| {
                format!(
                    "Approved by {} (key {}), manifest sha256 {}, valid until {}",
                    a.principal, a.key_fingerprint, a.manifest_sha256, a.expires
                )
            })
            .collect();
        if let Some(reason) = &self.emergency {
            out.push(format!(
                "EMERGENCY CHANGE, awaiting retro-approval: run without approvals (--emergency \"{reason}\"); approve it with `runbook approve --retro RUN_DIR`"
            ));
        }
        out
    }
}

/// The state of the journal's hash chain when the report was made.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Chain {
    /// `intact`, `torn` (the last line was cut off mid-write; the rest is intact) or `broken`.
    pub status: ChainStatus,
    /// For `broken`: the first line that was changed, removed or inserted.
    pub line: Option<usize>,
    /// What was found, in words.
    pub detail: String,
}

/// What checking the hash chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChainStatus {
    /// Every line chains to the one before it.
    Intact,
    /// The last line was cut off mid-write; the rest is intact.
    Torn,
    /// A line was changed, removed or inserted.
    Broken,
}

impl ChainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Intact => "intact",
            ChainStatus::Torn => "torn",
            ChainStatus::Broken => "broken",
        }
    }
}

/// The state of a step the run was killed in: it started and never ended.
pub const CUT_OFF: &str = "cut off while running";

/// Where a step stands in the report: the status its `step_finished` journaled, or cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Passed,
    Failed,
    Skipped,
    Aborted,
    /// Stopped by a signal, and journaled so.
    Interrupted,
    /// Confirmed to run, and its attempt was killed before its outcome was journaled: it did
    /// start (a command may have done its work), so it is not "not run", and nothing says how
    /// far it got.
    CutOff,
}

impl StepState {
    /// The journaled status, if the step ended with one.
    pub fn ended(self) -> Option<StepStatus> {
        Some(match self {
            StepState::Passed => StepStatus::Passed,
            StepState::Failed => StepStatus::Failed,
            StepState::Skipped => StepStatus::Skipped,
            StepState::Aborted => StepStatus::Aborted,
            StepState::Interrupted => StepStatus::Interrupted,
            StepState::CutOff => return None,
        })
    }
}

impl From<StepStatus> for StepState {
    fn from(s: StepStatus) -> StepState {
        match s {
            StepStatus::Passed => StepState::Passed,
            StepStatus::Failed => StepState::Failed,
            StepStatus::Skipped => StepState::Skipped,
            StepStatus::Aborted => StepState::Aborted,
            StepStatus::Interrupted => StepState::Interrupted,
        }
    }
}

/// One step of the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepRecord {
    /// The step's id in the runbook.
    pub id: String,
    pub name: String,
    pub kind: Kind,
    /// The plan the step belongs to.
    pub plan: PlanKind,
    /// How the step ended, or `cut_off`; absent when the step was never reached.
    pub status: Option<StepState>,
    /// When the step started (RFC 3339, UTC): when it was confirmed to run, or when it was
    /// shown if it never ran.
    pub started: Option<String>,
    pub duration_ms: Option<u64>,
    /// Who confirmed running it, and how (`interactive` or `auto-confirmed (--yes)`).
    pub confirmed_by: Option<String>,
    /// The exact action shown to the operator, variables resolved and secrets masked.
    pub action: String,
    /// Why the step failed.
    pub error: Option<String>,
    /// What the step recorded, in order.
    pub evidence: Vec<Evidence>,
    /// Earlier runs of the step, in attempts that stopped while it ran (a resume runs it again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_runs: Vec<StepRun>,
    /// The attempt the step last started in.
    #[serde(skip)]
    #[schemars(skip)]
    attempt: Option<usize>,
}

/// One earlier run of a step, cut short when its attempt stopped.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepRun {
    /// The run attempt (see `attempts`).
    pub attempt: usize,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// How long it ran; absent when the attempt was killed during it.
    pub duration_ms: Option<u64>,
    /// How it ended; absent when the attempt was killed during it.
    pub status: Option<StepStatus>,
}

impl StepRecord {
    /// Confirmed to run, and the journal ends without its outcome: the process was killed
    /// while the step ran. It did start (a command may have done its work), so the reports
    /// must not call it "not run".
    pub fn cut_off(&self) -> bool {
        self.status == Some(StepState::CutOff)
    }

    /// The step's state in words, for the summaries: its status, `cut off` or `not run`.
    pub fn state(&self) -> &'static str {
        match self.status.map(|s| s.ended().ok_or(CUT_OFF)) {
            Some(Ok(s)) => s.as_str(),
            Some(Err(cut_off)) => cut_off,
            None => "not run",
        }
    }

    fn new(s: &crate::journal::StepOutline) -> StepRecord {
        StepRecord {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: s.kind,
            plan: s.plan,
            status: None,
            started: None,
            duration_ms: None,
            confirmed_by: None,
            action: String::new(),
            error: None,
            evidence: Vec::new(),
            earlier_runs: Vec::new(),
            attempt: None,
        }
    }

    /// The step starts (is shown, or confirmed) in `attempt`: a start left from an earlier
    /// attempt becomes an earlier run.
    fn begin(&mut self, attempt: usize) {
        if let (Some(a), Some(started)) = (self.attempt, &self.started) {
            if a != attempt {
                self.earlier_runs.push(StepRun {
                    attempt: a,
                    started: started.clone(),
                    duration_ms: self.duration_ms.take(),
                    // An earlier run cut off has no status: its attempt was killed during it.
                    status: self.status.take().and_then(StepState::ended),
                });
                self.error = None;
            }
        }
        self.attempt = Some(attempt);
    }
}

/// One piece of evidence attached to a step; `type` says which.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A SQL statement that ran.
    /// `rows_affected` is null for a statement whose `kind` (`rows`, `ddl`, `none`) has no count.
    Statement { sql: String, rows_affected: Option<u64>, kind: crate::sql::count::Counted, duration_ms: u64 },
    /// A check with its expected and actual value.
    Assertion { check: String, expected: String, actual: String, passed: bool },
    /// A verified backup file.
    Backup { backup: BackupInfo },
    /// A command that ran, with its (possibly truncated) output.
    Command { command: String, exit_code: Option<i32>, stdout: String, stderr: String, truncated: bool },
    /// An HTTP request that was made (URL with secrets masked; header values are never recorded).
    Http { method: String, url: String, status: u16, body_excerpt: String },
    /// A checklist item, confirmed or not, by whom and how.
    Checklist { item: String, confirmed: bool, by: String, how: String },
    /// A note the operator typed for the record.
    Note { by: String, text: String },
    /// One monitor sample, `elapsed_ms` after the step started, with its thresholds; `attempt`
    /// is the run attempt it was taken in (a monitor resumed after an interruption starts over).
    Sample {
        check: String,
        value: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
        ok: bool,
        elapsed_ms: u64,
        detail: Option<String>,
        #[serde(default = "first_attempt")]
        attempt: usize,
    },
    /// What a report query returned: the first rows (capped; `total` counts them all).
    QueryResult { name: String, result: crate::db::QueryRows },
    /// Run, skip or abort, by whom and how, with the reason given for a skip.
    Decision { decision: Decision, by: String, how: String, reason: Option<String> },
    /// Anything else the step reported.
    Info { message: String },
}

fn first_attempt() -> usize {
    1
}

impl RunRecord {
    /// Which plans the run went through: "change plan", "rollback plan", or both in order.
    pub fn plans_label(&self) -> String {
        let both = self.plan == PlanKind::Plan && self.steps.iter().any(|s| s.plan == PlanKind::Rollback);
        if both {
            "change plan, then rollback plan".into()
        } else {
            self.plan.label().into()
        }
    }

    pub fn from_entries(entries: &[Entry], seal: String) -> Option<RunRecord> {
        let first = entries.first()?;
        let Event::RunStarted(h) = &first.event else {
            return None;
        };
        let mut rec = RunRecord {
            report_format_version: json::FORMAT_VERSION,
            run_id: h.run_id.clone(),
            runbook_id: h.runbook_id.clone(),
            title: h.title.clone(),
            runbook_path: h.runbook_path.clone(),
            runbook_sha256: h.runbook_sha256.clone(),
            mode: h.mode,
            plan: h.plan,
            operator: h.operator.clone(),
            host: h.host.clone(),
            target: h.target.clone(),
            engine: h.engine.clone(),
            db_version: h.db_version.clone(),
            tool_version: h.tool_version.clone(),
            confirmation: h.confirmation.clone(),
            ticket: h.ticket.clone(),
            started: first.ts.clone(),
            finished: None,
            duration_ms: None,
            span_ms: None,
            attempts: attempts::attempts(entries),
            outcome: None,
            exit_code: None,
            steps: h.steps.iter().map(StepRecord::new).collect(),
            notes: Vec::new(),
            seal,
            journal_lines: entries.len(),
            chain: Chain { status: ChainStatus::Intact, line: None, detail: String::new() },
            approvals: h
                .approvals
                .iter()
                .map(|a| ApprovalLine {
                    principal: a.principal.clone(),
                    key_fingerprint: a.key_fingerprint.clone(),
                    manifest_sha256: a.manifest_sha256.clone(),
                    expires: a.expires.clone(),
                })
                .collect(),
            emergency: h.emergency.clone(),
        };
        let mut attempt = 1;
        for e in &entries[1..] {
            if matches!(e.event, Event::RunResumed { .. }) {
                attempt += 1;
            }
            rec.apply(e, attempt);
        }
        if rec.outcome.is_some() {
            rec.duration_ms = Some(rec.attempts.iter().map(|a| a.duration_ms).sum());
            rec.span_ms = rec.attempts.last().map(|a| attempts::between(&rec.started, &a.stopped));
        }
        Some(rec)
    }

    fn step(&mut self, id: &str) -> Option<&mut StepRecord> {
        // The last matching step: a step re-run after a resume replaces the earlier record.
        self.steps.iter_mut().rev().find(|s| s.id == id)
    }

    fn apply(&mut self, e: &Entry, attempt: usize) {
        let ts = e.ts.clone();
        match &e.event {
            Event::StepStarted { step_id, action, .. } => {
                if let Some(s) = self.step(step_id) {
                    s.begin(attempt);
                    s.started = Some(ts);
                    s.action = action.clone();
                }
            }
            Event::StepDecision { step_id, decision, by, how, reason } => {
                if let Some(s) = self.step(step_id) {
                    if *decision == Decision::Run {
                        s.begin(attempt);
                        // Running from here on: cut off unless its step_finished follows.
                        s.status = Some(StepState::CutOff);
                        s.confirmed_by = Some(by_how(by, how));
                        // A step starts when it is confirmed; before that it was only shown.
                        s.started = Some(ts);
                    }
                    s.evidence.push(Evidence::Decision { decision: *decision, by: by.clone(), how: how.clone(), reason: reason.clone() });
                }
            }
            Event::Statement { step_id, sql, rows_affected, kind, duration_ms, .. } => self.push(
                step_id,
                Evidence::Statement { sql: sql.clone(), rows_affected: *rows_affected, kind: *kind, duration_ms: *duration_ms },
            ),
            Event::Assertion { step_id, check, expected, actual, passed } => self.push(
                step_id,
                Evidence::Assertion { check: check.clone(), expected: expected.clone(), actual: actual.clone(), passed: *passed },
            ),
            Event::ReportQuery { step_id, name, result } => {
                self.push(step_id, Evidence::QueryResult { name: name.clone(), result: result.clone() })
            }
            Event::Backup { step_id, backup } => self.push(step_id, Evidence::Backup { backup: backup.clone() }),
            Event::Command { step_id, command, exit_code, stdout, stderr, truncated, .. } => self.push(
                step_id,
                Evidence::Command {
                    command: command.clone(),
                    exit_code: *exit_code,
                    stdout: stdout.clone(),
                    stderr: stderr.clone(),
                    truncated: *truncated,
                },
            ),
            Event::Http { step_id, method, url, status, body_excerpt, .. } => self.push(
                step_id,
                Evidence::Http { method: method.clone(), url: url.clone(), status: *status, body_excerpt: body_excerpt.clone() },
            ),
            Event::ChecklistItem { step_id, item, confirmed, by, how } => {
                self.push(step_id, Evidence::Checklist { item: item.clone(), confirmed: *confirmed, by: by.clone(), how: how.clone() })
            }
            Event::Note { step_id, by, text } => self.push(step_id, Evidence::Note { by: by.clone(), text: text.clone() }),
            Event::Sample { step_id, check, value, min, max, ok, elapsed_ms, detail } => self.push(
                step_id,
                Evidence::Sample {
                    check: check.clone(),
                    value: *value,
                    min: *min,
                    max: *max,
                    ok: *ok,
                    elapsed_ms: *elapsed_ms,
                    detail: detail.clone(),
                    attempt,
                },
            ),
            Event::Info { step_id: Some(id), message } => self.push(id, Evidence::Info { message: message.clone() }),
            Event::Info { step_id: None, message } => self.notes.push(message.clone()),
            Event::StepFinished { step_id, status, error, duration_ms } => {
                if let Some(s) = self.step(step_id) {
                    s.status = Some((*status).into());
                    s.error = error.clone();
                    s.duration_ms = Some(*duration_ms);
                }
            }
            Event::PlanStarted { plan, reason, steps, .. } => {
                self.notes.push(format!("{} started: {reason}", plan.label()));
                self.steps.extend(steps.iter().map(StepRecord::new));
            }
            Event::RollbackDecision { accepted, by, how } => {
                self.notes.push(format!("rollback plan {} by {}", if *accepted { "accepted" } else { "declined" }, by_how(by, how)))
            }
            Event::RunResumed { by, how, in_flight, decision } => {
                // A resume reopens the run: it is unfinished until its own run_finished.
                self.outcome = None;
                self.exit_code = None;
                self.finished = None;
                self.notes.push(format!(
                    "run resumed by {}{}",
                    by_how(by, how),
                    match (in_flight, decision) {
                        (Some(step), Some(d)) => format!("; step `{step}` was in flight: {d}"),
                        _ => String::new(),
                    }
                ))
            }
            Event::Interrupted { step_id, signal } => self
                .notes
                .push(format!("interrupted by {signal}{}", step_id.as_ref().map(|s| format!(" during step `{s}`")).unwrap_or_default())),
            Event::RehearsalVerdict { schema_equal, data_equal, differences, copy_method } => {
                self.notes.push(format!(
                    "REHEARSAL on a scratch copy ({copy_method}): schema after plan + rollback {}; data fingerprint of every table {}",
                    if *schema_equal { "equals the original" } else { "DIFFERS from the original" },
                    if *data_equal { "equals the original" } else { "DIFFERS from the original" },
                ));
                for d in differences {
                    self.notes.push(format!("difference: {d}"));
                }
            }
            Event::RunFinished { outcome, exit_code, .. } => {
                // The duration is summed over the attempts once every event is read.
                self.outcome = Some(*outcome);
                self.exit_code = Some(*exit_code);
                self.finished = Some(ts);
            }

            _ => {}
        }
    }

    fn push(&mut self, id: &str, ev: Evidence) {
        if let Some(s) = self.step(id) {
            s.evidence.push(ev);
        }
    }
}

/// The hash chain's state in a few words, for report footers.
pub fn chain_words(r: &RunRecord) -> String {
    match (r.chain.status, r.chain.line) {
        (ChainStatus::Broken, Some(l)) => format!("BROKEN at line {l}: {}", r.chain.detail),
        (ChainStatus::Torn, Some(l)) => format!("intact, line {l} torn"),
        (s, _) => s.as_str().to_string(),
    }
}

/// A monitor threshold as reports show it: `≤ 0`, `≥ 1`, `1 ≤ x ≤ 5`.
pub fn threshold(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("= {a}"),
        (Some(a), Some(b)) => format!("{a} ≤ x ≤ {b}"),
        (Some(a), None) => format!("≥ {a}"),
        (None, Some(b)) => format!("≤ {b}"),
        _ => "–".into(),
    }
}

/// Load a run folder's journal into a record, with the state of its hash chain.
pub fn load(run_dir: &Path) -> Result<RunRecord> {
    // A damaged journal is still reported, up to the damage; `chain` below says where it is.
    let (entries, seal, _) = journal::read_readable(run_dir)?;
    let mut rec = RunRecord::from_entries(&entries, seal)
        .ok_or_else(|| crate::Error::usage(format!("{}: the journal does not start with a run_started event", run_dir.display())))?;
    rec.chain = match journal::verify::verify(run_dir, None)? {
        Verdict::Intact { lines, .. } => {
            Chain { status: ChainStatus::Intact, line: None, detail: format!("all {lines} lines chain to the line before them") }
        }
        Verdict::Torn { lines, .. } => Chain {
            status: ChainStatus::Torn,
            line: Some(lines + 1),
            detail: format!("lines 1–{lines} chain; line {} was cut off mid-write and is not part of this report", lines + 1),
        },
        Verdict::Broken { line, reason } => Chain { status: ChainStatus::Broken, line: Some(line), detail: reason },
    };
    Ok(rec)
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// CommonMark, the default text format of Redmine 5.1 and later
    Markdown,
    /// Textile, for Redmine installations that still use it
    Textile,
    /// One self-contained, printable HTML page with a timeline and monitor charts
    Html,
    /// The run record as documented JSON (docs/report-json.md)
    Json,
}

impl Format {
    /// The file name a report of this format gets in a run folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Textile => "report.textile",
            Format::Html => "report.html",
            Format::Json => "report.json",
        }
    }
}

pub fn render(rec: &RunRecord, format: Format) -> String {
    match format {
        Format::Markdown => text::report(rec, &markdown::Markdown),
        Format::Textile => text::report(rec, &textile::Textile),
        Format::Html => html::render(rec),
        Format::Json => json::render(rec),
    }
}

/// Write report.md, report.html and report.json into the run folder; returns the Markdown path.
pub fn write_all(run_dir: &Path) -> Result<std::path::PathBuf> {
    let rec = load(run_dir)?;
    for f in [Format::Html, Format::Json, Format::Markdown] {
        crate::durable::write_private(&run_dir.join(f.file_name()), render(&rec, f).as_bytes())?;
    }
    Ok(run_dir.join(Format::Markdown.file_name()))
}

/// "carol (interactive)"; a `how` that carries its own parentheses, such as "auto-confirmed
/// (--yes)", follows a comma instead, so the report never shows "((…))".
/// A statement's outcome line in every report: its row count only where its kind has one.
pub fn outcome(kind: crate::sql::count::Counted, rows: Option<u64>) -> String {
    use crate::sql::count::Counted;
    match (kind, rows) {
        (Counted::Rows, Some(n)) => format!("Rows affected: {n}"),
        (Counted::Ddl, _) => "DDL: no row count".to_string(),
        _ => "No row count".to_string(),
    }
}

pub fn by_how(by: &str, how: &str) -> String {
    if how.contains('(') {
        format!("{by}, {how}")
    } else {
        format!("{by} ({how})")
    }
}
