//! The attempts of a run: the first `run`, then each `runbook resume`, read from the journal.
//!
//! A resumed run's journal holds every attempt one after the other (`run_started` or
//! `run_resumed`, …, `interrupted`, `run_finished`); an attempt killed outright ends with no
//! `run_finished` at all. Reports show each attempt with how it ended, and count the run's
//! duration as the time the attempts really took, not the last attempt alone.

use chrono::DateTime;
use schemars::JsonSchema;
use serde::Serialize;

use crate::journal::{Entry, Event, Outcome};

/// One attempt at the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Attempt {
    /// 1 for the first `run`, then one more per `resume`.
    pub number: usize,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// When it stopped: its `run_finished`, else the last line it journaled (it was killed).
    pub stopped: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// Its outcome; absent when it was killed before journaling one.
    pub outcome: Option<Outcome>,
    /// How it ended, in words ("interrupted by SIGINT during step `x`", "killed: …").
    pub ended: String,
    /// For a resume: who resumed it, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_by: Option<String>,
}

/// Fold a journal into its attempts, in order. `entries` starts with `run_started`.
pub fn attempts(entries: &[Entry]) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    let mut cur: Option<Open> = None;
    let mut prev_lock: Option<&str> = None;
    for e in entries {
        match &e.event {
            Event::RunStarted(_) => cur = Some(Open::new(out.len() + 1, &e.ts)),
            Event::RunResumed { by, how, .. } => {
                // The resume took the lock first: its attempt starts there.
                let start = prev_lock.unwrap_or(&e.ts);
                if let Some(mut c) = cur.take() {
                    if let Some(last) = c.before_lock.take() {
                        c.last = last;
                    }
                    out.push(c.close());
                }
                let mut next = Open::new(out.len() + 1, start);
                next.resumed_by = Some(super::by_how(by, how));
                cur = Some(next);
            }
            Event::Interrupted { step_id, signal } => {
                if let Some(c) = cur.as_mut() {
                    c.why = Some(format!(
                        "interrupted by {signal}{}",
                        step_id.as_ref().map(|s| format!(" during step `{s}`")).unwrap_or_default()
                    ));
                }
            }
            Event::RunFinished { outcome, duration_ms, .. } => {
                if let Some(c) = cur.as_mut() {
                    c.finished = Some((e.ts.clone(), *outcome, *duration_ms));
                }
            }
            _ => {}
        }
        if let Some(c) = cur.as_mut() {
            // A lock line may open the next attempt: this one then ended at the line before it.
            if matches!(e.event, Event::LockAcquired { .. }) {
                c.before_lock = Some(c.last.clone());
            } else if !matches!(e.event, Event::RunResumed { .. }) {
                c.before_lock = None;
            }
            if c.finished.is_none() {
                c.last = e.ts.clone();
            }
        }
        prev_lock = matches!(e.event, Event::LockAcquired { .. }).then_some(e.ts.as_str());
    }
    out.extend(cur.map(Open::close));
    out
}

/// An attempt being read.
struct Open {
    number: usize,
    started: String,
    last: String,
    finished: Option<(String, Outcome, u64)>,
    why: Option<String>,
    resumed_by: Option<String>,
    /// `last` as it was before a lock line that may belong to the next attempt.
    before_lock: Option<String>,
}

impl Open {
    fn new(number: usize, ts: &str) -> Open {
        Open { number, started: ts.to_string(), last: ts.to_string(), finished: None, why: None, resumed_by: None, before_lock: None }
    }

    fn close(self) -> Attempt {
        let (stopped, outcome, duration_ms, ended) = match self.finished {
            Some((ts, outcome, ms)) => {
                let ended = match (&self.why, outcome) {
                    (Some(why), _) => why.clone(),
                    (None, o) => o.as_str().to_string(),
                };
                (ts, Some(outcome), ms, ended)
            }
            None => {
                let ms = between(&self.started, &self.last);
                (self.last.clone(), None, ms, format!("killed: nothing journaled after {}", self.last))
            }
        };
        Attempt { number: self.number, started: self.started, stopped, duration_ms, outcome, ended, resumed_by: self.resumed_by }
    }
}

/// Milliseconds from `a` to `b` (two RFC 3339 times); 0 if either does not parse.
pub fn between(a: &str, b: &str) -> u64 {
    match (DateTime::parse_from_rfc3339(a), DateTime::parse_from_rfc3339(b)) {
        (Ok(a), Ok(b)) => (b - a).num_milliseconds().max(0) as u64,
        _ => 0,
    }
}
