//! The step panel shown before each step, and the plain status lines of a run.

use std::io::Write;

use console::style;

use super::visible::{one_line, visible};
use crate::runbook::undo::{StepRef, Undo};

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
    /// How a change step is undone, with each rollback step's action; `None` in the rollback plan.
    pub undo: Option<UndoView<'a>>,
}

/// What the panel says about undoing a change step.
pub struct UndoView<'a> {
    pub undo: &'a Undo,
    /// The action of each rollback step in `Undo::By`, in the same order.
    pub actions: Vec<String>,
}

impl UndoView<'_> {
    /// The panel's lines about the undo, unstyled (the plan's side-by-side view uses them too).
    pub fn lines(&self) -> Vec<(UndoLine, String)> {
        match self.undo {
            Undo::By(refs) => {
                let mut out = Vec::new();
                for (r, action) in refs.iter().zip(&self.actions) {
                    out.push((UndoLine::Head, format!("↩ undone by {}", rollback_ref(r))));
                    for l in visible(action).lines() {
                        out.push((UndoLine::Action, l.to_string()));
                    }
                }
                out
            }
            Undo::PointOfNoReturn => vec![(UndoLine::NoReturn, "⚠ no undo: point of no return".into())],
            Undo::Unpaired => {
                vec![(UndoLine::Unpaired, "↩ no rollback step is paired with this step: a rollback runs the whole rollback plan".into())]
            }
            Undo::NotNeeded => Vec::new(),
        }
    }
}

/// "rollback step 3 · Remove Column" (with "(inferred)" when the pairing was not declared).
pub fn rollback_ref(r: &StepRef) -> String {
    let inferred = if r.inferred { " (inferred from its SQL)" } else { "" };
    format!("rollback step {} · {}{inferred}", r.number, one_line(&r.name))
}

/// The role of one undo line, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoLine {
    Head,
    Action,
    NoReturn,
    Unpaired,
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
        if let Some(u) = &self.undo {
            let lines = u.lines();
            if !lines.is_empty() {
                out("");
            }
            for (role, text) in lines {
                out(match role {
                    UndoLine::Head => format!("  {}", style(text).green()),
                    UndoLine::Action => format!("      {}", style(text).dim()),
                    UndoLine::NoReturn => format!("  {}", style(text).red().bold()),
                    UndoLine::Unpaired => format!("  {}", style(text).yellow()),
                });
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
