//! Checking a journal's hash chain: which line, if any, was changed, removed or inserted.
//!
//! Every line records in `prev` the sha256 of the line before it, so a change to any line
//! breaks the link of the line after it. The last line has no successor: a change there shows
//! only against the seal a report carries, which is why `verify` takes the seal when known.
//! Work is done on raw bytes so that a byte that is not UTF-8 is caught too.

use std::path::Path;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{Entry, Link, FILE_NAME, GENESIS};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every line chains to the one before; `seal` is the hash of the last line.
    Intact { lines: usize, seal: String },
    /// Intact up to a last line that was cut off mid-write (a crash, not tampering).
    Torn { lines: usize, seal: String },
    /// The chain breaks at `line` (1-based): the first line that was changed, removed or inserted.
    Broken { line: usize, reason: String },
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        !matches!(self, Verdict::Broken { .. })
    }
}

/// Verify the journal of `run_dir`; `seal` is the hash a report says the journal ends with.
pub fn verify(run_dir: &Path, seal: Option<&str>) -> Result<Verdict> {
    let path = run_dir.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
    Ok(verify_bytes(&bytes, seal))
}

fn hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// One line as read: the hash of its bytes (without the newline) and, if it parses as an
/// event of the chain's kind, its chain fields.
struct Line {
    hash: String,
    entry: Option<Link>,
}

/// Parse `body` as a line of a chain whose lines are `L`s, keeping its chain fields.
fn link<L: DeserializeOwned>(body: &[u8]) -> Option<Link> {
    serde_json::from_slice::<L>(body).ok()?;
    serde_json::from_slice::<Link>(body).ok()
}

/// Verify journal text given as bytes.
pub fn verify_bytes(bytes: &[u8], seal: Option<&str>) -> Verdict {
    verify_chain::<Entry>(bytes, seal)
}

/// Verify any hash-chained file whose lines are `L`s (a run journal's are [`Entry`]).
pub fn verify_chain<L: DeserializeOwned>(bytes: &[u8], seal: Option<&str>) -> Verdict {
    let mut parts: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    // A last part without its newline was cut off mid-write; it is judged on its own below.
    let torn = match parts.last() {
        Some(p) if !p.ends_with(b"\n") => parts.pop(),
        _ => None,
    };
    let lines: Vec<Line> = parts
        .iter()
        .map(|raw| {
            let body = &raw[..raw.len() - 1];
            Line { hash: hash(body), entry: link::<L>(body) }
        })
        .collect();
    // hashes[k] is what line k+1 must record as `prev`.
    let mut hashes = vec![GENESIS.to_string()];
    hashes.extend(lines.iter().map(|l| l.hash.clone()));

    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let Some(entry) = &line.entry else {
            return Verdict::Broken { line: n, reason: format!("line {n} is not a journal event: it was changed or corrupted") };
        };
        let expected = n as u64;
        if entry.prev == hashes[i] {
            if entry.seq == expected {
                continue;
            }
            return Verdict::Broken {
                line: n,
                reason: format!("line {n} was changed: it carries sequence number {} where {expected} was expected", entry.seq),
            };
        }
        return broken_link(&lines, &hashes, i, entry, seal);
    }

    let complete = lines.len();
    let last = hashes[complete].clone();
    if let Some(fragment) = torn {
        if let Some(reason) = not_a_torn_write::<L>(fragment, complete as u64 + 1, &last) {
            return Verdict::Broken { line: complete + 1, reason };
        }
    }
    if let Some(want) = seal {
        if want != last {
            return seal_mismatch(&hashes, want);
        }
    }
    match torn {
        Some(_) => Verdict::Torn { lines: complete, seal: last },
        None => Verdict::Intact { lines: complete, seal: last },
    }
}

/// Line `i` (0-based) does not record the hash of the line before it: say what happened.
fn broken_link(lines: &[Line], hashes: &[String], i: usize, entry: &Link, seal: Option<&str>) -> Verdict {
    let n = i + 1;
    let expected = n as u64;
    // It chains onto an earlier line: the lines in between were slipped in.
    if let Some(j) = hashes[..i].iter().position(|h| *h == entry.prev) {
        let first = j + 1;
        let count = i - j;
        return Verdict::Broken {
            line: first,
            reason: if count == 1 {
                format!("line {first} was inserted: line {n} chains to the line before it")
            } else {
                format!("lines {first}–{} were inserted: line {n} chains to line {j}", i)
            },
        };
    }
    if entry.seq > expected {
        let gone = entry.seq - expected;
        return Verdict::Broken {
            line: n,
            reason: format!("{gone} line(s) were removed just before line {n} (sequence numbers {expected}–{} are missing)", entry.seq - 1),
        };
    }
    // Either line n-1 changed (so its hash no longer matches), or line n's `prev` did. The
    // line after n tells them apart: it still chains onto n only if n is unchanged.
    let next_prev = lines.get(i + 1).and_then(|l| l.entry.as_ref()).map(|e| e.prev.as_str());
    let n_is_original = match next_prev {
        Some(p) if p == hashes[i] && n > 1 => {
            // The next line chains onto the one before n: n itself was slipped in.
            return Verdict::Broken { line: n, reason: format!("line {n} was inserted: line {} chains to line {}", n + 1, n - 1) };
        }
        Some(p) => Some(p == lines[i].hash),
        None if lines.get(i + 1).is_some() => Some(false),
        None => seal.map(|s| s == lines[i].hash),
    };
    match n_is_original {
        Some(true) if n > 1 => Verdict::Broken {
            line: n - 1,
            reason: format!("line {} was changed: line {n} records a different hash for it", n - 1),
        },
        Some(true) | Some(false) => Verdict::Broken {
            line: n,
            reason: format!("line {n} was changed: it does not record the hash of the line before it"),
        },
        None if n > 1 => Verdict::Broken {
            line: n - 1,
            reason: format!(
                "line {} was changed, or the hash that line {n} (the last) records for it was: pass the report's seal with --seal to tell which",
                n - 1
            ),
        },
        None => Verdict::Broken { line: 1, reason: "line 1 was changed: it does not start the chain".into() },
    }
}

/// Why the last, newline-less part of a journal is not the start of the next line, if it is not.
fn not_a_torn_write<L: DeserializeOwned>(fragment: &[u8], seq: u64, prev: &str) -> Option<String> {
    let n = seq;
    // Every line starts the same way; a torn write is a prefix of such a line.
    let head = format!("{{\"seq\":{seq},\"ts\":\"");
    let agree = fragment.len().min(head.len());
    if fragment[..agree] != head.as_bytes()[..agree] {
        return Some(format!("line {n} has no newline and is not the start of journal event {seq}: it was changed or appended"));
    }
    // A whole event with only its newline missing is a torn write too, if it chains.
    if let Some(entry) = link::<L>(fragment) {
        if entry.prev != prev {
            return Some(format!("line {n} (without its newline) does not record the hash of the line before it"));
        }
        return None;
    }
    // A complete JSON value followed by more bytes cannot come from an interrupted write.
    let mut stream = serde_json::Deserializer::from_slice(fragment).into_iter::<serde_json::Value>();
    if let Some(Ok(_)) = stream.next() {
        return Some(format!("line {n} was changed: bytes follow the end of the event where its newline should be"));
    }
    let text = String::from_utf8_lossy(fragment);
    if let Some(at) = text.find("\"prev\":\"") {
        let recorded: String = text[at + 8..].chars().take(64).collect();
        if recorded.len() == 64 && recorded != prev {
            return Some(format!("line {n} (torn) does not record the hash of the line before it"));
        }
    }
    None
}

/// The chain is whole but does not end with the seal the report carries.
fn seal_mismatch(hashes: &[String], want: &str) -> Verdict {
    let lines = hashes.len() - 1;
    if let Some(j) = hashes.iter().position(|h| h == want) {
        if j < lines {
            return Verdict::Broken {
                line: j + 1,
                reason: format!(
                    "the report's seal is the hash of line {j}: line(s) {}–{lines} were added after the report was made",
                    j + 1
                ),
            };
        }
    }
    Verdict::Broken {
        line: lines.max(1),
        reason: format!(
            "the journal does not end with the report's seal {want}: line {} (the last) was changed, or lines were removed from the end",
            lines.max(1)
        ),
    }
}
