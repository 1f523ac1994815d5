//! The terminal itself: where the operator's view is drawn, how wide it is, and putting it
//! back the way it was found.
//!
//! When a prompt can appear but standard output is redirected (`runbook run … > out.txt`), the
//! operator would otherwise see a bare question with no panel and no SQL above it. So every
//! run line is then also drawn on the controlling terminal (`/dev/tty`), styled, while standard
//! output keeps the plain transcript. Cursor and terminal modes are restored on every way out:
//! a [`Guard`] around each prompt, and [`restore_terminal`] for the signal handler, which exits
//! without unwinding.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

/// The controlling terminal, when run lines are mirrored to it (standard output redirected).
static TTY: OnceLock<Option<Mutex<File>>> = OnceLock::new();

/// The controlling terminal's modes as they were before the first prompt. A key prompt puts the
/// terminal in raw mode while it waits; a signal that ends the run during that wait exits the
/// process without the prompt putting them back, and raw mode outlives the process (the shell
/// would then echo nothing). [`restore_terminal`] writes these back.
static MODES: OnceLock<Option<libc::termios>> = OnceLock::new();

/// The controlling terminal, opened afresh: a prompt reads keys from it, so its modes are the
/// ones a prompt changes.
fn controlling_terminal() -> Option<File> {
    let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
    tty.is_terminal().then_some(tty)
}

/// Remember the terminal's modes before any prompt changes them. Called once, when an
/// interactive prompter is made; later calls keep the first reading.
pub fn remember_modes() {
    use std::os::fd::AsRawFd;
    MODES.get_or_init(|| {
        let tty = controlling_terminal()?;
        let mut modes = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct on success and the fd is open for the call.
        (unsafe { libc::tcgetattr(tty.as_raw_fd(), modes.as_mut_ptr()) } == 0).then(|| unsafe { modes.assume_init() })
    });
}

/// Put back the modes [`remember_modes`] read, if any.
fn restore_modes() {
    use std::os::fd::AsRawFd;
    if let (Some(Some(modes)), Some(tty)) = (MODES.get(), controlling_terminal()) {
        // SAFETY: `modes` came from tcgetattr on the same terminal; the fd is open for the call.
        unsafe {
            libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, modes);
        }
    }
}

/// Draw run lines on the controlling terminal as well as standard output, when standard output
/// is not a terminal and a prompt can appear. Called once, when an interactive prompter is made.
pub fn attach_tty() {
    remember_modes();
    TTY.get_or_init(|| {
        if std::io::stdout().is_terminal() {
            return None;
        }
        let tty = std::fs::OpenOptions::new().write(true).open("/dev/tty").ok()?;
        if !tty.is_terminal() {
            return None;
        }
        // The transcript on standard output stays plain; the terminal copy is styled unless
        // the operator asked for no colour.
        if std::env::var_os("NO_COLOR").is_none() && !dumb() {
            console::set_colors_enabled(true);
        }
        Some(Mutex::new(tty))
    });
}

/// Whether run lines are also drawn on the controlling terminal.
pub fn mirrored() -> bool {
    matches!(TTY.get(), Some(Some(_)))
}

/// Write one run line: to standard output (without styling when it is not a terminal), and to
/// the controlling terminal when it is mirrored.
pub fn write_line(line: &str) {
    if let Some(Some(tty)) = TTY.get() {
        if let Ok(mut t) = tty.lock() {
            let _ = writeln!(t, "{line}");
            let _ = t.flush();
        }
        let plain = console::strip_ansi_codes(line);
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{plain}");
        let _ = o.flush();
        return;
    }
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

fn dumb() -> bool {
    std::env::var("TERM").map(|t| t.is_empty() || t == "dumb").unwrap_or(true)
}

/// The width run lines are laid out for: that of the terminal the operator reads (standard
/// output, or the mirrored terminal), `COLUMNS` taking precedence as usual; `None` when nobody
/// reads at a terminal, as a transcript in a file is not wrapped.
pub fn width() -> Option<usize> {
    let term = if std::io::stdout().is_terminal() {
        console::Term::stdout()
    } else if mirrored() {
        console::Term::stderr()
    } else {
        return None;
    };
    if let Some(c) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|c| *c >= 20) {
        return Some(c);
    }
    term.size_checked().map(|(_, cols)| cols as usize).filter(|c| *c >= 20)
}

/// The width for a laid-out view (`plan`'s two columns): the terminal's, else `COLUMNS`, else
/// 120, so that a view saved to a file has the same shape as on a common terminal.
pub fn layout_width() -> usize {
    width().or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|c| *c >= 20)).unwrap_or(120)
}

/// Put the terminal back as it was found: its modes as before the first prompt (echo and line
/// editing, which a key prompt turns off while it waits), and the cursor visible (a menu or
/// spinner hides it).
/// Nothing is sent to a terminal that cannot take control sequences (`TERM=dumb`) or to one
/// that is not a terminal. Safe to call at any time, any number of times.
pub fn restore_terminal() {
    restore_modes();
    if dumb() {
        return;
    }
    let err = std::io::stderr();
    if err.is_terminal() {
        let mut e = err.lock();
        let _ = e.write_all(b"\x1b[?25h");
        let _ = e.flush();
    }
    if let Some(Some(tty)) = TTY.get() {
        if let Ok(mut t) = tty.lock() {
            let _ = t.write_all(b"\x1b[?25h");
            let _ = t.flush();
        }
    }
}

/// End the line of a prompt that nobody will answer (a signal came first): the prompt waits
/// for a key after its question, on the same line, so what is printed next would otherwise be
/// glued to it and wrapped mid-word.
pub fn end_abandoned_prompt() {
    let err = std::io::stderr();
    if err.is_terminal() {
        let mut e = err.lock();
        let _ = e.write_all(b"\n");
        let _ = e.flush();
    }
}

/// Restores the terminal when dropped: held around each prompt, so that an error or a panic
/// in the middle of a menu does not leave the cursor hidden.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// `text` broken into lines of at most `width` columns, at spaces only: a word longer than
/// the line stays whole on a line of its own rather than being cut. Existing line breaks are
/// kept; `indent` is put before every line. Widths are display columns, styling excluded.
pub fn wrap(text: &str, width: Option<usize>, indent: &str) -> Vec<String> {
    let mut out = Vec::new();
    let room = width.map(|w| w.saturating_sub(console::measure_text_width(indent)).max(20));
    for line in text.lines() {
        let Some(room) = room else {
            out.push(format!("{indent}{line}"));
            continue;
        };
        if console::measure_text_width(line) <= room {
            out.push(format!("{indent}{line}"));
            continue;
        }
        // A line's own leading spaces (indented SQL) are kept on every piece of it.
        let lead_len = line.len() - line.trim_start().len();
        let lead = &line[..lead_len];
        let mut cur = String::new();
        for word in line[lead_len..].split(' ') {
            let w = console::measure_text_width(word);
            let used = console::measure_text_width(&cur);
            if !cur.is_empty() && console::measure_text_width(lead) + used + 1 + w > room {
                out.push(format!("{indent}{lead}{cur}"));
                cur.clear();
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(format!("{indent}{lead}{cur}"));
    }
    if text.is_empty() {
        out.push(indent.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn words_are_never_cut_and_lines_fit() {
        let text = "the quick brown fox jumps over the lazy dog and keeps running far away";
        let lines = wrap(text, Some(30), "  ");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" ").split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>());
        let long = "x".repeat(50);
        assert_eq!(wrap(&format!("a {long} b"), Some(30), ""), vec!["a".to_string(), long.clone(), "b".to_string()]);
        assert_eq!(wrap("one\ntwo", None, "> "), vec!["> one", "> two"]);
    }
}
