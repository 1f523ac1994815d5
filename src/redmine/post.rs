//! Posting a run's evidence to its Redmine issue: a note with the outcome, the step summary and
//! the seal, and report.html, report.json and journal.jsonl as attachments.
//!
//! Order matters for "nothing half-posted": the issue is read first (so a wrong key, a missing
//! issue or a disabled REST API stop everything before any upload), then the files are
//! uploaded, then one issue update adds the note and attaches all three at once. Uploads that
//! never get attached are not shown on the issue. A run that already has a note on the issue
//! (found by its run id) is not posted again.

use serde_json::{json, Value};

use super::Client;
use crate::cli::TextFormat;
use crate::error::{Error, Result};
use crate::report::{self, Format, RunRecord};

pub const ATTACHMENTS: [&str; 3] = ["report.html", "report.json", "journal.jsonl"];

/// What a post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// A note (and the attachments) were added.
    Added { attachments: usize },
    /// The issue already had this run's note (journal id given): nothing was added.
    AlreadyThere { journal_id: Option<u64> },
}

/// The note for `rec` in the issue's text format.
pub fn note(rec: &RunRecord, format: TextFormat) -> String {
    match format {
        TextFormat::Markdown => report::text::note(rec, &ATTACHMENTS, &report::markdown::Markdown),
        TextFormat::Textile => report::text::note(rec, &ATTACHMENTS, &report::textile::Textile),
    }
}

/// Find this run's earlier note on the issue: any note that carries its run id.
fn earlier_note(issue: &Value, run_id: &str) -> Option<Option<u64>> {
    issue.get("journals").and_then(Value::as_array)?.iter().find_map(|j| {
        let notes = j.get("notes").and_then(Value::as_str).unwrap_or_default();
        notes.contains(run_id).then(|| j.get("id").and_then(Value::as_u64))
    })
}

pub async fn post(client: &Client, run_dir: &std::path::Path, rec: &RunRecord, issue: u64, format: TextFormat) -> Result<Posted> {
    let what = format!("reading issue #{issue}");
    let v = client.get(&format!("issues/{issue}.json?include=journals,attachments"), &what).await?;
    let current = v.get("issue").ok_or_else(|| Error::failed(format!("{what}: Redmine's answer has no `issue`")))?;
    if let Some(journal_id) = earlier_note(current, &rec.run_id) {
        return Ok(Posted::AlreadyThere { journal_id });
    }

    let journal_path = run_dir.join(crate::journal::FILE_NAME);
    let journal = std::fs::read(&journal_path).map_err(|e| Error::read(&journal_path, e))?;
    let mut files: Vec<(String, Vec<u8>, &str)> = vec![
        ("report.html".into(), report::render(rec, Format::Html).into_bytes(), "text/html"),
        ("report.json".into(), report::render(rec, Format::Json).into_bytes(), "application/json"),
        ("journal.jsonl".into(), journal, "application/x-ndjson"),
    ];
    // The seal signature and retro-approvals travel with the journal: with them the ticket
    // holds everything an auditor checks with ssh-keygen.
    for path in crate::approval::seal::evidence_files(run_dir) {
        let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push((name, bytes, "text/plain"));
    }
    let mut uploads = Vec::new();
    for (name, bytes, content_type) in files {
        let name = name.as_str();
        let token = client.upload(name, bytes).await?;
        uploads.push(json!({
            "token": token,
            "filename": name,
            "content_type": content_type,
            "description": format!("runbook run {} (seal {})", rec.run_id, &rec.seal[..12.min(rec.seal.len())]),
        }));
    }
    let body = json!({ "issue": { "notes": note(rec, format), "uploads": uploads } });
    client.put(&format!("issues/{issue}.json"), &body, &format!("updating issue #{issue}")).await?;
    Ok(Posted::Added { attachments: uploads.len() })
}
