//! The last lines of a run: how it ended, every file it wrote (reports and journal), the run
//! folder, and after an abort, a failure or an interruption the exact commands that come next.
//! At the end of a bad night the operator should not have to work out what to type.

use std::path::{Path, PathBuf};

use super::{out, panel};

/// What a run leaves behind and what to do next.
pub struct Ending<'a> {
    pub run_id: &'a str,
    /// "succeeded", "aborted", …
    pub outcome: &'a str,
    pub ok: bool,
    pub run_dir: &'a Path,
    /// The reports written, in the order shown (markdown, html, json); empty when writing failed.
    pub reports: Vec<PathBuf>,
    pub journal: &'a Path,
    /// Commands to type next, each with what it does.
    pub next: Vec<(String, &'static str)>,
}

impl Ending<'_> {
    pub fn print(&self) {
        out("");
        let line = format!("Run {}: {}", self.run_id, self.outcome);
        if self.ok {
            panel::ok(line);
        } else {
            panel::fail(line);
        }
        out("");
        out(format!("Run folder: {}", self.run_dir.display()));
        for r in &self.reports {
            let label = match r.extension().and_then(|e| e.to_str()) {
                Some("md") => "Report (markdown)",
                Some("html") => "Report (HTML)",
                Some("json") => "Report (JSON)",
                _ => "Report",
            };
            out(format!("{label:<18}: {}", r.display()));
        }
        out(format!("{:<18}: {}", "Journal", self.journal.display()));
        if !self.next.is_empty() {
            out("");
            out("Next:");
            for (cmd, what) in &self.next {
                out(format!("  {cmd}"));
                out(format!("      {what}"));
            }
        }
    }
}

/// A word safe to paste into a shell: quoted when it holds anything but plain characters.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:@=+,%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("runbook-runs/2026-x"), "runbook-runs/2026-x");
        assert_eq!(shell_word("my runs/it's"), "'my runs/it'\\''s'");
    }
}
