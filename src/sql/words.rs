//! A statement read as a list of code tokens (comments and white space dropped), with the small
//! helpers the classifiers share: keyword tests and reading a possibly qualified, possibly
//! quoted name.

use super::lex::{tokens, Kind, Token};
use crate::db::Engine;

/// A statement's code tokens.
pub struct Words<'a> {
    pub src: &'a str,
    pub toks: Vec<Token>,
}

impl<'a> Words<'a> {
    pub fn new(src: &'a str, engine: Engine) -> Self {
        Words { src, toks: tokens(src, engine).into_iter().filter(Token::is_code).collect() }
    }

    /// Whether the server runs code hidden in a comment here (MariaDB `/*! … */`).
    pub fn has_hidden_code(&self) -> bool {
        self.toks.iter().any(|t| t.kind == Kind::ExecutableComment)
    }

    pub fn len(&self) -> usize {
        self.toks.len()
    }

    pub fn is(&self, i: usize, w: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_word(self.src, w))
    }

    pub fn text(&self, i: usize) -> &'a str {
        self.toks.get(i).map(|t| t.text(self.src)).unwrap_or("")
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// If the words at `i` are `seq` (each `|`-separated alternative allowed), the index after.
    pub fn seq(&self, i: usize, seq: &[&str]) -> Option<usize> {
        let mut j = i;
        for w in seq {
            if !w.split('|').any(|alt| self.is(j, alt)) {
                return None;
            }
            j += 1;
        }
        Some(j)
    }

    /// Skip `seq` if it is there.
    pub fn opt(&self, i: usize, seq: &[&str]) -> usize {
        self.seq(i, seq).unwrap_or(i)
    }

    /// Read a name at `i`: `a`, `"a"`, `` `a` ``, `[a]` or `s.a`. Returns the last part
    /// unquoted, and the index after the name.
    pub fn name(&self, i: usize) -> Option<(String, usize)> {
        let mut j = i;
        let mut last;
        loop {
            last = match self.kind(j)? {
                Kind::Word => self.text(j).to_string(),
                Kind::QuotedIdent => unquote(self.text(j)),
                _ => return None,
            };
            j += 1;
            if self.kind(j) == Some(Kind::Punct) && self.text(j) == "." {
                j += 1;
                continue;
            }
            return Some((last, j));
        }
    }

    /// The index of the first word `w` at parenthesis depth 0, from `i` on.
    pub fn find_top(&self, i: usize, w: &str) -> Option<usize> {
        let mut depth = 0i32;
        for j in i..self.len() {
            match (self.kind(j), self.text(j)) {
                (Some(Kind::Punct), "(") => depth += 1,
                (Some(Kind::Punct), ")") => depth -= 1,
                _ if depth == 0 && self.is(j, w) => return Some(j),
                _ => {}
            }
        }
        None
    }
}

/// `"a""b"` → `a"b`; `[a]` → `a`.
pub fn unquote(s: &str) -> String {
    let Some(first) = s.chars().next() else { return String::new() };
    let close = if first == '[' { ']' } else { first };
    let inner = s.strip_prefix(first).and_then(|x| x.strip_suffix(close)).unwrap_or(&s[first.len_utf8()..]);
    inner.replace(&format!("{close}{close}"), &close.to_string())
}
