//! YAML to the runbook model, with syntax and type errors turned into positioned diagnostics.

use std::sync::Arc;

use crate::error::{Diagnostic, Error, Result};
use crate::runbook::Runbook;

/// Deserialise `source` into a [`Runbook`].
pub fn parse(name: &str, source: &Arc<str>) -> Result<Runbook> {
    if source.trim().is_empty() {
        return Err(invalid(name, source, 1, 1, "the runbook is empty".into(), Some(HELP_MINIMAL)));
    }
    let options = serde_saphyr::options! {};
    match serde_saphyr::from_str_with_options::<Runbook>(source, options) {
        Ok(rb) => Ok(rb),
        Err(e) => {
            let (line, column) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
            let message = clean_message(&e.without_snippet().to_string());
            if let Some((message, help)) = did_you_mean(&message) {
                return Err(invalid(name, source, line, column, message, Some(&help)));
            }
            let help = help_for(&message);
            Err(invalid(name, source, line, column, message, help))
        }
    }
}

const HELP_MINIMAL: &str = "a runbook needs at least `version: 1`, `id:` and a `plan:` list of steps";

fn invalid(name: &str, source: &Arc<str>, line: usize, column: usize, message: String, help: Option<&str>) -> Error {
    Error::Invalid {
        diagnostics: vec![Diagnostic {
            path: name.to_string(),
            source: source.clone(),
            line,
            column,
            message,
            label: None,
            help: help.map(str::to_string),
        }],
    }
}

/// The parser appends its own "at line X column Y"; the diagnostic shows the position itself.
fn clean_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw).trim();
    let cut = first.find(" at line ").map(|i| &first[..i]).unwrap_or(first);
    let cut = cut.strip_prefix("error: ").unwrap_or(cut);
    cut.trim_end_matches('.').to_string()
}

/// For an unknown field or kind, the nearest allowed word instead of the whole list.
///
/// serde reports these only as text ("unknown field `knd`, expected one of id, name, …"),
/// so the misspelt word and the allowed ones are read back from that text.
fn did_you_mean(message: &str) -> Option<(String, String)> {
    let (what, rest) =
        ["unknown field `", "unknown variant `"].iter().find_map(|p| message.find(p).map(|i| (*p, &message[i + p.len()..])))?;
    let word = &rest[..rest.find('`')?];
    let allowed: Vec<&str> = match rest.find("expected ") {
        Some(i) => {
            let list = &rest[i + "expected ".len()..];
            let list = list.strip_prefix("one of ").unwrap_or(list);
            list.split(',').map(|w| w.trim().trim_matches('`')).filter(|w| !w.is_empty()).collect()
        }
        None => Vec::new(),
    };
    let noun = if what.contains("field") { "field" } else { "value" };
    let short = format!("unknown {noun} `{word}`");
    let help = match super::suggest::closest(word, allowed.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None if allowed.is_empty() => return None,
        None if allowed.len() <= 10 => format!("allowed here: {}", allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")),
        None => "`runbook schema` lists every allowed field".to_string(),
    };
    Some((short, help))
}

fn help_for(message: &str) -> Option<&'static str> {
    if message.contains("unknown variant") && message.contains("backup") {
        Some("a step's `kind` is one of: backup, sql, verify, command, manual, validate, http, monitor")
    } else if message.contains("unknown field") {
        Some("check the spelling; `runbook schema` prints every allowed field")
    } else if message.contains("missing field") {
        Some(HELP_MINIMAL)
    } else {
        None
    }
}
