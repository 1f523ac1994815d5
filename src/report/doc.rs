//! The document model of the text reports: a report is built once as a tree of blocks
//! ([`Doc`]) and each text format only says how a block looks ([`super::markup::Markup`]).
//!
//! Every string in the tree is plain text as it came (from the journal or the tool's own
//! words); none of it is markup. Only a renderer turns it into markup, through its format's
//! escaping, so an outside value cannot be written unescaped: there is no way to put raw markup
//! into a `Doc`.

/// A piece of inline text.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Prose, shown as the characters it is.
    Text(String),
    /// An identifier, a value, a command or a path, shown as inline code on one line.
    Code(String),
    /// Prose shown strong (an outcome, a decision).
    Strong(String),
    /// A link to a file attached to the same ticket (a name the tool chose, not outside text).
    Attachment(&'static str),
}

/// A line of inline text.
pub type Line = Vec<Span>;

/// A block of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading; level 1 is the title.
    Heading(u8, Line),
    Paragraph(Line),
    /// A table with a header row (plain text); every row has as many cells as the header.
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Line>>,
    },
    /// A bullet list.
    List(Vec<Line>),
    /// A checklist: each item ticked or not.
    Checklist(Vec<(bool, Line)>),
    /// Verbatim lines (SQL, command output), `lang` naming the highlighter.
    Code {
        lang: &'static str,
        text: String,
    },
    /// A separator before the seal.
    Rule,
}

/// A whole report (or ticket note).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub blocks: Vec<Block>,
}

impl Doc {
    pub fn push(&mut self, b: Block) {
        self.blocks.push(b);
    }

    pub fn heading(&mut self, level: u8, line: Line) {
        self.push(Block::Heading(level, line));
    }

    pub fn para(&mut self, line: Line) {
        self.push(Block::Paragraph(line));
    }

    /// A bullet list; nothing when `items` is empty.
    pub fn list(&mut self, items: Vec<Line>) {
        if !items.is_empty() {
            self.push(Block::List(items));
        }
    }
}

/// A table header from the tool's own words.
pub fn heads(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Prose.
pub fn t(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// Inline code.
pub fn c(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// Strong prose.
pub fn b(s: impl Into<String>) -> Span {
    Span::Strong(s.into())
}
