//! The approval gate of `run` and `rollback`: the change window, the runbook's approval policy
//! and every approval given, checked before the lock is taken and before any step runs. Each
//! refusal says exactly why, and nothing has touched the target when it is made.

use std::collections::BTreeSet;
use std::path::Path;

use super::manifest::{self, Manifest};
use super::signature::{self, AllowedSigners, Rejection, Signer, APPROVAL_NAMESPACE};
use super::{ApprovalRecord, RunApproval};
use crate::cli::ApprovalOpts;
use crate::db::Target;
use crate::error::{Error, Result};
use crate::load::vars::Vars;
use crate::runbook::{Loaded, PlanKind};

/// An approval as found: a file and its `.sig`, or a ticket's attachments.
#[derive(Debug, Clone)]
pub struct Given {
    pub source: String,
    pub manifest: String,
    pub signature: String,
}

impl Given {
    /// `FILE` and `FILE.sig`.
    pub fn read(path: &Path) -> Result<Given> {
        let manifest = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let sig_path = sig_path(path);
        let signature = std::fs::read_to_string(&sig_path)
            .map_err(|e| Error::usage(format!("approval {}: its signature {} cannot be read ({e})", path.display(), sig_path.display())))?;
        Ok(Given { source: path.display().to_string(), manifest, signature })
    }
}

/// Where an approval's signature lives: beside it, with `.sig` appended.
pub fn sig_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sig");
    s.into()
}

fn refuse(message: String) -> Error {
    Error::usage(format!("{message}; nothing was run"))
}

/// Decide whether this run may start. `operator` is the run's `--operator` (or OS user).
#[allow(clippy::too_many_arguments)]
pub async fn check(
    loaded: &Loaded,
    target: &Target,
    vars: &Vars,
    plan: PlanKind,
    skips: &[(String, Option<String>)],
    operator: &str,
    opts: &ApprovalOpts,
) -> Result<RunApproval> {
    let emergency = match &opts.emergency {
        Some(r) if r.trim().is_empty() => return Err(Error::usage("--emergency needs a reason, recorded in the journal and every report")),
        Some(r) => Some(r.trim().to_string()),
        None => None,
    };
    if let (Some(w), None) = (&loaded.doc.window, &emergency) {
        w.check(chrono::Utc::now()).map_err(|why| refuse(format!("{why}; run inside it, or pass --emergency REASON to break glass")))?;
    }
    let change = manifest::change(loaded, target, vars, plan, skips);
    let mut out = RunApproval {
        change_sha256: Some(manifest::sha256(manifest::canonical(&change)?.as_bytes())),
        emergency: emergency.clone(),
        ..RunApproval::default()
    };
    let allowed = opts.allowed_signers.as_deref().map(AllowedSigners::read).transpose()?;
    // Who runs it: the operator, and whoever the seal key belongs to.
    let mut operators: BTreeSet<String> = BTreeSet::from([operator.to_string()]);
    if let Some(key) = &opts.sign_key {
        let signer = Signer::open(key)?;
        if let Some(a) = &allowed {
            operators
                .extend(a.entries.iter().filter(|e| e.key.key_data() == signer.public().key_data()).flat_map(|e| e.principals.clone()));
        }
        out.sign_key = Some(std::path::absolute(key).unwrap_or_else(|_| key.clone()));
        out.sign_key_fingerprint = Some(signer.fingerprint());
    }
    if emergency.is_some() {
        crate::ui::panel::warn(
            "emergency change (--emergency): approvals and the change window are not checked; the reports will say it awaits retro-approval",
        );
        return Ok(out);
    }

    let mut given = Vec::new();
    for path in &opts.approvals {
        given.push(Given::read(path)?);
    }
    if let (Some(url), Some(issue)) = (&opts.approvals_from_redmine, opts.issue) {
        let client = crate::redmine::client::Client::from_env(url)?;
        let fetched = crate::redmine::approvals::fetch(&client, issue).await?;
        if fetched.is_empty() {
            crate::ui::panel::warn(format!("issue #{issue} has no *.approval attachments"));
        }
        given.extend(fetched);
    }
    let (required, why) = loaded.doc.approvals.as_ref().map(|p| p.required_for(loaded.doc.ticket.as_ref())).unwrap_or((0, String::new()));
    if given.is_empty() && required == 0 {
        return Ok(out);
    }
    let Some(allowed) = allowed else {
        return Err(refuse(format!(
            "{} approval(s) required by {why}: pass --allowed-signers FILE (OpenSSH's allowed_signers format) to check them",
            required
        )));
    };
    let now = chrono::Utc::now();
    let mut schemas = Vec::new();
    for g in &given {
        let (m, fp) = verify_one(&allowed, g)?;
        let who = format!("approval {} (by {})", g.source, m.approver.principal);
        if m.kind != "change" {
            return Err(refuse(format!("{who} is a `{}` approval, not the approval of a change", m.kind)));
        }
        let expires =
            chrono::DateTime::parse_from_rfc3339(&m.expires).map_err(|_| refuse(format!("{who}: unreadable expiry `{}`", m.expires)))?;
        if expires < now {
            return Err(refuse(format!("{who} expired at {}", m.expires)));
        }
        if operators.contains(&m.approver.principal) || out.sign_key_fingerprint.as_deref() == Some(fp.as_str()) {
            return Err(refuse(format!(
                "{who} is self-approval: {} is the operator of this run, and an approval must come from someone else",
                m.approver.principal
            )));
        }
        let Some(approved) = &m.change else {
            return Err(refuse(format!("{who} has no change in its manifest")));
        };
        if let Some(d) = manifest::first_difference(approved, &change) {
            return Err(refuse(format!("{who} does not match this run: {d}")));
        }
        if let Some(s) = m.schema.clone() {
            schemas.push((who.clone(), s));
        }
        out.approvals.push(ApprovalRecord {
            source: g.source.clone(),
            principal: m.approver.principal.clone(),
            key_fingerprint: fp,
            manifest_sha256: manifest::sha256(g.manifest.as_bytes()),
            expires: m.expires.clone(),
            manifest: g.manifest.clone(),
            signature: g.signature.clone(),
        });
    }
    if !schemas.is_empty() {
        let mut db = crate::db::connect(target, false).await?;
        let current = db.schema().await?;
        drop(db);
        for (who, approved) in schemas {
            let diff = approved.diff(&current);
            if !diff.is_empty() {
                return Err(refuse(format!(
                    "the target's schema changed since {who} was signed:\n  {}\nask for a new approval of the change against today's schema",
                    diff.join("\n  ")
                )));
            }
        }
    }
    let distinct: BTreeSet<&str> = out.approvals.iter().map(|a| a.principal.as_str()).collect();
    if (distinct.len() as u32) < required {
        let names: Vec<&str> = distinct.into_iter().collect();
        return Err(refuse(format!(
            "{} valid approval(s) from distinct principals{}; {required} required by {why}",
            names.len(),
            if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
        )));
    }
    Ok(out)
}

/// Parse an approval and check its signature against the allowed signers; returns the
/// manifest and the signing key's fingerprint.
pub fn verify_one(allowed: &AllowedSigners, g: &Given) -> Result<(Manifest, String)> {
    let m: Manifest =
        serde_json::from_str(&g.manifest).map_err(|e| refuse(format!("approval {}: not an approval manifest ({e})", g.source)))?;
    if m.format != manifest::FORMAT {
        return Err(refuse(format!("approval {}: format `{}` is not {}", g.source, m.format, manifest::FORMAT)));
    }
    let who = format!("approval {} (by {})", g.source, m.approver.principal);
    let fp = signature::verify(allowed, APPROVAL_NAMESPACE, &m.approver.principal, g.manifest.as_bytes(), &g.signature).map_err(
        |r| match r {
            Rejection::BadSignature(_) => refuse(format!("{who}: {r}")),
            Rejection::UnknownSigner { .. } => refuse(format!("{who}: {r}")),
        },
    )?;
    if fp != m.approver.key_fingerprint {
        return Err(refuse(format!("{who}: signed with key {fp}, but its manifest names key {}", m.approver.key_fingerprint)));
    }
    Ok((m, fp))
}
