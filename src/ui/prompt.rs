//! Operator prompts: the interactive ones (dialoguer on the terminal) and the automatic
//! answers of `--yes`. The engine only sees the [`Prompter`] trait, and every answer carries
//! how it was given so that the journal can say "auto-confirmed (--yes)".

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Run,
    Skip,
    Abort,
}

pub trait Prompter: Send {
    /// How answers are given, for the journal: "interactive" or "auto-confirmed (--yes)".
    fn how(&self) -> &'static str;
    fn interactive(&self) -> bool;
    /// Run / Skip / Abort for a step.
    fn step(&mut self) -> Result<Decision>;
    /// Confirm one checklist item; `false` means the operator did not confirm it.
    fn checklist_item(&mut self, item: &str) -> Result<bool>;
    /// An optional free-text note.
    fn note(&mut self, prompt: &str) -> Result<Option<String>>;
    /// A yes/no question.
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool>;
    /// Ask which way to handle a step that was in flight when a run died.
    fn choose(&mut self, question: &str, items: &[&str]) -> Result<usize>;
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
    fn step(&mut self) -> Result<Decision> {
        Ok(Decision::Run)
    }
    fn checklist_item(&mut self, _: &str) -> Result<bool> {
        Ok(true)
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
}

fn io(e: dialoguer::Error) -> Error {
    // Losing the terminal mid-prompt (closed window, EOF) is treated as the operator stopping.
    Error::Stopped { message: format!("prompt aborted: {e}") }
}

impl Prompter for InteractivePrompter {
    fn how(&self) -> &'static str {
        "interactive"
    }
    fn interactive(&self) -> bool {
        true
    }
    fn step(&mut self) -> Result<Decision> {
        let i = Select::with_theme(&self.theme)
            .with_prompt("Run this step?")
            .items(&["Run", "Skip", "Abort"])
            .default(0)
            .interact_opt()
            .map_err(io)?;
        Ok(match i {
            Some(0) => Decision::Run,
            Some(1) => Decision::Skip,
            _ => Decision::Abort,
        })
    }
    fn checklist_item(&mut self, item: &str) -> Result<bool> {
        Confirm::with_theme(&self.theme).with_prompt(format!("Done: {item}?")).default(false).interact().map_err(io)
    }
    fn note(&mut self, prompt: &str) -> Result<Option<String>> {
        let s: String = Input::with_theme(&self.theme).with_prompt(prompt).allow_empty(true).interact_text().map_err(io)?;
        let s = s.trim().to_string();
        Ok(if s.is_empty() { None } else { Some(s) })
    }
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool> {
        Confirm::with_theme(&self.theme).with_prompt(question).default(default).interact().map_err(io)
    }
    fn choose(&mut self, question: &str, items: &[&str]) -> Result<usize> {
        Select::with_theme(&self.theme).with_prompt(question).items(items).default(0).interact().map_err(io)
    }
}
