//! `monitor`: samples a list of checks every `interval` for `duration`; fails as soon as a
//! threshold is crossed. Every sample goes to the journal.
//!
//! Sampling happens at t = 0, interval, 2·interval, … and once more at t = duration, so a
//! step watches for the whole time it promises. A log check counts the lines that match its
//! pattern among those written after the step began. A log file that does not exist fails the
//! check at once: a mistyped path must not let monitoring pass while reading nothing.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::db::Engine;
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::{duration, MonitorAction, MonitorCheck, Step};
use crate::ui::{panel, progress::Progress};

/// Longest log line kept for matching.
const MAX_LINE: usize = 1 << 20;

/// Shortest interval between samples, so a typo like `interval: 0` cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

pub fn describe(a: &MonitorAction, vars: &Vars, engine: Engine) -> String {
    let mut s = format!("every {} for {}:", vars.mask(&a.interval), vars.mask(&a.duration));
    for c in &a.checks {
        let what = if let Some(q) = &c.query {
            super::sql_for(q, engine)
                .map(|x| crate::sql::bind::shown(x.trim(), engine, vars))
                .unwrap_or_else(|| format!("<no SQL for {engine}>"))
        } else if let Some(u) = &c.http {
            let headers: String = c.headers.iter().flatten().map(|(k, _)| format!(" [{k}: ********]")).collect();
            format!("GET {}{headers} → {}", vars.mask(u), c.expect_status.unwrap_or(200))
        } else {
            format!(
                "lines matching /{}/ appended to {} after the step begins",
                vars.mask(c.pattern.as_deref().unwrap_or("")),
                vars.mask(c.log.as_deref().unwrap_or(""))
            )
        };
        let note = if c.log.is_some() { "; a missing file fails the check" } else { "" };
        s.push_str(&format!("\n  {}: {what}{}{note}", vars.mask(&c.name), bounds(c)));
    }
    s
}

fn bounds(c: &MonitorCheck) -> String {
    if c.http.is_some() {
        return format!(" (must answer {})", c.expect_status.unwrap_or(200));
    }
    match (c.min, c.max) {
        (Some(a), Some(b)) => format!(" (must stay within {a}..{b})"),
        (Some(a), None) => format!(" (must stay ≥ {a})"),
        (None, Some(b)) => format!(" (must stay ≤ {b})"),
        _ => String::new(),
    }
}

/// Reads what is appended to a log file after the step began.
///
/// The open handle follows the file it was opened on, so lines written just before a rotation
/// (rename and re-create) are still read; then the new file is read from its start.
/// A file truncated in place (copytruncate) is read again from its start.
struct LogCursor {
    path: PathBuf,
    file: Option<File>,
    inode: (u64, u64),
    offset: u64,
    /// Complete matching lines so far.
    matched: u64,
    /// Complete lines read so far.
    lines: u64,
    /// The last, unterminated line.
    partial: Vec<u8>,
    /// The file did not end with a newline when the step began: the rest of that line is old.
    skip_to_newline: bool,
    /// Why the file cannot be read, reported by the first sample.
    problem: Option<String>,
}

impl LogCursor {
    fn start(path: PathBuf) -> LogCursor {
        let mut c = LogCursor {
            path,
            file: None,
            inode: (0, 0),
            offset: 0,
            matched: 0,
            lines: 0,
            partial: Vec::new(),
            skip_to_newline: false,
            problem: None,
        };
        match File::open(&c.path) {
            Ok(mut f) => {
                let meta = f.metadata();
                match meta {
                    Ok(m) if m.is_file() => {
                        c.inode = (m.dev(), m.ino());
                        c.offset = m.len();
                        if m.len() > 0 {
                            let mut last = [0u8; 1];
                            let ends_with_newline = f.seek(SeekFrom::Start(m.len() - 1)).and_then(|_| f.read_exact(&mut last)).map(|_| last[0] == b'\n');
                            c.skip_to_newline = !ends_with_newline.unwrap_or(true);
                        }
                        c.file = Some(f);
                    }
                    Ok(_) => c.problem = Some(format!("{} is not a regular file", c.path.display())),
                    Err(e) => c.problem = Some(format!("cannot read {}: {e}", c.path.display())),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                c.problem = Some(format!(
                    "log file {} does not exist; a wrong path would pass monitoring without reading a line, so this check fails (create the file or fix the path)",
                    c.path.display()
                ))
            }
            Err(e) => c.problem = Some(format!("cannot open log file {}: {e}", c.path.display())),
        }
        c
    }

    /// Read everything appended since the last poll; returns (matching lines, lines read).
    fn poll(&mut self, re: &regex::Regex) -> std::result::Result<(u64, u64), String> {
        if let Some(p) = &self.problem {
            return Err(p.clone());
        }
        self.read_handle(re)?;
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) != self.inode => {
                // Rotated: the old file was read to its end above; now the new one from its start.
                let f = File::open(&self.path).map_err(|e| format!("cannot open rotated log file {}: {e}", self.path.display()))?;
                self.flush_partial(re);
                self.file = Some(f);
                self.inode = (m.dev(), m.ino());
                self.offset = 0;
                self.read_handle(re)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "log file {} disappeared after the step began (deleted, or rotated without a new file)",
                    self.path.display()
                ));
            }
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        }
        // An unterminated last line is counted now (it may be the error that matters) but not
        // kept: the next poll sees it again, complete.
        let open_line = !self.partial.is_empty() && !self.skip_to_newline;
        let pending = u64::from(open_line && re.is_match(&String::from_utf8_lossy(&self.partial)));
        Ok((self.matched + pending, self.lines + u64::from(open_line)))
    }

    /// Read the open handle from `offset` to its end, in blocks, counting complete lines.
    fn read_handle(&mut self, re: &regex::Regex) -> std::result::Result<(), String> {
        let Some(mut f) = self.file.take() else { return Ok(()) };
        let res = self.read_from(&mut f, re);
        self.file = Some(f);
        res
    }

    fn read_from(&mut self, f: &mut File, re: &regex::Regex) -> std::result::Result<(), String> {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated in place: what is there now was written after the truncation.
            self.offset = 0;
            self.partial.clear();
            self.skip_to_newline = false;
        }
        f.seek(SeekFrom::Start(self.offset)).map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
            if n == 0 {
                break;
            }
            self.offset += n as u64;
            let mut rest = &buf[..n];
            while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
                let room = MAX_LINE.saturating_sub(self.partial.len());
                self.partial.extend_from_slice(&rest[..nl.min(room)]);
                rest = &rest[nl + 1..];
                self.end_line(re);
            }
            // A "line" without end (a binary file, a runaway writer) must not grow without
            // bound: its first MiB is what gets matched.
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial.extend_from_slice(&rest[..rest.len().min(room)]);
        }
        Ok(())
    }

    fn end_line(&mut self, re: &regex::Regex) {
        if std::mem::take(&mut self.skip_to_newline) {
            self.partial.clear();
            return;
        }
        self.lines += 1;
        if re.is_match(&String::from_utf8_lossy(&self.partial)) {
            self.matched += 1;
        }
        self.partial.clear();
    }

    /// The old file's unterminated last line counts as a line once the file is rotated away.
    fn flush_partial(&mut self, re: &regex::Regex) {
        if !self.partial.is_empty() {
            self.end_line(re);
        }
        self.skip_to_newline = false;
    }
}

/// What is sampled for one check.
enum Probe {
    Query,
    Http,
    Log(Box<LogCursor>, regex::Regex),
    Nothing,
}

pub async fn run(r: &mut Runner, step: &Step, a: &MonitorAction) -> Result<()> {
    // A rehearsal samples each check once: it proves the checks work, not the production load.
    let total =
        if r.opts.rehearsal.is_some() { Duration::ZERO } else { duration::parse(&r.vars.render(&a.duration)?).map_err(Error::usage)? };
    let interval = duration::parse(&r.vars.render(&a.interval)?).map_err(Error::usage)?.max(MIN_INTERVAL);
    let mut probes = Vec::new();
    for c in &a.checks {
        probes.push(match (&c.log, &c.pattern, &c.query, &c.http) {
            (Some(log), Some(p), _, _) => {
                let re = regex::Regex::new(&r.vars.render(p)?)
                    .map_err(|e| Error::usage(format!("monitor check `{}`: bad pattern: {e}", c.name)))?;
                Probe::Log(Box::new(LogCursor::start(PathBuf::from(r.vars.render(log)?))), re)
            }
            (_, _, Some(_), _) => Probe::Query,
            (_, _, _, Some(_)) => Probe::Http,
            _ => Probe::Nothing,
        });
    }
    let client = super::http::client(interval.clamp(Duration::from_secs(1), Duration::from_secs(10)))?;
    let progress = Progress::new(total, &step.name);
    let started = Instant::now();
    let mut samples = 0u64;
    let mut tick = 0u32;
    loop {
        let due = interval.saturating_mul(tick).min(total);
        wait_until(&progress, started, due).await;
        let elapsed = started.elapsed();
        for (i, c) in a.checks.iter().enumerate() {
            let (value, detail) = sample(r, c, &client, &mut probes[i]).await;
            let ok = match (value, c.http.is_some()) {
                (Some(v), true) => v as u16 == c.expect_status.unwrap_or(200),
                (Some(v), false) => c.max.is_none_or(|m| v <= m) && c.min.is_none_or(|m| v >= m),
                (None, _) => false,
            };
            let shown = value.map(|v| v.to_string()).unwrap_or_else(|| "error".into());
            let detail = detail.map(|d| r.journal.redactor().text(&d));
            progress.sample(
                elapsed,
                &format!(
                    "t+{:>5.1}s {} {}: {shown}{}{}",
                    elapsed.as_secs_f64(),
                    if ok { "✔" } else { "✘" },
                    c.name,
                    bounds(c),
                    detail.as_deref().filter(|_| !ok || c.log.is_some()).map(|d| format!(" — {d}")).unwrap_or_default()
                ),
                ok,
            );
            let (min, max) = if c.http.is_some() {
                let s = c.expect_status.unwrap_or(200) as f64;
                (Some(s), Some(s))
            } else {
                (c.min, c.max)
            };
            r.journal.record(Event::Sample {
                step_id: step.id.clone(),
                check: c.name.clone(),
                value,
                min,
                max,
                ok,
                elapsed_ms: elapsed.as_millis() as u64,
                detail: detail.clone(),
            })?;
            samples += 1;
            if !ok {
                progress.finish();
                return Err(Error::failed(format!(
                    "monitor check `{}` crossed its threshold at t+{:.1}s: {shown}{}{}",
                    c.name,
                    elapsed.as_secs_f64(),
                    bounds(c),
                    detail.map(|d| format!(" ({d})")).unwrap_or_default()
                )));
            }
        }
        if due >= total {
            break;
        }
        tick += 1;
    }
    progress.finish();
    let summary = format!("{samples} sample(s) over {}, all within thresholds", duration::human(total));
    if progress.is_bar() {
        panel::ok(&summary);
    }
    r.journal.record(Event::Info { step_id: Some(step.id.clone()), message: summary })?;
    Ok(())
}

/// Sleep until `started + due`, moving the bar meanwhile.
async fn wait_until(progress: &Progress, started: Instant, due: Duration) {
    let deadline = started + due;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let step = if progress.is_bar() { (deadline - now).min(Duration::from_millis(250)) } else { deadline - now };
        tokio::time::sleep(step).await;
        progress.tick(started.elapsed());
    }
}

async fn sample(r: &mut Runner, c: &MonitorCheck, client: &reqwest::Client, probe: &mut Probe) -> (Option<f64>, Option<String>) {
    match probe {
        Probe::Query | Probe::Http => sample_check(Ok(r.db.as_mut()), &r.vars, c, client).await,
        Probe::Log(cursor, re) => match cursor.poll(re) {
            Ok((matched, lines)) => (Some(matched as f64), Some(format!("{lines} new line(s) since the step began"))),
            Err(e) => (None, Some(e)),
        },
        Probe::Nothing => (None, Some("check has nothing to sample".into())),
    }
}

/// One sample of a `query` or `http` check: the value read, and a note on how it was read (or
/// why it could not be). The one sampler of a monitor step and of a fleet's bake, so a query is
/// built ([`super::query`]: secrets judged, lone literals bound) and an answer read the same way
/// in both. `db` is the target's connection, or why there is none. A `log` check is read while
/// its step runs, by the step itself.
pub async fn sample_check(
    db: std::result::Result<&mut dyn crate::db::Database, &str>,
    vars: &Vars,
    c: &MonitorCheck,
    client: &reqwest::Client,
) -> (Option<f64>, Option<String>) {
    if let Some(q) = &c.query {
        let db = match db {
            Ok(db) => db,
            Err(e) => return (None, Some(format!("cannot connect: {e}"))),
        };
        let engine = db.engine();
        let Some(sql) = super::sql_for(q, engine) else {
            return (None, Some(format!("no SQL for {engine}")));
        };
        let sql = match super::query(vars, &sql, engine) {
            Ok(s) => s,
            Err(e) => return (None, Some(e.to_string())),
        };
        return match db.query_scalar(&sql).await {
            Ok(Some(v)) => match v.trim().parse::<f64>() {
                Ok(n) => (Some(n), None),
                Err(_) => (None, Some(format!("not a number: {v}"))),
            },
            Ok(None) => (Some(0.0), Some("NULL or no row, read as 0".into())),
            Err(e) => (None, Some(format!("query error: {e}"))),
        };
    }
    if let Some(u) = &c.http {
        let url = match vars.render(u) {
            Ok(u) => u,
            Err(e) => return (None, Some(e.to_string())),
        };
        let mut req = client.get(&url);
        for (k, v) in c.headers.iter().flatten() {
            match vars.render(v) {
                Ok(v) => req = req.header(k.as_str(), v),
                Err(e) => return (None, Some(e.to_string())),
            }
        }
        return match req.send().await {
            Ok(resp) => (Some(resp.status().as_u16() as f64), None),
            Err(e) => (None, Some(super::http::without_url(&e))),
        };
    }
    (None, Some("check has nothing to sample".into()))
}
