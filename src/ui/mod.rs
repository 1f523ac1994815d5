//! Everything that touches the terminal: error rendering, step panels, prompts and progress.
//! No other module prints or reads from the terminal.

pub mod diagnostic;
pub mod panel;
pub mod progress;
pub mod prompt;

use std::io::IsTerminal;

pub use panel::{out, Panel};
pub use prompt::{AutoPrompter, Decision, InteractivePrompter, Prompter};

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
