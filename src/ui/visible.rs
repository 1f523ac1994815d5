//! Text from outside the program (database values, command output, runbook fields) shown with
//! its control characters as visible escapes. A value holding `\r` or an ANSI sequence could
//! otherwise move the cursor and overwrite what the operator is reading, or fake a `✔` line.

use std::borrow::Cow;

/// `s` with every control character except newline and tab written as an escape: `\r`, `\x1b`,
/// `\u{9b}`. Newlines stay, as the panel lays text out by line.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if hidden(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `visible` for a single line: newlines escaped too, for prompts and one-line messages.
pub fn one_line(s: &str) -> String {
    visible(s).replace('\n', "\\n")
}

/// Characters a terminal acts on instead of showing: C0 and C1 controls and DEL, plus the
/// bidirectional overrides that reorder what is shown.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_escapes() {
        assert_eq!(visible("ok\rFAKE"), "ok\\rFAKE");
        assert_eq!(visible("\x1b[2J\x1b[Hx"), "\\x1b[2J\\x1b[Hx");
        assert_eq!(visible("a\u{9b}b\x7f"), "a\\u{9b}b\\x7f");
        assert_eq!(visible("two\nlines\tand tab"), "two\nlines\tand tab");
        assert_eq!(one_line("a\nb"), "a\\nb");
        assert!(matches!(visible("plain ✔"), Cow::Borrowed(_)));
    }
}
