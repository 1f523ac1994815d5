//! `runbook report RUN_DIR`: render a run's report from its journal.

use std::path::Path;

use crate::error::Result;
use crate::report::{self, Format};

pub fn run(run_dir: &Path, format: Format, output: Option<&Path>) -> Result<i32> {
    let rec = report::load(run_dir)?;
    let text = report::render(&rec, format);
    match output {
        Some(p) => {
            crate::durable::write_private(p, text.as_bytes())?;
            crate::ui::panel::ok(format!("wrote {}", p.display()));
        }
        None => crate::ui::out(text.trim_end()),
    }
    Ok(0)
}

/// `runbook report RUN_DIR --redmine URL --issue N`: post the evidence to the ticket.
pub async fn post(run_dir: &Path, url: &str, issue: u64, text_format: crate::cli::TextFormat) -> Result<i32> {
    use crate::redmine::post::{post, Posted};
    let rec = report::load(run_dir)?;
    if rec.chain.status == crate::report::ChainStatus::Broken {
        return Err(crate::Error::failed(format!(
            "{}: the journal's hash chain is broken ({}); evidence that does not verify is not posted",
            run_dir.display(),
            report::chain_words(&rec)
        )));
    }
    let client = crate::redmine::Client::from_env(url)?;
    let link = client.web_url(&format!("issues/{issue}"));
    match post(&client, run_dir, &rec, issue, text_format).await? {
        Posted::Added { attachments } => crate::ui::panel::ok(format!(
            "posted run {} to {link}: a note with the outcome, the step summary and the seal, and {attachments} attachments ({})",
            rec.run_id,
            crate::redmine::post::ATTACHMENTS.join(", ")
        )),
        Posted::AlreadyThere { journal_id } => crate::ui::panel::info(format!(
            "run {} is already on {link}{}: nothing was posted again",
            rec.run_id,
            journal_id.map(|j| format!(" (journal entry {j})")).unwrap_or_default()
        )),
    }
    Ok(0)
}
