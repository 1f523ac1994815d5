//! The escaping layer of the text reports: every value a renderer prints goes through one
//! [`Markup`] implementation per format, so no call site can forget to escape.
//!
//! Values come from outside the tool (database rows, command and HTTP output, ticket text, step
//! names, error messages) and must render as the characters they are, never as markup: not a
//! link, not an image, not an HTML comment that hides the rest of the report and its seal.

use std::fmt::Write;

/// How one text format shows an outside value literally.
pub trait Markup {
    /// Inline prose: every markup character escaped, line breaks (LF, CR, CRLF) made spaces.
    fn text(&self, s: &str) -> String;
    /// An inline code span on one line.
    fn code(&self, s: &str) -> String;
    /// A block of verbatim lines, `lang` naming the highlighter.
    fn code_block(&self, lang: &str, s: &str) -> String;
}

/// CommonMark (GitHub tables), as Redmine renders it.
pub struct Markdown;
/// Textile, as Redmine renders it.
pub struct Textile;

/// CR and CRLF become LF: a lone CR is a line ending to CommonMark and Redmine but not to a reader
/// of the value, and would let a value start a line of its own (`<!--` there opens a comment).
pub fn lf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Every line ending becomes one space, for values shown inline.
fn one_line(s: &str) -> String {
    visible(&lf(s)).replace('\n', " ")
}

/// Control characters other than LF and tab, and the bidirectional overrides, shown as escapes
/// (`\x1b`, `\u{202e}`): an ANSI sequence in a value must not recolour or redraw the terminal
/// that prints a report, and an override must not reorder what a reader sees.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || matches!(c as u32, 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A multi-line value for a verbatim block: line endings made LF, other controls visible.
pub fn block(s: &str) -> String {
    visible(&lf(s))
}

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for x in s.chars() {
        cur = if x == c { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

impl Markup for Markdown {
    fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in one_line(s).chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                // Every character that opens inline structure; text never starts a line (line
                // breaks are gone), so line-start markers (`-`, `+`, `>`) cannot act.
                '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn code(&self, s: &str) -> String {
        // A pipe would end a table cell even inside a code span; GitHub tables take `\|` there.
        let body = one_line(s).replace('|', "\\|");
        // A fence one backtick longer than any run in the value cannot be closed by it; the
        // spaces keep a value starting or ending with a backtick from touching the fence.
        let fence = "`".repeat(longest_run(&body, '`') + 1);
        if body.contains('`') || body.starts_with(' ') || body.ends_with(' ') {
            format!("{fence} {body} {fence}")
        } else {
            format!("{fence}{body}{fence}")
        }
    }

    fn code_block(&self, lang: &str, s: &str) -> String {
        let body = block(s);
        let fence = "`".repeat((longest_run(&body, '`') + 1).max(3));
        format!("{fence}{lang}\n{body}\n{fence}")
    }
}

impl Markup for Textile {
    fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in one_line(s).chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '|' | '*' | '_' | '+' | '-' | '^' | '~' | '@' | '!' | '%' | '[' | ']' | '{' | '}' | '"' | '\'' | '#' | '=' | '(' | ')'
                | ':' => {
                    let _ = write!(out, "&#{};", c as u32);
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn code(&self, s: &str) -> String {
        format!("<code>{}</code>", verbatim(&one_line(s)))
    }

    fn code_block(&self, lang: &str, s: &str) -> String {
        format!("<pre><code class=\"{}\">\n{}\n</code></pre>", verbatim(lang), verbatim(&block(s)))
    }
}

/// Text inside Textile's `<code>` and `<pre>`: `<`, `>` and `&` as entities, so a value can
/// neither close the block nor open a tag or comment, whatever the renderer does inside code.
fn verbatim(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_code_fence_outgrows_the_value() {
        assert_eq!(Markdown.code("a``b"), "``` a``b ```");
        assert_eq!(Markdown.code("x\r<!--"), "`x <!--`");
        assert_eq!(Markdown.code_block("text", "````\r\n"), "`````text\n````\n\n`````");
    }

    #[test]
    fn textile_code_has_no_raw_angle() {
        assert_eq!(Textile.code("<!--\r"), "<code>&lt;!-- </code>");
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(visible("\u{1b}[32mok\u{7}\u{202e}"), "\\x1b[32mok\\x07\\u{202e}");
        assert_eq!(Markdown.code_block("text", "a\r\nb\u{1b}"), "```text\na\nb\\x1b\n```");
    }
}
