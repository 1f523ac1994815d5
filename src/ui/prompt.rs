//! Operator prompts: the interactive ones on the terminal and the automatic answers of
//! `--yes`. The engine only sees the [`Prompter`] trait, and every answer carries how it was
//! given so that the journal can say "auto-confirmed (--yes)" or "continued without asking (c)".
//!
//! The step prompt takes single keys rather than a menu: a menu wraps around (one arrow too
//! many from Run lands on Abort) and hides the cursor, which Ctrl-C then leaves hidden. Keys
//! cannot wrap, and every key that ends the run asks first.

use console::{style, Key, Term};
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

use super::visible::one_line;
use crate::error::{Error, Result};

/// The reason recorded when the operator skips a step without typing one.
pub const DEFAULT_SKIP_REASON: &str = "skipped by the operator at the prompt";

/// The answer to one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemAnswer {
    Yes,
    /// Not done yet: wait, then ask again.
    NotYet,
    No,
}

/// The journal records the decision as it is: one type from the prompt to the report.
pub use crate::journal::Decision;

pub trait Prompter: Send {
    /// How answers are given, for the journal: "interactive" or "auto-confirmed (--yes)".
    fn how(&self) -> &'static str;
    fn interactive(&self) -> bool;
    /// Run / Skip / Abort for a step, asking `question` ("Take the backup now?").
    fn step(&mut self, question: &str) -> Result<Decision>;
    /// Why a step is skipped; an empty answer gives [`DEFAULT_SKIP_REASON`].
    fn skip_reason(&mut self) -> Result<String>;
    /// Confirm one checklist item: yes, not yet (ask again later), or no.
    fn checklist_item(&mut self, item: &str) -> Result<ItemAnswer>;
    /// An optional free-text note.
    fn note(&mut self, prompt: &str) -> Result<Option<String>>;
    /// A yes/no question.
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool>;
    /// Ask which way to handle a step that was in flight when a run died.
    fn choose(&mut self, question: &str, items: &[&str]) -> Result<usize>;
    /// A secret value typed without echo; `None` where nobody can type one.
    fn secret(&mut self, _prompt: &str) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Answers every prompt with yes, as `--yes` asks.
pub struct AutoPrompter {
    pub label: &'static str,
}

impl Prompter for AutoPrompter {
    fn how(&self) -> &'static str {
        self.label
    }
    fn interactive(&self) -> bool {
        false
    }
    fn step(&mut self, _: &str) -> Result<Decision> {
        Ok(Decision::Run)
    }
    fn skip_reason(&mut self) -> Result<String> {
        Ok(DEFAULT_SKIP_REASON.into())
    }
    fn checklist_item(&mut self, _: &str) -> Result<ItemAnswer> {
        Ok(ItemAnswer::Yes)
    }
    fn note(&mut self, _: &str) -> Result<Option<String>> {
        Ok(None)
    }
    fn confirm(&mut self, _: &str, default: bool) -> Result<bool> {
        Ok(default)
    }
    fn choose(&mut self, _: &str, _: &[&str]) -> Result<usize> {
        Err(Error::usage("a decision is needed that --yes cannot make"))
    }
}

/// Asks on the terminal.
#[derive(Default)]
pub struct InteractivePrompter {
    theme: ColorfulTheme,
    /// Whether the operator pressed `c`: the remaining step prompts are answered "run" (and
    /// journaled as such); checklist items are still asked, as only a person can confirm them.
    continue_all: Continue,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Continue {
    #[default]
    Asking,
    /// `c` was pressed at the current prompt.
    JustChosen,
    /// Later steps, run without a prompt.
    Continuing,
}

fn io(e: dialoguer::Error) -> Error {
    // Losing the terminal mid-prompt (closed window, EOF, Ctrl-C in a menu) is treated as the
    // operator stopping; a menu that hid the cursor leaves it hidden, so it is shown again.
    super::restore_terminal();
    Error::Stopped { message: format!("prompt aborted: {e}") }
}

fn lost(e: std::io::Error) -> Error {
    Error::Stopped { message: format!("prompt aborted: {e}") }
}

fn ctrl_c() -> Error {
    // The same stop as the signal Ctrl-C sends when no prompt holds the terminal.
    Error::Interrupted { signal: "Ctrl-C".into() }
}

const STEP_KEYS: &str = "r run · s skip · a abort · c run the rest · ? help";

const STEP_HELP: &str = "\
  r, Enter   run this step
  s          skip it (you are asked why; Enter keeps a default reason)
  a, q, Esc  abort the run (asks to confirm first)
  c          run this step and every later one without asking (checklists are still asked)
  ?          this help
  Ctrl-C     stop at once (exit 3)";

const ITEM_KEYS: &str = "y yes · w not yet · n no";

impl InteractivePrompter {
    /// Show `question` with its keys on one line and read single keys until one is an answer.
    fn ask_keys(&self, question: &str, keys: &str) -> Result<(Term, Key)> {
        let term = Term::stderr();
        // Nothing is redrawn in place, so a narrow terminal gets the keys on their own line
        // rather than a prompt that wraps mid-word.
        let width = term.size_checked().map(|(_, c)| c as usize);
        let one_line = console::measure_text_width(question) + console::measure_text_width(keys) + 8;
        if width.is_some_and(|w| one_line > w) {
            let lines = super::terminal::wrap(question, width, "  ");
            for (i, l) in lines.iter().enumerate() {
                let text =
                    if i == 0 { format!("{} {}", style("?").yellow().bold(), style(&l[2..]).bold()) } else { style(l).bold().to_string() };
                term.write_line(&text).map_err(lost)?;
            }
            term.write_str(&format!("  {} ", style(format!("[{keys}]")).dim())).map_err(lost)?;
        } else {
            term.write_str(&format!("{} {}  {} ", style("?").yellow().bold(), style(question).bold(), style(format!("[{keys}]")).dim()))
                .map_err(lost)?;
        }
        let key = term.read_key_raw().map_err(lost)?;
        if matches!(key, Key::CtrlC) {
            let _ = term.write_line("^C");
            return Err(ctrl_c());
        }
        Ok((term, key))
    }

    fn confirm_abort(&self) -> Result<bool> {
        let _restore = super::terminal::Guard;
        Confirm::with_theme(&self.theme)
            .with_prompt("Abort the run here? Nothing more is run")
            .default(false)
            .interact_opt()
            .map_err(io)
            .map(|a| a == Some(true))
    }
}

impl Prompter for InteractivePrompter {
    fn how(&self) -> &'static str {
        match self.continue_all {
            Continue::Asking => "interactive",
            Continue::JustChosen => "interactive (c: run the rest without asking)",
            Continue::Continuing => "continued without asking (c)",
        }
    }
    fn interactive(&self) -> bool {
        true
    }
    fn step(&mut self, question: &str) -> Result<Decision> {
        match self.continue_all {
            Continue::Asking => {}
            Continue::JustChosen | Continue::Continuing => {
                self.continue_all = Continue::Continuing;
                super::panel::info("run without asking (c)");
                return Ok(Decision::Run);
            }
        }
        let question = one_line(question);
        loop {
            let (term, key) = self.ask_keys(&question, STEP_KEYS)?;
            let answer = match key {
                Key::Enter | Key::Char('r') | Key::Char('R') => Some(Decision::Run),
                Key::Char('s') | Key::Char('S') => Some(Decision::Skip),
                Key::Char('c') | Key::Char('C') => {
                    self.continue_all = Continue::JustChosen;
                    Some(Decision::Run)
                }
                Key::Char('a') | Key::Char('A') | Key::Char('q') | Key::Char('Q') | Key::Escape => {
                    let _ = term.write_line("abort?");
                    if self.confirm_abort()? {
                        return Ok(Decision::Abort);
                    }
                    continue;
                }
                Key::Char('?') | Key::Char('h') => {
                    let _ = term.write_line("help");
                    let _ = term.write_line(STEP_HELP);
                    continue;
                }
                _ => None,
            };
            match answer {
                Some(d) => {
                    let word = match (d, self.continue_all) {
                        (Decision::Run, Continue::JustChosen) => "run, and the rest without asking",
                        (Decision::Run, _) => "run",
                        (Decision::Skip, _) => "skip",
                        (Decision::Abort, _) => "abort",
                    };
                    let _ = term.write_line(&style(word).cyan().to_string());
                    return Ok(d);
                }
                // Any other key (an arrow, a stray letter) answers nothing: ask again.
                None => {
                    let _ = term.write_line("");
                }
            }
        }
    }
    fn skip_reason(&mut self) -> Result<String> {
        let _restore = super::terminal::Guard;
        let s: String = Input::with_theme(&self.theme)
            .with_prompt("Why is this step skipped?")
            .default(DEFAULT_SKIP_REASON.to_string())
            .interact_text()
            .map_err(io)?;
        let s = s.trim();
        Ok(if s.is_empty() { DEFAULT_SKIP_REASON.to_string() } else { s.to_string() })
    }
    fn checklist_item(&mut self, item: &str) -> Result<ItemAnswer> {
        let question = format!("Done: {}?", one_line(item));
        loop {
            let (term, key) = self.ask_keys(&question, ITEM_KEYS)?;
            // Enter answers nothing here: an item is confirmed or refused on purpose.
            let (answer, word) = match key {
                Key::Char('y') | Key::Char('Y') => (ItemAnswer::Yes, "yes"),
                Key::Char('w') | Key::Char('W') => (ItemAnswer::NotYet, "not yet"),
                Key::Char('n') | Key::Char('N') => (ItemAnswer::No, "no"),
                _ => {
                    let _ = term.write_line("");
                    continue;
                }
            };
            let _ = term.write_line(&style(word).cyan().to_string());
            return Ok(answer);
        }
    }
    fn note(&mut self, prompt: &str) -> Result<Option<String>> {
        let _restore = super::terminal::Guard;
        let s: String = Input::with_theme(&self.theme).with_prompt(prompt).allow_empty(true).interact_text().map_err(io)?;
        let s = s.trim().to_string();
        Ok(if s.is_empty() { None } else { Some(s) })
    }
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool> {
        let _restore = super::terminal::Guard;
        Confirm::with_theme(&self.theme).with_prompt(question).default(default).interact().map_err(io)
    }
    fn choose(&mut self, question: &str, items: &[&str]) -> Result<usize> {
        let _restore = super::terminal::Guard;
        Select::with_theme(&self.theme).with_prompt(question).items(items).default(0).interact().map_err(io)
    }
    fn secret(&mut self, prompt: &str) -> Result<Option<String>> {
        let _restore = super::terminal::Guard;
        let s = dialoguer::Password::with_theme(&self.theme).with_prompt(prompt).interact().map_err(io)?;
        Ok(Some(s))
    }
}
