//! The escaping and layout layer of the text reports: a [`Doc`] is rendered through one
//! [`Markup`] implementation per format ([`super::markdown::Markdown`],
//! [`super::textile::Textile`]), so every value passes its format's escaping by construction:
//! the document holds plain text only, and [`render`] is the one place that turns text into
//! markup.
//!
//! Values come from outside the tool (database rows, command and HTTP output, ticket text, step
//! names, error messages) and must render as the characters they are, never as markup: not a
//! link, not an image, not an HTML comment that hides the rest of the report and its seal.

use std::fmt::Write;

use super::doc::{Block, Doc, Line, Span};

/// How one text format shows plain text, and lays out blocks of already-escaped markup.
pub trait Markup {
    /// Inline prose: every markup character escaped, line breaks (LF, CR, CRLF) made spaces.
    fn text(&self, s: &str) -> String;
    /// An inline code span on one line.
    fn code(&self, s: &str) -> String;
    /// A block of verbatim lines, `lang` naming the highlighter.
    fn code_block(&self, lang: &str, s: &str) -> String;
    /// Strong emphasis around escaped text.
    fn strong(&self, inner: &str) -> String;
    /// A link to a file attached to the same ticket.
    fn attachment(&self, name: &str) -> String;
    /// A heading around escaped text.
    fn heading(&self, level: u8, inner: &str) -> String;
    /// A table from escaped header and body cells.
    fn table(&self, head: &[String], rows: &[Vec<String>]) -> String;
    /// A bullet list of escaped items.
    fn list(&self, items: &[String]) -> String;
    /// A checklist of escaped items.
    fn checklist(&self, items: &[(bool, String)]) -> String;
    /// A separator; empty where the format has none worth having.
    fn rule(&self) -> String;
}

/// Render a document: each block escaped and laid out by `m`, blocks apart by a blank line.
pub fn render(doc: &Doc, m: &dyn Markup) -> String {
    let line = |l: &Line| -> String {
        l.iter()
            .map(|s| match s {
                Span::Text(x) => m.text(x),
                Span::Code(x) => m.code(x),
                Span::Strong(x) => m.strong(&m.text(x)),
                Span::Attachment(name) => m.attachment(name),
            })
            .collect()
    };
    let mut out: Vec<String> = Vec::with_capacity(doc.blocks.len());
    for b in &doc.blocks {
        let text = match b {
            Block::Heading(level, l) => m.heading(*level, &line(l)),
            Block::Paragraph(l) => line(l),
            Block::Table { head, rows } => m.table(
                &head.iter().map(|h| m.text(h)).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.iter().map(line).collect()).collect::<Vec<_>>(),
            ),
            Block::List(items) => m.list(&items.iter().map(line).collect::<Vec<_>>()),
            Block::Checklist(items) => m.checklist(&items.iter().map(|(done, l)| (*done, line(l))).collect::<Vec<_>>()),
            Block::Code { lang, text } => m.code_block(lang, text),
            Block::Rule => m.rule(),
        };
        if !text.is_empty() {
            out.push(text);
        }
    }
    out.join("\n\n") + "\n"
}

/// CR and CRLF become LF: a lone CR is a line ending to CommonMark and Redmine but not to a reader
/// of the value, and would let a value start a line of its own (`<!--` there opens a comment).
pub fn lf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Every line ending becomes one space, for values shown inline.
pub fn one_line(s: &str) -> String {
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
pub fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for x in s.chars() {
        cur = if x == c { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::doc::{c, t};
    use crate::report::markdown::Markdown;
    use crate::report::textile::Textile;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(visible("\u{1b}[32mok\u{7}\u{202e}"), "\\x1b[32mok\\x07\\u{202e}");
        assert_eq!(Markdown.code_block("text", "a\r\nb\u{1b}"), "```text\na\nb\\x1b\n```");
    }

    #[test]
    fn one_document_two_formats() {
        let doc = Doc {
            blocks: vec![
                Block::Heading(1, vec![t("A *b*")]),
                Block::Table { head: vec!["K".into(), "V".into()], rows: vec![vec![vec![t("x|y")], vec![c("a|b")]]] },
            ],
        };
        assert_eq!(render(&doc, &Markdown), "# A \\*b\\*\n\n| K | V |\n|---|---|\n| x\\|y | `a\\|b` |\n");
        assert_eq!(render(&doc, &Textile), "h1. A &#42;b&#42;\n\n|_. K |_. V |\n| x&#124;y | <code>a&#124;b</code> |\n");
    }
}
