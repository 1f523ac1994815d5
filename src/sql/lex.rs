//! One lexer per engine: where comments, quoted strings, quoted identifiers and dollar quotes
//! begin and end, exactly as the target engine reads them. The splitter, the classifier and the
//! lint all read SQL through these tokens, so they can never disagree about what is code.
//!
//! The rules that differ between engines, and that a generic reading gets wrong:
//! - MariaDB/MySQL: `#` starts a comment anywhere on a line; `--` starts one only when a space
//!   or control character (or the end of input) follows; backslash escapes in both quote
//!   kinds; `"…"` is a string; `/*! … */` and `/*M! … */` are code the server runs.
//! - PostgreSQL: `/* */` nests; `$tag$ … $tag$` quotes a body; a backslash escapes only in
//!   `E'…'` strings; `"…"` is an identifier.
//! - SQLite: no backslash escapes; `"…"`, `` `…` `` and `[…]` are identifiers.

use crate::db::Engine;

/// What a stretch of SQL text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword or a bare identifier.
    Word,
    /// A quoted identifier: `"x"`, `` `x` ``, `[x]`.
    QuotedIdent,
    /// A string literal, dollar-quoted body included.
    Str,
    /// A number literal.
    Number,
    /// Any other single character: `;`, `(`, `,`, `=`, ….
    Punct,
    /// A comment the server ignores.
    Comment,
    /// A MariaDB/MySQL `/*! … */` comment, which the server runs as code: nothing can be said
    /// about a statement holding one, so the classifier gives up on it.
    ExecutableComment,
    Space,
}

/// One token: its kind and its byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// Whether this token is the word `w`, in any case.
    pub fn is_word(&self, src: &str, w: &str) -> bool {
        self.kind == Kind::Word && self.text(src).eq_ignore_ascii_case(w)
    }

    /// Whether the token is code the server reads (not a comment, not white space).
    pub fn is_code(&self) -> bool {
        !matches!(self.kind, Kind::Comment | Kind::Space)
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Cut `src` into tokens as `engine` reads it. Never fails: an unterminated quote or comment
/// runs to the end of the text, which is also how the server reads it before refusing it.
pub fn tokens(src: &str, engine: Engine) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let next = b.get(i + 1).copied();
        let kind = if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if (c == b'-' && next == Some(b'-') && dash_comment(b, i, engine)) || (c == b'#' && engine == Engine::Mysql) {
            i = line_end(b, i);
            Kind::Comment
        } else if c == b'/' && next == Some(b'*') {
            let executable = engine == Engine::Mysql && (b.get(i + 2) == Some(&b'!') || b[i + 2..].starts_with(b"M!"));
            i = block_comment_end(b, i, engine == Engine::Postgres);
            if executable {
                Kind::ExecutableComment
            } else {
                Kind::Comment
            }
        } else if c == b'\'' {
            let backslash = match engine {
                Engine::Mysql => true,
                Engine::Postgres => i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e') && (i < 2 || !is_word_byte(b[i - 2])),
                Engine::Sqlite => false,
            };
            i = quoted_end(b, i, b'\'', backslash);
            Kind::Str
        } else if c == b'"' {
            if engine == Engine::Mysql {
                i = quoted_end(b, i, b'"', true);
                Kind::Str
            } else {
                i = quoted_end(b, i, b'"', false);
                Kind::QuotedIdent
            }
        } else if c == b'`' && engine != Engine::Postgres {
            i = quoted_end(b, i, b'`', false);
            Kind::QuotedIdent
        } else if c == b'[' && engine == Engine::Sqlite {
            i = src[i..].find(']').map(|e| i + e + 1).unwrap_or(b.len());
            Kind::QuotedIdent
        } else if c == b'$' && engine == Engine::Postgres && dollar_quote(src, i).is_some() {
            i = dollar_quote(src, i).unwrap_or(b.len());
            Kind::Str
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            Kind::Number
        } else if is_word_byte(c) {
            while i < b.len() && is_word_byte(b[i]) {
                i += 1;
            }
            Kind::Word
        } else {
            i += src[i..].chars().next().map(char::len_utf8).unwrap_or(1);
            Kind::Punct
        };
        // A multi-byte character never ends a token in its middle: every rule above stops only
        // at ASCII bytes or at the end of the text.
        out.push(Token { kind, start, end: i });
    }
    out
}

/// `--` is a comment everywhere but MariaDB/MySQL, where a space or control character (or the
/// end of the text) must follow it: `5--1` is five minus minus one there.
fn dash_comment(b: &[u8], i: usize, engine: Engine) -> bool {
    engine != Engine::Mysql || b.get(i + 2).is_none_or(|c| *c <= b' ')
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|c| *c == b'\n').map(|p| i + p).unwrap_or(b.len())
}

/// The end of the `/* … */` comment opening at `i`; PostgreSQL nests them.
fn block_comment_end(b: &[u8], mut i: usize, nests: bool) -> usize {
    let mut depth = 0usize;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            if depth == 0 || nests {
                depth += 1;
            }
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The end of a quoted run opening at `i` with `q`; a doubled `q` stands for itself.
fn quoted_end(b: &[u8], mut i: usize, q: u8, backslash: bool) -> usize {
    i += 1;
    while i < b.len() {
        if b[i] == b'\\' && backslash {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The end of a PostgreSQL `$tag$ … $tag$` quote opening at `i`, if one opens there.
fn dollar_quote(src: &str, i: usize) -> Option<usize> {
    let rest = &src[i + 1..];
    let close = rest.find('$')?;
    let tag_body = &rest[..close];
    if tag_body.starts_with(|c: char| c.is_ascii_digit())
        || !tag_body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii())
    {
        return None;
    }
    // `$1` is a parameter, not a quote; a tag never follows a word character either.
    if i > 0 && is_word_byte(src.as_bytes()[i - 1]) {
        return None;
    }
    let tag = &src[i..i + close + 2];
    let body_start = i + tag.len();
    Some(src[body_start..].find(tag).map(|e| body_start + e + tag.len()).unwrap_or(src.len()))
}

/// The statement's code without comments, white space collapsed to one space.
pub fn strip_comments(src: &str, engine: Engine) -> String {
    let mut out = String::with_capacity(src.len());
    for t in tokens(src, engine) {
        match t.kind {
            Kind::Comment | Kind::Space => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ => out.push_str(t.text(src)),
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, engine: Engine) -> Vec<(Kind, &str)> {
        tokens(src, engine).into_iter().filter(|t| t.kind != Kind::Space).map(|t| (t.kind, t.text(src))).collect()
    }

    #[test]
    fn mariadb_hash_comments_anywhere_and_dash_needs_a_space() {
        assert_eq!(strip_comments("SELECT 1;  # a comment; with a semicolon", Engine::Mysql), "SELECT 1;");
        assert_eq!(strip_comments("SELECT 5--1", Engine::Mysql), "SELECT 5--1");
        assert_eq!(strip_comments("SELECT 5-- 1", Engine::Mysql), "SELECT 5");
        assert_eq!(strip_comments("SELECT 5--1", Engine::Postgres), "SELECT 5");
        assert_eq!(strip_comments("SELECT a # b", Engine::Postgres), "SELECT a # b");
    }

    #[test]
    fn postgres_block_comments_nest_and_others_do_not() {
        assert_eq!(strip_comments("SELECT /* a /* b */ c */ 1", Engine::Postgres), "SELECT 1");
        assert_eq!(strip_comments("SELECT /* a /* b */ c */ 1", Engine::Sqlite), "SELECT c */ 1");
    }

    #[test]
    fn quotes_follow_the_engine() {
        assert_eq!(kinds("'a\\'b'", Engine::Mysql), vec![(Kind::Str, "'a\\'b'")]);
        assert_eq!(kinds("'a\\' b", Engine::Sqlite)[0], (Kind::Str, "'a\\'"));
        assert_eq!(kinds("E'a\\'b'", Engine::Postgres)[1], (Kind::Str, "'a\\'b'"));
        assert_eq!(kinds("$x$ ; $x$", Engine::Postgres), vec![(Kind::Str, "$x$ ; $x$")]);
        assert_eq!(kinds("\"a\"", Engine::Mysql), vec![(Kind::Str, "\"a\"")]);
        assert_eq!(kinds("\"a\"", Engine::Postgres), vec![(Kind::QuotedIdent, "\"a\"")]);
        assert_eq!(kinds("$1", Engine::Postgres)[0].0, Kind::Word, "a parameter, not a dollar quote");
    }

    #[test]
    fn executable_comments_are_code_on_mariadb() {
        assert_eq!(kinds("/*!50000 DROP TABLE t */", Engine::Mysql)[0].0, Kind::ExecutableComment);
        assert_eq!(kinds("/*M!100000 DROP TABLE t */", Engine::Mysql)[0].0, Kind::ExecutableComment);
        assert_eq!(kinds("/*! x */", Engine::Postgres)[0].0, Kind::Comment);
    }
}
