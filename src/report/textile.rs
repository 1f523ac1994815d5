//! Textile, for Redmine installations whose text format is still Textile.
//!
//! Every markup character of a value is written as a numeric entity, so a step name like
//! `*_drop_*` or an operator note with `<script>` shows as typed. Code goes into `<code>` and
//! `<pre><code>`, whose text Redmine shows verbatim.

use std::fmt::Write;

use super::markup::{block, one_line, Markup};

/// Textile, as Redmine renders it.
pub struct Textile;

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
        // A pipe would end a table cell even inside `<code>`.
        format!("<code>{}</code>", verbatim(&one_line(s)).replace('|', "&#124;"))
    }

    fn code_block(&self, lang: &str, s: &str) -> String {
        format!("<pre><code class=\"{}\">\n{}\n</code></pre>", verbatim(lang), verbatim(&block(s)))
    }

    fn strong(&self, inner: &str) -> String {
        format!("*{inner}*")
    }

    fn attachment(&self, name: &str) -> String {
        format!("attachment:{name}")
    }

    fn heading(&self, level: u8, inner: &str) -> String {
        format!("h{level}. {inner}")
    }

    fn table(&self, head: &[String], rows: &[Vec<String>]) -> String {
        let mut out = format!("|_. {} |", head.join(" |_. "));
        for r in rows {
            out.push_str(&format!("\n| {} |", r.join(" | ")));
        }
        out
    }

    fn list(&self, items: &[String]) -> String {
        items.iter().map(|i| format!("* {i}")).collect::<Vec<_>>().join("\n")
    }

    fn checklist(&self, items: &[(bool, String)]) -> String {
        items.iter().map(|(done, i)| format!("* {} {i}", if *done { "☑" } else { "☐" })).collect::<Vec<_>>().join("\n")
    }

    fn rule(&self) -> String {
        // Redmine's Textile has no reliable rule; the seal follows a blank line.
        String::new()
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
    fn textile_code_has_no_raw_angle() {
        assert_eq!(Textile.code("<!--\r"), "<code>&lt;!-- </code>");
    }
}
