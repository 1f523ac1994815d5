//! The demo application's log file: what the stand-ins write and the monitor steps watch.

use std::io::Write;
use std::path::Path;

/// Append one line `TIMESTAMP LEVEL component: message`. Logging must never stop the job it
/// reports on, so a write failure is ignored.
pub fn append(path: &Path, level: &str, component: &str, message: &str) {
    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let line = format!("{ts} {level:<5} {component}: {message}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}
