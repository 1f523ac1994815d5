//! Rendering positioned runbook problems as a snippet with a caret, `file:line:col` first.
//! Errors and warnings look alike: a warning is read with the same eye, so it gets the same
//! position, source line and caret.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::error::Diagnostic;

pub fn render(d: &Diagnostic, color: bool) -> String {
    render_as(d, color, false)
}

/// A lint warning, rendered as an error is: position, source line, caret, then `why` and
/// `instead` as notes. The step id follows the position, as warnings are read per step.
pub fn render_warning(w: &crate::lint::Warning, path: &str, source: &std::sync::Arc<str>, color: bool) -> String {
    let d = Diagnostic {
        path: path.to_string(),
        source: source.clone(),
        line: w.pos.line,
        column: w.pos.column,
        message: w.message.clone(),
        label: None,
        help: None,
    };
    let text = render_as(&d, color, true);
    let at = d.position();
    let text = text.replacen(&at, &format!("{at} (step `{}`)", w.step_id), 1);
    format!("{text}\n  = why: {}\n  = instead: {}", w.why, w.instead)
}

fn render_as(d: &Diagnostic, color: bool, warning: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let (level, word) = if warning { (Level::WARNING, "warning") } else { (Level::ERROR, "error") };
    // The position leads on its own line so that it is greppable and clickable whatever
    // the snippet renderer does with it.
    if d.line == 0 || d.source.is_empty() {
        let mut head = format!("{word}: {}\n  ——▶ {}", d.message, d.position());
        if let Some(h) = &d.help {
            head.push_str(&format!("\n  = help: {h}"));
        }
        return head;
    }
    let (start, end) = byte_span(&d.source, d.line, d.column);
    let mut report = vec![level.primary_title(d.message.as_str()).element(
        Snippet::source(d.source.as_ref())
            .path(d.path.as_str())
            .annotation(AnnotationKind::Primary.span(start..end).label(d.label.as_deref().unwrap_or(""))),
    )];
    if let Some(h) = &d.help {
        report.push(Group::with_title(Level::HELP.secondary_title(h.as_str())));
    }
    // just-style arrow: the position stands out in a terminal full of output.
    renderer.render(&report).replacen("--> ", "——▶ ", 1)
}

/// Byte range of the token at 1-based `line`:`column` (character column).
fn byte_span(src: &str, line: usize, column: usize) -> (usize, usize) {
    let mut offset = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = column.max(1) - 1;
            let start = offset + l.char_indices().nth(col).map(|(b, _)| b).unwrap_or(l.trim_end().len());
            let rest = &src[start..];
            let len = rest
                .char_indices()
                .find(|(_, c)| c.is_whitespace() || *c == ':' || *c == ',')
                .map(|(b, _)| b)
                .unwrap_or(rest.len())
                .max(rest.chars().next().map(char::len_utf8).unwrap_or(0));
            return (start, (start + len).min(src.len()));
        }
        offset += l.len();
    }
    (src.len(), src.len())
}
