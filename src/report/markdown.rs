//! CommonMark (with GitHub tables), as Redmine 5.1 and later render it: the report pasted into
//! the change ticket, and the note posted to it.

use super::markup::{block, longest_run, one_line, Markup};

/// CommonMark with GitHub tables.
pub struct Markdown;

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

    fn strong(&self, inner: &str) -> String {
        format!("**{inner}**")
    }

    fn attachment(&self, name: &str) -> String {
        format!("attachment:{name}")
    }

    fn heading(&self, level: u8, inner: &str) -> String {
        format!("{} {inner}", "#".repeat(level as usize))
    }

    fn table(&self, head: &[String], rows: &[Vec<String>]) -> String {
        let mut out = format!("| {} |\n|{}|", head.join(" | "), vec!["---"; head.len()].join("|"));
        for r in rows {
            out.push_str(&format!("\n| {} |", r.join(" | ")));
        }
        out
    }

    fn list(&self, items: &[String]) -> String {
        items.iter().map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n")
    }

    fn checklist(&self, items: &[(bool, String)]) -> String {
        items.iter().map(|(done, i)| format!("- [{}] {i}", if *done { "x" } else { " " })).collect::<Vec<_>>().join("\n")
    }

    fn rule(&self) -> String {
        "---".into()
    }
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
}
