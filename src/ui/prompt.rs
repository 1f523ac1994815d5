//! Operator prompts: the interactive ones on the terminal and the automatic answers of
//! `--yes`. The engine only sees the [`Prompter`] trait, and every answer carries how it was
//! given so that the journal can say "auto-confirmed (--yes)" or "continued without asking (c)".
//!
//! The step prompt takes single keys rather than a menu: a menu wraps around (one arrow too
//! many from Run lands on Abort) and hides the cursor, which Ctrl-C then leaves hidden. Keys
//! cannot wrap, and every key that ends the run asks first.

use console::{style, Key, Term};
use dialoguer::theme::ColorfulTheme;
use dialoguer::Confirm;

use super::line_prompt::{ask_line, short_prompt};
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

/// The answer about a step that was in flight when its run stopped (`runbook resume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InFlight {
    RunAgain,
    /// The operator checked the database: the step's work is there.
    MarkDone,
    /// Leave it undone, for this reason.
    Skip(String),
    Abort,
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
    /// What to do with step `step_id`, which was in flight when its run stopped.
    fn in_flight(&mut self, step_id: &str) -> Result<InFlight>;
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
    fn in_flight(&mut self, _: &str) -> Result<InFlight> {
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

pub(super) fn dialoguer_error(e: dialoguer::Error) -> Error {
    // Losing the terminal mid-prompt (closed window, EOF) is treated as the operator stopping;
    // a menu that hid the cursor leaves it hidden, so it is shown again.
    super::restore_terminal();
    let dialoguer::Error::IO(io) = &e;
    // Ctrl-C typed at a yes/no question is read as a key there (and raised as SIGINT too): it
    // must end the run as the interruption it is, whichever of the two arrives first.
    if io.kind() == std::io::ErrorKind::Interrupted {
        return ctrl_c();
    }
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

const STEP_HELP: &str = "  r, Enter   run this step
  s          skip it (you are asked why; Enter keeps a default reason)
  a, q, Esc  abort the run (asks to confirm first)
  c          run this step and every later one without asking (checklists are still asked)
  ?          this help
  Ctrl-C     stop at once (exit 3)";

const IN_FLIGHT_KEYS: &str = "r run again · d mark done · s skip · a abort · ? help";

const IN_FLIGHT_HELP: &str = "  r          run the step again from its start
  d          mark it done: you checked the database and its work is there
  s          skip it (you are asked why; Enter keeps a default reason)
  a, q, Esc  abort the resume (asks to confirm first); the run stays resumable
  ?          this help
  Ctrl-C     stop at once (exit 3, journaled as interrupted)";

const ITEM_KEYS: &str = "y yes · w not yet · n no";

impl InteractivePrompter {
    /// Show `question` with its keys on one line and read one key (Ctrl-C included).
    fn show_keys(&self, question: &str, keys: &str) -> Result<(Term, Key)> {
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
        }
        Ok((term, key))
    }

    /// [`Self::show_keys`], with Ctrl-C ending the prompt as the operator stopping.
    fn ask_keys(&self, question: &str, keys: &str) -> Result<(Term, Key)> {
        let (term, key) = self.show_keys(question, keys)?;
        if matches!(key, Key::CtrlC) {
            return Err(ctrl_c());
        }
        Ok((term, key))
    }

    fn confirm_abort(&self) -> Result<bool> {
        let _restore = super::terminal::Guard;
        let prompt = short_prompt(&Term::stderr(), "Abort the run here? Nothing more is run")?;
        Confirm::with_theme(&self.theme).with_prompt(prompt).default(false).interact_opt().map_err(dialoguer_error).map(|a| a == Some(true))
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
        ask_line(&self.theme, "Why is this step skipped?", Some(DEFAULT_SKIP_REASON))
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
        let s = ask_line(&self.theme, prompt, None)?;
        Ok(if s.is_empty() { None } else { Some(s) })
    }
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool> {
        let _restore = super::terminal::Guard;
        let prompt = short_prompt(&Term::stderr(), question)?;
        Confirm::with_theme(&self.theme).with_prompt(prompt).default(default).interact().map_err(dialoguer_error)
    }
    fn in_flight(&mut self, step_id: &str) -> Result<InFlight> {
        let question = format!("What about step `{step_id}`?");
        loop {
            let (term, key) = self.show_keys(&question, IN_FLIGHT_KEYS)?;
            // Arrows and stray keys answer nothing: there is no menu to wrap around into Abort.
            let (answer, word) = match key {
                // The same stop as at every other prompt: the caller's one interruption route.
                Key::CtrlC => return Err(ctrl_c()),
                Key::Char('r') | Key::Char('R') => (InFlight::RunAgain, "run it again"),
                Key::Char('d') | Key::Char('D') => (InFlight::MarkDone, "mark it done"),
                Key::Char('s') | Key::Char('S') => {
                    let _ = term.write_line(&style("skip").cyan().to_string());
                    return Ok(InFlight::Skip(self.skip_reason()?));
                }
                Key::Char('a') | Key::Char('A') | Key::Char('q') | Key::Char('Q') | Key::Escape => {
                    let _ = term.write_line("abort?");
                    if self.confirm_abort()? {
                        return Ok(InFlight::Abort);
                    }
                    continue;
                }
                Key::Char('?') | Key::Char('h') => {
                    let _ = term.write_line("help");
                    let _ = term.write_line(IN_FLIGHT_HELP);
                    continue;
                }
                _ => {
                    let _ = term.write_line("");
                    continue;
                }
            };
            let _ = term.write_line(&style(word).cyan().to_string());
            return Ok(answer);
        }
    }
    fn secret(&mut self, prompt: &str) -> Result<Option<String>> {
        let _restore = super::terminal::Guard;
        let prompt = short_prompt(&Term::stderr(), prompt)?;
        let s = dialoguer::Password::with_theme(&self.theme).with_prompt(prompt).interact().map_err(dialoguer_error)?;
        Ok(Some(s))
    }
}
