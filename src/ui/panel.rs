//! The step panel shown before each step, and the plain status lines of a run.

use console::style;

use super::visible::{one_line, visible};
use crate::runbook::undo::{StepRef, Undo};

/// Print a line of run output: standard output, and the controlling terminal as well when
/// standard output is redirected while the operator is being asked (see [`super::terminal`]).
pub fn out(line: impl AsRef<str>) {
    super::terminal::write_line(line.as_ref());
}

/// Print `text` word-wrapped to the terminal's width, each line after `indent`.
pub fn out_wrapped(text: &str, indent: &str) {
    for l in super::terminal::wrap(text, super::terminal::width(), indent) {
        out(l);
    }
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
        // The rule ends the title line at the terminal's width (at most 72 columns), never past it.
        let room = super::terminal::width().unwrap_or(80).min(76);
        let rule = "━".repeat(room.saturating_sub(console::measure_text_width(&title) + 4).max(3));
        out("");
        out(format!("{} {} {}", style("━━").cyan(), style(&title).bold(), style(rule).cyan()));
        if self.plan_label == "rollback plan" {
            out(format!("  {}", style("(rollback plan)").yellow()));
        }
        if let Some(d) = self.description {
            out_wrapped(&visible(d.trim()), "  ");
        }
        if !self.action.trim().is_empty() {
            out("");
            out_wrapped(&visible(self.action), "    ");
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
                    UndoLine::Unpaired => {
                        for l in super::terminal::wrap(&text, super::terminal::width(), "  ") {
                            out(style(l).yellow().to_string());
                        }
                        continue;
                    }
                });
            }
        }
    }
}

pub fn ok(msg: impl AsRef<str>) {
    status(style("✔").green(), msg.as_ref());
}

pub fn fail(msg: impl AsRef<str>) {
    status(style("✘").red(), msg.as_ref());
}

pub fn info(msg: impl AsRef<str>) {
    status(style("•").dim(), msg.as_ref());
}

pub fn warn(msg: impl AsRef<str>) {
    status(style("!").yellow(), msg.as_ref());
}

/// A status line: its mark, then the message word-wrapped under itself, so that a long line
/// never breaks mid-word at the terminal's edge.
fn status(mark: console::StyledObject<&str>, msg: &str) {
    let text = visible(msg);
    let lines = super::terminal::wrap(&text, super::terminal::width(), "    ");
    for (i, l) in lines.into_iter().enumerate() {
        if i == 0 {
            out(format!("  {mark} {}", &l[4..]));
        } else {
            out(l);
        }
    }
}
