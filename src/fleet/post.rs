//! `--redmine` for fleets: the fleet's evidence goes to the change ticket once — one note with
//! the fleet report (outcome, totals, waves, the targets × steps matrix, failures, seals and
//! the root) and three attachments: the HTML and JSON fleet reports and `fleet.jsonl`.
//!
//! As for a run (`crate::redmine::post`): the fleet is verified first (a fleet whose evidence
//! does not verify is not posted), the issue is read before any upload, then one issue update
//! adds the note and attaches everything at once. A note that already carries this fleet's
//! root (or, before it has one, its id) means it was posted: nothing is added again.

use std::path::Path;

use serde_json::{json, Value};

use crate::cli::TextFormat;
use crate::error::{Error, Result};
use crate::redmine::post::Posted;
use crate::redmine::Client;
use crate::report::markup::Markup;
use crate::report::Format;

pub const ATTACHMENTS: [&str; 3] = ["fleet-report.html", "fleet-report.json", "fleet.jsonl"];

/// The note: the fleet report in the issue's text format, and where the evidence is attached.
pub fn note(r: &super::report::FleetReport, format: TextFormat) -> Result<String> {
    let (text, m): (String, &dyn Markup) = match format {
        TextFormat::Markdown => (super::report::render(r, Format::Markdown)?, &crate::report::markdown::Markdown),
        TextFormat::Textile => (super::report::render(r, Format::Textile)?, &crate::report::textile::Textile),
    };
    let links: Vec<String> = ATTACHMENTS.iter().map(|a| m.attachment(a)).collect();
    Ok(format!("{}\n\nEvidence attached: {}\n", text.trim_end(), links.join(", ")))
}

/// What marks this fleet's note on the issue.
fn marker(r: &super::report::FleetReport) -> &str {
    r.root.as_deref().unwrap_or(&r.fleet_id)
}

fn earlier_note(issue: &Value, marker: &str) -> Option<Option<u64>> {
    issue.get("journals").and_then(Value::as_array)?.iter().find_map(|j| {
        let notes = j.get("notes").and_then(Value::as_str).unwrap_or_default();
        notes.contains(marker).then(|| j.get("id").and_then(Value::as_u64))
    })
}

pub async fn post(client: &Client, dir: &Path, issue: u64, format: TextFormat) -> Result<Posted> {
    let findings = super::verify::verify(dir)?;
    if !findings.problems.is_empty() {
        return Err(Error::failed(format!(
            "{}: the fleet's evidence does not verify ({}); evidence that does not verify is not posted",
            dir.display(),
            findings.problems.join("; ")
        )));
    }
    let r = super::report::build(dir)?;
    let what = format!("reading issue #{issue}");
    let v = client.get(&format!("issues/{issue}.json?include=journals,attachments"), &what).await?;
    let current = v.get("issue").ok_or_else(|| Error::failed(format!("{what}: Redmine's answer has no `issue`")))?;
    if let Some(journal_id) = earlier_note(current, marker(&r)) {
        return Ok(Posted::AlreadyThere { journal_id });
    }
    let record_path = dir.join(super::FILE_NAME);
    let record = std::fs::read(&record_path).map_err(|e| Error::read(&record_path, e))?;
    let files: [(&str, Vec<u8>, &str); 3] = [
        (ATTACHMENTS[0], super::report::render(&r, Format::Html)?.into_bytes(), "text/html"),
        (ATTACHMENTS[1], super::report::render(&r, Format::Json)?.into_bytes(), "application/json"),
        (ATTACHMENTS[2], record, "application/x-ndjson"),
    ];
    let mut uploads = Vec::new();
    for (name, bytes, content_type) in files {
        let token = client.upload(name, bytes).await?;
        uploads.push(json!({
            "token": token,
            "filename": name,
            "content_type": content_type,
            "description": format!("runbook fleet {} ({})", r.fleet_id, marker(&r)),
        }));
    }
    let body = json!({ "issue": { "notes": note(&r, format)?, "uploads": uploads } });
    client.put(&format!("issues/{issue}.json"), &body, &format!("updating issue #{issue}")).await?;
    Ok(Posted::Added { attachments: uploads.len() })
}

/// Post, and say what happened.
pub async fn post_and_tell(dir: &Path, url: &str, issue: u64, format: TextFormat) -> Result<()> {
    let client = Client::from_env(url)?;
    let link = client.web_url(&format!("issues/{issue}"));
    match post(&client, dir, issue, format).await? {
        Posted::Added { attachments } => crate::ui::panel::ok(format!(
            "posted the fleet to {link}: a note with the fleet report and {attachments} attachments ({})",
            ATTACHMENTS.join(", ")
        )),
        Posted::AlreadyThere { journal_id } => crate::ui::panel::info(format!(
            "this fleet is already on {link}{}: nothing was posted again",
            journal_id.map(|j| format!(" (journal entry {j})")).unwrap_or_default()
        )),
    }
    Ok(())
}
