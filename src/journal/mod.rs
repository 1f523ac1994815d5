//! The run journal: `journal.jsonl`, one event per line, each line fsync'd as it happens and
//! chained to the one before by its sha256, so that a changed, removed or inserted line shows.

pub mod event;
pub mod verify;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use event::{Decision, Entry, Event, Mode, Outcome, RollbackCause, RunHeader, SecretSource, Skip, StepOutline, StepStatus};

use crate::error::{Error, Result};
use crate::redact::Redactor;

pub const FILE_NAME: &str = "journal.jsonl";

/// How many times one journal line is tried before the run stops on the error.
const WRITE_ATTEMPTS: u32 = 5;
/// The pause before the n-th retry is n times this.
const WRITE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct Journal {
    file: File,
    path: PathBuf,
    seq: u64,
    prev: String,
    redactor: Redactor,
    fault: Option<Fault>,
    /// The file's length after its last complete line: a failed append is cut back to it.
    len: u64,
}

/// Fault injection for the reliability tests: `RUNBOOK_FAULT=kill-after=EVENT[:STEP_ID][#N]`
/// kills the process with SIGKILL right after the N-th matching event is durable, which is
/// exactly what `kill -9` at that step boundary does. `any` as EVENT matches every event, so
/// `kill-after=any#N` kills after the N-th line a process writes. `fail-write=…` instead makes
/// that append fail half-way once, as a disk that fills for a moment does.
#[derive(Debug, Clone)]
struct Fault {
    kill: bool,
    event: String,
    step_id: Option<String>,
    nth: u32,
    seen: u32,
}

impl Fault {
    fn from_env() -> Option<Fault> {
        let spec = std::env::var("RUNBOOK_FAULT").ok()?;
        let (kill, spec) = match spec.strip_prefix("kill-after=") {
            Some(s) => (true, s),
            None => (false, spec.strip_prefix("fail-write=")?),
        };
        let (spec, nth) = match spec.split_once('#') {
            Some((s, n)) => (s, n.parse().ok()?),
            None => (spec, 1),
        };
        let (event, step_id) = match spec.split_once(':') {
            Some((e, id)) => (e.to_string(), Some(id.to_string())),
            None => (spec.to_string(), None),
        };
        Some(Fault { kill, event, step_id, nth, seen: 0 })
    }

    fn hit(&mut self, value: &serde_json::Value) -> bool {
        if self.event != "any" && value["event"] != self.event.as_str() {
            return false;
        }
        if let Some(id) = &self.step_id {
            if value["step_id"] != id.as_str() {
                return false;
            }
        }
        self.seen += 1;
        self.seen == self.nth
    }
}

impl Journal {
    /// Start a new journal in `run_dir`.
    pub fn create(run_dir: &Path, redactor: Redactor) -> Result<Journal> {
        Journal::create_file(&run_dir.join(FILE_NAME), redactor)
    }

    /// Start a new hash-chained file at `path` (a run journal, or another chained record such
    /// as a fleet's): the chain is the same whatever events it carries.
    pub fn create_file(path: &Path, redactor: Redactor) -> Result<Journal> {
        let file = OpenOptions::new().create_new(true).append(true).mode(0o600).open(path).map_err(|e| Error::write(path, e))?;
        // The folder may be new too: its own entry must be as durable as the file's.
        crate::durable::sync_parent(path)?;
        if let Some(dir) = path.parent() {
            crate::durable::sync_parent(dir)?;
        }
        Ok(Journal { file, path: path.to_path_buf(), seq: 0, prev: GENESIS.to_string(), redactor, fault: Fault::from_env(), len: 0 })
    }

    /// Continue an existing journal, after its last complete line.
    pub fn append_to(run_dir: &Path, redactor: Redactor) -> Result<Journal> {
        Journal::append_file::<Entry>(&run_dir.join(FILE_NAME), redactor)
    }

    /// Continue the chained file at `path`, whose lines are `L`s, after its last complete line.
    pub fn append_file<L: DeserializeOwned>(path: &Path, redactor: Redactor) -> Result<Journal> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let mut seq = 0;
        let mut prev = GENESIS.to_string();
        let mut good_len = 0usize;
        for line in text.split_inclusive('\n') {
            if !line.ends_with('\n') {
                break; // a torn last line is left for `audit verify` to report
            }
            let body = &line[..line.len() - 1];
            let link: Link = serde_json::from_str(body)
                .and_then(|link| serde_json::from_str::<L>(body).map(|_| link))
                .map_err(|e| Error::failed(format!("{}: unreadable line {}: {e}", path.display(), seq + 1)))?;
            seq = link.seq;
            prev = line_hash(body);
            good_len += line.len();
        }
        let file = OpenOptions::new().append(true).open(path).map_err(|e| Error::write(path, e))?;
        if good_len < text.len() {
            // Drop the torn tail so that new lines chain onto the last complete one.
            file.set_len(good_len as u64).map_err(|e| Error::write(path, e))?;
        }
        Ok(Journal { file, path: path.to_path_buf(), seq, prev, redactor, fault: Fault::from_env(), len: good_len as u64 })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Append one event and make it durable before returning. An append that fails (a full
    /// disk, an I/O error) is cut back to the last complete line and tried again; if it still
    /// fails, its sequence number stays unused: the journal never holds a torn line in its middle
    /// or a gap in `seq`, so `resume`, `report` and `audit verify` read it as if the failed line
    /// had never been attempted.
    pub fn record(&mut self, event: Event) -> Result<()> {
        self.record_event(&event)
    }

    /// Append any event type that serializes to a JSON object with an `event` tag: the line
    /// carries `seq`, `ts` and `prev` before it, exactly as a run journal's lines do.
    pub fn record_event<E: Serialize>(&mut self, event: &E) -> Result<()> {
        let seq = self.seq + 1;
        let entry = Chained { seq, ts: now(), prev: &self.prev, event };
        let mut value = serde_json::to_value(&entry).map_err(|e| Error::failed(format!("journal encoding: {e}")))?;
        self.redactor.json(&mut value);
        let line = value.to_string();
        let mut buf = line.clone().into_bytes();
        buf.push(b'\n');
        let hit = self.fault.as_mut().is_some_and(|f| f.hit(&value));
        let kill = hit && self.fault.as_ref().is_some_and(|f| f.kill);
        let mut fail_now = hit && !kill;
        let mut attempt = 0;
        loop {
            let written = if std::mem::take(&mut fail_now) {
                // Half the line reaches the file, then the disk is full.
                let _ = self.file.write_all(&buf[..buf.len() / 2]);
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                self.file.write_all(&buf).and_then(|_| self.file.sync_data())
            };
            let Err(e) = written else { break };
            // Whatever part of the line reached the file goes: the journal ends on a whole line.
            let _ = self.file.set_len(self.len).and_then(|_| self.file.sync_data());
            attempt += 1;
            if attempt >= WRITE_ATTEMPTS {
                return Err(Error::write(&self.path, e));
            }
            // A disk that filled for a moment (a log rotation, a temporary file) often clears
            // within a second: the same line is tried again, whole, a few times.
            crate::ui::panel::warn(format!("journal write failed ({e}); cut back to its last line, trying again"));
            std::thread::sleep(WRITE_RETRY_PAUSE * attempt);
        }
        self.seq = seq;
        self.len += buf.len() as u64;
        self.prev = line_hash(&line);
        if kill {
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
        Ok(())
    }

    /// The sequence number of the last line.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The hash of the last line written: the seal that reports carry.
    pub fn seal(&self) -> &str {
        &self.prev
    }
}

/// A line as written: the same layout as [`Entry`], for any event type.
#[derive(Serialize)]
struct Chained<'a, E> {
    seq: u64,
    ts: String,
    prev: &'a str,
    #[serde(flatten)]
    event: &'a E,
}

/// The chain fields every line has, whatever its event.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub seq: u64,
    pub prev: String,
}

/// sha256 of a line's bytes, without its newline.
pub fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Read every complete entry of a journal (a torn last line is ignored here). An unreadable
/// line is an error: resuming or posting from a damaged journal must not guess.
pub fn read(run_dir: &Path) -> Result<(Vec<Entry>, String)> {
    let (entries, seal, bad) = read_readable(run_dir)?;
    match bad {
        Some((line, e)) => Err(Error::usage(format!("{}:{line}: not a journal event: {e}", run_dir.join(FILE_NAME).display()))),
        None => Ok((entries, seal)),
    }
}

/// Entries, the seal of the last one, and the first unreadable line (number, error) if any.
pub type Readable = (Vec<Entry>, String, Option<(usize, String)>);

/// The entries before the first unreadable line, and that line's number and error: a report
/// can still show what the journal says up to the damage (its chain status names the line).
pub fn read_readable(run_dir: &Path) -> Result<Readable> {
    let path = run_dir.join(FILE_NAME);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
    let mut out = Vec::new();
    let mut seal = GENESIS.to_string();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            break;
        }
        let body = &line[..line.len() - 1];
        match serde_json::from_str::<Entry>(body) {
            Ok(entry) => {
                seal = line_hash(body);
                out.push(entry);
            }
            Err(e) => return Ok((out, seal, Some((i + 1, e.to_string())))),
        }
    }
    Ok((out, seal, None))
}
