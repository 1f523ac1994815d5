//! The step panel shown before each step, and the plain status lines of a run.

use std::io::Write;

use console::style;

use super::visible::{one_line, visible};

/// Print a line of run output (standard output).
pub fn out(line: impl AsRef<str>) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{}", line.as_ref());
    let _ = o.flush();
}

pub struct Panel<'a> {
    pub index: usize,
    pub total: usize,
    pub name: &'a str,
    pub kind: &'a str,
    pub plan_label: &'a str,
    pub description: Option<&'a str>,
    pub action: &'a str,
}

impl Panel<'_> {
    pub fn print(&self) {
        let title = format!("Step {}/{} · {} · {}", self.index, self.total, one_line(self.name), self.kind);
        let rule = "━".repeat(72usize.saturating_sub(title.chars().count() + 4).max(3));
        out("");
        out(format!("{} {} {}", style("━━").cyan(), style(&title).bold(), style(rule).cyan()));
        if self.plan_label == "rollback plan" {
            out(format!("  {}", style("(rollback plan)").yellow()));
        }
        if let Some(d) = self.description {
            for l in visible(d.trim()).lines() {
                out(format!("  {l}"));
            }
        }
        if !self.action.trim().is_empty() {
            out("");
            for l in visible(self.action).lines() {
                out(format!("    {l}"));
            }
        }
    }
}

pub fn ok(msg: impl AsRef<str>) {
    out(format!("  {} {}", style("✔").green(), visible(msg.as_ref())));
}

pub fn fail(msg: impl AsRef<str>) {
    out(format!("  {} {}", style("✘").red(), visible(msg.as_ref())));
}

pub fn info(msg: impl AsRef<str>) {
    out(format!("  {} {}", style("•").dim(), visible(msg.as_ref())));
}

pub fn warn(msg: impl AsRef<str>) {
    out(format!("  {} {}", style("!").yellow(), visible(msg.as_ref())));
}
