//! `runbook import`: a change ticket in, a runbook skeleton out — from the text of its Redmine
//! page, or from a live Redmine over its REST API.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::redmine::{page, skeleton, ChangeTicket, Client};
use crate::ui::{self, panel};

pub async fn run(ticket: Option<&Path>, redmine: Option<&str>, issue: Option<u64>, output: &Path) -> Result<i32> {
    let (t, source) = match (ticket, redmine, issue) {
        (Some(file), None, _) => {
            let text = std::fs::read_to_string(file).map_err(|e| Error::read(file, e))?;
            (page::parse(&skeleton::normalise_newlines(&text)), file.display().to_string())
        }
        (None, Some(url), Some(n)) => {
            let client = Client::from_env(url)?;
            let v = client.get(&format!("issues/{n}.json"), &format!("reading issue #{n}")).await?;
            let issue = v.get("issue").ok_or_else(|| Error::failed(format!("reading issue #{n}: Redmine's answer has no `issue`")))?;
            (ChangeTicket::from_rest(issue, Some(client.web_url(&format!("issues/{n}")))), format!("Redmine issue #{n}"))
        }
        _ => return Err(Error::usage("give a ticket file, or --redmine URL --issue N")),
    };
    if t.change_plan.trim().is_empty() {
        panel::warn("the ticket has no \"Change Plan\" with numbered items: the skeleton has one TODO step");
    }
    let yaml = skeleton::render(&t, &source);
    // The skeleton must load; if it does not, that is a bug here, not the operator's problem.
    crate::load::load_str(&output.display().to_string(), Arc::from(yaml.as_str()), String::new())?;
    if output.exists() {
        return Err(Error::usage(format!("{} exists; import does not overwrite a runbook (choose another -o)", output.display())));
    }
    std::fs::write(output, &yaml).map_err(|e| Error::write(output, e))?;
    let loaded = crate::load::load(output)?;
    let todos = yaml.lines().filter(|l| l.contains("TODO")).count();
    panel::ok(format!(
        "wrote {}: runbook `{}` with {} change step(s) and {} rollback step(s) from {source}",
        output.display(),
        loaded.doc.id.value,
        loaded.plan.len(),
        loaded.rollback.len()
    ));
    for s in loaded.plan.iter().chain(&loaded.rollback) {
        ui::out(format!("    {:<9} {}", s.kind.as_str(), s.name));
    }
    if todos > 0 {
        panel::warn(format!("{todos} line(s) marked TODO to fill in: grep -n TODO {}", output.display()));
    }
    Ok(0)
}
