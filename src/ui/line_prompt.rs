//! Prompts that dialoguer draws (a typed line, a yes/no question, a secret), kept from leaving
//! ghost lines on a narrow terminal.
//!
//! dialoguer redraws its prompt in place and erases only the terminal row the cursor is on: a
//! prompt or an answer that wraps onto a second row leaves the first one behind, half a line
//! of text that no longer belongs to anything. So the question is printed by us, word-wrapped
//! to the terminal's width, and dialoguer only ever gets a short last line; for a typed line
//! (which can be as long as the operator likes) the rows it wrapped onto are erased here, and
//! the answer is printed once, wrapped.

use console::{style, Term};
use dialoguer::theme::ColorfulTheme;
use dialoguer::Input;

use super::terminal::wrap;
use crate::error::{Error, Result};

/// Columns kept free after the last line of a question for dialoguer's own marks and the
/// answer's first characters (`? … [y/N] › `).
const ROOM: usize = 16;

/// The terminal's width, as the terminal itself wraps (not `COLUMNS`, which the operator may
/// have set for a transcript): that is what decides where a prompt breaks.
fn columns(term: &Term) -> Option<usize> {
    term.size_checked().map(|(_, c)| c as usize).filter(|c| *c >= 20)
}

/// Print every line of `question` but the last, word-wrapped so that the last one leaves room
/// for dialoguer's marks, and return that last line for dialoguer to draw.
pub fn short_prompt(term: &Term, question: &str) -> Result<String> {
    let Some(cols) = columns(term) else { return Ok(question.to_string()) };
    if console::measure_text_width(question) + ROOM <= cols {
        return Ok(question.to_string());
    }
    let mut lines = wrap(question, Some(cols.saturating_sub(ROOM)), "");
    let last = lines.pop().unwrap_or_default();
    for (i, l) in lines.iter().enumerate() {
        let text = if i == 0 { format!("{} {}", style("?").yellow().bold(), style(l).bold()) } else { format!("  {}", style(l).bold()) };
        term.write_line(&text).map_err(lost)?;
    }
    Ok(if lines.is_empty() { last } else { format!("  {last}") })
}

/// Ask for a line of text: `question` on its own wrapped lines, `default` (what Enter keeps)
/// on the next, then a bare `›` to type after. Returns the trimmed answer, or `default` (or
/// an empty string) when nothing was typed.
pub fn ask_line(theme: &ColorfulTheme, question: &str, default: Option<&str>) -> Result<String> {
    let term = Term::stderr();
    let cols = columns(&term);
    for (i, l) in wrap(question, cols, "").iter().enumerate() {
        let text = if i == 0 { format!("{} {}", style("?").yellow().bold(), style(l).bold()) } else { format!("  {}", style(l).bold()) };
        term.write_line(&text).map_err(lost)?;
    }
    if let Some(d) = default {
        for l in wrap(&format!("Enter keeps: {d}"), cols, "  ") {
            term.write_line(&style(l).dim().to_string()).map_err(lost)?;
        }
    }
    let typed: String =
        Input::with_theme(theme).allow_empty(true).report(false).interact_text_on(&term).map_err(super::prompt::dialoguer_error)?;
    // The cursor is on the last row the prompt and the typing took, which dialoguer erased;
    // the rows above it are erased here.
    if let Some(cols) = cols {
        let mut prompt = String::new();
        let _ = dialoguer::theme::Theme::format_input_prompt(theme, &mut prompt, "", None);
        let used = console::measure_text_width(&prompt) + console::measure_text_width(&typed);
        let rows = used.div_ceil(cols).max(1);
        if rows > 1 {
            term.clear_last_lines(rows - 1).map_err(lost)?;
        }
    }
    let typed = typed.trim();
    let answer = if typed.is_empty() { default.unwrap_or("").to_string() } else { typed.to_string() };
    if !answer.is_empty() {
        for (i, l) in wrap(&answer, cols.map(|c| c.saturating_sub(2)), "").iter().enumerate() {
            let mark = if i == 0 { style("✔").green().to_string() } else { " ".to_string() };
            term.write_line(&format!("{mark} {}", style(l).cyan())).map_err(lost)?;
        }
    }
    Ok(answer)
}

fn lost(e: std::io::Error) -> Error {
    Error::Stopped { message: format!("prompt aborted: {e}") }
}
