//! Approvals on the ticket: `approve --redmine` attaches an approval and its signature to the
//! issue, `run --approvals-from-redmine` fetches every `*.approval` attachment with its `.sig`.
//! The ticket then carries the evidence an auditor checks with `ssh-keygen` alone.

use serde_json::{json, Value};

use super::Client;
use crate::approval::gate::Given;
use crate::error::{Error, Result};

/// Attach `name` (the manifest) and `name.sig` to `issue`, with a one-line note.
pub async fn attach(client: &Client, issue: u64, name: &str, manifest: &str, signature: &str, note: &str) -> Result<()> {
    let mut uploads = Vec::new();
    let sig_name = format!("{name}.sig");
    for (file, bytes, content_type) in [(name, manifest, "application/json"), (sig_name.as_str(), signature, "text/plain")] {
        let token = client.upload(file, bytes.as_bytes().to_vec()).await?;
        uploads.push(json!({ "token": token, "filename": file, "content_type": content_type, "description": "runbook approval (SSHSIG, namespace runbook-approval)" }));
    }
    let body = json!({ "issue": { "notes": note, "uploads": uploads } });
    client.put(&format!("issues/{issue}.json"), &body, &format!("updating issue #{issue}")).await
}

/// Every `*.approval` attachment of `issue` with its `.sig`. When a file was attached more
/// than once, the latest copy counts.
pub async fn fetch(client: &Client, issue: u64) -> Result<Vec<Given>> {
    let what = format!("reading issue #{issue}");
    let v = client.get(&format!("issues/{issue}.json?include=attachments"), &what).await?;
    let attachments = v.pointer("/issue/attachments").and_then(Value::as_array).cloned().unwrap_or_default();
    let named = |name: &str| {
        attachments
            .iter()
            .filter(|a| a.get("filename").and_then(Value::as_str) == Some(name))
            .max_by_key(|a| a.get("id").and_then(Value::as_u64).unwrap_or(0))
            .and_then(|a| a.get("content_url").and_then(Value::as_str).map(String::from))
    };
    let mut names: Vec<String> = attachments
        .iter()
        .filter_map(|a| a.get("filename").and_then(Value::as_str))
        .filter(|n| n.ends_with(".approval"))
        .map(String::from)
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let source = format!("#{issue}/{name}");
        let manifest_url = named(&name).ok_or_else(|| Error::failed(format!("{source}: no download address")))?;
        let sig_url = named(&format!("{name}.sig"))
            .ok_or_else(|| Error::usage(format!("approval {source} has no {name}.sig attachment beside it; nothing was run")))?;
        let manifest = client.download(&manifest_url, &format!("downloading {source}")).await?;
        let signature = client.download(&sig_url, &format!("downloading {source}.sig")).await?;
        out.push(Given { source, manifest, signature });
    }
    Ok(out)
}
