//! Everything that touches the terminal: error rendering, step panels, prompts and progress.
//! No other module prints or reads from the terminal.

pub mod columns;
pub mod diagnostic;
pub mod ending;
pub mod line_prompt;
pub mod panel;
pub mod progress;
pub mod prompt;
pub mod table;
pub mod terminal;
pub mod visible;

use std::io::IsTerminal;

pub use panel::{out, Panel, UndoView};
pub use prompt::{AutoPrompter, Decision, InFlight, InteractivePrompter, ItemAnswer, Prompter};
pub use terminal::{attach_tty, end_abandoned_prompt, restore_terminal};

use crate::error::Error;

/// Print an error the one way errors are printed; the caller turns it into an exit code.
pub fn print_error(e: &Error) {
    match e {
        Error::Invalid { diagnostics } => {
            for d in diagnostics {
                eprintln!("{}", diagnostic::render(d, std::io::stderr().is_terminal()));
            }
            if diagnostics.len() > 1 {
                eprintln!("error: {} problems in {}", diagnostics.len(), diagnostics[0].path);
            }
        }
        other => eprintln!("error: {other}"),
    }
}

/// Whether prompts can be shown: standard input and standard error are terminals.
pub fn interactive_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Whether standard output may be redrawn in place (a progress bar): a terminal that is not
/// `TERM=dumb`, without `NO_COLOR`. Otherwise output is plain lines, one per event, with no
/// cursor movement.
pub fn can_redraw() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb")
}

/// Settle the terminal conventions once, before anything is printed: `NO_COLOR` (any value)
/// turns styling off everywhere, which the terminal library does not do by itself.
pub fn init() {
    if std::env::var_os("NO_COLOR").is_some() {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}
